"""`judge`: an LLM compares the candidate with the reference answer, pairwise, asked twice with the order
swapped; the two verdicts must agree, else it is a tie. Its calls go through the audit's Replayer, so they
are cached and counted like replay calls."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlparse

from ..config import Tier
from ..errors import ReplayError
from ..records import Answer, Score
from ..replay.cache import cache_key
from ..replay.engine import Call, preflight, where
from .base import Unscorable, clip
from .structured import parse_json

PARAMS = {"temperature": 0, "response_format": {"type": "json_object"}}
VALUES = {"candidate": 1.0, "tie": 0.5, "reference": 0.0}

SYSTEM = """You are an impartial judge. Two assistants answered the same request. {rubric}
Do not let the order of the answers, their length or the assistants' names sway you.
Reply with one JSON object and nothing else: {{"winner": "A" | "B" | "tie", "reason": "<one short sentence>"}}"""

USER = """[Request]
{request}

[Answer A]
{a}

[Answer B]
{b}"""


def _verdict_model() -> Any:
    from pydantic import BaseModel, ConfigDict

    class Verdict(BaseModel):
        """The judge's structured output; anything else is rejected."""

        model_config = ConfigDict(extra="forbid")
        winner: Literal["A", "B", "tie"]
        reason: str = ""

    return Verdict


def _conversation(messages: tuple[dict[str, Any], ...]) -> str:
    from ..ingest.common import content_text

    return "\n\n".join(f"{m.get('role', 'user')}: {content_text(m.get('content')) or ''}" for m in messages)


@dataclass(frozen=True)
class Judge:
    tier: Tier
    rubric: str
    max_chars: int = 8000
    name: str = "judge"

    def calls(self, messages: tuple[dict[str, Any], ...], candidate: str, reference: str) -> tuple[Call, Call]:
        """The two judge calls: candidate as A, then reference as A."""
        request = _conversation(messages)
        cand, ref = candidate[: self.max_chars], reference[: self.max_chars]
        out = []
        for a, b in ((cand, ref), (ref, cand)):
            msgs = ({"role": "system", "content": SYSTEM.format(rubric=self.rubric)},
                    {"role": "user", "content": USER.format(request=request, a=a, b=b)})
            out.append(Call(cache_key(self.tier.model, msgs, PARAMS), self.tier, msgs, dict(PARAMS)))
        return out[0], out[1]

    def decide(self, first: Answer | None, second: Answer | None) -> Score:
        """Candidate wins, loses or ties; a disagreement between the two orders is a tie."""
        winners = [self._winner(first, "candidate first", {"A": "candidate", "B": "reference"}),
                   self._winner(second, "reference first", {"A": "reference", "B": "candidate"})]
        (w1, r1), (w2, _) = winners
        final = w1 if w1 == w2 else "tie"
        value = VALUES[final]
        if w1 != w2:
            why = f"judge disagreed with itself when the order was swapped ({w1} vs {w2}): tie"
        elif final == "tie":
            why = f"judge: tie ({clip(r1, 100)})"
        else:
            why = f"judge prefers the {final} ({clip(r1, 100)})"
        return Score(value, value >= 0.5, why)

    def _winner(self, answer: Answer | None, order: str, names: dict[str, str]) -> tuple[str, str]:
        from pydantic import ValidationError

        if answer is None:
            raise Unscorable(f"judge answer ({order}) neither cached nor recorded")
        if answer.text is None:
            raise Unscorable(f"judge call failed ({order}): {answer.error}")
        try:
            v = _verdict_model().model_validate(parse_json(answer.text))
        except (ValueError, ValidationError) as e:
            first = str(e).splitlines()[0] if not isinstance(e, ValidationError) else \
                f"{'.'.join(map(str, e.errors()[0]['loc']))}: {e.errors()[0]['msg']}"
            raise Unscorable(f"judge output ({order}) is not the expected JSON "
                             f"{{winner: A|B|tie, reason}}: {clip(first, 80)}; got {clip(answer.text)!r}") from None
        return names.get(v.winner, "tie"), v.reason

    def check(self, timeout: float = 5.0) -> None:
        """Before any replay call: the judge has its key and its endpoint accepts connections."""
        preflight([self.tier])
        if not self.tier.api_base:
            return
        url = urlparse(self.tier.api_base)
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            socket.create_connection((url.hostname or "", port), timeout=timeout).close()
        except OSError as e:
            raise ReplayError(f"judge {self.tier.model} at {where(self.tier)} is unreachable ({e}); check the "
                              f"judge's api_base in tiertool.yaml and that the endpoint is up") from None


def judge_text(winner: str, reason: str = "") -> str:
    """A judge reply in the expected format (for recorded answers and tests)."""
    return json.dumps({"winner": winner, "reason": reason})
