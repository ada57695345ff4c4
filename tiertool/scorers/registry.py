"""The scorer registry: each `scorer:` name of tiertool.yaml -> its options (config/scorers.py) and the class
that runs it. Scorer modules are imported when first built, so importing the scorers stays light."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

from ..config import scorers as specs
from .base import Caller, Scorer

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ..config import Tier


@dataclass(frozen=True)
class Registered:
    spec: type[BaseModel]
    scorer: str  # "module:Class" in this package; the class builds itself with `from_spec(spec, env)`


REGISTRY: dict[str, Registered] = {
    "exact": Registered(specs.ExactSpec, "text:Exact"),
    "contains": Registered(specs.ContainsSpec, "text:Contains"),
    "regex": Registered(specs.RegexSpec, "text:Regex"),
    "length": Registered(specs.LengthSpec, "text:Length"),
    "fuzzy": Registered(specs.FuzzySpec, "text:Fuzzy"),
    "json": Registered(specs.JsonSpec, "structured:Json"),
    "numeric": Registered(specs.NumericSpec, "structured:Numeric"),
    "embedding": Registered(specs.EmbeddingSpec, "embedding:Embedding"),
    "judge": Registered(specs.JudgeSpec, "judge:Judge"),
    "all_of": Registered(specs.AllOfSpec, "combine:Combined"),
    "any_of": Registered(specs.AnyOfSpec, "combine:Combined"),
    "tool_call": Registered(specs.ToolCallSpec, "tools:ToolCalls"),
    "auto": Registered(specs.AutoSpec, "auto:Auto"),
    "prediction_powered": Registered(specs.PredictionPoweredSpec, "drawn:PredictionPowered"),
}


@dataclass(frozen=True)
class ScorerEnv:
    """What building a scorer may need: the config's folder (schema files), the configured tiers (a judge
    named by tier) and the model-call door (the judge's calls)."""

    base_dir: str = "."
    tiers: tuple[Tier, ...] = ()
    caller: Caller | None = None
    seed: int = 0  # sample.seed: which samples a prediction_powered task's judge labels (drawn.py)

    def build(self, spec: Any) -> Scorer:
        """The scorer a spec describes; ConfigError when it cannot be built (bad schema file, unknown tier)."""
        module, name = REGISTRY[spec.scorer].scorer.split(":")
        scorer: Scorer = getattr(import_module(f".{module}", __package__), name).from_spec(spec, self)
        return scorer
