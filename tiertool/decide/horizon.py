"""An exact sequential test of H0: pass rate <= target, valid at every look up to a horizon fixed in advance.

Why not Ville's inequality alone: a likelihood-ratio (or betting) e-process held to 1/alpha is valid for ever,
and pays for it: at the horizon an audit actually has (its replayable traffic, or the safety cap), the chance
of ever crossing 1/alpha under H0 is well below alpha. When the horizon N and the sample counts at which the
test looks are fixed before any outcome, that chance can be computed exactly by dynamic programming over
(samples, passes) and the threshold set so that it is alpha: the same statistic, fewer samples.

Validity (proof sketch). Let X_1, X_2, ... be the tier's outcomes in sample order, i.i.d. Bernoulli(p) (the
sample is a seeded random draw of the log, so its order is exchangeable). The test rejects at the first look g
of the fixed grid with score(S_g, g) >= c. Whatever decides how many samples are scored in each round, when
to stop, or when to look (other tests, money, budget), the audit observes a prefix of the sequence, so
"rejected" implies "the full sequence crosses at some look g <= N". That event's probability is computed
here; it is increasing in p (a crossing is an increasing event of the outcomes), so p = target is the worst
case of H0. The p-value P(max_g score >= observed max) is therefore valid at any stopping time <= N, for every
level at once, which is what the sequentially rejective procedure in alpha.py needs. It is not valid beyond N:
a test that wants more samples than its horizon needs a new test on new samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
from scipy.special import betaln, gammaln, logsumexp
from scipy.stats import binom

Score = Callable[[np.ndarray, np.ndarray], np.ndarray]  # evidence of k passes in n (elementwise), increasing in k

FIRST_LOOK = 5  # looks every 5 samples at first ...
SPACING = 0.03  # ... then every 3% of the samples so far: ~120 looks up to 2,000, stopping within 3% of the best


def look_grid(horizon: int, first: int = FIRST_LOOK, spacing: float = SPACING) -> tuple[int, ...]:
    """The sample counts at which a test of this horizon looks; fixed before any outcome."""
    out, n = [], min(first, horizon)
    while n < horizon:
        out.append(n)
        n = max(n + first, math.ceil(n * (1 + spacing)))
    out.append(horizon)
    return tuple(out)


def mixture_score(target: float, horizon: int, alpha: float, points: int = 10) -> Score:
    """log of a mixture of likelihood ratios against alternatives target + d, d from about the smallest effect
    the horizon can show at this level to near 1, weights proportional to 1/sqrt(d): power where the money is
    (pass rates a few points above the target, proven near the horizon) and early stops for easy tasks.

    Any score increasing in k is valid here (the threshold is calibrated for it); this one proved more than
    the others measured in benchmarks/bench_power.py."""
    smallest = 0.7 * math.sqrt(2 * math.log(1 / alpha) * target * (1 - target) / horizon)
    d = np.geomspace(min(smallest, 0.5 * (1 - target)), 0.95 * (1 - target), points)
    up, down = np.log1p(d / target), np.log1p(-d / (1 - target))
    weights = -0.5 * np.log(d) - logsumexp(-0.5 * np.log(d))

    def score(k: np.ndarray, n: np.ndarray) -> np.ndarray:
        k, n = np.asarray(k, float), np.asarray(n, float)
        terms = weights + k[..., None] * up + (n - k)[..., None] * down
        return np.asarray(logsumexp(terms, axis=-1))

    return score


@lru_cache(maxsize=4096)
def _kernel(d: int, p: float) -> np.ndarray:
    return np.asarray(binom.pmf(np.arange(d + 1), d, p))


@dataclass(frozen=True)
class Design:
    """One test: its target, horizon, looks and score, all fixed before its first outcome."""

    target: float
    horizon: int
    score: Score
    looks: tuple[int, ...] = ()
    _thresholds: dict[float, float] = field(default_factory=dict, compare=False, repr=False)
    _p_values: dict[float, float] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.horizon < 1 or not 0.0 < self.target < 1.0:
            raise ValueError(f"a test needs a horizon >= 1 and a target in (0, 1), not {self.horizon}, {self.target}")
        if not self.looks:
            object.__setattr__(self, "looks", look_grid(self.horizon))

    @cached_property
    def _flat(self) -> tuple[np.ndarray, np.ndarray]:
        """The score of every pass count at every look, flattened (increasing in k within a look), and where
        each look's scores start."""
        n = np.asarray(self.looks)
        starts = np.concatenate([[0], np.cumsum(n + 1)[:-1]])
        k = np.arange(int(np.sum(n + 1))) - np.repeat(starts, n + 1)
        return self.score(k, np.repeat(n, n + 1)), starts

    def boundary(self, c: float) -> np.ndarray:
        """Fewest passes at each look whose score reaches c (n + 1 where none does)."""
        flat, starts = self._flat
        return np.add.reduceat((flat < c).astype(np.int64), starts)

    def crossing(self, bound: np.ndarray, p: float) -> tuple[float, float]:
        """(chance of crossing `bound` at some look, mean samples at the stop) when the pass rate is p."""
        hit = self.absorbed(bound, p)
        return float(hit.sum()), float(hit @ np.asarray(self.looks) + (1.0 - hit.sum()) * self.horizon)

    def absorbed(self, bound: np.ndarray, p: float) -> np.ndarray:
        """Chance of crossing `bound` first at each look, at pass rate p."""
        v, prev = np.ones(1), 0  # v[i]: chance of i passes and no crossing yet
        out = np.zeros(len(self.looks))
        for i, (n, b) in enumerate(zip(self.looks, bound, strict=True)):
            v = np.convolve(v, _kernel(n - prev, p))
            if b < len(v):
                out[i], v = float(v[b:].sum()), v[:b]
                if not b:  # everything crossed
                    return out
            prev = n
        return out

    def threshold(self, alpha: float) -> float:
        """Smallest score threshold whose chance of ever being crossed at p = target is at most alpha."""
        if alpha not in self._thresholds:
            lo, hi = -1.0, float(self._flat[0][-1]) + 1e-9  # at hi nothing can cross
            while hi - lo > 1e-6:  # the crossing chance is a step function of c: stop just above a step
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if self.crossing(self.boundary(mid), self.target)[0] > alpha else (lo, mid)
            self._thresholds[alpha] = hi
        return self._thresholds[alpha]

    @cached_property
    def _table(self) -> tuple[np.ndarray, np.ndarray]:
        """Crossing chance at p = target for a grid of thresholds: approximate calibration for predictions."""
        c = np.linspace(0.0, float(self._flat[0][-1]) + 1e-9, 96)
        return c, np.asarray([self.crossing(self.boundary(x), self.target)[0] for x in c])

    def rough_threshold(self, alpha: float) -> float:
        """A grid threshold at or above the exact one (so its boundary is never easier): for predictions only."""
        c, chance = self._table
        return float(c[np.argmax(chance <= alpha)])

    def passes_at_looks(self, outcomes: Sequence[bool]) -> tuple[np.ndarray, np.ndarray]:
        """(looks reached, cumulative passes at each) for outcomes in sample order."""
        n = np.asarray([g for g in self.looks if g <= len(outcomes)], dtype=int)
        if len(outcomes) > self.horizon:
            raise ValueError(f"{len(outcomes)} outcomes for a test of horizon {self.horizon}")
        k = np.cumsum(np.asarray(outcomes, dtype=int))[n - 1] if len(n) else np.zeros(0, dtype=int)
        return n, k

    def best_score(self, outcomes: Sequence[bool]) -> float | None:
        """The largest score at the looks reached so far (None before the first look)."""
        n, k = self.passes_at_looks(outcomes)
        return float(np.max(self._flat[0][self._flat[1][: len(n)] + k])) if len(n) else None

    def p_value(self, outcomes: Sequence[bool]) -> float:
        """Chance, at p = target, that the score would ever reach the largest score seen so far (1.0 before the
        first look). Valid at any stopping time up to the horizon."""
        best = self.best_score(outcomes)
        if best is None:
            return 1.0
        if best not in self._p_values:
            self._p_values[best] = min(1.0, self.crossing(self.boundary(best), self.target)[0])
        return self._p_values[best]

    def rejects(self, outcomes: Sequence[bool], alpha: float) -> bool:
        """Exactly `p_value(outcomes) <= alpha`, usually without a DP: the calibration table brackets it."""
        best = self.best_score(outcomes)
        if best is None:
            return False
        c, chance = self._table  # chance falls as c rises; the last entry is 0
        j = int(np.argmax(chance <= alpha))
        if best >= c[j]:
            return True
        if j and best <= c[j - 1]:
            return False
        return self.p_value(outcomes) <= alpha

    def predictive(self, k: int, n: int, alpha: float, points: int = 12) -> tuple[np.ndarray, np.ndarray]:
        """(later looks, chance the test at level alpha is over the boundary there) given k of n passed, under a
        uniform prior (beta-binomial prediction): a quick lower bound on the chance of proving by that look. At
        most `points` looks, spread evenly, always the next one and the horizon."""
        first = int(np.searchsorted(self.looks, n, side="right"))
        idx = np.unique(np.linspace(first, len(self.looks) - 1, points).round().astype(int)) \
            if first < len(self.looks) else np.zeros(0, dtype=int)
        later = np.asarray(self.looks)[idx]
        need = self.boundary(self.rough_threshold(alpha))[idx] - k
        return later, _beta_binomial_tail(need, later - n, 1.0 + k, 1.0 + n - k)


def _beta_binomial_tail(need: np.ndarray, m: np.ndarray, a: float, b: float) -> np.ndarray:
    """P(X >= need_j) for X ~ BetaBinomial(m_j, a, b), for every j at once (scipy's sf loops in Python)."""
    if not len(m):
        return np.zeros(0)
    j = np.repeat(np.arange(len(m)), m + 1)
    x = np.concatenate([np.arange(v + 1) for v in m]).astype(float)
    mm = m[j].astype(float)
    logpmf = (gammaln(mm + 1) - gammaln(x + 1) - gammaln(mm - x + 1) + betaln(x + a, mm - x + b) - betaln(a, b))
    tail = np.where(x >= need[j], np.exp(logpmf), 0.0)
    return np.minimum(1.0, np.bincount(j, weights=tail, minlength=len(m)))


def design(target: float, horizon: int, alpha: float) -> Design:
    """The default test: the mixture score, shaped for this horizon and the level the test starts with."""
    return _design(round(target, 12), horizon, alpha)


@lru_cache(maxsize=256)
def _design(target: float, horizon: int, alpha: float) -> Design:
    return Design(target, horizon, mixture_score(target, horizon, alpha))


def lower_bound(outcomes: Sequence[bool], horizon: int, shape_alpha: float, alpha: float,
                target: float | None = None, steps: int = 16) -> float:
    """Largest pass rate m that the same test (shaped at shape_alpha, as the decision's) rejects at level alpha:
    the decision's own confidence bound, so 'lower bound >= target' and 'proven' agree. The bisection starts on
    the right side of `target` (the decision itself), so `steps` only set the digits shown (16: 1e-5)."""
    if not outcomes or not any(outcomes):
        return 0.0

    def rejects(m: float) -> bool:
        return Design(m, horizon, mixture_score(m, horizon, shape_alpha)).p_value(outcomes) <= alpha

    lo, hi = 0.0, 1.0
    if target is not None:
        lo, hi = (target, hi) if rejects(target) else (lo, target)
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if rejects(mid) else (lo, mid)
    return lo
