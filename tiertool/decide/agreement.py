"""How far a task's scorer can be trusted: its verdicts against labels on the same answers, and the judge's
agreement with itself when the order of the answers is swapped.

Every proof the audit gives is about the pass rate *as the scorer sees it*; a few labels show whether that is
the pass rate a person (or a strong judge) would see. Per task, over the answers that carry both an imported
label and the scorer's own verdict (`Result.scorer_passed`):

- Cohen's kappa (chance-corrected agreement), with a percentile bootstrap interval (scipy.stats.bootstrap,
  paired resampling of answers, seeded);
- precision = P(label passes | scorer passes) and recall = P(scorer passes | label passes), each with an exact
  Clopper-Pearson interval (scipy.stats.binomtest).

A warning is raised when kappa is below SUBSTANTIAL (0.6, "substantial" on Landis & Koch's scale), or when the
interval's lower end is (too few labels to show the scorer is trustworthy).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..records import Result
from ..scorers.drawn import JUDGE_LABEL
from ..scorers.judge import SWAPPED
from ..scorers.labels import IMPORTED

SUBSTANTIAL = 0.6
CONFIDENCE = 0.95
RESAMPLES = 2000

Interval = tuple[float, float]


@dataclass(frozen=True)
class Agreement:
    labelled: int  # answers with both a label and the scorer's verdict
    scorer_pass_rate: float
    label_pass_rate: float
    kappa: float | None  # None when labels or scorer say the same thing on every answer
    kappa_interval: Interval | None
    precision: float | None  # None when the scorer passed nothing
    precision_interval: Interval | None
    recall: float | None  # None when the labels passed nothing
    recall_interval: Interval | None
    warning: str | None = None


def kappa(scorer: np.ndarray, labels: np.ndarray, axis: int = -1) -> np.ndarray:
    """Cohen's kappa of two 0/1 raters along `axis` (vectorised for the bootstrap; equals
    sklearn.metrics.cohen_kappa_score, tested); nan where chance agreement is total."""
    observed = (scorer == labels).mean(axis=axis)
    ps, pl = scorer.mean(axis=axis), labels.mean(axis=axis)
    chance = ps * pl + (1 - ps) * (1 - pl)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(chance < 1, (observed - chance) / (1 - chance), np.nan)


def _exact(k: int, n: int, confidence: float) -> tuple[float | None, Interval | None]:
    from scipy.stats import binomtest

    if not n:
        return None, None
    ci = binomtest(k, n).proportion_ci(confidence, method="exact")
    return k / n, (float(ci.low), float(ci.high))


def agreement(scorer: Sequence[bool], labels: Sequence[bool], confidence: float = CONFIDENCE, seed: int = 0
              ) -> Agreement:
    """The scorer's agreement with labels on the same answers (in the same order)."""
    from scipy.stats import bootstrap

    s, y = np.asarray(scorer, dtype=float), np.asarray(labels, dtype=float)
    if len(s) != len(y) or not len(s):
        raise ValueError(f"agreement needs paired verdicts: {len(s)} scorer, {len(y)} labels")
    k = float(kappa(s, y))
    interval: Interval | None = None
    if not np.isnan(k) and len(s) > 1:
        import warnings

        from scipy.stats import DegenerateDataWarning

        with warnings.catch_warnings():  # resamples all in one class have no kappa: the bound is then -1 or 1
            warnings.simplefilter("ignore", DegenerateDataWarning)
            res = bootstrap((s, y), kappa, paired=True, vectorized=True, n_resamples=RESAMPLES,
                            confidence_level=confidence, method="percentile", rng=np.random.default_rng(seed))
        low, high = res.confidence_interval
        interval = (float(np.nan_to_num(low, nan=-1.0)), float(np.nan_to_num(high, nan=1.0)))
    both = int((s * y).sum())
    precision, p_ci = _exact(both, int(s.sum()), confidence)
    recall, r_ci = _exact(both, int(y.sum()), confidence)
    kap = None if np.isnan(k) else k
    return Agreement(len(s), float(s.mean()), float(y.mean()), kap, interval, precision, p_ci, recall, r_ci,
                     _warning(kap, interval, len(s)))


def _warning(k: float | None, interval: Interval | None, n: int) -> str | None:
    if k is None:
        return f"{n} labelled answers all agree or all disagree in one class: kappa is undefined; label more"
    if k < SUBSTANTIAL:
        return (f"low agreement with labels: kappa {k:.2f} < {SUBSTANTIAL} on {n} labelled answers; the proof is "
                "about the scorer, not about what the labels say (use a judge, labels, or another scorer)")
    if interval is None or interval[0] < SUBSTANTIAL:
        low = f"{interval[0]:.2f}" if interval else "undefined"
        return (f"agreement not shown: kappa {k:.2f}, but its {CONFIDENCE:.0%} interval reaches {low} < "
                f"{SUBSTANTIAL} on {n} labelled answers; more labels would tell")
    return None


def by_task(results: Iterable[Result], reference: str, seed: int = 0) -> dict[str, Agreement]:
    """Per task: the scorer against the labels (imported, or its judge's on the samples a prediction_powered
    task drew) on the cheaper tiers' answers that carry both."""
    pairs: dict[str, tuple[list[bool], list[bool]]] = {}
    for r in results:
        if r.tier != reference and r.scorer_passed is not None and r.passed is not None \
                and r.reason.startswith((IMPORTED, JUDGE_LABEL)):
            s, y = pairs.setdefault(r.task, ([], []))
            s.append(r.scorer_passed)
            y.append(r.passed)
    return {task: agreement(s, y, seed=seed) for task, (s, y) in sorted(pairs.items())}


def labelled_bounds(results: Iterable[Result], reference: str, pi: float, alpha: float
                    ) -> dict[str, dict[str, float]]:
    """task -> cheaper tier -> prediction-powered (1 - alpha) lower bound on its labelled pass rate (ppi.py),
    from the scorer on every scored answer and the labels on those that carry one, in sample order. Valid only
    if each request was labelled with probability `pi`, independently of its answers (--labels-fraction). A
    task whose labelled answers lack the scorer's own verdict (a judge) gets none: f must be known on all."""
    from .ppi import lower_bound, rectified

    rows: dict[tuple[str, str], list[Result]] = {}
    for r in results:
        if r.tier != reference and r.passed is not None:
            rows.setdefault((r.task, r.tier), []).append(r)
    out: dict[str, dict[str, float]] = {}
    for (task, tier), rs in sorted(rows.items()):
        labelled = [r.reason.startswith(IMPORTED) for r in rs]
        if not any(labelled) or any(xi and r.scorer_passed is None for xi, r in zip(labelled, rs, strict=True)):
            continue
        f = [float(bool(r.scorer_passed if xi else r.passed)) for xi, r in zip(labelled, rs, strict=True)]
        y = [float(bool(r.passed)) if xi else None for xi, r in zip(labelled, rs, strict=True)]
        out.setdefault(task, {})[tier] = lower_bound(rectified(f, y, labelled, pi), pi, alpha)
    return out


def position_disagreement(results: Iterable[Result]) -> dict[str, tuple[int, int]]:
    """Per task: (answers whose two judge calls disagreed once the order was swapped, answers judged)."""
    out: dict[str, list[int]] = {}
    for r in results:
        if r.passed is not None and r.reason.startswith(("judge", "vs expected: judge")):
            row = out.setdefault(r.task, [0, 0])
            row[0] += SWAPPED in r.reason
            row[1] += 1
    return {task: (a, b) for task, (a, b) in out.items()}
