"""Anytime-valid evidence that a pass rate beats the target, so an audit can stop sampling early.

For each (task type, cheaper tier) the audit tests H0: pass rate <= target. The test statistic is a
mixture likelihood ratio (a nonnegative supermartingale under H0), so by Ville's inequality the chance
that it *ever* exceeds 1/alpha under H0 is at most alpha, however often it is looked at. That makes
"look after every round and stop when settled" valid, unlike re-computing a fixed-n bound.

The mixing prior over the alternative (target, 1] is a mixture of truncated Beta(a, 1) laws with
a in {1, 1/(1-target), 10/(1-target)}: uniform for robustness, plus mass near 1, where tiering
decisions live. Futility uses the mirror-image test (H0: pass rate >= target); stopping for futility
only ever keeps a task on the reference tier, so it cannot cause a wrong downgrade.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def _components(p0: float) -> tuple[tuple[float, float], ...]:
    scale = 1.0 / max(1.0 - p0, 1e-9)
    return ((1.0, 1.0), (scale, 1.0), (10.0 * scale, 1.0))


def log_evidence_above(k: int, n: int, p0: float) -> float:
    """log of the mixture likelihood ratio for 'pass rate > p0' after k passes in n."""
    if n == 0:
        return 0.0
    if p0 <= 0.0:
        return 0.0
    from scipy.special import betaincc, betaln, logsumexp

    if p0 >= 1.0:
        return -math.inf
    terms = []
    for a, b in _components(p0):
        upper = betaincc(k + a, n - k + b, p0)
        norm = betaincc(a, b, p0)
        if upper <= 0.0 or norm <= 0.0:
            terms.append(-math.inf)
            continue
        terms.append(betaln(k + a, n - k + b) + math.log(upper) - betaln(a, b) - math.log(norm))
    null = k * math.log(p0) + ((n - k) * math.log1p(-p0) if n > k else 0.0)
    return float(logsumexp(terms)) - math.log(len(terms)) - null


def log_evidence_below(k: int, n: int, p0: float) -> float:
    """log of the mixture likelihood ratio (uniform prior on [0, p0)) for 'pass rate < p0'."""
    if n == 0 or p0 >= 1.0 and k == n:
        return 0.0
    from scipy.special import betainc, betaln

    if p0 <= 0.0:
        return -math.inf
    lower = betainc(k + 1, n - k + 1, p0)
    if lower <= 0.0:
        return -math.inf
    null = k * math.log(p0) + ((n - k) * math.log1p(-p0) if n > k else 0.0)
    if p0 >= 1.0 and n > k:
        return math.inf
    return betaln(k + 1, n - k + 1) + math.log(lower) - math.log(p0) - null


def p_value(looks: Sequence[tuple[int, int]], target: float) -> float:
    """Anytime-valid p-value of H0: pass rate <= target, from cumulative (passed, scored) at each look."""
    best = max((log_evidence_above(k, n, target) for k, n in looks), default=0.0)
    return min(1.0, math.exp(-best)) if best > 0 else 1.0


def futile(looks: Sequence[tuple[int, int]], target: float, alpha: float) -> bool:
    """Whether the data already show, at level alpha, that the pass rate is below the target."""
    best = max((log_evidence_below(k, n, target) for k, n in looks), default=0.0)
    return best >= math.log(1.0 / alpha)


def lower_bound(looks: Sequence[tuple[int, int]], alpha: float) -> float:
    """Lower end of the (1 - alpha) confidence sequence: the largest p0 the data reject, by bisection."""
    if not looks or all(k == 0 for k, _ in looks):
        return 0.0
    threshold = math.log(1.0 / alpha)
    lo, hi = 0.0, 1.0
    for _ in range(40):
        mid = (lo + hi) / 2
        if max(log_evidence_above(k, n, mid) for k, n in looks) >= threshold:
            lo = mid
        else:
            hi = mid
    return lo


def all_pass_needed(target: float, alpha: float, limit: int = 100_000) -> int:
    """Fewest samples, all passing, that prove the target at level alpha (None-free: capped at limit)."""
    threshold = math.log(1.0 / alpha)
    lo, hi = 1, 1
    while hi < limit and log_evidence_above(hi, hi, target) < threshold:
        lo, hi = hi, hi * 2
    while lo < hi:
        mid = (lo + hi) // 2
        if log_evidence_above(mid, mid, target) >= threshold:
            hi = mid
        else:
            lo = mid + 1
    return hi


def fixed_needed(target: float, alpha: float) -> int:
    """Fewest samples, all passing, whose exact (Clopper-Pearson) lower bound reaches the target."""
    return math.ceil(math.log(alpha) / math.log(target)) if target < 1 else 1_000_000


def exact_lower_bound(passed: int, n: int, alpha: float) -> float:
    """Exact one-sided (1 - alpha) lower confidence bound of a binomial proportion (fixed-n samples)."""
    if n == 0 or passed == 0:
        return 0.0
    from scipy.stats import beta

    return float(beta.ppf(alpha, passed, n - passed + 1))


@dataclass(frozen=True)
class Family:
    """The (task, tier) tests an audit runs, and the Bonferroni level each one is held to."""

    tested: tuple[str, ...]  # tasks with enough replayable traffic for a proof to be possible at all
    tiers: int  # cheaper tiers per task
    alpha: float  # per-test level: (1 - confidence) / (len(tested) * tiers)
    needed: int  # all-passing samples a proof needs at that level
    to_join: int = 0  # all-passing samples a proof would need if one more task type joined the family


def family(available: dict[str, int], tiers: int, confidence: float, target: float, cap: int,
           sequential: bool = True) -> Family:
    """Fix the family before seeing any outcome: a task whose traffic cannot prove the target even if every
    sample passed is left out (it stays on the reference), so it does not dilute the others' level."""
    by_traffic = sorted(available, key=lambda t: (-available[t], t))
    for size in range(len(by_traffic), 0, -1):  # the largest family whose every member could be proven
        alpha = (1.0 - confidence) / (size * tiers)
        needed = all_pass_needed(target, alpha) if sequential else fixed_needed(target, alpha)
        if min(available[by_traffic[size - 1]], cap) >= needed:
            bigger = (1.0 - confidence) / ((size + 1) * tiers)
            to_join = all_pass_needed(target, bigger) if sequential else fixed_needed(target, bigger)
            return Family(tuple(sorted(by_traffic[:size])), tiers, alpha, needed, to_join)
    alpha = (1.0 - confidence) / tiers
    needed = all_pass_needed(target, alpha) if sequential else fixed_needed(target, alpha)
    return Family((), tiers, alpha, needed, needed)


FUTILITY_ALPHA = 0.05  # futility only keeps a task on the reference: it costs savings, never safety
OPTIMISM = 0.30  # a test stops when even the 70% upper bound of its pass rate could not prove it in the cap


def needed_at(rate: float, target: float, alpha: float, limit: int) -> int | None:
    """Samples at which a pass rate of `rate`, if observed, would prove the target; None beyond `limit`."""
    if rate <= target:
        return None
    threshold = math.log(1.0 / alpha)

    def proves(m: int) -> bool:
        return log_evidence_above(math.floor(rate * m), m, target) >= threshold

    lo, hi = 1, 1
    while not proves(hi):
        if hi > limit:
            return None
        lo, hi = hi, hi * 2
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if proves(mid) else (mid + 1, hi)
    return hi if hi <= limit else None


def upper_bound(passed: int, n: int, alpha: float) -> float:
    """Exact one-sided (1 - alpha) upper confidence bound of a binomial proportion."""
    if n == 0 or passed == n:
        return 1.0
    from scipy.stats import beta

    return float(beta.ppf(1 - alpha, passed + 1, n - passed))


@dataclass
class Test:
    """One (task, cheaper tier) test: cumulative (passed, scored) after each round, and its state."""

    looks: list[tuple[int, int]]
    state: str = "open"  # open | proven | futile | capped | skipped

    @property
    def k(self) -> int:
        return self.looks[-1][0] if self.looks else 0

    @property
    def n(self) -> int:
        return self.looks[-1][1] if self.looks else 0


class Rounds:
    """Plan an audit's sampling rounds: which requests of each task type to score on which tiers next.

    Sequential: each round adds `round` requests per task type to the tiers whose test is still open; a test
    closes when proven (p-value <= the family level), futile (the mirror test at FUTILITY_ALPHA), or when
    even the optimistic end of its pass rate (70% upper bound) could not be proven within the cap.
    Once a tier is proven for a task, dearer tiers stop.
    Fixed: one round of `per_task` requests on every tier, for every task type.
    """

    def __init__(self, tiers: list[str], available: dict[str, int], fam: Family, target: float,
                 sequential: bool, step: int, cap: int) -> None:
        self.tiers, self.fam, self.target = tiers, fam, target
        self.sequential, self.step = sequential, step
        self.limit = {t: min(n, cap) for t, n in available.items()}
        self.done = dict.fromkeys(available, 0)
        # a sequential audit spends nothing on task types that cannot be proven; a fixed one scores them too,
        # so their pass rates are on record
        self.tests = {(task, tier): Test([], "open" if task in fam.tested or not sequential else "skipped")
                      for task in available for tier in tiers}
        self.round = 0

    def most(self) -> dict[str, tuple[int, int, list[str]]]:
        """The most the rounds could ask for, as `next()` would in one go: for the plan shown before sending."""
        plan = {}
        for task in self.done:
            open_tiers = [t for t in self.tiers if self.tests[(task, t)].state == "open"]
            if open_tiers and self.limit[task]:
                plan[task] = (0, self.limit[task], open_tiers)
        return plan

    def next(self) -> dict[str, tuple[int, int, list[str]]]:
        """task -> (first, stop, tiers): score sample[first:stop] on these tiers. Empty when all settled."""
        plan = {}
        for task, start in self.done.items():
            open_tiers = [t for t in self.tiers if self.tests[(task, t)].state == "open"]
            stop = min(self.limit[task], start + self.step if self.sequential else self.limit[task])
            if open_tiers and stop > start:
                plan[task] = (start, stop, open_tiers)
        return plan

    def record(self, task: str, stop: int, outcomes: dict[str, list[bool]]) -> None:
        """Add one round's pass/fail per tier for `task` (samples up to index `stop`), then settle tests."""
        self.done[task] = stop
        for tier, passed in outcomes.items():
            test = self.tests[(task, tier)]
            test.looks.append((test.k + sum(passed), test.n + len(passed)))
        self._settle(task)

    def finish_round(self) -> None:
        self.round += 1

    def _settle(self, task: str) -> None:
        threshold = math.log(1.0 / self.fam.alpha)
        remaining = self.limit[task] - self.done[task]
        for i, tier in enumerate(self.tiers):
            test = self.tests[(task, tier)]
            if test.state != "open" or not test.looks:
                continue
            if not self.sequential:
                test.state = "proven" if exact_lower_bound(test.k, test.n, self.fam.alpha) >= self.target \
                    else "futile"
            elif max(log_evidence_above(k, n, self.target) for k, n in test.looks) >= threshold:
                test.state = "proven"
            elif futile(test.looks, self.target, FUTILITY_ALPHA):
                test.state = "futile"
            elif log_evidence_above(test.k + remaining, test.n + remaining, self.target) < threshold:
                test.state = "capped"  # even all-passing remaining samples could not prove it
            elif needed_at(upper_bound(test.k, test.n, OPTIMISM), self.target, self.fam.alpha,
                           self.limit[task]) is None:
                test.state = "capped"  # not even an optimistic pass rate would be proven within the cap
            if test.state == "proven":
                for dearer in self.tiers[i + 1:]:
                    if self.tests[(task, dearer)].state == "open":
                        self.tests[(task, dearer)].state = "skipped"
