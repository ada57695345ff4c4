"""What every scorer is: `score(ctx) -> Score` on one `ScoringContext`, plus the text helpers scorers share.

A scorer may also need model calls (the judge: `calls`, sent for many answers at once through the injected
`Caller`), a check before any replay money is spent (`check`), or the task's reference answers before it can
score (`auto`: `prepare`). Every scorer has all four, so the Grader treats them alike.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..limits import loads
from ..records import Answer, Call, Message, Request, Score, content_text

if TYPE_CHECKING:
    from ..config import Tier


def arguments(call: Message) -> Any:
    """A tool call's arguments, parsed (chat shape keeps them as a JSON string); ValueError when they are not
    JSON."""
    raw = (call.get("function") or {}).get("arguments")
    if not isinstance(raw, str):
        return raw if raw is not None else {}
    return loads(raw) if raw.strip() else {}


def call_name(call: Message) -> str:
    return str((call.get("function") or {}).get("name") or "")


def render_calls(calls: Sequence[Message]) -> str:
    """Tool calls as a person reads them: the function's name and its arguments as indented JSON."""
    out = []
    for call in calls:
        try:
            args = json.dumps(arguments(call), indent=2, ensure_ascii=False, sort_keys=True)
        except ValueError:
            args = str((call.get("function") or {}).get("arguments"))  # shown as sent: not JSON
        out.append(f"[tool call] {call_name(call)}({args})")
    return "\n".join(out)


def shown(text: str | None, calls: Sequence[Message]) -> str | None:
    """An answer as reports and the judge show it: its text, then its tool calls rendered."""
    if not calls:
        return text
    return "\n".join(p for p in (text, render_calls(calls)) if p)


@dataclass(frozen=True)
class Reference:
    """A reference answer as `prepare` sees it: its text and its tool calls."""

    text: str
    tool_calls: tuple[Message, ...] = ()


@dataclass(frozen=True)
class ScoringContext:
    """One answer to grade: the request, the candidate answer, the reference tier's answer and the ground
    truth, when the log or a labels file has one (it then sets the bar instead of the reference). Tool calls
    (chat shape) come beside the text: an answer that is only tool calls has the text ""."""

    request: Request
    candidate: str
    reference: str | None = None
    expected: str | None = None
    candidate_calls: tuple[Message, ...] = ()
    reference_calls: tuple[Message, ...] = ()

    def __post_init__(self) -> None:
        if self.reference is None and self.expected is None:
            raise ValueError("a ScoringContext needs a reference answer or an expected one")

    @property
    def target(self) -> str:
        """What the candidate must match: the ground truth when there is one, else the reference answer."""
        return self.expected if self.expected is not None else self.reference or ""

    @property
    def target_calls(self) -> tuple[Message, ...]:
        """The tool calls the candidate must make: none when a (text) ground truth sets the bar."""
        return () if self.expected is not None else self.reference_calls

    @property
    def shown_candidate(self) -> str:
        return shown(self.candidate, self.candidate_calls) or ""

    @property
    def shown_target(self) -> str:
        return shown(self.target, self.target_calls) or ""

    @property
    def conversation(self) -> str:
        """The request as plain text (what a judge is shown): the tools offered, then each turn with its tool
        calls rendered."""
        tools = [t.get("function", t) for t in self.request.params.get("tools") or () if isinstance(t, dict)]
        offered = [f"tools offered: {', '.join(str(t.get('name')) for t in tools if isinstance(t, dict))}"]
        turns = [f"{m.get('role', 'user')}: {shown(content_text(m.get('content')), m.get('tool_calls') or ()) or ''}"
                 for m in self.request.messages]
        return "\n\n".join((offered if tools else []) + turns)


class Caller(Protocol):
    """How a scorer gets model calls (the audit's or monitor's Replayer: cache, retries, budget, counts)."""

    def ask(self, calls: Sequence[Call]) -> Mapping[str, Answer]:
        """Answers by call key; raises ReplayError when a tier cannot be called at all."""
        ...

    def check(self, tier: Tier) -> None:
        """Raise ReplayError now if this tier could not be called (no key, endpoint down)."""
        ...


class Scorer:
    """A quality bar. Subclasses implement `score`; the other hooks default to "nothing needed"."""

    name: str = ""

    def score(self, ctx: ScoringContext) -> Score:
        raise NotImplementedError

    def label(self, ctx: ScoringContext) -> Score | None:
        """A label this scorer draws for the answer itself (prediction_powered: its judge on a random few);
        the Result is then graded by it, with `score(ctx)` kept beside it as the scorer's own verdict."""
        return None

    def calls(self, ctx: ScoringContext) -> list[Call]:
        """Model calls `score(ctx)` will need, so many answers' calls can be sent at once first."""
        return []

    def check(self, task: str) -> None:
        """Fail (ConfigError, ReplayError) before any replay call when this scorer could not run."""

    def prepare(self, references: list[Reference]) -> None:
        """See some of the task's reference answers before scoring (only `auto` looks)."""

    def describe(self) -> tuple[str, str | None] | None:
        """(scorer name, why it was chosen) for the report; None until it is known; why None: as configured."""
        return self.name, None

    @property
    def needs_judge(self) -> bool:
        """True when its scores are evidence only and cannot move the task (`auto` on open-ended answers)."""
        return False


class Unscorable(Exception):
    """This answer cannot be scored (judge output invalid or not answered): the result is stored unscored."""


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
