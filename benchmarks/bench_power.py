"""Power and validity by simulation: today's procedure (tiertool/sequential.py) against issue 16's
(tiertool/decide/horizon.py, betting.py, alpha.py, policy.py), on the same simulated outcomes.

    .venv/bin/python benchmarks/bench_power.py [--seeds 100] [--boundary-seeds 500] [--quick]
        [--only boundary] [--targets 0.8 0.85] [--first-seed 0]

1. One test, N = 2,000 samples, level 0.005 (1 - 0.95 split over ten task types): the chance of proving at
   several true pass rates, exact by dynamic programming where the statistic depends on (passes, samples) only,
   by simulation for the betting tests. The row at p = target is the validity check.
2. The paired test of the relative bar (accuracy >= reference - margin), at the boundary and above it.
3. Ten task types, one of them at target + 0.04 with 2,000 requests and real money: how often it is proven,
   today (Rounds with its default cap of 400, and with the cap raised to the traffic) and with the policy; and
   the family-wise rate of false proofs when tasks sit exactly at the target.
4. Three tiers (4 easy tasks, one for the middle tier, one for the reference): decided right, and calls, against
   a fixed 100 samples per task per tier.
Each request has one latent difficulty u; a tier passes it when u < its pass rate (tiers agree on easy requests).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


from tiertool.decide import betting  # noqa: E402
from tiertool.decide.family import family  # noqa: E402
from tiertool.decide.horizon import Design, design  # noqa: E402
from tiertool.decide.policy import Arm, Policy, Settings  # noqa: E402
from tiertool.decide.rounds import Rounds  # noqa: E402
from tiertool.decide.sequential import exact_lower_bound, log_evidence_above  # noqa: E402

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Task:
    name: str
    traffic: int
    rates: tuple[float, ...]  # true pass rate of each cheaper tier, cheapest first
    values: tuple[float, ...]  # monthly saving if that tier is proven (USD)
    costs: tuple[float, ...]  # one sample on that tier (USD)


TIERS = ("small", "middle")


def difficulty(tasks: Sequence[Task], seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {t.name: rng.random(t.traffic) for t in tasks}


def run_policy(tasks: Sequence[Task], target: float, seed: int, settings: Settings | None = None
               ) -> tuple[dict[str, int | None], int, Policy]:
    """The issue-16 policy: task -> index of the proven tier (None: stays on the reference), calls made."""
    u = difficulty(tasks, seed)
    arms = [Arm(t.name, TIERS[i], i, t.values[i], t.costs[i]) for t in tasks for i in range(len(t.rates))]
    pol = Policy(arms, {t.name: t.traffic for t in tasks}, settings or Settings(target, CONFIDENCE))
    by_name, calls = {t.name: t for t in tasks}, 0
    while plan := pol.plan():
        for (task, tier), (first, stop) in plan.items():
            rate = by_name[task].rates[TIERS.index(tier)]
            pol.record(task, tier, first, list(u[task][first:stop] < rate))
            calls += stop - first
        pol.settle()
    chosen = {s.task: TIERS.index(s.tier) if s.kind == "proven" and s.tier else None for s in pol.statuses()}
    return chosen, calls, pol


def run_today(tasks: Sequence[Task], target: float, seed: int, cap: int = 400) -> tuple[dict[str, int | None], int]:
    """Today's audit: sequential.family + Rounds (rounds of 20, mixture test, its futility rules)."""
    u = difficulty(tasks, seed)
    tiers = TIERS[: max(len(t.rates) for t in tasks)]
    fam = family({t.name: t.traffic for t in tasks}, len(tiers), CONFIDENCE, target, cap)
    rounds = Rounds(list(tiers), {t.name: t.traffic for t in tasks}, fam, target, True, 20, cap)
    by_name, calls = {t.name: t for t in tasks}, 0
    while plan := rounds.next():
        for task, (first, stop, open_tiers) in plan.items():
            rounds.record(task, stop, {tier: list(u[task][first:stop] < by_name[task].rates[TIERS.index(tier)])
                                       for tier in open_tiers})
            calls += (stop - first) * len(open_tiers)
        rounds.finish_round()
    chosen = {t.name: next((i for i, tier in enumerate(tiers) if rounds.tests[(t.name, tier)].state == "proven"),
                           None) for t in tasks}
    return chosen, calls


def run_fixed(tasks: Sequence[Task], target: float, seed: int, per_task: int = 100) -> tuple[dict[str, int | None],
                                                                                          int]:
    """A fixed plan: per_task samples per task per tier, exact lower bound, Bonferroni over all tests."""
    u = difficulty(tasks, seed)
    alpha = (1 - CONFIDENCE) / sum(len(t.rates) for t in tasks)
    chosen: dict[str, int | None] = {}
    calls = 0
    for t in tasks:
        n = min(per_task, t.traffic)
        calls += n * len(t.rates)
        ok = [exact_lower_bound(int(np.sum(u[t.name][:n] < r)), n, alpha) >= target for r in t.rates]
        chosen[t.name] = ok.index(True) if True in ok else None
    return chosen, calls


def wrong(tasks: Sequence[Task], chosen: dict[str, int | None], target: float) -> list[str]:
    """Tasks moved to a tier whose true pass rate is at or below the target (a wrong downgrade)."""
    return [t.name for t in tasks if chosen[t.name] is not None and t.rates[chosen[t.name]] <= target]


# -- scenarios ---------------------------------------------------------------------------------------------------
def ten_tasks(target: float, focal: float, equal_money: bool = False) -> list[Task]:
    """Ten task types of a realistic log: the focal one (2,000 requests, $3,000 a month at stake), easy ones,
    hopeless ones with more money than the focal, and borderline ones that cannot be proven in their traffic."""
    rows = [("focal", 2000, focal, 3000.0), ("easy-a", 800, 0.97, 1200.0), ("easy-b", 1500, 0.95, 800.0),
            ("above", 1000, target + 0.1, 1500.0), ("below", 3000, target - 0.1, 5000.0),
            ("hopeless", 2500, 0.6, 4000.0), ("borderline", 2000, target + 0.01, 2500.0),
            ("at-target", 1200, target, 2000.0), ("tiny", 40, 0.99, 300.0), ("near", 900, target - 0.03, 1000.0)]
    return [Task(name, n, (rate,), (1000.0 if equal_money else money,), (0.002,)) for name, n, rate, money in rows]


def at_target(target: float, n: int = 10, traffic: int = 1500) -> list[Task]:
    """Every task exactly at the target, and worth sampling to its traffic: the worst case for validity."""
    return [Task(f"t{i}", traffic, (target,), (1e6,), (0.001,)) for i in range(n)]


def three_tiers(target: float) -> list[Task]:
    easy = [Task(f"easy-{i}", 150, (0.98, 0.99), (800.0, 500.0), (0.001, 0.004)) for i in range(4)]
    return easy + [Task("middle-only", 150, (0.55, 0.98), (800.0, 500.0), (0.001, 0.004)),
                   Task("reference-only", 150, (0.45, 0.65), (800.0, 500.0), (0.001, 0.004))]


# -- section 1: one test -----------------------------------------------------------------------------------------
def today_score(target: float) -> object:
    def score(k: np.ndarray, n: np.ndarray) -> np.ndarray:
        return np.asarray([log_evidence_above(int(a), int(b), target) for a, b in zip(k.ravel(), np.broadcast_to(
            n, k.shape).ravel(), strict=True)]).reshape(k.shape)
    return score


def today_test(target: float, horizon: int, alpha: float) -> tuple[Design, np.ndarray]:
    """Today's test as a Design (looks every 20, as Rounds does) and its boundary at Ville's threshold: the
    fewest passes at each look whose mixture evidence reaches log(1/alpha), by bisection on k."""
    looks = tuple(range(20, horizon + 1, 20))
    bound = []
    for n in looks:
        lo, hi = 0, n + 1
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if log_evidence_above(mid, n, target) >= math.log(1 / alpha) else (mid + 1, hi)
        bound.append(lo)
    return Design(target, horizon, today_score(target), looks), np.asarray(bound)


def single_tests(targets: Sequence[float], horizon: int, alpha: float, seeds: int, quick: bool) -> None:
    print(f"\n## 1. One test: horizon {horizon}, level {alpha:g}: chance of proving (mean samples at the stop)")
    for target in targets:
        rates = (target, target + 0.02, target + 0.04, target + 0.10, 0.98)
        print(f"\ntarget {target:g}\n| test | " + " | ".join(f"p = {p:.2f}" for p in rates) + " |")
        print("|---|" + "---:|" * len(rates))
        rows: list[tuple[str, list[tuple[float, float]]]] = []
        ville, bound = today_test(target, horizon, alpha)
        rows.append(("today: mixture, Ville 1/alpha, looks every 20 (exact DP)", [ville.crossing(bound, p)
                                                                                  for p in rates]))
        if not quick:
            exact_today = Design(target, horizon, today_score(target))
            b = exact_today.boundary(exact_today.threshold(alpha))
            rows.append(("today's mixture, threshold exact for the horizon (DP)", [exact_today.crossing(b, p)
                                                                                   for p in rates]))
        new = design(target, horizon, alpha)
        b = new.boundary(new.threshold(alpha))
        rows.append(("new: horizon mixture, exact threshold (DP)", [new.crossing(b, p) for p in rates]))
        for bet in ("prpl", "agrapa"):
            rows.append((f"betting, {bet} (Ville; {seeds} simulated runs)",
                         [_simulate_betting(p, target, horizon, alpha, bet, seeds) for p in rates]))
        for name, res in rows:
            print(f"| {name} | " + " | ".join(f"{P:.3f} ({e:.0f})" for P, e in res) + " |")


def _simulate_betting(p: float, target: float, horizon: int, alpha: float, bet: str, seeds: int) -> tuple[float,
                                                                                                          float]:
    rng = np.random.default_rng(12345)
    proven, stops = 0, []
    for _ in range(seeds):
        logk = betting.log_capital(rng.random(horizon) < p, target, alpha, bet)[:, 0]
        hit = np.nonzero(logk >= math.log(1 / alpha))[0]
        proven += bool(len(hit))
        stops.append(hit[0] + 1 if len(hit) else horizon)
    return proven / seeds, float(np.mean(stops))


# -- section 2: the paired test ----------------------------------------------------------------------------------
def paired(horizon: int, alpha: float, margin: float, seeds: int) -> None:
    print(f"\n## 2. Paired relative bar: accuracy(cheaper) >= accuracy(reference) - {margin:g}; horizon {horizon}, "
          f"level {alpha:g}, {seeds} simulated runs")
    print("| reference acc. | cheaper acc. | disagreement | test | chance of proving (mean samples) |")
    print("|---:|---:|---:|---|---:|")
    rng = np.random.default_rng(7)
    for ref, cheap, disagree in ((0.85, 0.85 - margin, 0.10), (0.85, 0.85 - margin, 0.30), (0.85, 0.85, 0.10),
                                 (0.85, 0.87, 0.10)):
        # joint law: P(cheaper right, reference wrong) - P(cheaper wrong, reference right) = cheap - ref
        q10, q01 = (disagree + cheap - ref) / 2, (disagree - cheap + ref) / 2
        for bet in ("prpl", "agrapa"):
            proven, stops = 0, []
            for _ in range(seeds):
                draw = rng.random(horizon)
                # [0, q10): cheaper only; [q10, q10 + q01): reference only; then both, up to q10 + ref
                c = (draw < q10) | (draw >= q10 + q01) & (draw < q10 + ref)
                r = (draw >= q10) & (draw < q10 + ref)
                z = betting.paired(c, r)
                logk = betting.log_capital(z, (1 - margin) / 2, alpha, bet)[:, 0]
                hit = np.nonzero(logk >= math.log(1 / alpha))[0]
                proven += bool(len(hit))
                stops.append(hit[0] + 1 if len(hit) else horizon)
            print(f"| {ref:.2f} | {cheap:.2f} | {disagree:.2f} | betting, {bet} | {proven / seeds:.3f} "
                  f"({np.mean(stops):.0f}) |")


# -- sections 3 and 4: families ----------------------------------------------------------------------------------
def ten(targets: Sequence[float], seeds: int) -> None:
    print(f"\n## 3. Ten task types, the focal one at target + 0.04 (2,000 requests, $3,000 a month): {seeds} seeds")
    print("| target | money | procedure | focal proven | any wrong downgrade | task types moved (mean) | "
          "calls (mean) |")
    print("|---:|---|---|---:|---:|---:|---:|")
    for target in targets:
        for equal in (False, True):
            tasks = ten_tasks(target, target + 0.04, equal)
            for name, proc in (("today (cap 400)", run_today), ("today, cap raised to the traffic", _today_uncapped),
                               ("policy (issue 16)", _policy_choice)):
                focal = bad = moved = calls = 0
                for seed in range(seeds):
                    chosen, used = proc(tasks, target, seed)
                    focal += chosen["focal"] is not None
                    bad += bool(wrong(tasks, chosen, target))
                    moved += sum(v is not None for v in chosen.values())
                    calls += used
                print(f"| {target:g} | {'equal' if equal else 'varied'} | {name} | {focal / seeds:.0%} | "
                      f"{bad / seeds:.1%} | {moved / seeds:.2f} | {calls / seeds:.0f} |")


def boundary(targets: Sequence[float], seeds: int, first: int = 0) -> None:
    print(f"\n## 3b. Validity at the boundary: family-wise false-proof rate, seeds {first}..{first + seeds - 1} "
          f"(must be <= {1 - CONFIDENCE:g}; 95% upper bound in brackets)")
    print("| target | scenario | procedure | seeds with a false proof |\n|---:|---|---|---:|")
    for target in targets:
        for scenario, tasks in (("all ten at the target, worth sampling to the traffic", at_target(target)),
                                ("the ten above with the focal at the target", ten_tasks(target, target))):
            for name, proc in (("today (cap 400)", run_today), ("policy (issue 16)", _policy_choice)):
                bad = sum(bool(wrong(tasks, proc(tasks, target, seed)[0], target))
                          for seed in range(first, first + seeds))
                print(f"| {target:g} | {scenario} | {name} | {bad / seeds:.2%} [{_upper(bad, seeds):.2%}] |")
        print(f"| {target:g} | all ten at the target | policy, exact if every test ran to its horizon | "
              f"{exact_family_error(at_target(target), target):.2%} |")


def _today_uncapped(tasks: Sequence[Task], target: float, seed: int) -> tuple[dict[str, int | None], int]:
    return run_today(tasks, target, seed, cap=max(t.traffic for t in tasks))


def _policy_choice(tasks: Sequence[Task], target: float, seed: int) -> tuple[dict[str, int | None], int]:
    chosen, calls, _ = run_policy(tasks, target, seed)
    return chosen, calls


def exact_family_error(tasks: Sequence[Task], target: float) -> float:
    """When every task sits at the target, any proof is a false one and comes before any recycling, so the
    family-wise error of tests run to their horizons is 1 - prod(1 - each test's exact crossing chance)."""
    _, _, pol = run_policy(tasks, target, 0)
    keep = 1.0
    for key in pol.holm.weights:
        d, level = pol.tests[key].design, pol.alpha * pol.holm.weights[key]
        assert d is not None
        keep *= 1.0 - d.crossing(d.boundary(d.threshold(level)), target)[0]
    return 1.0 - keep


def _upper(k: int, n: int) -> float:
    """One-sided 95% Clopper-Pearson upper bound of a rate."""
    from scipy.stats import beta

    return 1.0 if k == n else float(beta.ppf(0.95, k + 1, n - k))


def three(targets: Sequence[float], seeds: int) -> None:
    print(f"\n## 4. Three tiers, 6 task types of 150 requests: {seeds} seeds")
    print("| target | procedure | decided right | calls (mean) | vs fixed 100 |\n|---:|---|---:|---:|---:|")
    for target in targets:
        tasks = three_tiers(target)
        right = {t.name: (0 if t.rates[0] > target else 1 if t.rates[1] > target else None) for t in tasks}
        base = run_fixed(tasks, target, 0)[1]
        for name, proc in (("fixed 100 per task per tier", run_fixed), ("today", run_today),
                           ("policy (issue 16)", _policy_choice)):
            ok = calls = 0
            for seed in range(seeds):
                chosen, used = proc(tasks, target, seed)
                ok += chosen == right
                calls += used
            print(f"| {target:g} | {name} | {ok / seeds:.0%} | {calls / seeds:.0f} | {calls / seeds / base:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--boundary-seeds", type=int, default=500)
    ap.add_argument("--quick", action="store_true", help="fewer seeds, skip the slowest row")
    ap.add_argument("--only", choices=("single", "paired", "ten", "boundary", "three"),
                    help="run one section alone (e.g. the long boundary check in the background)")
    ap.add_argument("--targets", type=float, nargs="+", default=[0.8, 0.85])
    ap.add_argument("--first-seed", type=int, default=0, help="boundary seeds start here (to extend a run)")
    args = ap.parse_args()
    seeds, bseeds = (20, 100) if args.quick else (args.seeds, args.boundary_seeds)
    targets = tuple(args.targets)
    sections = {
        "single": lambda: single_tests(targets, 2000, 0.005, 400 if args.quick else 2000, args.quick),
        "paired": lambda: paired(2000, 0.005, 0.02, 200 if args.quick else 1000),
        "ten": lambda: ten(targets, seeds),
        "boundary": lambda: boundary(targets, bseeds, args.first_seed),
        "three": lambda: three(targets, seeds),
    }
    t0 = time.perf_counter()
    for name, run in sections.items():
        if args.only in (None, name):
            run()
    print(f"\n({time.perf_counter() - t0:.0f}s)")


if __name__ == "__main__":
    main()
