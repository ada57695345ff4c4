"""Scorers on structured answers: JSON (parsed from fenced or chatty text, schema, keys, values, tolerance)
and numbers (final answer extraction with tolerance, units, thousands separators, scale words)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from ..config.scorers import JsonSpec, NumericSpec
from ..limits import MAX_JSON_DEPTH, depth, loads
from ..records import Score
from .base import Scorer, ScoringContext, clip
from .registry import ScorerEnv
from .schema import Schema, load_schema

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)


def parse_json(text: str) -> Any:
    """JSON from a bare, fenced or chatty answer; raises ValueError when there is none (or when it nests past
    limits.MAX_JSON_DEPTH: scoring walks it)."""
    text = text.strip()
    try:
        return loads(text)
    except ValueError:
        pass
    for m in _FENCE.finditer(text):
        try:
            return loads(m.group(1).strip())
        except ValueError:
            continue
    decoder = json.JSONDecoder()
    starts = [i for i, ch in enumerate(text) if ch in "{["][:50]  # bounded: chatty text has few braces
    for i in starts:
        try:
            value = decoder.raw_decode(text, i)[0]
        except (ValueError, RecursionError):
            continue
        if depth(value) <= MAX_JSON_DEPTH:
            return value
    raise ValueError("no JSON object or array found")


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: value}


def _same(a: Any, b: Any, tol: float | None) -> bool:
    number = (int, float)
    if tol is not None and isinstance(a, number) and isinstance(b, number) and not isinstance(a, bool):
        return math.isclose(a, b, abs_tol=tol, rel_tol=0.0)
    return a == b


@dataclass(frozen=True)
class Json(Scorer):
    schema: Schema | None = None
    compare: str = "values"
    tolerance: dict[str, float] = field(default_factory=dict)
    ignore: tuple[str, ...] = ()
    name: str = "json"

    @classmethod
    def from_spec(cls, spec: JsonSpec, env: ScorerEnv) -> Json:
        return cls(load_schema(spec.json_schema, env.base_dir), spec.compare, dict(spec.tolerance), spec.ignore)

    def score(self, ctx: ScoringContext) -> Score:
        candidate, reference = ctx.candidate, ctx.target
        try:
            got = parse_json(candidate)
        except ValueError:
            return Score(0.0, False, f"answer is not JSON: {clip(candidate)!r}")
        if self.schema is not None:
            error = self.schema.first_error(got)
            if error is not None:
                return Score(0.0, False, f"schema: {clip(error, 100)}")
        if self.compare == "none":
            return Score(1.0, True, "valid JSON" + (" matching the schema" if self.schema else ""))
        try:
            ref = parse_json(reference)
        except ValueError:
            return Score(0.0, False, "reference answer is not JSON")
        if not (isinstance(ref, dict) and isinstance(got, dict)):
            return (Score(1.0, True, "same JSON") if got == ref else Score(0.0, False, "different JSON"))
        a = {k: v for k, v in _flatten(got).items() if k not in self.ignore}
        b = {k: v for k, v in _flatten(ref).items() if k not in self.ignore}
        keys = sorted(set(a) | set(b))
        if self.compare == "keys":
            bad = [k for k in keys if (k in a) != (k in b)]
        else:
            bad = [k for k in keys if k not in a or k not in b or not _same(a[k], b[k], self.tolerance.get(k))]
        value = 1 - len(bad) / len(keys) if keys else 1.0
        if not bad:
            return Score(1.0, True, "same keys" if self.compare == "keys" else "same JSON values")
        return Score(value, False, f"differs in {', '.join(bad[:5])}" + (" ..." if len(bad) > 5 else ""))


NUMBER = re.compile(
    r"(?<![\w.])([-+−]?)\$?((?:\d{1,3}(?:[,_'\u2009\u202f]\d{3})+|\d+)(?:\.\d+)?|\.\d+)(?:[eE]([-+]?\d+))?"
    r"(\s*%|\s*(?:thousand|million|billion|trillion)\b|[kKmMbB](?![\w]))?")
_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12, "k": 1e3, "m": 1e6, "b": 1e9}
_MARKERS = re.compile(r"####|\\boxed\{|final answer|answer is|answer:", re.I)


def numbers(text: str, percent: bool = False, scale_words: bool = True) -> list[float]:
    """Every number in the text, with units and thousands separators read the way a person would."""
    out = []
    for m in NUMBER.finditer(text):
        sign, digits, exp, suffix = m.groups()
        x = float(re.sub(r"[,_'\u2009\u202f]", "", digits) + (f"e{exp}" if exp else ""))
        if sign in ("-", "−"):
            x = -x
        s = (suffix or "").strip().lower()
        if s == "%" and percent:
            x /= 100
        elif s in _SCALE and scale_words:
            x *= _SCALE[s]
        out.append(x)
    return out


def final_number(text: str, percent: bool = False, scale_words: bool = True) -> float | None:
    """The answer's final number: the last one after the last answer marker (####, 'answer is'), else the last."""
    markers = list(_MARKERS.finditer(text))
    if markers:
        after = numbers(text[markers[-1].end():], percent, scale_words)
        if after:
            return after[0]
    found = numbers(text, percent, scale_words)
    return found[-1] if found else None


@dataclass(frozen=True)
class Numeric(Scorer):
    tolerance: float = 1e-6
    relative: float = 0.0
    percent: bool = False
    scale_words: bool = True
    name: str = "numeric"

    @classmethod
    def from_spec(cls, spec: NumericSpec, env: ScorerEnv) -> Numeric:
        return cls(spec.tolerance, spec.relative, spec.percent, spec.scale_words)

    def score(self, ctx: ScoringContext) -> Score:
        ref = final_number(ctx.target, self.percent, self.scale_words)
        got = final_number(ctx.candidate, self.percent, self.scale_words)
        if ref is None:
            return Score(0.0, False, "reference answer has no number")
        if got is None:
            return Score(0.0, False, "answer has no number")
        ok = math.isclose(got, ref, rel_tol=self.relative, abs_tol=self.tolerance)
        return Score(float(ok), ok, f"{got:g} {'==' if ok else '!='} {ref:g}")
