"""Betting confidence sequences for a mean in [0, 1] (Waudby-Smith & Ramdas, JRSS-B 2023), one-sided.

To show a mean exceeds m, bet on each new outcome x in [0, 1] a fraction lambda_t of the capital that
x > m: K_t(m) = prod_{i<=t} (1 + lambda_i (x_i - m)), with lambda_i in [0, c/m] chosen from x_1..x_{i-1} only
(predictable). If the mean is <= m, each factor has conditional mean <= 1, so K_t(m) is a nonnegative
supermartingale and, by Ville's inequality, P(K_t(m) >= 1/alpha for some t) <= alpha, with no horizon and no
assumption beyond boundedness. So 1/max_t K_t(m) is an anytime-valid p-value and
{m : K_t(m) < 1/alpha}, intersected over t, is a (1 - alpha) confidence sequence whose lower end is returned.

Two bets from the paper: the predictable plug-in (PrPl, tuned for a tight sequence) and aGRAPA (an
approximation of the growth-optimal bet, tuned for power). For a 0/1 outcome the growth-optimal bet is the one
the mixture likelihood ratio of tiertool/sequential.py places implicitly (a Bayes predictive bet), so these
are a comparison there; they earn their place on the paired test below, where outcomes take three values
and the null is composite, so no likelihood ratio is available.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Values = Sequence[float] | Sequence[bool] | np.ndarray  # outcomes in [0, 1], in sample order

GRID = np.linspace(0.0, 1.0, 1001)  # means at which the sequence is computed: the bound is rounded down to it
CAP = 0.5  # bets at most CAP/m of the capital (c in the paper), so one bad outcome costs at most half of it


def _bets(x: np.ndarray, m: np.ndarray, alpha: float, bet: str) -> np.ndarray:
    """lambda_t for every t (rows) and mean m (columns), from the outcomes before t."""
    t = np.arange(1, len(x) + 1, dtype=float)

    def before(values: np.ndarray) -> np.ndarray:  # sum over i < t
        return np.concatenate([[0.0], np.cumsum(values)[:-1]])

    mean = (0.5 + before(x)) / t  # the paper's mu_hat_{t-1} and sigma_hat^2_{t-1}, with their pseudo-counts
    var = (0.25 + before((x - (0.5 + np.cumsum(x)) / (t + 1)) ** 2)) / t
    if bet == "prpl":
        lam = np.sqrt(2 * math.log(1 / alpha) / (var * t * np.log1p(t)))[:, None] * np.ones_like(m)
    elif bet == "agrapa":
        gap = mean[:, None] - m
        lam = gap / (var[:, None] + gap**2)
    else:
        raise ValueError(f"unknown bet {bet!r}: use 'prpl' or 'agrapa'")
    return np.clip(lam, 0.0, CAP / np.maximum(m, 1e-12))


def log_capital(x: Values, m: float | np.ndarray, alpha: float, bet: str = "agrapa") -> np.ndarray:
    """log K_t(m) after each outcome (rows) for each m (columns)."""
    xs = np.asarray(x, dtype=float)
    ms = np.atleast_1d(np.asarray(m, dtype=float))
    if not len(xs):
        return np.zeros((0, len(ms)))
    if xs.min() < 0 or xs.max() > 1:
        raise ValueError("betting needs outcomes in [0, 1]")
    lam = _bets(xs, ms, alpha, bet)
    return np.cumsum(np.log1p(lam * (xs[:, None] - ms)), axis=0)


def p_value(x: Values, m: float, alpha: float, bet: str = "agrapa") -> float:
    """Anytime-valid p-value of H0: mean <= m. `alpha` only shapes the PrPl bet; the p-value is valid at all
    levels."""
    logk = log_capital(x, m, alpha, bet)
    return 1.0 if not len(logk) else min(1.0, math.exp(-max(0.0, float(logk.max()))))


def lower_bound(x: Values, alpha: float, bet: str = "agrapa") -> float:
    """Lower end of the (1 - alpha) confidence sequence after all of x (running intersection)."""
    logk = log_capital(x, GRID, alpha, bet)
    if not len(logk):
        return 0.0
    rejected = np.maximum.accumulate(logk, axis=0)[-1] >= math.log(1 / alpha)  # rejected at some time
    # the largest grid mean below which every mean was rejected; rounding down keeps it conservative
    first_kept = int(np.argmin(rejected)) if not rejected.all() else len(GRID)
    return float(GRID[first_kept - 1]) if first_kept else 0.0


def paired(cheaper: Values, reference: Values) -> np.ndarray:
    """Paired outcomes mapped to [0, 1]: (cheaper correct - reference correct + 1) / 2, one per request."""
    if len(cheaper) != len(reference):
        raise ValueError(f"paired outcomes differ in length: {len(cheaper)} cheaper, {len(reference)} reference")
    return (np.asarray(cheaper, dtype=float) - np.asarray(reference, dtype=float) + 1.0) / 2.0


def margin_p_value(cheaper: Values, reference: Values, margin: float, alpha: float,
                   bet: str = "agrapa") -> float:
    """Anytime-valid p-value of H0: accuracy(cheaper) < accuracy(reference) - margin, on paired outcomes.

    E[(X - Y + 1) / 2] = (acc_X - acc_Y + 1) / 2, so H0 is 'that mean <= (1 - margin) / 2' and the betting
    supermartingale applies whatever the correlation between the two tiers' outcomes."""
    return p_value(paired(cheaper, reference), (1.0 - margin) / 2.0, alpha, bet)


def margin_lower_bound(cheaper: Values, reference: Values, alpha: float,
                       bet: str = "agrapa") -> float:
    """(1 - alpha) anytime lower bound on accuracy(cheaper) - accuracy(reference)."""
    z = paired(cheaper, reference)
    return 2.0 * lower_bound(z, alpha, bet) - 1.0 if len(z) else -1.0
