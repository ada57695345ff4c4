"""Route request by request, with the audit's guarantee: a per-request gate to the cheaper tier.

    gate = tiertool.gate.load("gate.json")       # once, at start-up
    model = gate.route(messages, params, task)   # per request: the cheaper tier's model or the fallback

How a gate is made (pipeline.py, in the audit's order):
1. `learn(rows, passed)`: a logistic regression on what is known before sending (prompt TF-IDF, length,
   template, task type, parameters; features.py) predicts P(the cheaper tier passes), from the audit's scored
   samples; its out-of-fold scores give each task type a threshold grid, strict to loose, and an estimate of
   how each threshold would route and pass.
2. `plan(...)`: from that estimate alone, which task types to test, where each test starts and how many fresh
   calibration samples to ask for (ltt.py).
3. The audit labels those fresh samples on the cheaper tier.
4. `calibrate(...)`: fixed-sequence exact binomial tests over the grid (Learn-then-Test): per task type, the
   routed traffic's pass rate is at least the target with the audit's confidence, family-wise.
5. `build(...)` and `Gate.save(path)`: a JSON file (no pickle) with the weights, thresholds and evidence.
`task_figures` gives the report's figures; `needed` how many more samples a task type's proof would take.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .features import Known
    from .figures import TaskFigures, task_figures
    from .gatefile import Gate, GateFileError, TaskGate, build, load, load_gate
    from .ltt import Calibration, Curve, Plan, TaskPlan, plan
    from .pipeline import Learned, calibrate, learn, needed

_EXPORTS = {
    "Calibration": "ltt", "Curve": "ltt", "Plan": "ltt", "TaskPlan": "ltt",
    "plan": "ltt", "Known": "features", "TaskFigures": "figures", "task_figures": "figures",
    "Gate": "gatefile", "GateFileError": "gatefile", "TaskGate": "gatefile", "build": "gatefile",
    "load": "gatefile", "load_gate": "gatefile",
    "Learned": "pipeline", "calibrate": "pipeline", "learn": "pipeline", "needed": "pipeline",
}
__all__ = ["Calibration", "Curve", "Gate", "GateFileError", "Known", "Learned", "Plan", "TaskFigures", "TaskGate",
           "TaskPlan", "build", "calibrate", "learn", "load", "load_gate", "needed", "plan", "task_figures"]


def __getattr__(name: str) -> Any:
    """Lazy: importing tiertool.gate loads neither numpy nor scikit-learn until a name is used."""
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
