"""Scorer validation with a few labels (kappa, precision, recall with intervals, warnings) and the judge's
position disagreement: the statistics, and the report of a real audit with --labels."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score
from typer.testing import CliRunner

from tests.conftest import small_answerer, write_jsonl
from tests.test_quality_bar import TASKS_MATH, write_cfg
from tiertool.cli import app
from tiertool.decide.agreement import agreement, kappa, position_disagreement
from tiertool.records import Result
from tiertool.scorers.judge import SWAPPED
from tiertool.store import load_audit

runner = CliRunner()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=2, max_size=60))
def test_kappa_is_sklearns(pairs):
    s, y = (np.array(v, dtype=float) for v in zip(*pairs, strict=True))
    ours = float(kappa(s, y))
    if np.isnan(ours):
        assert len(set(s)) == 1 and len(set(y)) == 1 or (s == y).all()
    else:
        assert ours == pytest.approx(cohen_kappa_score(y, s))


def test_intervals_cover_and_a_bad_scorer_is_warned_about():
    rng = np.random.default_rng(1)
    truth = rng.random(300) < 0.5
    good = np.where(rng.random(300) < 0.95, truth, ~truth)
    bad = np.where(rng.random(300) < 0.6, truth, ~truth)
    a, b = agreement(good, truth), agreement(bad, truth)
    assert a.kappa > 0.8 and a.kappa_interval[0] < a.kappa < a.kappa_interval[1] and a.warning is None
    assert a.precision_interval[0] <= a.precision <= a.precision_interval[1]
    assert b.kappa < 0.3 and "low agreement" in b.warning
    few = agreement(good[:12], truth[:12])  # agrees well, but 12 labels cannot show it
    assert few.warning and ("agreement not shown" in few.warning or "low agreement" in few.warning)


def test_the_bootstrap_interval_covers_kappa_at_its_level():
    """Coverage over 200 samples of 150 from a known joint law (true kappa from the law): >= 90% of 95%."""
    rng = np.random.default_rng(7)
    p_pass, flip = 0.6, 0.15
    ps = p_pass * (1 - flip) + (1 - p_pass) * flip
    po = 1 - flip
    true = (po - (ps * p_pass + (1 - ps) * (1 - p_pass))) / (1 - (ps * p_pass + (1 - ps) * (1 - p_pass)))
    hits = 0
    for _ in range(200):
        y = rng.random(150) < p_pass
        s = np.where(rng.random(150) < flip, ~y, y)
        lo, hi = agreement(s, y, seed=int(rng.integers(1 << 30))).kappa_interval
        hits += lo <= true <= hi
    assert hits >= 180


def test_position_disagreement_counts_swapped_verdicts_per_task():
    def res(task: str, reason: str, passed: bool | None = True) -> Result:
        return Result("r", "f:1", task, "small", "m", "ref", "ans", 0.5, passed, reason, "call")

    got = position_disagreement([res("a", f"{SWAPPED} (candidate vs reference): tie"), res("a", "judge: tie (x)"),
                                 res("a", "judge prefers the candidate (y)"), res("b", "7 == 7"),
                                 res("a", "unscored: judge down", None)])
    assert got == {"a": (1, 3)}


def test_audit_with_labels_reports_the_scorers_agreement_in_every_format(tmp_path, synth, server_factory, env_key,
                                                                         monkeypatch):
    rows, small = synth(300, seed=4, weights={TASKS_MATH: 1.0})
    monkeypatch.chdir(tmp_path)
    log = write_jsonl(tmp_path / "spend.jsonl", rows)
    server = server_factory(small_answerer(small))
    write_cfg(tmp_path / "tiertool.yaml", server.api_base, f"  {TASKS_MATH}: {{scorer: numeric}}", per_task=60)
    assert runner.invoke(app, ["audit", str(log)]).exit_code == 0
    results = [r for r in load_audit(".tiertool").results if r.tier == "small"]
    # labels that contradict the scorer on every other answer: agreement is poor, and must be reported so
    (tmp_path / "labels.jsonl").write_text("".join(
        json.dumps({"request_id": r.request_id, "tier": "small", "passed": r.passed if i % 2 else not r.passed}) + "\n"
        for i, r in enumerate(results[:40])))
    assert runner.invoke(app, ["audit", str(log), "--labels", "labels.jsonl"]).exit_code == 0
    data = json.loads(runner.invoke(app, ["report", "--format", "json"]).stdout)
    a = next(t for t in data["tasks"] if t["task"] == TASKS_MATH)["agreement"]
    assert a["labelled"] == 40 and a["kappa"] < 0.2 and len(a["kappa_interval"]) == 2
    assert 0 <= a["precision_interval"][0] <= a["precision"] <= a["precision_interval"][1] <= 1
    assert "low agreement" in a["warning"]
    assert any(w["kind"] == "scorer_agreement" and w["task"] == TASKS_MATH for w in data["warnings"])
    for fmt in ("term", "md", "html"):
        out = runner.invoke(app, ["report", "--format", fmt]).output
        assert "scorer numeric vs 40 labels: kappa" in out, fmt

    # labels on a random half of the requests, declared with --labels-fraction: a prediction-powered bound
    rng = np.random.default_rng(0)
    chosen = [r for r in results if rng.random() < 0.5]
    (tmp_path / "random.jsonl").write_text("".join(
        json.dumps({"request_id": r.request_id, "tier": "small", "passed": r.passed}) + "\n" for r in chosen))
    assert runner.invoke(app, ["audit", str(log), "--labels", "random.jsonl", "--labels-fraction", "0.5"]
                         ).exit_code == 0
    data = json.loads(runner.invoke(app, ["report", "--format", "json"]).stdout)
    math = next(t for t in data["tasks"] if t["task"] == TASKS_MATH)
    rate = math["tiers"][0]["pass_rate"]
    assert math["agreement"]["labelled"] == len(chosen) and math["agreement"]["scorer_pass_rate"] == \
        math["agreement"]["label_pass_rate"]  # labels equal to the scorer's verdicts
    assert 0 < math["agreement"]["ppi_lower_bounds"]["small"] < rate
    assert "small's labelled pass rate >= " in runner.invoke(app, ["report"]).output
    r = runner.invoke(app, ["audit", str(log), "--labels-fraction", "0.5"])
    assert r.exit_code == 2 and "--labels-fraction needs --labels" in r.output
