"""Decisions: the statistics hold their error rates, and 2-4 tiers are decided cheapest first."""

from __future__ import annotations

import json
import random

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest
from typer.testing import CliRunner

from tests.conftest import write_jsonl
from tiertool.cli import app
from tiertool.decide.family import family
from tiertool.decide.rounds import Rounds
from tiertool.decide.sequential import all_pass_needed, exact_lower_bound, lower_bound, p_value

runner = CliRunner()


def _simulate(rate: float, target: float, alpha: float, seed: int, cap: int = 400) -> str:
    fam = family({"t": 10_000}, 1, 1 - alpha, target, cap)
    rounds = Rounds(["small"], {"t": cap}, fam, target, True, 20, cap)
    rng = random.Random(seed)
    while plan := rounds.next():
        first, stop, _ = plan["t"]
        rounds.record("t", stop, {"small": [rng.random() < rate for _ in range(stop - first)]})
        rounds.finish_round()
    return rounds.tests[("t", "small")].state


def test_sequential_test_keeps_its_error_rate_at_the_boundary():
    """A pass rate exactly at the target must be 'proven' (a wrong downgrade) at most alpha of the time,
    although the test is looked at after every round."""
    runs = 400
    wrong = sum(_simulate(0.9, 0.9, 0.05, seed) == "proven" for seed in range(runs))
    assert wrong / runs <= 0.05


def test_sequential_test_proves_a_clearly_better_tier_and_stops_a_clearly_worse_one_early():
    assert all(_simulate(1.0, 0.9, 0.05, seed) == "proven" for seed in range(20))
    assert all(_simulate(0.6, 0.9, 0.05, seed) in ("futile", "capped") for seed in range(20))


def test_all_pass_needed_is_the_first_n_that_proves():
    n = all_pass_needed(0.95, 0.0125)
    assert p_value([(n, n)], 0.95) <= 0.0125 < p_value([(n - 1, n - 1)], 0.95)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), min_size=1, max_size=6),
       st.floats(0.5, 0.98), st.sampled_from([0.05, 0.01, 0.001]))
def test_decision_and_reported_bound_agree(increments, target, alpha):
    """'p-value <= alpha' and 'lower bound >= target' are the same statement, so a report never shows a
    moved task with a bound under the target."""
    looks, k, n = [], 0, 0
    for passed, failed in increments:
        k, n = k + passed, n + passed + failed
        if n:
            looks.append((k, n))
    if not looks:
        return
    proven = p_value(looks, target) <= alpha
    lb = lower_bound(looks, alpha)
    assert proven == (lb >= target) or abs(lb - target) < 1e-6


@given(st.integers(1, 300), st.data(), st.sampled_from([0.05, 0.0125, 0.001]))
def test_exact_lower_bound_matches_scipy_clopper_pearson(n, data, alpha):
    k = data.draw(st.integers(0, n))
    expected = binomtest(k, n).proportion_ci(confidence_level=1 - 2 * alpha, method="exact").low
    assert exact_lower_bound(k, n, alpha) == pytest.approx(expected, abs=1e-9)


def test_family_leaves_out_task_types_that_could_never_be_proven():
    fam = family({"big": 5000, "mid": 300, "tiny": 20}, 1, 0.95, 0.95, 400)
    assert fam.tested == ("big", "mid")
    assert fam.alpha == pytest.approx(0.05 / 2)
    assert fam.to_join > 20
    assert family({"a": 10}, 1, 0.95, 0.95, 400).tested == ()


def _tiered_project(tmp_path, synth, server_factory, monkeypatch, tiers: list[tuple[str, str]]):
    """A log whose tasks each suit a different tier: 'nano' answers nothing right, 'mini' gets the triage
    labels right, 'mid' also gets the JSON right; the reference gets everything."""
    rows, small = synth(2400, seed=5, weights={"ticket-triage": 0.5, "order-extract": 0.5})
    log = write_jsonl(tmp_path / "spend.jsonl", rows)

    def answer(model: str, messages: list[dict]) -> str:
        prompt = messages[-1]["content"]
        if model.endswith("nano"):
            return "no idea"
        if model.endswith("mini") and messages[0]["content"].startswith("Extract"):
            return '{"broken": true}'
        return small[prompt]

    server = server_factory(answer)
    lines = "\n".join(f"  - {{name: {n}, model: openai/{m}, api_base: {server.api_base}, "
                      f"api_key_env: TIERTOOL_TEST_KEY}}" for n, m in tiers)
    (tmp_path / "tiertool.yaml").write_text(f"tiers:\n{lines}\ntasks:\n  ticket-triage: {{scorer: exact}}\n"
                                            f"  order-extract: {{scorer: json}}\nreplay: {{max_attempts: 2}}\n"
                                            # the toy log spends $0.71 a month: a long payback makes proofs pay
                                            "sample: {payback_months: 100}\n")
    monkeypatch.chdir(tmp_path)
    return log, server


@pytest.mark.parametrize("tiers, expect", [
    ([("nano", "gpt-nano"), ("mini", "gpt-4o-mini"), ("large", "gpt-4o")],
     {"ticket-triage": "mini", "order-extract": "large"}),
    ([("nano", "gpt-nano"), ("mini", "gpt-4o-mini"), ("mid", "gpt-mid"), ("large", "gpt-4o")],
     {"ticket-triage": "mini", "order-extract": "mid"}),
])
def test_three_and_four_tiers_pick_the_cheapest_proven(tmp_path, synth, server_factory, env_key, monkeypatch,
                                                        tiers, expect):
    log, server = _tiered_project(tmp_path, synth, server_factory, monkeypatch, tiers)
    assert runner.invoke(app, ["audit", str(log)]).exit_code == 0
    assert runner.invoke(app, ["recommend"]).exit_code == 0
    tasks = yaml.safe_load((tmp_path / "tiers.yaml").read_text())["tasks"]
    assert {t: v["tier"] for t, v in tasks.items()} == expect
    # a tier that clearly fails stops early; once a tier is proven, no dearer tier is sampled further
    report = json.loads(runner.invoke(app, ["report", "--format", "json"]).output)
    for task in report["tasks"]:
        scored = {e["tier"]: e["scored"] for e in task["tiers"]}
        assert scored["nano"] <= 40
        assert task["task"] != "ticket-triage" or scored["mini"] > 40
        chosen = [e["tier"] for e in task["tiers"]].index(task["tier"]) if task["tier"] != "large" else None
        for dearer in task["tiers"][chosen + 1:] if chosen is not None else []:
            assert dearer["scored"] <= scored[task["tier"]]


def test_five_tiers_is_a_config_error(tmp_path, monkeypatch):
    tiers = ", ".join(f"{{name: t{i}, model: m{i}}}" for i in range(5))
    (tmp_path / "tiertool.yaml").write_text(f"tiers: [{tiers}]\n")
    (tmp_path / "log.jsonl").write_text("")
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["audit", "log.jsonl"])
    assert r.exit_code == 2 and "tiers: at most 4 entries" in r.output


def test_low_traffic_task_is_reported_with_how_many_more_samples(tmp_path, synth, server_factory, env_key,
                                                                 monkeypatch):
    from tests.conftest import small_answerer, write_config

    rows, small = synth(1500, seed=2, weights={"ticket-triage": 0.97, "order-extract": 0.03})
    log = write_jsonl(tmp_path / "spend.jsonl", rows)
    server = server_factory(small_answerer(small))
    write_config(tmp_path / "tiertool.yaml", server.api_base)
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["audit", str(log)]).exit_code == 0
    data = json.loads(runner.invoke(app, ["report", "--format", "json"]).output)
    rare = next(t for t in data["tasks"] if t["task"] == "order-extract")
    assert rare["status"] == "not-enough-traffic" and rare["tier"] == "large"
    assert rare["sampled"] == 0 and rare["more_samples"] > 0
    assert "not enough traffic to decide" in rare["reason"]
    assert not any(m[1][0]["content"].startswith("Extract") for m in server.calls)  # no money spent on it


def test_a_rerun_replays_the_same_rounds_from_the_cache(tmp_path, synth, server_factory, env_key, monkeypatch):
    """How an interrupted audit resumes: the policy is deterministic given the log, prices, config and outcomes,
    so a second run asks for exactly the same samples, all cached, and decides the same."""
    log, server = _tiered_project(tmp_path, synth, server_factory, monkeypatch,
                                  [("nano", "gpt-nano"), ("mini", "gpt-4o-mini"), ("large", "gpt-4o")])
    first = runner.invoke(app, ["audit", str(log)])
    tasks = json.loads(runner.invoke(app, ["report", "--format", "json"]).output)["tasks"]
    sent = len(server.calls)
    again = runner.invoke(app, ["audit", str(log)])
    assert first.exit_code == again.exit_code == 0
    assert len(server.calls) == sent and " 0 model calls sent" in again.output
    assert json.loads(runner.invoke(app, ["report", "--format", "json"]).output)["tasks"] == tasks  # same decisions
