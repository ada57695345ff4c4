"""`embedding` (optional extra): cosine similarity of local sentence embeddings."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache
from typing import Any

from ..config.scorers import EmbeddingSpec
from ..errors import ConfigError
from ..records import Score
from .base import Scorer, ScoringContext
from .registry import ScorerEnv

INSTALL_HINT = "pip install 'tiertool[embedding]' (sentence-transformers)"


def check_installed(task: str, model: str) -> None:
    """A missing extra or model is a config error before any replay call, naming what to install."""
    if importlib.util.find_spec("sentence_transformers") is None:
        raise ConfigError(f"tasks.{task}: scorer 'embedding' needs the optional extra, which is not installed: "
                          f"{INSTALL_HINT}; or choose another scorer (e.g. fuzzy)")
    try:
        _model(model)
    except Exception as e:  # noqa: BLE001 - any failure to load means the scorer cannot run
        raise ConfigError(f"tasks.{task}: embedding model {model!r} cannot be loaded "
                          f"({str(e).splitlines()[0][:200] if str(e) else type(e).__name__}); check the model "
                          f"name, or download it once with network access") from None


@cache
def _model(name: str) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(name)


@dataclass(frozen=True)
class Embedding(Scorer):
    model: str
    threshold: float = 0.8
    name: str = "embedding"

    @classmethod
    def from_spec(cls, spec: EmbeddingSpec, env: ScorerEnv) -> Embedding:
        return cls(spec.model, spec.threshold)

    def check(self, task: str) -> None:
        check_installed(task, self.model)

    def score(self, ctx: ScoringContext) -> Score:
        a, b = _model(self.model).encode([ctx.candidate, ctx.target], normalize_embeddings=True)
        value = float(max(-1.0, min(1.0, float((a * b).sum()))))
        ok = value >= self.threshold
        return Score(max(0.0, value), ok, f"cosine {value:.2f} {'>=' if ok else '<'} {self.threshold:.2f}")
