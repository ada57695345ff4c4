"""Scorers: does an answer meet the bar set by the reference answer (or by the ground truth)?

Each scorer is a small frozen dataclass called as `scorer(candidate, reference) -> Score`; `judge` and
`auto` need more (model calls, the task's reference answers), which `grade.Grader` supplies.
Importing this package stays light: scorer modules are imported when a scorer is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import Scorer, Unscorable

__all__ = ["Scorer", "Unscorable", "make_scorer"]


def make_scorer(spec: Any, base_dir: str | Path = ".", tiers: tuple[Any, ...] = ()) -> Any:
    """Build the scorer a spec describes; raises ConfigError when it cannot (bad schema file, unknown tier)."""
    from ..config import scorers as s

    if isinstance(spec, s.ExactSpec):
        from .text import Exact

        return Exact(spec.ignore_case, spec.ignore_whitespace, spec.ignore_punctuation, spec.labels)
    if isinstance(spec, s.ContainsSpec):
        from .text import Contains

        return Contains(spec.values, spec.mode, spec.ignore_case)
    if isinstance(spec, s.RegexSpec):
        from .text import Regex

        return Regex(spec.patterns, spec.mode, spec.ignore_case)
    if isinstance(spec, s.LengthSpec):
        from .text import Length

        return Length(spec.min_chars, spec.max_chars, spec.min_ratio, spec.max_ratio)
    if isinstance(spec, s.FuzzySpec):
        from .text import Fuzzy

        return Fuzzy(spec.threshold, spec.method)
    if isinstance(spec, s.JsonSpec):
        from .structured import Json

        return Json(_schema(spec.json_schema, base_dir), spec.compare, dict(spec.tolerance), spec.ignore)
    if isinstance(spec, s.NumericSpec):
        from .structured import Numeric

        return Numeric(spec.tolerance, spec.relative, spec.percent, spec.scale_words)
    if isinstance(spec, s.EmbeddingSpec):
        from .embedding import Embedding

        return Embedding(spec.model, spec.threshold)
    if isinstance(spec, s.JudgeSpec):
        return _judge(spec, tiers)
    if isinstance(spec, (s.AllOfSpec, s.AnyOfSpec)):
        from .combine import Combined

        parts = tuple(make_scorer(p, base_dir, tiers) for p in spec.scorers)
        return Combined(parts, spec.weights or (1.0,) * len(parts), spec.threshold, spec.scorer)
    raise TypeError(f"no scorer for {spec!r} (auto is resolved per task by grade.Grader)")


def _schema(schema: Any, base_dir: str | Path) -> dict[str, Any] | None:
    import json

    from ..errors import ConfigError

    if schema is None or isinstance(schema, dict):
        return schema
    p = Path(base_dir, schema)
    try:
        loaded = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"json scorer schema {p}: cannot read a JSON Schema: {e}") from None
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(loaded)
    except SchemaError as e:
        raise ConfigError(f"json scorer schema {p}: not a valid JSON Schema: {e.message}") from None
    return loaded


def _judge(spec: Any, tiers: tuple[Any, ...]) -> Any:
    from ..config import Tier
    from ..errors import ConfigError
    from .judge import Judge

    if spec.tier is not None:
        tier = next((t for t in tiers if t.name == spec.tier), None)
        if tier is None:
            raise ConfigError(f"judge tier '{spec.tier}' is not one of the configured tiers "
                              f"({', '.join(t.name for t in tiers)}); name a tier or give 'model'")
    else:
        tier = Tier(name=f"judge:{spec.model}", model=spec.model, api_base=spec.api_base,
                    api_key_env=spec.api_key_env)
    return Judge(tier, spec.rubric, spec.max_chars)
