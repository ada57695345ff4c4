"""`prediction_powered`: a cheap scorer grades every sample; the judge labels a random few, drawn by the audit.

Each sample is labelled with probability `fraction`, by a coin that depends only on `sample.seed` and the request
id (a hash, not the answers), so a resumed or repeated audit labels the same samples and the labels are a random
subset as prediction-powered inference needs (decide/ppi.py). The judge's verdict is the label; the cheap
scorer's verdict on the same answer is kept beside it (`Result.scorer_passed`), which measures their agreement.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ..config.scorers import PredictionPoweredSpec
from ..records import Call, Score
from .base import Reference, Scorer, ScoringContext
from .registry import ScorerEnv

JUDGE_LABEL = "judge label"  # how a Result labelled by the audit's own judge starts its reason


def drawn(seed: int, request_id: str, fraction: float) -> bool:
    """Bernoulli(fraction) from a hash of the seed and the request id: the same answer on every run."""
    digest = hashlib.sha256(f"tiertool-label:{seed}:{request_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


@dataclass
class PredictionPowered(Scorer):
    cheap: Scorer
    judge: Scorer
    fraction: float
    seed: int
    name: str = "prediction_powered"

    @classmethod
    def from_spec(cls, spec: PredictionPoweredSpec, env: ScorerEnv) -> PredictionPowered:
        return cls(env.build(spec.cheap), env.build(spec.judge), spec.fraction, env.seed)

    def labelled(self, ctx: ScoringContext) -> bool:
        return drawn(self.seed, ctx.request.id, self.fraction)

    def score(self, ctx: ScoringContext) -> Score:
        return self.cheap.score(ctx)

    def label(self, ctx: ScoringContext) -> Score | None:
        if not self.labelled(ctx):
            return None
        s = self.judge.score(ctx)
        return Score(s.value, s.passed, f"{JUDGE_LABEL}: {s.reason}")

    def calls(self, ctx: ScoringContext) -> list[Call]:
        return self.cheap.calls(ctx) + (self.judge.calls(ctx) if self.labelled(ctx) else [])

    def check(self, task: str) -> None:
        self.cheap.check(task)
        self.judge.check(task)

    def prepare(self, references: list[Reference]) -> None:
        self.cheap.prepare(references)

    def describe(self) -> tuple[str, str | None] | None:
        cheap = self.cheap.describe()
        if cheap is None:
            return None
        why = f"the {self.judge.name} labels a seeded random {self.fraction:.0%} of the samples"
        return f"prediction-powered: {cheap[0]}", why if cheap[1] is None else f"{why}; {cheap[0]}: {cheap[1]}"
