"""What the gate knows about a request before it is sent: its text, length, template, task type and parameters.

Two kinds of features: the prompt's words (TF-IDF over word 1-2-grams, so both topic and phrasing count) and a
few named facts with one weight each (task type, system-prompt template, length, turns, request parameters).
A fact or word never seen while learning gets no weight, so unseen input falls back on the rest.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import Any

Messages = Sequence[Mapping[str, Any]]
Known = tuple[Messages, Mapping[str, Any], str]  # (messages, params, task): all the gate may look at

# sklearn TfidfVectorizer options of the text features; min_df and max_features only shape the vocabulary
TEXT_OPTIONS: dict[str, Any] = {"ngram_range": (1, 2), "sublinear_tf": True, "lowercase": True}
MIN_DF, MAX_TERMS = 2, 20_000

# parameters that say nothing about a request's difficulty, or that a client or proxy sets on its own
IGNORED_PARAMS = frozenset({
    "model", "messages", "metadata", "user", "stream", "stream_options", "api_key", "api_base", "base_url",
    "extra_headers", "extra_body", "litellm_metadata", "litellm_call_id", "proxy_server_request", "timeout",
    "mock_response", "tags",
})


def content_text(content: Any) -> str:
    """A message's content as text: a string as it is, the text of a parts list, a marker for other parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = []
        for part in content:
            if isinstance(part, Mapping):
                text = part.get("text")
                parts.append(text if isinstance(text, str) else f"[{part.get('type', 'part')}]")
            else:
                parts.append(str(part))
        return "\n".join(parts)
    return str(content)


def text_of(messages: Messages) -> str:
    """The words the text features see: every message, prefixed by its role."""
    return "\n".join(f"{m.get('role', 'user')}: {content_text(m.get('content'))}" for m in messages)


def _squash(value: float) -> float:
    """Signed log scale, so a max_tokens of 4096 and a temperature of 0.7 can share one regularised model."""
    return math.copysign(math.log1p(abs(value)), value)


def facts_of(text: str, messages: Messages, params: Mapping[str, Any], task: str) -> dict[str, float]:
    """The named facts of one request (`text` is `text_of(messages)`, passed in so it is built once)."""
    facts = {f"task={task}": 1.0, "chars": math.log1p(len(text)) / 10, "lines": math.log1p(text.count("\n")) / 5,
             "turns": math.log1p(len(messages))}
    system = "\n".join(content_text(m.get("content")) for m in messages if m.get("role") in ("system", "developer"))
    if system:
        facts[f"template={hashlib.blake2b(system.encode(), digest_size=6).hexdigest()}"] = 1.0
    for key, value in params.items():
        if key in IGNORED_PARAMS or key.startswith("_") or value is None:
            continue
        if isinstance(value, bool):
            facts[f"param:{key}"] = float(value)
        elif isinstance(value, int | float):
            facts[f"param:{key}"] = _squash(float(value))
        elif isinstance(value, str):
            facts[f"param:{key}={value[:40]}"] = 1.0
        elif isinstance(value, Mapping):
            kind = value.get("type")
            facts[f"param:{key}={kind}" if isinstance(kind, str) else f"has:{key}"] = 1.0
        elif isinstance(value, Sequence):
            facts[f"count:{key}"] = math.log1p(len(value))
    return facts
