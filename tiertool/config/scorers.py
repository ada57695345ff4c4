"""Scorer options as they appear under `tasks:` in tiertool.yaml (validated once, at the config boundary).

They sit with the config, below the scorers they configure; `tiertool.scorers.registry` maps each name to the
scorer that runs it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..limits import pattern


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExactSpec(_Strict):
    scorer: Literal["exact"]
    ignore_case: bool = True
    ignore_whitespace: bool = True
    ignore_punctuation: bool = False
    labels: tuple[str, ...] = ()  # pick the one label a chatty answer names ("The category is: billing.")


class ContainsSpec(_Strict):
    scorer: Literal["contains"]
    values: tuple[str, ...] = ()  # default: the reference answer itself
    mode: Literal["all", "any"] = "all"
    ignore_case: bool = True


class RegexSpec(_Strict):
    scorer: Literal["regex"]
    patterns: tuple[str, ...] = Field(min_length=1)
    mode: Literal["all", "any"] = "all"
    ignore_case: bool = False

    @model_validator(mode="after")
    def _compiles(self) -> RegexSpec:
        for p in self.patterns:
            pattern(p, self.ignore_case)  # ValueError: not one RE2 can run
        return self


class LengthSpec(_Strict):
    scorer: Literal["length"]
    min_chars: int | None = Field(default=None, ge=0)
    max_chars: int | None = Field(default=None, ge=0)
    min_ratio: float | None = Field(default=None, ge=0)  # of the reference answer's length
    max_ratio: float | None = Field(default=None, ge=0)


class JsonSpec(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)  # reloads from audit meta
    scorer: Literal["json"]
    json_schema: dict[str, Any] | str | None = Field(default=None, alias="schema")  # inline, or a file path
    compare: Literal["values", "keys", "none"] = "values"  # same values / same keys / schema only
    tolerance: dict[str, float] = Field(default_factory=dict)  # per-field numeric tolerance (dotted path)
    ignore: tuple[str, ...] = ()  # fields left out of the comparison


class NumericSpec(_Strict):
    scorer: Literal["numeric"]
    tolerance: float = Field(default=1e-6, ge=0)  # absolute
    relative: float = Field(default=0.0, ge=0)  # relative tolerance, e.g. 0.01 for 1%
    percent: bool = False  # "50%" reads as 0.5
    scale_words: bool = True  # "1.2 million", "3k" read as 1200000, 3000


class FuzzySpec(_Strict):
    scorer: Literal["fuzzy"]
    threshold: float = Field(default=0.85, ge=0, le=1)
    method: Literal["ratio", "token_set"] = "ratio"


class EmbeddingSpec(_Strict):
    scorer: Literal["embedding"]
    model: str = "sentence-transformers/all-MiniLM-L6-v2"
    threshold: float = Field(default=0.8, ge=-1, le=1)


DEFAULT_RUBRIC = ("Judge which answer serves the user's request better: correct, complete, following the "
                  "request's instructions and format. Length and style do not matter unless the request asks.")


class JudgeSpec(_Strict):
    scorer: Literal["judge"]
    tier: str | None = None  # one of the configured tiers, or:
    model: str | None = None  # any litellm model
    api_base: str | None = None
    api_key_env: str | None = None
    rubric: str = DEFAULT_RUBRIC
    max_chars: int = Field(default=8000, ge=100)  # per answer shown to the judge

    @model_validator(mode="after")
    def _one_judge(self) -> JudgeSpec:
        if (self.tier is None) == (self.model is None):
            raise ValueError("give exactly one of 'tier' (a configured tier) or 'model' (any litellm model)")
        return self


class AllOfSpec(_Strict):
    scorer: Literal["all_of"]
    scorers: tuple[ScorerSpec, ...] = Field(min_length=1)
    weights: tuple[float, ...] | None = None
    threshold: float | None = Field(default=None, ge=0, le=1)  # when set: pass = weighted mean >= threshold

    @model_validator(mode="after")
    def _weights(self) -> Any:
        if self.weights is not None and len(self.weights) != len(self.scorers):
            raise ValueError(f"weights: {len(self.weights)} given for {len(self.scorers)} scorers")
        if self.weights is not None and (min(self.weights) < 0 or sum(self.weights) <= 0):
            raise ValueError("weights: must be >= 0 with a positive sum")
        return self


class AnyOfSpec(AllOfSpec):
    scorer: Literal["any_of"]  # type: ignore[assignment]


class ToolCallSpec(_Strict):
    """Tool-call answers: the same functions called with equal arguments (order-free). Paths are
    `<function>.<argument>[.<key or index>...]`, each part a glob (`*.amount`, `search.filters.*.value`)."""

    scorer: Literal["tool_call"]
    tolerance: dict[str, float] = Field(default_factory=dict)  # argument path -> absolute numeric tolerance
    normalise: dict[str, tuple[Literal["case", "whitespace", "punctuation"], ...]] = Field(default_factory=dict)
    ignore: tuple[str, ...] = ()  # argument paths left out of the comparison
    text: ScorerSpec | None = None  # text answer vs text reference; default: what `auto` picks for the text ones


class AutoSpec(_Strict):
    scorer: Literal["auto"]
    judge: JudgeSpec | None = None  # used for free-text tasks instead of fuzzy when given


class PredictionPoweredSpec(_Strict):
    """A cheap scorer on every sample and the judge on a seeded random `fraction` of them: the judge's verdicts
    are the labels, and the task is decided on a prediction-powered test of the *labelled* pass rate
    (decide/ppi.py), so the cheap scorer carries the volume and the judge keeps the guarantee."""

    scorer: Literal["prediction_powered"]
    cheap: ScorerSpec  # run on every sample
    judge: JudgeSpec  # run on each sample with probability `fraction`, drawn from the seed and the request id
    fraction: float = Field(gt=0, le=1)


SPECS = (ExactSpec, ContainsSpec, RegexSpec, LengthSpec, JsonSpec, NumericSpec, FuzzySpec, EmbeddingSpec,
         JudgeSpec, AllOfSpec, AnyOfSpec, ToolCallSpec, AutoSpec, PredictionPoweredSpec)
SCORER_NAMES: tuple[str, ...] = tuple(get_args(s.model_fields["scorer"].annotation)[0] for s in SPECS)

ScorerSpec = Annotated[
    ExactSpec | ContainsSpec | RegexSpec | LengthSpec | JsonSpec | NumericSpec | FuzzySpec | EmbeddingSpec
    | JudgeSpec | AllOfSpec | AnyOfSpec | ToolCallSpec | AutoSpec | PredictionPoweredSpec,
    Field(discriminator="scorer"),
]

AllOfSpec.model_rebuild()
AnyOfSpec.model_rebuild()
ToolCallSpec.model_rebuild()
PredictionPoweredSpec.model_rebuild()


def spec_keys(loc: tuple[Any, ...]) -> list[str]:
    """Keys allowed for the innermost scorer named in an error location (for one-line config errors)."""
    names = [p for p in loc if isinstance(p, str) and p in SCORER_NAMES]
    if not names:
        return []
    spec = SPECS[SCORER_NAMES.index(names[-1])]
    return sorted(f.alias or name for name, f in spec.model_fields.items())


def drop_union_tags(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """pydantic puts the scorer name into error locations (tasks.x.exact.colour); users wrote tasks.x.colour."""
    out: list[Any] = []
    for i, part in enumerate(loc):
        after_key = i == 2 and loc[0] == "tasks" or i > 0 and isinstance(loc[i - 1], int) and "scorers" in loc[:i]
        if not (part in SCORER_NAMES and after_key):
            out.append(part)
    return tuple(out)
