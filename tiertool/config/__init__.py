"""tiertool.yaml: validated once at the boundary, so the rest of the code trusts its config.

The scorer options under `tasks:` live in config/scorers.py; the scorers that run them in tiertool/scorers/.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..defaults import CACHE_FILE, CONFIG_FILE
from ..errors import ConfigError
from ..limits import pattern
from .scorers import SCORER_NAMES, AutoSpec, ScorerSpec, drop_union_tags, spec_keys
from .yamlfile import read_yaml


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tier(_Strict):
    name: str
    model: str
    api_base: str | None = None
    api_key_env: str | None = None
    concurrency: int | None = Field(default=None, ge=1, le=1024)
    rpm: int | None = Field(default=None, ge=1)  # requests per minute this tier may send
    tpm: int | None = Field(default=None, ge=1)  # tokens per minute (input + expected output)
    # Request parameters this tier sends over the logged ones ({reasoning_effort: low}): the same model with
    # other params is a tier of its own.
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("params")
    @classmethod
    def _sendable(cls, v: dict[str, Any]) -> dict[str, Any]:
        fixed = sorted(set(v) & {"model", "messages", "api_base", "api_key", "stream"})
        if fixed:
            raise ValueError(f"{', '.join(fixed)} cannot be set per tier (model, api_base and api_key "
                             f"are the tier's own keys; messages are the logged request's)")
        return v

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None

    def merged(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters a replay on this tier sends: the logged request's, with this tier's over them."""
        return {**params, **self.params}


class Quality(_Strict):
    target: float = Field(default=0.95, gt=0, le=1)
    confidence: float = Field(default=0.95, ge=0.5, lt=1)


SAFETY_MAX = 10_000  # the most samples a sequential test takes per task and tier (exact test's tractability)


class Sample(_Strict):
    sequential: bool = True  # replay in rounds and stop each task type once its decision is settled
    round: int = Field(default=20, ge=1)  # samples in a test's first round (later rounds grow by half)
    max_per_task: int | None = Field(default=None, ge=1, le=SAFETY_MAX)  # None: from the money and the traffic
    payback_months: float = Field(default=3.0, gt=0)  # the samples must repay within this much of the saving
    audit_budget_usd: float | None = Field(default=None, ge=0)  # the most the audit's samples may cost
    per_task: int = Field(default=100, ge=1)  # the fixed sample size when sequential is false
    seed: int = 0  # which requests are sampled: the same seed samples the same ones (`--seed` overrides)

    @property
    def cap(self) -> int:
        """The most samples of one task type the audit may score (the seeded sample's size)."""
        return (self.max_per_task or SAFETY_MAX) if self.sequential else self.per_task

    def ignored(self) -> str | None:
        """A note when `per_task` was written for a sequential audit, which does not use it (as parsed from the
        file: a config read back from an audit has every field set)."""
        if self.sequential and "per_task" in self.model_fields_set:
            return (f"sample.per_task ({self.per_task}) applies only with sample.sequential: false; this audit "
                    f"samples in rounds from {self.round} as far as the money at stake repays (sample.payback_months: "
                    f"{self.payback_months:g}" + (f", sample.max_per_task: {self.max_per_task})" if self.max_per_task
                                                  else ")"))
        return None


class GateOptions(_Strict):
    """The per-request gate (tiertool.gate), learned by the audit after its rounds when enabled."""

    enabled: bool = False
    max_calibration: int = Field(default=600, ge=1)  # most fresh calibration samples per task type


class PriceOverride(_Strict):
    """USD per million tokens; overrides litellm's price map for one model."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)
    batch_discount: float = Field(default=0.0, ge=0, lt=1)  # e.g. 0.5 for half price on batch requests


class Replay(_Strict):
    concurrency: int = Field(default=8, ge=1, le=1024)
    timeout: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=4, ge=1, le=20)
    backoff: float = Field(default=0.5, gt=0, le=60)  # first retry wait in seconds; doubles, with jitter
    workers: int = Field(default=1, ge=1, le=64)  # processes replaying in parallel (replay/workers.py)
    recorded: tuple[str, ...] = ()  # JSON-lines files of recorded answers (see samples/)
    cache: str | None = None  # default: <audit folder>/cache.sqlite
    batch: bool = False  # the cheaper tiers' calls go through the provider's batch API, at batch prices (--batch)
    batch_poll: float = Field(default=30.0, gt=0, le=3600)  # seconds between looks at a submitted batch

    @field_validator("recorded", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return (v,) if isinstance(v, str) else v


class CascadeCheck(_Strict):
    """A reference-free check run on the cheap answer in production: fail -> escalate to the next tier."""

    check: Literal["json", "regex", "labels", "nonempty"]
    pattern: str | None = None  # for regex: the answer must match (re.search)
    labels: tuple[str, ...] = ()  # for labels: the answer, trimmed and case-folded, must be one of these

    @model_validator(mode="after")
    def _needs(self) -> CascadeCheck:
        if self.check == "regex" and not self.pattern:
            raise ValueError("check 'regex' needs a 'pattern'")
        if self.pattern:
            pattern(self.pattern)  # ValueError: not one RE2 can run
        if self.check == "labels" and not self.labels:
            raise ValueError("check 'labels' needs 'labels'")
        return self


class Config(_Strict):
    tiers: tuple[Tier, ...] = Field(min_length=2, max_length=4)
    quality: Quality = Quality()
    tasks: dict[str, ScorerSpec] = Field(default_factory=dict)  # no entry: `auto` picks per task
    group_by: str = "auto"
    semantic_tasks: bool = False  # also group untagged free-form prompts by topic (TF-IDF; needs scikit-learn)
    agent_steps: bool = False  # type each agent step apart: `<task> › <step>` (ingest/steps.py)
    sample: Sample = Sample()
    replay: Replay = Replay()
    prices: dict[str, PriceOverride] = Field(default_factory=dict)
    cascade: dict[str, CascadeCheck] = Field(default_factory=dict)  # optional: task -> check on the cheap answer
    gate: GateOptions = GateOptions()
    base_dir: str = Field(default=".", exclude=True)  # folder of the config file; relative paths start here

    @model_validator(mode="after")
    def _unique_tiers(self) -> Config:
        names = [t.name for t in self.tiers]
        if len(set(names)) != len(names):
            raise ValueError(f"tier names must be unique, got {names}")
        return self

    @property
    def reference(self) -> Tier:
        return self.tiers[-1]

    def spec_for(self, task: str) -> ScorerSpec:
        return self.tasks.get(task) or self.tasks.get("default") or AutoSpec(scorer="auto")

    def path(self, p: str) -> Path:
        return Path(self.base_dir, p)

    def cache_file(self, audit_dir: str | Path) -> Path:
        """The answer cache: `replay.cache` (relative to the config) or the audit folder's own."""
        return self.path(self.replay.cache) if self.replay.cache else Path(audit_dir, CACHE_FILE)


def _describe(err: Mapping[str, Any], model: type[BaseModel]) -> str:
    loc = ".".join(str(p) for p in drop_union_tags(err["loc"]) if not str(p).startswith("function-after"))
    if err["type"] == "extra_forbidden":
        parent = err["loc"][:-1]
        allowed = _allowed_keys(model, parent) or spec_keys(parent)
        return f"{loc}: unknown key" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
    if err["type"] == "too_short":
        return f"{loc}: needs at least {err['ctx']['min_length']} entries (cheapest first, the reference last)"
    if err["type"] == "too_long":
        return f"{loc}: at most {err['ctx']['max_length']} entries are supported"
    if err["type"] == "union_tag_invalid":
        return f"{loc}: scorer must be one of {err['ctx']['expected_tags']}"
    if err["type"] == "union_tag_not_found":
        return f"{loc}: missing 'scorer' (one of {', '.join(SCORER_NAMES)})"
    msg = err["msg"].removeprefix("Value error, ")
    return f"{loc}: {msg}" if loc else msg


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Walk the model along an error location to list the keys allowed there."""
    cur: Any = model
    for part in loc:
        if isinstance(part, int) or cur is None:
            continue
        field = getattr(cur, "model_fields", {}).get(part)
        if field is None:
            # a dict of scorer specs, or a discriminated union member name
            return []
        ann = field.annotation
        cur = next((a for a in getattr(ann, "__args__", (ann,)) if hasattr(a, "model_fields")), None)
    return sorted(getattr(cur, "model_fields", {}))


def parse_config(data: Any, source: str = CONFIG_FILE, base_dir: str = ".") -> Config:
    """Validate a config mapping; the first problem is one ConfigError naming the key and what is allowed."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with at least 'tiers', got {type(data).__name__}")
    try:
        return Config.model_validate({**data, "base_dir": base_dir})
    except ValidationError as e:
        raise ConfigError(f"{source}: {_describe(e.errors()[0], Config)}") from None


def load_config(path: str | Path | None = None) -> Config:
    """Read tiertool.yaml (from the working folder when no path is given)."""
    import yaml

    p = Path(path or CONFIG_FILE)
    if not p.is_file():
        hint = "" if path else " (or pass --config FILE)"
        raise ConfigError(f"{p}: config file not found; create one{hint}, see README 'Config'")
    try:
        data = read_yaml(p)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{p}:{mark.line + 1}:{mark.column + 1}" if mark else str(p)
        context = f"{e.context}, " if e.context else ""
        raise ConfigError(f"{where}: not valid YAML: {context}{e.problem}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML: {str(e).splitlines()[0]}") from None
    except ValueError as e:  # not text, or an alias bomb
        raise ConfigError(f"{p}: cannot be used: {e}") from None
    return parse_config(data, str(p), str(p.parent))


def unknown_tasks(config: Config, tasks: Collection[str]) -> list[tuple[str, str]]:
    """(name, message) for each task named under `tasks:` or `cascade:` that no request of the log has, so its
    setting would silently not apply; the message names the closest task type."""
    from rapidfuzz import process

    out = []
    for section, names in (("tasks", config.tasks), ("cascade", config.cascade)):
        for name in names:
            if name in tasks or (section == "tasks" and name == "default"):
                continue
            match = process.extractOne(name, list(tasks)) if tasks else None
            closest = f"; the closest task type is {match[0]!r}" if match else ""
            out.append((name, f"{section}.{name}: no request of the log has this task type, so this setting is "
                        f"not applied{closest}"))
    return out
