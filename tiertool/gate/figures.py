"""The report's figures for one task type: what the gate routes, what it proved, and what that saves.

Costs come from the caller (the pricing stage prices each request at the reference and at the cheaper tier),
so the gate and the per-task assignment are priced alike, on the same traffic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .features import Known
from .gatefile import Gate


@dataclass(frozen=True)
class TaskFigures:
    task: str
    requests: int
    routed_share: float  # of the task's requests, sent to the cheaper tier
    proven_pass_rate: float | None  # lower bound of the routed traffic's pass rate, at the gate's level
    reference_usd: float  # the task's traffic, all at the reference
    saved_usd: float  # by the gate
    per_task_saved_usd: float  # by the per-task assignment (everything or nothing moves)

    @property
    def saved_fraction(self) -> float:
        return self.saved_usd / self.reference_usd if self.reference_usd else 0.0

    @property
    def per_task_saved_fraction(self) -> float:
        return self.per_task_saved_usd / self.reference_usd if self.reference_usd else 0.0


def task_figures(gate: Gate, task: str, rows: Sequence[Known], reference_usd: Sequence[float],
                 cheap_usd: Sequence[float], moved: bool) -> TaskFigures:
    """Figures over `rows`, the task's traffic (or an unlabelled random sample of it), each with its cost at the
    reference and at the cheaper tier; `moved` is whether the per-task assignment moves the whole task."""
    if not len(rows) == len(reference_usd) == len(cheap_usd):
        raise ValueError("one reference and one cheaper cost per request")
    ref, cheap = np.asarray(reference_usd, dtype=float), np.asarray(cheap_usd, dtype=float)
    routed = gate.routes(rows) if rows else np.zeros(0, dtype=bool)
    tg = gate.tasks.get(task)
    return TaskFigures(task, len(rows), float(routed.mean()) if len(rows) else 0.0,
                       tg.lower_bound if tg and tg.threshold is not None else None, float(ref.sum()),
                       float((ref - cheap)[routed].sum()), float((ref - cheap).sum()) if moved else 0.0)
