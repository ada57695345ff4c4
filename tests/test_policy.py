"""The sampling policy of issue 16: cheapest tier first, samples where the money is, a reason for every task,
and (fast versions of benchmarks/bench_power.py) validity at the boundary and power a few points above it."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_power as bench  # noqa: E402

from tiertool.decide.policy import KINDS, Arm, Policy, Settings  # noqa: E402


def _drive(pol: Policy, rates: dict[tuple[str, str], list[bool]]) -> list[dict[tuple[str, str], tuple[int, int]]]:
    """Run the rounds on fixed outcome lists; returns the plans, in order."""
    plans = []
    while plan := pol.plan():
        plans.append(plan)
        for (task, tier), (first, stop) in plan.items():
            pol.record(task, tier, first, rates[(task, tier)][first:stop])
        pol.settle()
    return plans


def test_three_tiers_are_decided_right_with_at_most_half_the_calls_of_a_fixed_100():
    tasks = bench.three_tiers(0.85)
    right = {"middle-only": 1, "reference-only": None} | {f"easy-{i}": 0 for i in range(4)}
    fixed_calls = bench.run_fixed(tasks, 0.85, 0)[1]
    for seed in range(3):
        chosen, calls, _ = bench.run_policy(tasks, 0.85, seed)
        assert chosen == right
        assert calls <= fixed_calls / 2


def test_statuses_are_from_the_contract_and_proofs_show_their_bound():
    tasks = bench.three_tiers(0.85)
    _, _, pol = bench.run_policy(tasks, 0.85, 2)
    statuses = pol.statuses()
    assert {s.task for s in statuses} == {t.name for t in tasks}
    assert all(s.kind in KINDS for s in statuses)
    for s in statuses:
        if s.kind == "proven":
            assert s.tier is not None and (pol.lower_bound(s.task, s.tier) or 0.0) >= 0.85


def test_a_dearer_tier_is_not_paid_for_while_the_cheapest_is_on_course():
    tasks = bench.three_tiers(0.8)
    _, _, pol = bench.run_policy(tasks, 0.8, 1)
    for i in range(4):  # the cheapest tier proves these: the middle one is never sampled
        assert pol.tests[(f"easy-{i}", "small")].kind == "proven"
        assert pol.tests[(f"easy-{i}", "middle")].n == 0
    assert pol.tests[("middle-only", "small")].kind == "below-bar"
    assert pol.tests[("middle-only", "middle")].kind == "proven"


def test_the_next_tier_starts_when_the_cheaper_one_lags():
    """small at 0.83 against 0.8 with 300 requests cannot likely prove (chance < lag): after its first round
    the middle tier is sampled beside it, though the small tier is still open."""
    arms = [Arm("t", "small", 0, 1000.0, 0.001), Arm("t", "middle", 1, 500.0, 0.002)]
    pol = Policy(arms, {"t": 300}, Settings(0.8, 0.95))
    outcomes = {("t", "small"): [i % 6 != 0 for i in range(300)], ("t", "middle"): [True] * 300}
    plans = _drive(pol, outcomes)
    assert list(plans[0]) == [("t", "small")]
    both = [p for p in plans if len(p) == 2]
    assert both, "the middle tier never started beside the lagging small tier"
    assert pol.tests[("t", "middle")].kind == "proven"


def test_futility_stops_only_when_continuing_cannot_pay():
    """Same evidence (16 of 20 at target 0.85): with $2 or $5 a month at stake the test gives up after its first
    round (always taken: before it the policy knows nothing of the task); with $2,000 it goes on."""
    outcomes = [i % 5 != 0 for i in range(2000)]
    for value, expect_more in ((2.0, False), (5.0, False), (2000.0, True)):
        pol = Policy([Arm("t", "small", 0, value, 0.01)], {"t": 2000}, Settings(0.85, 0.95))
        first = pol.plan()
        pol.record("t", "small", 0, outcomes[: first[("t", "small")][1]])
        pol.settle()
        assert bool(pol.plan()) == expect_more
    status = pol.statuses()[0]
    assert status.task == "t"


def test_every_task_says_why_it_did_not_move():
    arms = [Arm("weak", "small", 0, 500.0, 0.001), Arm("tiny", "small", 0, 500.0, 0.001),
            Arm("unsure", "small", 0, 0.2, 0.001)]
    pol = Policy(arms, {"weak": 500, "tiny": 8, "unsure": 800}, Settings(0.85, 0.95))
    _drive(pol, {("weak", "small"): [i % 2 == 0 for i in range(500)],
                 ("tiny", "small"): [True] * 8,
                 ("unsure", "small"): [i % 6 != 0 for i in range(800)]})  # 0.83: not yet shown below 0.85
    by = {s.task: s for s in pol.statuses()}
    assert by["weak"].kind == "below-bar" and "shown below the target 0.85" in by["weak"].reason
    assert by["tiny"].kind == "not-enough-traffic" and by["tiny"].samples == 0
    assert "even if every sample passed" in by["tiny"].reason and "all-passing samples" in by["tiny"].reason
    assert by["unsure"].kind == "gave-up" and "below what continuing could repay" in by["unsure"].reason
    assert by["unsure"].samples < 800

    capped = Policy([Arm("big", "small", 0, 500.0, 0.001)], {"big": 5000}, Settings(0.85, 0.95, cap=60))
    _drive(capped, {("big", "small"): [i % 10 != 0 for i in range(5000)]})
    status = capped.statuses()[0]
    assert status.kind == "capped" and status.samples <= 60  # it stops once 60 samples cannot prove it
    assert status.more_samples and "more samples ($" in status.reason and "raise sample.max_per_task" in status.reason


def test_a_task_with_nothing_at_stake_is_never_sampled():
    """No spend or no price gap: a proof would save nothing, so no sample is paid for and the task says why
    (alone in the family, its share of alpha was once a division by zero)."""
    pol = Policy([Arm("free", "small", 0, 0.0, 0.001)], {"free": 500}, Settings(0.85, 0.95))
    assert pol.plan() == {}
    status = pol.statuses()[0]
    assert status.kind == "capped" and status.samples == 0 and "$0.00 a month at stake" in status.reason


def test_the_budget_is_never_overspent():
    arms = [Arm(f"t{i}", "small", 0, 3000.0, 0.05) for i in range(4)]
    pol = Policy(arms, dict.fromkeys((f"t{i}" for i in range(4)), 2000), Settings(0.85, 0.95, budget_usd=20.0))
    _drive(pol, {(f"t{i}", "small"): [j % 9 != 0 for j in range(2000)] for i in range(4)})
    assert pol.spent <= 20.0
    assert any(s.kind == "over-budget" and "budget ran out" in s.reason for s in pol.statuses())


def test_default_cap_follows_the_money_and_the_traffic():
    rich, poor = Arm("a", "small", 0, 3000.0, 0.002), Arm("b", "small", 0, 3.0, 0.002)
    pol = Policy([rich, poor], {"a": 2000, "b": 50_000}, Settings(0.8, 0.95))
    assert pol.tests[("a", "small")].horizon == 2000  # the traffic binds
    assert pol.tests[("b", "small")].horizon == 4500  # 3 months x $3 / $0.002


def test_record_refuses_outcomes_out_of_order():
    pol = Policy([Arm("t", "small", 0, 100.0, 0.001)], {"t": 100}, Settings(0.8, 0.95))
    with pytest.raises(ValueError, match="outcomes for samples 5"):
        pol.record("t", "small", 5, [True])


@pytest.mark.parametrize("target", [0.8, 0.85])
def test_a_task_four_points_above_the_target_is_proven_among_ten(target):
    tasks = bench.ten_tasks(target, target + 0.04)
    proven = sum(bench.run_policy(tasks, target, seed)[0]["focal"] is not None for seed in range(10))
    assert proven >= 8
    today = sum(bench.run_today(tasks, target, seed)[0]["focal"] is not None for seed in range(10))
    assert proven > today


def test_tasks_exactly_at_the_target_are_rarely_proven_family_wide():
    """Ten tasks at the target, each worth sampling to its 150 requests: a false proof in at most 5% of seeds
    in expectation (each test is exact at its level); 100 seeds allow 10 by chance (P ~ 1% if valid)."""
    tasks = bench.at_target(0.85, n=10, traffic=150)
    bad = sum(bool(bench.wrong(tasks, bench.run_policy(tasks, 0.85, seed)[0], 0.85)) for seed in range(100))
    assert bad <= 10
    assert bench.exact_family_error(tasks, 0.85) <= 0.05
