"""`auto`: pick a task's scorer from its reference answers, and say why (overridable under `tasks:`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..config.scorers import AutoSpec, ExactSpec, FuzzySpec, JsonSpec, NumericSpec, ScorerSpec, ToolCallSpec
from ..records import Call, Score
from .base import Reference, Scorer, ScoringContext, Unscorable, normalise
from .registry import ScorerEnv
from .structured import NUMBER, parse_json

MAX_LABELS = 20
MAX_LABEL_WORDS = 4
OPEN_ENDED_WORDS = 15  # free text whose median reference answer is this long or longer is open-ended
NEEDS_JUDGE = "needs a judge or labels"


def _is_json(text: str) -> bool:
    t = text.strip()
    if t.startswith("```"):
        t = t.strip("`").removeprefix("json").strip()
    if not t.startswith(("{", "[")):
        return False
    try:
        return isinstance(parse_json(t), (dict, list))
    except ValueError:
        return False


def _ends_with_number(text: str) -> bool:
    """A final number close to the end: '#### 18', 'The answer is 42.', or just '3.5'."""
    tail = text.strip()[-40:]
    return bool(NUMBER.search(tail)) and not _is_json(text)


def choose_for(spec: AutoSpec, references: list[Reference]) -> tuple[ScorerSpec, str]:
    """(scorer spec, reason) for a task, from the reference answers sampled for it: `tool_call` as soon as one
    of them calls tools (a text scorer would see those answers as empty), its text answers scored by what
    `auto` picks from the text ones; else `choose` on the texts."""
    calls = sum(bool(r.tool_calls) for r in references)
    if calls:
        return (ToolCallSpec(scorer="tool_call", text=AutoSpec(scorer="auto", judge=spec.judge)),
                f"auto: {calls}/{len(references)} reference answers call tools -> tool_call (text answers to "
                f"text references: what auto picks from those)")
    return choose(spec, [r.text for r in references])


def is_open_ended(references: list[str]) -> bool:
    """The rule for free text no similarity bar can grade: most reference answers are not code (``` fences) and
    the median one has at least OPEN_ENDED_WORDS words. Call it only once JSON, labels and numbers are ruled
    out."""
    refs = [r for r in references if r and r.strip()]
    if not refs or sum("```" in r for r in refs) >= len(refs) / 2:
        return False
    words = sorted(len(r.split()) for r in refs)
    return words[len(words) // 2] >= OPEN_ENDED_WORDS


def choose(spec: AutoSpec, references: list[str]) -> tuple[ScorerSpec, str]:
    """(scorer spec, reason) for a task, from the reference answers sampled for it. For open-ended answers
    with no judge the spec is fuzzy token_set, kept as evidence only: the reason says NEEDS_JUDGE and
    `Auto.needs_judge` tells the decisions not to move the task on it."""
    refs = [r for r in references if r and r.strip()]
    n = len(refs)
    if not n:
        return FuzzySpec(scorer="fuzzy"), "auto: no reference answer to look at -> fuzzy"
    if sum(map(_is_json, refs)) >= 0.9 * n:
        return JsonSpec(scorer="json"), f"auto: {sum(map(_is_json, refs))}/{n} reference answers are JSON -> json"
    labels = Counter(normalise(r, punctuation=True) for r in refs)
    short = all(len(lab.split()) <= MAX_LABEL_WORDS for lab in labels)
    if short and len(labels) <= MAX_LABELS and len(labels) <= n / 2:
        names = tuple(sorted({r.strip().strip(".!").casefold(): r.strip().strip(".!") for r in refs}.values(),
                             key=str.casefold))
        shown = ", ".join(sorted(labels)[:6]) + (", ..." if len(labels) > 6 else "")
        return (ExactSpec(scorer="exact", ignore_punctuation=True, labels=names),
                f"auto: {n} reference answers use {len(labels)} labels ({shown}) -> exact")
    numeric = sum(map(_ends_with_number, refs))
    if numeric >= 0.9 * n:
        return NumericSpec(scorer="numeric"), f"auto: {numeric}/{n} reference answers end in a number -> numeric"
    if spec.judge is not None:
        return spec.judge, f"auto: free text ({n} reference answers) and a judge is configured -> judge"
    if is_open_ended(refs):
        return (FuzzySpec(scorer="fuzzy", method="token_set"),
                f"auto: open-ended free text (median reference answer >= {OPEN_ENDED_WORDS} words, {n} answers) "
                f"-> {NEEDS_JUDGE}: a text-similarity bar does not show quality here, so fuzzy token_set is "
                "evidence only; configure `auto: {judge: ...}`, import --labels, or name a scorer")
    return (FuzzySpec(scorer="fuzzy", method="token_set"),
            f"auto: free text ({n} reference answers) -> fuzzy token_set; consider a judge (tasks.<task>.scorer)")


@dataclass
class Auto(Scorer):
    """Scores with the scorer `choose` picks from the first reference answers it is shown (`prepare`); one per
    task, so the choice is the task's."""

    spec: AutoSpec
    env: ScorerEnv
    judge: Scorer | None = None  # built up front, so that it is checked before any replay call
    chosen: Scorer | None = None
    reason: str | None = None
    name: str = "auto"

    @classmethod
    def from_spec(cls, spec: AutoSpec, env: ScorerEnv) -> Auto:
        return cls(spec, env, env.build(spec.judge) if spec.judge is not None else None)

    def check(self, task: str) -> None:
        if self.judge is not None:
            self.judge.check(task)

    def prepare(self, references: list[Reference]) -> None:
        if self.chosen is None:
            spec, self.reason = choose_for(self.spec, references)
            self.chosen = self.judge if spec is self.spec.judge and self.judge else self.env.build(spec)
        self.chosen.prepare(references)

    def _scorer(self) -> Scorer:
        if self.chosen is None:
            raise Unscorable("auto has seen no reference answer to choose a scorer from")
        return self.chosen

    def score(self, ctx: ScoringContext) -> Score:
        return self._scorer().score(ctx)

    def calls(self, ctx: ScoringContext) -> list[Call]:
        return self._scorer().calls(ctx)

    def describe(self) -> tuple[str, str | None] | None:
        return (self.chosen.name, self.reason) if self.chosen is not None else None

    @property
    def needs_judge(self) -> bool:
        return bool(self.reason and NEEDS_JUDGE in self.reason)
