"""Prediction-powered bounds: a cheap scorer on every sample, labels on a random few, and a lower bound on the
*labelled* pass rate that stays valid at any stopping time.

Angelopoulos et al. (Science 2023) rectify a prediction with labels on a subset; with the subset drawn at random
as the samples come (each sample labelled with known probability pi, independently: Zrnic & Candes, "Active
statistical inference", ICML 2024, and its anytime-valid form), the per-sample value

    Z_i = f_i + (Y_i - f_i) * xi_i / pi,     xi_i ~ Bernoulli(pi) independent of (f_i, Y_i),

has E[Z_i] = E[f] + E[(Y - f) xi] / pi = E[Y] exactly, however wrong the scorer f is. Z lies in
[1 - 1/pi, 1/pi] (f, Y in [0, 1]), so W = (Z - (1 - 1/pi)) / (2/pi - 1) lies in [0, 1] with
E[W] <= m0 = (target - (1 - 1/pi)) / (2/pi - 1) exactly when E[Y] <= target. The betting confidence sequence
of betting.py on W is then a (1 - alpha) lower bound on E[Y], valid simultaneously at every sample size
(Ville's inequality), hence at whatever time the audit stops, and 1 / max_t K_t(m0) is an anytime-valid
p-value that joins the Holm family of alpha.py like any other.

Where it is NOT valid: when the labelled subset was not drawn at random with the stated pi (labels a person
chose to write, or only the answers a scorer failed), when pi changes with the data other than predictably, or
when Y is not the label the claim is about. The samples must be i.i.d. draws of the task's traffic, as for every
test of the audit. A scorer that is good makes the bound tight (Y - f is mostly 0); a bad one only makes it
wide, never wrong.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..records import Result
from ..scorers.drawn import JUDGE_LABEL
from ..scorers.labels import IMPORTED
from . import betting


def _range(pi: float) -> tuple[float, float]:
    if not 0 < pi <= 1:
        raise ValueError(f"the labelling probability must be in (0, 1], not {pi:g}")
    return 1 - 1 / pi, 1 / pi


def rectified(scorer: Sequence[float], labels: Sequence[float | None], labelled: Sequence[bool], pi: float
              ) -> np.ndarray:
    """Z_i = f_i + (Y_i - f_i) xi_i / pi, one per sample in sample order; an unlabelled Y is ignored."""
    _range(pi)
    f = np.asarray(scorer, dtype=float)
    xi = np.asarray(labelled, dtype=bool)
    y = np.array([float(v) if xi[i] and v is not None else f[i] for i, v in enumerate(labels)], dtype=float)
    if not (len(f) == len(xi) == len(y)):
        raise ValueError(f"{len(f)} scorer verdicts, {len(y)} labels, {len(xi)} labelled flags")
    return f + (y - f) * xi / pi


def _unit(z: np.ndarray | float, pi: float) -> np.ndarray | float:
    lo, hi = _range(pi)
    return (z - lo) / (hi - lo)


def p_value(z: Sequence[float] | np.ndarray, pi: float, target: float, alpha: float) -> float:
    """Anytime-valid p-value of H0: labelled pass rate <= target, from the rectified values. The aGRAPA bets do
    not read `alpha`, so the p-value is the same at every level: a test the policy re-reads at a new Holm level
    is the same test, not a second look with another strategy."""
    return betting.p_value(np.asarray(_unit(np.asarray(z, dtype=float), pi)), float(_unit(target, pi)), alpha)


def lower_bound(z: Sequence[float] | np.ndarray, pi: float, alpha: float) -> float:
    """(1 - alpha) anytime lower bound on the labelled pass rate (rounded down to betting's grid, i.e. by up to
    0.001 x (2/pi - 1)); 0 when nothing is known."""
    lo, hi = _range(pi)
    return max(0.0, lo + (hi - lo) * betting.lower_bound(np.asarray(_unit(np.asarray(z, dtype=float), pi)), alpha))


def values(results: Sequence[Result], pi: float) -> list[float]:
    """Each graded result's rectified value, in order: a labelled result (the audit's judge, or an imported
    label under --labels-fraction) has the label as `passed` and the scorer's own verdict as `scorer_passed`;
    any other has the scorer's verdict as `passed`. A label whose answer the scorer could not judge (no verdict)
    counts as if the scorer agreed: Z = Y there."""
    out = []
    for r in results:
        labelled = r.reason.startswith((JUDGE_LABEL, IMPORTED))
        f = float(bool(r.passed if r.scorer_passed is None or not labelled else r.scorer_passed))
        out.append(f + (float(bool(r.passed)) - f) / pi if labelled else f)
    return out


def provable(target: float, horizon: int, level: float, pi: float) -> bool:
    """Whether the test could prove the target at `level` within `horizon` samples if every one passed (the
    scorer and every label): otherwise it is left out of the family before any outcome (alpha.by_value)."""
    return horizon >= 1 and p_value(np.ones(horizon), pi, target, level) <= level


def below(z: Sequence[float] | np.ndarray, pi: float, target: float, level: float) -> bool:
    """The mirror test: H0 'labelled pass rate >= target' rejected at `level` (1 - Z has the same range)."""
    return len(z) > 0 and p_value(1.0 - np.asarray(z, dtype=float), pi, 1.0 - target, level) <= level


def needed(z: Sequence[float] | np.ndarray, pi: float, target: float, level: float) -> int | None:
    """About how many samples in all would prove the target at `level` at the rectified values' observed mean
    and spread: the normal approximation of the betting bound's width (sd * sqrt(2 log(1/level) / n)), and at
    least what the largest bet allows (betting.CAP: log(1/level) / log(1 + CAP (w - m0) / m0) if every value
    were the mean w). None when the mean is at or under the target. An estimate for the report, never a
    decision."""
    zs = np.asarray(z, dtype=float)
    if len(zs) < 2 or zs.mean() <= target or level <= 0:
        return None
    w, m0 = float(_unit(zs.mean(), pi)), float(_unit(target, pi))
    fastest = math.log(1 / level) / math.log1p(betting.CAP * (w - m0) / m0)
    normal = 2 * zs.var(ddof=1) * math.log(1 / level) / (zs.mean() - target) ** 2
    return max(len(zs), math.ceil(max(fastest, normal)))
