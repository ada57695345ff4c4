"""Scorers: does a cheaper tier's answer meet the bar set by the reference answer?

Each scorer is a small frozen dataclass; calling it returns a `Score` (value, passed, reason).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Protocol

from .config import ExactSpec, FuzzySpec, JsonSpec, NumericSpec, ScorerSpec
from .records import Score


class Scorer(Protocol):
    name: str

    def __call__(self, candidate: str, reference: str) -> Score: ...


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class Exact:
    name: str = "exact"

    def __call__(self, candidate: str, reference: str) -> Score:
        ok = _norm(candidate) == _norm(reference)
        return Score(float(ok), ok, "same text" if ok else f"{_clip(candidate)!r} != {_clip(reference)!r}")


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def parse_json(text: str) -> Any:
    """JSON from a bare, fenced or chatty answer; raises ValueError when there is none."""
    text = text.strip()
    m = _FENCE.search(text)
    if m:
        text = m.group(1).strip()
    try:
        return json.loads(text)
    except ValueError:
        start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
        if start < 0:
            raise
        return json.JSONDecoder().raw_decode(text[start:])[0]


@dataclass(frozen=True)
class Json:
    name: str = "json"

    def __call__(self, candidate: str, reference: str) -> Score:
        try:
            ref = parse_json(reference)
        except ValueError:
            return Score(0.0, False, "reference answer is not JSON")
        try:
            got = parse_json(candidate)
        except ValueError:
            return Score(0.0, False, "answer is not JSON")
        if got == ref:
            return Score(1.0, True, "same JSON")
        if isinstance(ref, dict) and isinstance(got, dict):
            keys = set(ref) | set(got)
            same = sum(1 for k in keys if k in ref and k in got and ref[k] == got[k])
            diff = sorted(k for k in keys if ref.get(k, object()) != got.get(k, object()))
            return Score(same / len(keys), False, f"differs in {', '.join(map(str, diff[:5]))}")
        return Score(0.0, False, "different JSON")


_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


def last_number(text: str) -> float | None:
    for token in reversed(_NUMBER.findall(text)):
        try:
            return float(token.replace(",", ""))
        except ValueError:
            continue
    return None


@dataclass(frozen=True)
class Numeric:
    tolerance: float = 1e-6
    name: str = "numeric"

    def __call__(self, candidate: str, reference: str) -> Score:
        ref, got = last_number(reference), last_number(candidate)
        if ref is None:
            return Score(0.0, False, "reference answer has no number")
        if got is None:
            return Score(0.0, False, "answer has no number")
        ok = math.isclose(got, ref, rel_tol=self.tolerance, abs_tol=self.tolerance)
        return Score(float(ok), ok, f"{got:g} {'==' if ok else '!='} {ref:g}")


@dataclass(frozen=True)
class Fuzzy:
    threshold: float = 0.85
    name: str = "fuzzy"

    def __call__(self, candidate: str, reference: str) -> Score:
        from rapidfuzz import fuzz

        value = fuzz.ratio(_norm(candidate), _norm(reference)) / 100.0
        ok = value >= self.threshold
        return Score(value, ok, f"similarity {value:.2f} {'>=' if ok else '<'} {self.threshold:.2f}")


def _clip(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def make_scorer(spec: ScorerSpec) -> Scorer:
    if isinstance(spec, ExactSpec):
        return Exact()
    if isinstance(spec, JsonSpec):
        return Json()
    if isinstance(spec, NumericSpec):
        return Numeric(spec.tolerance)
    if isinstance(spec, FuzzySpec):
        return Fuzzy(spec.threshold)
    raise TypeError(f"no scorer for {spec!r}")
