"""The deployable gate: one JSON file with the predictor, each task type's proven threshold and its evidence.

Plain JSON (optionally gzipped), never a pickle: loading a gate runs no code from the file, and the file can
be read, diffed and reviewed like the config it ships with. `format` and `version` are checked on load.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .features import Known, Messages
from .ltt import Calibration, Plan
from .predictor import Predictor

FORMAT, VERSION = "tiertool-gate", 1


class GateFileError(InputError):
    """A gate file is missing, unreadable, or not a gate this version can serve (the CLI's input error)."""


@dataclass(frozen=True)
class TaskGate:
    """A task type's threshold (None: route none of it) and the calibration that proved it."""

    threshold: float | None
    calibrated: int = 0
    routed: int = 0
    passed: int = 0
    lower_bound: float | None = None  # the proven pass rate of the traffic it routes


@dataclass(frozen=True)
class Gate:
    """Routes a request to `cheap` when its task type's proven threshold admits it, else to `fallback`."""

    cheap: str
    fallback: str
    target: float
    confidence: float
    alpha: float
    tasks: Mapping[str, TaskGate]
    predictor: Predictor

    def passes(self, messages: Messages, params: Mapping[str, Any] | None = None, task: str = "untagged") -> bool:
        """Whether this request goes to the cheaper tier. An uncalibrated or unknown task type never does."""
        gate = self.tasks.get(task)
        if gate is None or gate.threshold is None:
            return False
        return self.predictor.score(messages, params, task) >= gate.threshold

    def route(self, messages: Messages, params: Mapping[str, Any] | None = None, task: str = "untagged") -> str:
        """The model to send this request to: what a proxy hook calls before each call."""
        return self.cheap if self.passes(messages, params, task) else self.fallback

    def routes(self, rows: Sequence[Known]) -> np.ndarray:
        return np.array([self.passes(m, p, t) for m, p, t in rows], dtype=bool)

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, "tiertool": version("tiertool"),
                "models": {"cheap": self.cheap, "fallback": self.fallback},
                "quality": {"target": self.target, "confidence": self.confidence, "alpha": self.alpha},
                "tasks": {t: asdict(g) for t, g in sorted(self.tasks.items())},
                "predictor": self.predictor.to_json()}

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        text = json.dumps(self.to_json(), separators=(",", ":"))
        path.write_bytes(gzip.compress(text.encode()) if path.suffix == ".gz" else text.encode())
        return path


def build(predictor: Predictor, plan: Plan, calibrations: Mapping[str, Calibration], cheap: str,
          fallback: str) -> Gate:
    """The gate of a plan's calibrations; task types outside the plan route nothing."""
    tasks = {t: TaskGate(c.threshold, c.calibrated, c.routed, c.passed, c.lower_bound)
             for t, c in calibrations.items()}
    return Gate(cheap, fallback, plan.target, plan.confidence, plan.alpha, tasks, predictor)


def load(path: str | Path) -> Gate:
    """Read a gate file written by `Gate.save`; a GateFileError names the file and what is wrong."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        data = json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
    except (OSError, ValueError, EOFError) as exc:
        raise GateFileError(f"{path}: cannot read a gate file ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise GateFileError(f"{path}: not a tiertool gate file (expected \"format\": \"{FORMAT}\")")
    if data.get("version") != VERSION:
        raise GateFileError(f"{path}: gate file version {data.get('version')!r}; this tiertool reads version "
                            f"{VERSION}: rebuild the gate with this version")
    try:
        q, models = data["quality"], data["models"]
        tasks = {str(t): TaskGate(**g) for t, g in data["tasks"].items()}
        return Gate(str(models["cheap"]), str(models["fallback"]), float(q["target"]), float(q["confidence"]),
                    float(q["alpha"]), tasks, Predictor.from_json(data["predictor"]))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise GateFileError(f"{path}: malformed gate file ({type(exc).__name__}: {exc})") from None


load_gate = load  # its name in tiertool's public API (tiertool.load_gate), which the CLI uses
