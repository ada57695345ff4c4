"""The gate as a user meets it: features, the served score, the gate file and `route`."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tiertool import gate
from tiertool.gate.features import MAX_TERMS, MIN_DF, TEXT_OPTIONS, facts_of, text_of
from tiertool.gate.ltt import Calibration, Curve, Plan
from tiertool.gate.predictor import C, fit

EASY, HARD = "translate this greeting", "prove the theorem about primes"
CHEAP, REFERENCE = "openai/gpt-4o-mini", "openai/gpt-4o"


def rows_of(n: int, seed: int = 0, task: str = "qa") -> tuple[list[gate.Known], np.ndarray]:
    """Easy requests (the cheap tier passes 97%) and hard ones (50%), with noise words and parameters."""
    rng = np.random.default_rng(seed)
    rows: list[gate.Known] = []
    passed = []
    for i in range(n):
        easy = i % 2 == 0
        text = (EASY if easy else HARD) + " " + " ".join(rng.choice([f"n{j}" for j in range(30)], size=5))
        rows.append(([{"role": "system", "content": "be brief"}, {"role": "user", "content": text}],
                     {"temperature": 0.2, "max_tokens": 256}, task))
        passed.append(rng.random() < (0.97 if easy else 0.5))
    return rows, np.array(passed)


def make_gate(path: Path, task: str) -> gate.Gate:
    """A gate made by the pipeline's own steps, saved: learn on 400 labelled requests, plan, calibrate on the
    fresh ones the plan asks for (easy requests pass 97%, so it proves routing about half of `task`)."""
    rows, passed = rows_of(400, seed=0, task=task)
    learned = gate.learn(rows, passed, seed=0)
    plan = gate.plan(learned.curves, {task: 600}, {task: 1.0}, target=0.9, confidence=0.95, cap=600)
    fresh_rows, fresh_passed = rows_of(plan.tasks[task].calibrate, seed=1, task=task)
    cals = gate.calibrate(learned, plan, {task: (fresh_rows, fresh_passed)})
    built = gate.build(learned.predictor, plan, cals, cheap=CHEAP, fallback=REFERENCE)
    built.save(path)
    return built


@pytest.fixture(scope="module")
def built() -> gate.Gate:
    """A gate whose 'qa' threshold admits the easy requests only, as a calibration would set it."""
    rows, passed = rows_of(400)
    learned = gate.learn(rows, passed)
    scores = learned.predictor.scores(rows)
    threshold = float(np.median(scores))  # between the easy half and the hard half
    cal = Calibration("qa", threshold, 300, 150, 146, 0.93, (), Curve((threshold,), (150,), (146,), 300))
    plan = Plan(0.9, 0.95, 0.05, {})
    return gate.build(learned.predictor, plan, {"qa": cal, "other": Calibration("other", None, 0, 0, 0, None, (),
                                                                                   Curve((), (), (), 0))},
                      "openai/gpt-4o-mini", "openai/gpt-4o")


def test_text_and_facts_cover_what_is_known_before_sending():
    messages = [{"role": "system", "content": "You grade essays."},
                {"role": "user", "content": [{"type": "text", "text": "Grade this"}, {"type": "image_url"}]}]
    text = text_of(messages)
    assert text == "system: You grade essays.\nuser: Grade this\n[image_url]"
    facts = facts_of(text, messages, {"temperature": 0.7, "stream": True, "response_format": {"type": "json_object"},
                                      "tools": [{}, {}], "reasoning_effort": "low", "logprobs": True,
                                      "metadata": {"tag": "x"}}, "grading")
    assert facts["task=grading"] == 1.0
    assert any(k.startswith("template=") for k in facts)  # the system prompt names the template
    assert facts["param:response_format=json_object"] == 1.0
    assert facts["param:reasoning_effort=low"] == 1.0 and facts["param:logprobs"] == 1.0
    assert facts["count:tools"] == pytest.approx(np.log1p(2))
    assert facts["param:temperature"] == pytest.approx(np.log1p(0.7))
    assert not any("stream" in k or "metadata" in k for k in facts)  # set by clients, not by the request


def test_the_served_score_is_sklearns_logistic_regression_on_the_same_features():
    from scipy.sparse import hstack
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    rows, passed = rows_of(300)
    predictor, oof = fit(rows, passed)
    texts = [text_of(m) for m, _, _ in rows]
    words = TfidfVectorizer(**TEXT_OPTIONS, min_df=MIN_DF, max_features=MAX_TERMS)
    named = DictVectorizer()
    x = hstack([words.fit_transform(texts), named.fit_transform(
        [facts_of(s, m, p, t) for s, (m, p, t) in zip(texts, rows, strict=True)])]).tocsr()
    with threadpool_limits(1):
        model = LogisticRegression(C=C, max_iter=5000).fit(x, passed)
    new, _ = rows_of(50, seed=9)  # requests it has not seen, with words it has not seen
    x_new = hstack([words.transform([text_of(m) for m, _, _ in new]), named.transform(
        [facts_of(text_of(m), m, p, t) for m, p, t in new])]).tocsr()
    assert np.allclose(predictor.scores(rows), model.predict_proba(x)[:, 1], atol=1e-9)
    assert np.allclose(predictor.scores(new), model.predict_proba(x_new)[:, 1], atol=1e-9)
    assert len(oof) == len(rows) and not np.allclose(oof, predictor.scores(rows))  # out-of-fold, not in-sample


def test_route_sends_admitted_requests_to_the_cheap_tier_and_everything_else_to_the_fallback(built):
    rows, _ = rows_of(40, seed=5)
    models = [built.route(m, p, t) for m, p, t in rows]
    easy = [i % 2 == 0 for i in range(40)]
    assert [m == "openai/gpt-4o-mini" for m in models] == easy
    messages, params, _ = rows[0]
    assert built.route(messages, params, "other") == "openai/gpt-4o"  # a task type with nothing proven
    assert built.route(messages, params, "never-seen") == "openai/gpt-4o"  # an unknown task type
    assert built.route(messages) == "openai/gpt-4o"  # no task given: untagged, not calibrated


@pytest.mark.parametrize("name", ["gate.json", "gate.json.gz"])
def test_the_gate_file_round_trips_and_is_plain_json(built, tmp_path, name):
    path = built.save(tmp_path / name)
    raw = path.read_bytes()
    data = json.loads(gzip.decompress(raw) if name.endswith(".gz") else raw)
    assert data["format"] == "tiertool-gate" and data["version"] == 1
    assert data["tasks"]["qa"]["lower_bound"] == 0.93 and data["tasks"]["other"]["threshold"] is None
    loaded = gate.load(path)
    rows, _ = rows_of(60, seed=7)
    assert np.array_equal(loaded.predictor.scores(rows), built.predictor.scores(rows))  # bit for bit
    assert [loaded.route(*r) for r in rows] == [built.route(*r) for r in rows]
    assert loaded.tasks == built.tasks and loaded.cheap == built.cheap and loaded.alpha == built.alpha


@pytest.mark.parametrize("content, message", [
    (b"not json", "cannot read a gate file"),
    (b'{"format": "something-else"}', 'not a tiertool gate file (expected "format": "tiertool-gate")'),
    (b'{"format": "tiertool-gate", "version": 7}', "gate file version 7; this tiertool reads version 1"),
    (b'{"format": "tiertool-gate", "version": 1, "models": {}}', "malformed gate file (KeyError"),
])
def test_a_bad_gate_file_is_one_clear_error_naming_the_file(tmp_path, content, message):
    path = tmp_path / "gate.json"
    path.write_bytes(content)
    with pytest.raises(gate.GateFileError) as err:
        gate.load(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)


def test_a_missing_gate_file_names_it(tmp_path):
    with pytest.raises(gate.GateFileError, match="missing.json: cannot read a gate file"):
        gate.load(tmp_path / "missing.json")


def test_the_figures_price_the_gate_and_the_per_task_assignment_on_the_same_traffic(built):
    rows, _ = rows_of(10, seed=5)  # 5 easy (routed), 5 hard
    ref, cheap = [1.0] * 10, [0.1] * 10
    fig = gate.task_figures(built, "qa", rows, ref, cheap, moved=False)
    assert (fig.requests, fig.routed_share, fig.proven_pass_rate) == (10, 0.5, 0.93)
    assert fig.saved_usd == pytest.approx(4.5) and fig.saved_fraction == pytest.approx(0.45)
    assert fig.per_task_saved_usd == 0.0
    assert gate.task_figures(built, "qa", rows, ref, cheap, moved=True).per_task_saved_fraction == pytest.approx(0.9)


def test_needed_says_how_many_fresh_samples_a_promising_task_type_would_take():
    rows, passed = rows_of(300)
    learned = gate.learn(rows, passed)
    plan = gate.plan(learned.curves, {"qa": 50}, {"qa": 1.0}, 0.9, 0.95, cap=50)  # too few to test
    assert plan.tasks == {}
    n, share = gate.needed(learned, plan, "qa")
    assert 50 < n < 2000 and 0.3 < share <= 0.6  # about the easy half, with a few hundred samples


def test_importing_the_gate_loads_no_heavy_library():
    code = "import sys, tiertool.gate; print(sorted({'numpy', 'scipy', 'sklearn'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
