"""The gate's steps in the order an audit runs them: learn, plan, (the audit labels fresh samples), calibrate.

Inputs are plain: rows of (messages, params, task) and pass labels, so the audit, a benchmark or a test drive
the same code; the package docstring says what each step needs and why the result holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .features import Known
from .ltt import Calibration, Curve, Plan, curve, grid, prove_family, samples_needed
from .predictor import Predictor, fit


@dataclass(frozen=True)
class Learned:
    """The predictor and, per task type, its out-of-fold curve: the threshold grid and how it would route."""

    predictor: Predictor
    curves: Mapping[str, Curve]


def learn(rows: Sequence[Known], passed: Sequence[bool], seed: int = 0) -> Learned:
    """Fit on the learning sample (the audit's scored samples of the cheaper tier); a failed call is a fail."""
    predictor, oof = fit(rows, passed, seed)
    y = np.asarray(passed, dtype=bool)
    tasks = np.array([t for _, _, t in rows])
    curves = {}
    for task in sorted(set(tasks.tolist())):
        mask = tasks == task
        curves[task] = curve(grid(oof[mask]), oof[mask], y[mask])
    return Learned(predictor, curves)


def calibrate(learned: Learned, plan: Plan,
              fresh: Mapping[str, tuple[Sequence[Known], Sequence[bool]]]) -> dict[str, Calibration]:
    """Test each planned task type on its fresh samples (exactly the ones the plan asked for: none of them may
    have been used to learn, plan, or to calibrate before); see ltt.prove_family."""
    scored = {}
    for task in plan.tasks:
        rows, passed = fresh.get(task, ((), ()))
        if len(rows) != len(passed):
            raise ValueError(f"{task}: {len(rows)} fresh requests but {len(passed)} pass labels")
        scored[task] = (learned.predictor.scores(rows), np.asarray(passed, dtype=bool))
    return prove_family(plan, scored)


def needed(learned: Learned, plan: Plan, task: str, calibration: Calibration | None = None) -> tuple[int, float] | None:
    """(fresh samples, share of traffic it would route) that would let a new calibration prove this task type
    with 80% chance; estimated from its calibration when it had one (the predictor's honest scores), else from
    the learning sample. A task type outside the plan would join the family, so it is held to a level shared
    by one more test."""
    est = calibration.estimate if calibration is not None and calibration.calibrated else learned.curves.get(task)
    if est is None:
        return None
    alpha = plan.alpha if task in plan.tasks else (1.0 - plan.confidence) / (len(plan.tasks) + 1)
    return samples_needed(est, plan.target, alpha)
