"""The gate's guarantee, by simulation: the traffic it routes passes at least the target with the stated
confidence, over many seeds, where the truth is known; and a naive threshold rule fails the same check."""

from __future__ import annotations

import numpy as np

from tiertool import gate
from tiertool.gate.ltt import Plan, TaskPlan, prove_family

TARGET = 0.8


def true_rate(threshold: float) -> float:
    """Scores uniform on [0, 1], P(pass | s) = 0.6 + 0.35 s: the pass rate of everything scoring >= threshold."""
    return 0.6 + 0.35 * (1 + threshold) / 2  # drops below the target under 1/7


def test_the_tests_hold_the_routed_pass_rate_at_the_target_with_the_stated_confidence():
    """Two task types at family level 0.1: 'easy' passes 97% everywhere, so it proves even "route everything"
    and hands its level on; 'edge' then runs at the whole 0.1, with thresholds close to failing."""
    rng = np.random.default_rng(0)
    thresholds = tuple(float(t) for t in np.round(np.arange(0.95, -0.01, -0.05), 2))
    alpha, runs = 0.1, 1000
    plan = Plan(TARGET, 1 - alpha, alpha / 2, {t: TaskPlan(t, thresholds, 7, 300, 0.0, 0.0) for t in ("easy", "edge")})
    wrong = naive_wrong = proven = handed_on = 0
    for _ in range(runs):
        s = rng.random((2, 300))
        easy, edge = rng.random(300) < 0.97, rng.random(300) < 0.6 + 0.35 * s[1]
        cals = prove_family(plan, {"easy": (s[0], easy), "edge": (s[1], edge)})
        t = cals["edge"].threshold
        proven += t is not None
        wrong += t is not None and true_rate(t) < TARGET
        handed_on += any(step.level > alpha / 2 for step in cals["edge"].steps)
        # the rule per-request routers use: the loosest threshold whose observed pass rate meets the target
        naive = min((t for t in thresholds if edge[s[1] >= t].mean() >= TARGET), default=None)
        naive_wrong += naive is not None and true_rate(naive) < TARGET
    assert wrong / runs <= alpha + 3 * (alpha * (1 - alpha) / runs) ** 0.5
    assert naive_wrong / runs >= 0.3  # the check can fail: without the proof, a wrong threshold is common
    assert proven / runs >= 0.75  # and the proof is not vacuous: it routes something in most runs
    assert handed_on / runs >= 0.9  # with the level 'easy' handed on, in almost every run


WORDS = [f"w{i}" for i in range(200)]
TOPICS = {f"topic{i}": p for i, p in enumerate(np.linspace(0.5, 0.98, 10))}  # mean 0.74: routing all fails


def population(n: int, rng: np.random.Generator, task: str = "qa") -> tuple[list[gate.Known], np.ndarray]:
    """Requests whose topic word sets the small model's true pass probability; filler words are noise."""
    topics = rng.choice(list(TOPICS), size=n)
    rows: list[gate.Known] = [([{"role": "user", "content": f"{t} " + " ".join(rng.choice(WORDS, size=8))}], {}, task)
                              for t in topics]
    return rows, np.array([TOPICS[t] for t in topics])


def test_the_whole_pipeline_routes_traffic_that_passes_with_the_stated_confidence():
    confidence, seeds = 0.8, 20
    wrong = routing = 0
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        rows, p = population(600, rng)
        learned = gate.learn(rows, rng.random(600) < p, seed)
        plan = gate.plan(learned.curves, {"qa": 10_000}, {"qa": 1.0}, TARGET, confidence, cap=1000)
        n = plan.tasks["qa"].calibrate if "qa" in plan.tasks else 0
        fresh, fresh_p = population(n, rng)
        cals = gate.calibrate(learned, plan, {"qa": (fresh, rng.random(n) < fresh_p)})
        g = gate.build(learned.predictor, plan, cals, "small", "large")
        unseen, unseen_p = population(2000, rng)
        routed = g.routes(unseen)
        if routed.any():
            routing += 1
            wrong += unseen_p[routed].mean() < TARGET  # the true pass rate of what it routes
    assert wrong <= 7  # at most 20% of seeds may fail; P(Binomial(20, 0.2) > 7) < 0.04
    assert routing >= 15  # and the gate does route, in most seeds


def test_a_task_type_that_cannot_pass_is_not_tested_and_none_of_it_is_routed():
    rng = np.random.default_rng(3)
    rows, _ = population(300, rng, "hard")
    learned = gate.learn(rows, rng.random(300) < 0.5, 0)
    plan = gate.plan(learned.curves, {"hard": 10_000}, {"hard": 1.0}, TARGET, 0.95, cap=600)
    assert plan.tasks == {}
    assert gate.needed(learned, plan, "hard") is None  # no sample size would prove it
    g = gate.build(learned.predictor, plan, gate.calibrate(learned, plan, {}), "small", "large")
    assert not g.routes(rows).any()
