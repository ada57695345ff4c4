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
