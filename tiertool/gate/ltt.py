"""Choose a gate's threshold so that the traffic it routes provably passes: Learn-then-Test.

Everything but the proof comes from the learning sample: the predictor, a grid of thresholds from strict to
loose (quantiles of its out-of-fold scores, ending at "route everything"), where the test starts, which task
types are tested and how many fresh calibration samples each gets. The fresh samples, drawn at random from the
task's traffic and never used before, then test in that fixed order

    H_j: P(pass | score >= t_j) < target

each with the exact one-sided binomial test (Clopper-Pearson) at the task's level alpha, stopping at the first
it cannot reject (fixed-sequence testing). Given how many fresh samples a threshold routes, their passes are
binomial with exactly that conditional pass rate, so each test is valid; the first true H_j in the order must be
rejected before any later one can be, so the chance that the chosen threshold routes traffic below the target is
at most alpha. Across task types alpha is Bonferroni-split: (1 - confidence) / (task types tested), the family
being fixed from the learning sample alone, and a task type that proves everything hands its level on
(prove_family). A task type whose first test fails routes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

STEP = 0.05  # grid spacing, as a share of traffic
POWER = 0.8  # the chance of a proof that "samples needed" aims for
WORTH = 0.5  # a task type is tested only if its test has at least this chance: else its samples are wasted
SATURATED = 0.99  # ask for the fewest samples that reach this share of the expected gain at the cap
PRIOR = 1.0  # pseudo-samples pulling a slice's pass rate to the task's (set on seeds 100-114, not the benchmark's 0-19)
DRAWS = 400  # simulated calibrations per plan


@dataclass(frozen=True)
class Curve:
    """Per threshold, strict to loose: how many of an estimation sample it routes and how many of those pass."""

    thresholds: tuple[float, ...]
    routed: tuple[int, ...]
    passed: tuple[int, ...]
    n: int

    @property
    def shares(self) -> np.ndarray:
        return np.array(self.routed, dtype=float) / max(self.n, 1)


def grid(scores: np.ndarray, step: float = STEP) -> tuple[float, ...]:
    """Thresholds routing the top step, 2 step, ... of `scores`, then 0.0 (everything); strictly decreasing."""
    ranked = np.sort(np.asarray(scores, dtype=float))[::-1]
    out: list[float] = []
    for share in np.arange(step, 1.0 + 1e-9, step):
        t = float(ranked[max(math.ceil(share * len(ranked)) - 1, 0)]) if len(ranked) else 0.0
        if not out or t < out[-1]:
            out.append(t)
    if not out or out[-1] > 0.0:
        out.append(0.0)
    return tuple(out)


def curve(thresholds: Sequence[float], scores: np.ndarray, passed: np.ndarray) -> Curve:
    scores, passed = np.asarray(scores, dtype=float), np.asarray(passed, dtype=bool)
    routed = [scores >= t for t in thresholds]
    return Curve(tuple(thresholds), tuple(int(r.sum()) for r in routed), tuple(int(passed[r].sum()) for r in routed),
                 len(scores))


def min_passes(m: np.ndarray, target: float, alpha: float) -> np.ndarray:
    """Fewest passes among m routed samples that reject 'pass rate < target' at level alpha (m + 1: cannot)."""
    from scipy.stats import binom

    m = np.asarray(m)
    k = binom.ppf(1.0 - alpha, m, target) + 1
    return np.where((m > 0) & (k <= m), k, m + 1).astype(int)


def simulate(est: Curve, n: int, target: float, alpha: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per start threshold: the expected share of traffic the fixed-sequence test would route with n fresh
    samples, and its chance of routing any. Simulated from `est`: the slice between two thresholds holds its
    estimated share of traffic and passes at a rate drawn from its posterior, shrunk towards the task's rate
    (a handful of out-of-fold samples that all passed is weak evidence). Seeded, so a plan is reproducible."""
    rng = np.random.default_rng(seed)
    counts, passes = np.diff(est.routed, prepend=0), np.diff(est.passed, prepend=0)
    rate = (est.passed[-1] + 1) / (est.routed[-1] + 2)
    p = rng.beta(passes + PRIOR * rate, counts - passes + PRIOR * (1 - rate), size=(DRAWS, len(counts)))
    fresh = rng.multinomial(n, counts / max(counts.sum(), 1), size=DRAWS)
    routed, passed = np.cumsum(fresh, axis=1), np.cumsum(rng.binomial(fresh, p), axis=1)
    counts_seen, where = np.unique(routed, return_inverse=True)
    proven = passed >= min_passes(counts_seen, target, alpha)[where.reshape(routed.shape)]
    run = np.zeros(proven.shape, dtype=int)  # thresholds proven in a row from each start, before a failure
    run[:, -1] = proven[:, -1]
    for j in range(proven.shape[1] - 2, -1, -1):
        run[:, j] = proven[:, j] * (1 + run[:, j + 1])
    last = np.take_along_axis(routed, np.maximum(np.arange(len(counts)) + run - 1, 0), axis=1)
    share = np.where(run > 0, last, 0).mean(axis=0) / n
    chance = (run > 0).mean(axis=0)
    return share, chance


@dataclass(frozen=True)
class TaskPlan:
    """One tested task type: its threshold grid, where its test starts, and the fresh samples it asks for."""

    task: str
    thresholds: tuple[float, ...]
    start: int
    calibrate: int
    gain: float  # the expected share of traffic it will route (simulated)
    chance: float  # the chance that it routes any


@dataclass(frozen=True)
class Plan:
    target: float
    confidence: float
    alpha: float  # per task type tested
    tasks: Mapping[str, TaskPlan]


def _task_plan(task: str, est: Curve, most: int, target: float, alpha: float, step: int) -> TaskPlan | None:
    """The fewest samples (a multiple of `step`, at most `most`) that nearly reach the expected gain of `most`,
    and the start that maximises it; None when the test's chance is below WORTH."""
    def best(n: int) -> tuple[int, float, float]:
        share, chance = simulate(est, n, target, alpha)
        j = int(np.argmax(share))
        return j, float(share[j]), float(chance[j])

    full = best(most)[1]
    if full <= 0:
        return None
    lo, hi = 0, (most + step - 1) // step  # the gain grows with n: bisect on multiples of step
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if best(mid * step)[1] >= SATURATED * full else (mid, hi)
    n = min(hi * step, most)
    j, gain, chance = best(n)
    return TaskPlan(task, est.thresholds, j, n, gain, chance) if chance >= WORTH else None


def plan(curves: Mapping[str, Curve], available: Mapping[str, int], value: Mapping[str, float], target: float,
         confidence: float, cap: int, step: int = 50) -> Plan:
    """Which task types to test, with how many fresh samples (at most `cap`, and what `available` unlabelled
    requests allow): the family size k that maximises the expected saving, the sum of value x gain over the k
    best task types at level (1 - confidence) / k. `value` is what routing all of a task type would save."""
    candidates = [t for t in curves if min(available.get(t, 0), cap) > 0 and value.get(t, 0.0) > 0]
    best: tuple[float, float, dict[str, TaskPlan]] = (0.0, 1.0 - confidence, {})
    for k in range(1, len(candidates) + 1):
        alpha = (1.0 - confidence) / k
        plans = [_task_plan(t, curves[t], min(available[t], cap), target, alpha, step) for t in candidates]
        chosen = sorted((p for p in plans if p), key=lambda p: -value[p.task] * p.gain)[:k]
        total = sum(value[p.task] * p.gain for p in chosen)
        if total > best[0]:
            best = (total, alpha, {p.task: p for p in chosen})
    return Plan(target, confidence, best[1], best[2])


@dataclass(frozen=True)
class Step:
    threshold: float
    level: float  # the level the test was held to (it grows when another task type passes its level on)
    routed: int
    passed: int
    p_value: float
    lower_bound: float  # exact one-sided (1 - level) lower bound of the routed pass rate
    rejected: bool


@dataclass(frozen=True)
class Calibration:
    """The outcome of one task type's fixed-sequence test on its fresh samples."""

    task: str
    threshold: float | None  # None: nothing proven, the gate routes none of this task type
    calibrated: int
    routed: int
    passed: int
    lower_bound: float | None
    steps: tuple[Step, ...]
    estimate: Curve  # the fresh samples over the whole grid: what a later, larger calibration may expect


def exact_test(k: int, m: int, target: float, alpha: float) -> tuple[float, float]:
    """(p-value of 'pass rate < target', its (1 - alpha) Clopper-Pearson lower bound) for k passes in m: the
    binomial tail and the beta quantile (scipy's binomtest gives the same, 20 times slower)."""
    if m == 0:
        return 1.0, 0.0
    from scipy.stats import beta, binom

    return float(binom.sf(k - 1, m, target)), float(beta.ppf(alpha, k, m - k + 1)) if k else 0.0


def prove_family(plan: Plan, fresh: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, Calibration]:
    """Each planned task type's fixed-sequence test on its fresh (scores, passed), at level plan.alpha; a task
    type that proves even its loosest threshold (everything routed) passes its level on, in equal parts, to the
    tests still open, which resume where they stopped. This is a graphical procedure (Bretz et al. 2009): a
    level only ever grows with proofs of other task types, whose samples are independent, and the levels of the
    tests with a true null can reach at most alpha in sum, so the family-wise error stays within alpha."""
    target = plan.target
    data = {t: (np.asarray(fresh[t][0], dtype=float), np.asarray(fresh[t][1], dtype=bool)) if t in fresh else
            (np.zeros(0), np.zeros(0, dtype=bool)) for t in plan.tasks}
    level = dict.fromkeys(plan.tasks, plan.alpha)
    at = {t: tp.start for t, tp in plan.tasks.items()}
    steps: dict[str, list[Step]] = {t: [] for t in plan.tasks}
    tried: dict[str, float] = {}  # the level each open test last failed at: retried only at a higher one
    while True:
        progressed = False
        for task, tp in plan.tasks.items():
            scores, passed = data[task]
            while at[task] < len(tp.thresholds) and level[task] > tried.get(task, 0.0):
                routed = scores >= tp.thresholds[at[task]]
                m, k = int(routed.sum()), int(passed[routed].sum())
                p, lb = exact_test(k, m, target, level[task])
                steps[task].append(Step(tp.thresholds[at[task]], level[task], m, k, p, lb, p <= level[task]))
                if p > level[task]:
                    tried[task] = level[task]
                    break
                at[task] += 1
                tried.pop(task, None)
            if at[task] == len(tp.thresholds) and level[task] > 0:  # all proven: hand the level on
                still = [t for t in plan.tasks if at[t] < len(plan.tasks[t].thresholds)]
                for t in still:
                    level[t] += level[task] / len(still)
                level[task] = 0.0
                progressed = bool(still)
        if not progressed:
            break
    out = {}
    for task, tp in plan.tasks.items():
        scores, passed = data[task]
        est = curve(tp.thresholds, scores, passed)
        last = next((s for s in reversed(steps[task]) if s.rejected), None)
        out[task] = Calibration(task, last.threshold if last else None, len(scores), last.routed if last else 0,
                                last.passed if last else 0, last.lower_bound if last else None, tuple(steps[task]),
                                est)
    return out


def samples_needed(est: Curve, target: float, alpha: float, goal: float = POWER,
                   limit: int = 100_000) -> tuple[int, float] | None:
    """Fresh samples with which a calibration would route some traffic with chance `goal`, and the share it
    would be expected to route; None when no sample size up to `limit` would, at the estimated pass rates."""
    def chance(n: int) -> float:
        return float(simulate(est, n, target, alpha)[1].max(initial=0.0))

    lo, hi = 0, 50
    while chance(hi) < goal:
        if hi >= limit:
            return None
        lo, hi = hi, min(hi * 2, limit)
    while hi - lo > max(hi // 50, 1):  # to within 2%: a plan, not a promise
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if chance(mid) >= goal else (mid, hi)
    return hi, float(simulate(est, hi, target, alpha)[0].max(initial=0.0))
