"""What every scorer is: a callable (candidate, reference) -> Score, plus the text helpers they share."""

from __future__ import annotations

import re
import string
from typing import Protocol

from ..records import Score


class Scorer(Protocol):
    name: str

    def __call__(self, candidate: str, reference: str) -> Score: ...


class Unscorable(Exception):
    """This answer cannot be scored (judge output invalid or not cached): the result is stored unscored."""


_PUNCT = str.maketrans("", "", string.punctuation + "“”‘’«»¿¡…")


def normalise(text: str, case: bool = True, whitespace: bool = True, punctuation: bool = False) -> str:
    """Fold what the bar says does not matter: case, runs of whitespace, punctuation."""
    if punctuation:
        text = text.translate(_PUNCT)
    if whitespace:
        text = " ".join(text.split())
    return text.casefold() if case else text


def clip(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def find_label(text: str, labels: tuple[str, ...]) -> str | None:
    """The one label a (possibly chatty) answer names; None when it names none or several."""
    hits = {lab for lab in labels if re.search(rf"(?<!\w){re.escape(lab.casefold())}(?!\w)", text.casefold())}
    # a label inside a longer named label ("bug" in "bug report") is not a second answer
    hits = {h for h in hits if not any(h != o and h.casefold() in o.casefold() for o in hits)}
    return hits.pop() if len(hits) == 1 else None


def verdict(ok: bool, why_ok: str, why_not: str) -> Score:
    return Score(float(ok), ok, why_ok if ok else why_not)
