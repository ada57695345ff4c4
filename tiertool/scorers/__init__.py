"""Scorers: does an answer meet the bar set by the reference answer (or by the ground truth)?

Every scorer takes one `ScoringContext` and returns a `Score` (base.py); `registry.py` maps each `scorer:` name
of tiertool.yaml to its class; `grade.Grader` grades audit and monitor answers alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .base import Caller, Scorer, ScoringContext, Unscorable
from .registry import ScorerEnv

if TYPE_CHECKING:
    from ..config import Tier

__all__ = ["Caller", "Scorer", "ScorerEnv", "ScoringContext", "Unscorable", "make_scorer"]


def make_scorer(spec: Any, base_dir: str | Path = ".", tiers: tuple[Tier, ...] = (),
                caller: Caller | None = None) -> Scorer:
    """Build the scorer a spec describes; raises ConfigError when it cannot (bad schema file, unknown tier)."""
    return ScorerEnv(str(base_dir), tiers, caller).build(spec)
