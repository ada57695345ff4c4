"""A cheap scorer on every sample, the audit's own judge on a seeded random share (`scorer: prediction_powered`):
the judge is called on about that share of the samples, the task is decided on the prediction-powered test of the
*labelled* pass rate (a lenient scorer cannot move a task the judge fails), the agreement row appears, and a
re-run labels the same samples. Real commands on a real log, the judge and the small tier on the loopback
server, which counts every call."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import write_jsonl
from tiertool.cli import app
from tiertool.scorers.drawn import JUDGE_LABEL, drawn
from tiertool.scorers.judge import judge_text
from tiertool.store import load_audit

runner = CliRunner()
N, PI, SEED = 600, 0.2, 7
CONFIG = """
tiers:
  - {{name: small, model: openai/gpt-4o-mini, api_base: {base}, api_key_env: TIERTOOL_TEST_KEY}}
  - {{name: large, model: openai/gpt-4o, api_base: {base}, api_key_env: TIERTOOL_TEST_KEY}}
quality: {{target: 0.8, confidence: 0.95}}
tasks:
  qa: {task}
sample: {{seed: {seed}, round: 50}}
replay: {{max_attempts: 2, timeout: 10}}
prices:
  openai/judge-model: {{input: 2.5, output: 10}}
"""
PPI = ("{{scorer: prediction_powered, cheap: {cheap}, fraction: {pi}, "
       "judge: {{scorer: judge, model: openai/judge-model, api_base: {base}, api_key_env: TIERTOOL_TEST_KEY}}}}")
LENIENT = "{scorer: contains, values: [answer]}"


def _log(tmp_path, right: float) -> tuple[dict[str, str], dict[str, bool]]:
    """N questions whose logged (reference) answer is 'answer: <n>'; the small tier answers right with chance
    `right`. Returns the small answer per prompt and whether it is right per request id."""
    rng = random.Random(1)
    rows, small, ok = [], {}, {}
    for i in range(N):
        prompt, good = f"What is {i} plus {i}?", rng.random() < right
        small[prompt], ok[f"r{i}"] = f"answer: {2 * i if good else 2 * i + 1}", good
        rows.append({"id": f"r{i}", "model": "gpt-4o", "tags": ["task:qa"],
                     "messages": [{"role": "user", "content": prompt}],
                     "response": {"choices": [{"message": {"role": "assistant", "content": f"answer: {2 * i}"}}],
                                  "usage": {"prompt_tokens": 800, "completion_tokens": 200}}})
    write_jsonl(tmp_path / "log.jsonl", rows)
    return small, ok


def _judge(a: str, b: str) -> str:
    """Tie when both answers give the same number, else the one naming the even (right) number wins."""
    na, nb = (int(re.search(r"answer: (\d+)", x).group(1)) for x in (a, b))
    return judge_text("tie" if na == nb else ("A" if na % 2 == 0 else "B"), "the sum")


@pytest.fixture
def audit_of(tmp_path, server_factory, env_key, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def run(cheap: str, right: float, *args: str):
        small, _ = _log(tmp_path, right)

        def answer(model: str, messages: list[dict]) -> str:
            if model == "judge-model":
                m = re.search(r"\[Answer A\]\n<<<(DATA-\w+)\n(.*)\n\1>>>\n\n\[Answer B\]\n<<<\1\n(.*)\n\1>>>\Z",
                              messages[-1]["content"], re.S)
                return _judge(m.group(2), m.group(3))
            return small[messages[-1]["content"]]

        server = server_factory(answer)
        task = PPI.format(cheap=cheap, pi=PI, base=server.api_base)
        (tmp_path / "tiertool.yaml").write_text(CONFIG.format(base=server.api_base, task=task, seed=SEED),
                                                encoding="utf-8")
        r = runner.invoke(app, ["audit", "log.jsonl", *args], catch_exceptions=False)
        assert r.exit_code == 0, r.output
        report = json.loads(runner.invoke(app, ["report", "--format", "json"]).output)
        return server, {t["task"]: t for t in report["tasks"]}["qa"], load_audit(".tiertool")

    return run


def _judged(server) -> list[str]:
    """The request numbers the judge was asked about, once per call."""
    return [re.search(r"What is (\d+) plus", m[-1]["content"]).group(1) for model, m in server.calls
            if model == "judge-model"]


def test_the_judge_labels_about_pi_of_the_samples_and_the_task_moves_on_the_labelled_rate(audit_of):
    server, qa, audit = audit_of("{scorer: numeric}", 0.97)
    small = [x for x in audit.results if x.tier == "small"]
    labelled = [x for x in small if x.reason.startswith(JUDGE_LABEL)]
    assert {x.request_id for x in labelled} == {x.request_id for x in small if drawn(SEED, x.request_id, PI)}
    assert 0.5 * PI * len(small) < len(labelled) < 1.5 * PI * len(small)
    judged = _judged(server)
    # one call per labelled answer, two when it differs from the reference (both orders); no other judge call
    assert len(labelled) <= len(judged) <= 2 * len(labelled)
    assert {f"r{i}" for i in judged} == {x.request_id for x in labelled}
    assert qa["status"] == "moved" and qa["tier"] == "small", qa["reason"]
    assert qa["reason"].startswith(f"prediction-powered: numeric on {len(small)} samples + {len(labelled)} labels")
    assert qa["lower_bound"] >= 0.8 and qa["scorer"] == "prediction-powered: numeric"
    test = audit.tests[("qa", "small")]
    assert test.state == "proven" and test.lower_bound == qa["lower_bound"]
    assert qa["agreement"]["labelled"] == len(labelled) and qa["agreement"]["kappa"] == 1.0
    md = runner.invoke(app, ["report", "--format", "md"]).output
    assert "prediction-powered: numeric on" in md
    assert runner.invoke(app, ["recommend"]).exit_code == 0
    tiers = yaml.safe_load(Path("tiers.yaml").read_text())["tasks"]["qa"]
    assert tiers["tier"] == "small" and tiers["reason"].startswith("prediction-powered: numeric on")

    again = audit_of("{scorer: numeric}", 0.97)  # a re-run: the same subset, every judge call cached
    assert not _judged(again[0]) and not again[0].calls
    assert {x.request_id for x in again[2].results if x.reason.startswith(JUDGE_LABEL)} == \
        {x.request_id for x in labelled}


def test_the_coin_is_a_fair_bernoulli_of_the_seed_and_the_id_alone():
    ids = [f"req-{i}" for i in range(20_000)]
    a, b = ({i for i in ids if drawn(seed, i, PI)} for seed in (7, 8))
    assert abs(len(a) / len(ids) - PI) < 0.01 and abs(len(b) / len(ids) - PI) < 0.01
    assert abs(len(a & b) / len(ids) - PI * PI) < 0.01  # another seed: an independent subset
    assert a == {i for i in ids if drawn(7, i, PI)}  # the same seed: the same subset


def test_a_lenient_scorer_cannot_move_a_task_its_labels_fail(audit_of):
    """`contains: answer` passes every small answer; 65% are right. The scorer alone would prove the bar; the
    prediction-powered test of the labelled rate keeps the task, and the agreement row warns."""
    server, qa, audit = audit_of(LENIENT, 0.65)
    small = [x for x in audit.results if x.tier == "small"]
    assert all(x.scorer_passed for x in small if x.reason.startswith(JUDGE_LABEL))
    assert qa["status"] != "moved" and qa["tier"] == "large", qa["reason"]
    assert qa["reason"].startswith("prediction-powered: contains on")
    assert "low agreement" in qa["agreement"]["warning"] or qa["agreement"]["kappa"] is None
    assert _judged(server)


def test_imported_labels_on_a_random_share_decide_prediction_powered(tmp_path, server_factory, env_key, monkeypatch):
    """--labels-fraction: labels written for a random 30% of the requests. The sequential audit fetches every
    answer (the scorer's verdict is needed beside each label), tests the labelled rate, and keeps the task the
    lenient scorer alone moves."""
    monkeypatch.chdir(tmp_path)
    small, ok = _log(tmp_path, 0.65)
    server = server_factory(lambda model, messages: small[messages[-1]["content"]])
    (tmp_path / "tiertool.yaml").write_text(CONFIG.format(base=server.api_base, task=LENIENT, seed=SEED),
                                            encoding="utf-8")
    rng = random.Random(2)
    write_jsonl(tmp_path / "labels.jsonl", [{"request_id": rid, "tier": "small", "passed": good}
                                            for rid, good in ok.items() if rng.random() < 0.3])

    def audit(*args: str) -> dict:
        r = runner.invoke(app, ["audit", "log.jsonl", *args], catch_exceptions=False)
        assert r.exit_code == 0, r.output
        return {t["task"]: t for t in json.loads(runner.invoke(app, ["report", "--format", "json"]).output)["tasks"]}

    assert audit()["qa"]["status"] == "moved"  # the scorer alone passes every answer
    qa = audit("--labels", "labels.jsonl", "--labels-fraction", "0.3")["qa"]
    assert qa["status"] != "moved" and qa["reason"].startswith("prediction-powered: contains on"), qa["reason"]
    labelled = [x for x in load_audit(".tiertool").results if x.tier == "small" and x.reason.startswith("imported")]
    assert labelled and all(x.answer is not None and x.scorer_passed for x in labelled)
    assert qa["agreement"]["labelled"] == len(labelled)
