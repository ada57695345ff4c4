"""Kept for imports: the scorers live in `tiertool.scorers` (one module per kind)."""

from .scorers import Scorer, make_scorer
from .scorers.structured import last_number, parse_json

__all__ = ["Scorer", "last_number", "make_scorer", "parse_json"]
