"""`all_of` / `any_of`: several bars at once, with weights and an optional threshold on the weighted mean."""

from __future__ import annotations

from dataclasses import dataclass

from ..records import Score
from .base import Scorer


@dataclass(frozen=True)
class Combined:
    scorers: tuple[Scorer, ...]
    weights: tuple[float, ...]
    threshold: float | None = None
    name: str = "all_of"  # or any_of

    def combine(self, scores: list[Score]) -> Score:
        value = sum(w * s.value for w, s in zip(self.weights, scores, strict=True)) / sum(self.weights)
        if self.threshold is not None:
            ok = value >= self.threshold
            why = f"weighted {value:.2f} {'>=' if ok else '<'} {self.threshold:.2f}"
        else:
            ok = all(s.passed for s in scores) if self.name == "all_of" else any(s.passed for s in scores)
            why = f"{sum(s.passed for s in scores)}/{len(scores)} passed"
        parts = "; ".join(f"{sc.name}: {s.reason}" for sc, s in zip(self.scorers, scores, strict=True))
        return Score(value, ok, f"{self.name} {why} ({parts})")

    def __call__(self, candidate: str, reference: str) -> Score:
        return self.combine([s(candidate, reference) for s in self.scorers])
