"""`auto`: pick a task's scorer from its reference answers, and say why (overridable under `tasks:`)."""

from __future__ import annotations

from collections import Counter

from ..config.scorers import AutoSpec, ExactSpec, FuzzySpec, JsonSpec, NumericSpec, ScorerSpec
from .base import normalise
from .structured import _NUM, parse_json

MAX_LABELS = 20
MAX_LABEL_WORDS = 4


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
    return bool(_NUM.search(tail)) and not _is_json(text)


def choose(spec: AutoSpec, references: list[str]) -> tuple[ScorerSpec, str]:
    """(scorer spec, reason) for a task, from the reference answers sampled for it."""
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
    return (FuzzySpec(scorer="fuzzy", method="token_set"),
            f"auto: free text ({n} reference answers) -> fuzzy token_set; consider a judge (tasks.<task>.scorer)")
