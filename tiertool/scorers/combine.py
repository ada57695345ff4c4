"""`all_of` / `any_of`: several bars at once, with weights and an optional threshold on the weighted mean."""

from __future__ import annotations

from dataclasses import dataclass

from ..config.scorers import AllOfSpec
from ..records import Call, Score
from .base import Reference, Scorer, ScoringContext
from .registry import ScorerEnv


@dataclass(frozen=True)
class Combined(Scorer):
    scorers: tuple[Scorer, ...]
    weights: tuple[float, ...]
    threshold: float | None = None
    name: str = "all_of"  # or any_of

    @classmethod
    def from_spec(cls, spec: AllOfSpec, env: ScorerEnv) -> Combined:
        parts = tuple(env.build(p) for p in spec.scorers)
        return cls(parts, spec.weights or (1.0,) * len(parts), spec.threshold, spec.scorer)

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

    def score(self, ctx: ScoringContext) -> Score:
        return self.combine([s.score(ctx) for s in self.scorers])

    def calls(self, ctx: ScoringContext) -> list[Call]:
        return [c for s in self.scorers for c in s.calls(ctx)]

    def check(self, task: str) -> None:
        for s in self.scorers:
            s.check(task)

    def prepare(self, references: list[Reference]) -> None:
        for s in self.scorers:
            s.prepare(references)
