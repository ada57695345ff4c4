"""Scorers on plain text: exact (with normalisation and label extraction), contains, regex, length, fuzzy."""

from __future__ import annotations

from dataclasses import dataclass

from ..config.scorers import ContainsSpec, ExactSpec, FuzzySpec, LengthSpec, RegexSpec
from ..limits import pattern
from ..records import Score
from .base import Scorer, ScoringContext, clip, find_label, normalise, verdict
from .registry import ScorerEnv


@dataclass(frozen=True)
class Exact(Scorer):
    ignore_case: bool = True
    ignore_whitespace: bool = True
    ignore_punctuation: bool = False
    labels: tuple[str, ...] = ()
    name: str = "exact"

    @classmethod
    def from_spec(cls, spec: ExactSpec, env: ScorerEnv) -> Exact:
        return cls(spec.ignore_case, spec.ignore_whitespace, spec.ignore_punctuation, spec.labels)

    def _norm(self, text: str) -> str:
        return normalise(text, self.ignore_case, self.ignore_whitespace, self.ignore_punctuation)

    def score(self, ctx: ScoringContext) -> Score:
        candidate, reference = ctx.candidate, ctx.target
        if self.labels:
            got, ref = find_label(candidate, self.labels), find_label(reference, self.labels)
            if ref is None:
                ref = reference.strip()
            if got is None:
                return Score(0.0, False, f"answer names none or several of the labels: {clip(candidate)!r}")
            return verdict(self._norm(got) == self._norm(ref), f"same label {got!r}", f"label {got!r} != {ref!r}")
        ok = self._norm(candidate) == self._norm(reference)
        return verdict(ok, "same text", f"{clip(candidate)!r} != {clip(reference)!r}")


@dataclass(frozen=True)
class Contains(Scorer):
    values: tuple[str, ...] = ()
    mode: str = "all"
    ignore_case: bool = True
    name: str = "contains"

    @classmethod
    def from_spec(cls, spec: ContainsSpec, env: ScorerEnv) -> Contains:
        return cls(spec.values, spec.mode, spec.ignore_case)

    def score(self, ctx: ScoringContext) -> Score:
        wanted = self.values or (ctx.target,)
        text = normalise(ctx.candidate, self.ignore_case)
        found = [v for v in wanted if normalise(v, self.ignore_case) in text]
        return _all_any(self.mode, found, wanted, "contains")


@dataclass(frozen=True)
class Regex(Scorer):
    patterns: tuple[str, ...]
    mode: str = "all"
    ignore_case: bool = False
    name: str = "regex"

    @classmethod
    def from_spec(cls, spec: RegexSpec, env: ScorerEnv) -> Regex:
        return cls(spec.patterns, spec.mode, spec.ignore_case)

    def score(self, ctx: ScoringContext) -> Score:
        found = [p for p in self.patterns if pattern(p, self.ignore_case).search(ctx.candidate)]
        return _all_any(self.mode, found, self.patterns, "matches")


def _all_any(mode: str, found: list[str], wanted: tuple[str, ...], verb: str) -> Score:
    missing = [w for w in wanted if w not in found]
    ok = not missing if mode == "all" else bool(found)
    value = len(found) / len(wanted) if mode == "all" else float(bool(found))
    if ok:
        return Score(value, True, f"{verb} {len(found)}/{len(wanted)}")
    return Score(value, False, f"{verb} {len(found)}/{len(wanted)}; missing {clip(repr(missing[0]))}")


@dataclass(frozen=True)
class Length(Scorer):
    min_chars: int | None = None
    max_chars: int | None = None
    min_ratio: float | None = None
    max_ratio: float | None = None
    name: str = "length"

    @classmethod
    def from_spec(cls, spec: LengthSpec, env: ScorerEnv) -> Length:
        return cls(spec.min_chars, spec.max_chars, spec.min_ratio, spec.max_ratio)

    def score(self, ctx: ScoringContext) -> Score:
        n, ref = len(ctx.candidate.strip()), max(1, len(ctx.target.strip()))
        checks = [
            (self.min_chars is not None and n < self.min_chars, f"{n} chars < min_chars {self.min_chars}"),
            (self.max_chars is not None and n > self.max_chars, f"{n} chars > max_chars {self.max_chars}"),
            (self.min_ratio is not None and n / ref < self.min_ratio,
             f"{n / ref:.2f}x the reference < min_ratio {self.min_ratio}"),
            (self.max_ratio is not None and n / ref > self.max_ratio,
             f"{n / ref:.2f}x the reference > max_ratio {self.max_ratio}"),
        ]
        failed = [why for bad, why in checks if bad]
        return verdict(not failed, f"{n} chars within bounds", "; ".join(failed))


@dataclass(frozen=True)
class Fuzzy(Scorer):
    threshold: float = 0.85
    method: str = "ratio"
    name: str = "fuzzy"

    @classmethod
    def from_spec(cls, spec: FuzzySpec, env: ScorerEnv) -> Fuzzy:
        return cls(spec.threshold, spec.method)

    def score(self, ctx: ScoringContext) -> Score:
        from rapidfuzz import fuzz

        fn = fuzz.token_set_ratio if self.method == "token_set" else fuzz.ratio
        value = fn(normalise(ctx.candidate), normalise(ctx.target)) / 100.0
        ok = value >= self.threshold
        return Score(value, ok, f"similarity {value:.2f} {'>=' if ok else '<'} {self.threshold:.2f}")
