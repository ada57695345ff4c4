"""Helpers shared by the log formats: message text, timestamps, task keys."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

TASK_TAG_PREFIXES = ("task:", "taskName:", "feature:")
DECODING_PARAMS = (
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed",
    "response_format", "presence_penalty", "frequency_penalty", "reasoning_effort",
)


class BadRecord(ValueError):
    """Raised by a format parser: the line is JSON but not a usable record of that format."""


def maybe_json(value: Any) -> Any:
    """Spend-log exports keep nested objects as JSON strings; accept either."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def content_text(content: Any) -> str | None:
    """Text of a message `content`, which is a string or a list of typed parts."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") in ("text", None)]
        return "".join(parts)
    return str(content)


def response_text(response: Any) -> tuple[str | None, str | None]:
    """(text, finish_reason) of a chat completion response, or of a plain string."""
    response = maybe_json(response)
    if isinstance(response, str):
        return (response or None), None
    if not isinstance(response, dict) or not response:
        return None, None
    choices = response.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        msg = choices[0].get("message") or {}
        return content_text(msg.get("content")), choices[0].get("finish_reason")
    return None, None


def check_messages(messages: Any) -> tuple[dict[str, Any], ...]:
    messages = maybe_json(messages)
    if messages in (None, {}, [], ""):
        return ()
    if not isinstance(messages, list) or not all(isinstance(m, dict) and "role" in m for m in messages):
        raise BadRecord("'messages' must be a list of {role, content} objects")
    return tuple(messages)


def to_int(value: Any, name: str) -> int:
    if value in (None, ""):
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BadRecord(f"'{name}' must be a number, got {type(value).__name__}")
    try:
        return int(float(value))
    except ValueError:
        raise BadRecord(f"'{name}' must be a number, got {value!r}") from None


def to_float(value: Any, name: str) -> float | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BadRecord(f"'{name}' must be a number, got {type(value).__name__}")
    try:
        return float(value)
    except ValueError:
        raise BadRecord(f"'{name}' must be a number, got {value!r}") from None


def to_time(value: Any) -> float | None:
    """Unix seconds from an ISO-8601 string or a number (seconds or milliseconds)."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) / (1000.0 if value > 1e11 else 1.0)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise BadRecord(f"time {value!r} is not ISO-8601") from None
    raise BadRecord(f"time must be a string or number, got {type(value).__name__}")


def dotted(obj: Any, path: str) -> Any:
    """Value at a dotted path (`metadata.task`) in nested dicts, or None."""
    for part in path.split("."):
        obj = maybe_json(obj)
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def task_from(tags: tuple[str, ...], metadata: dict[str, Any], raw: dict[str, Any], group_by: str
              ) -> tuple[str, str]:
    """(task, how it was found): an explicit group_by path wins, then a task tag, then metadata.task."""
    if group_by != "auto":
        value = dotted(raw, group_by)
        if value not in (None, ""):
            return str(value), "group_by"
        return "untagged", "none"
    for tag in tags:
        for prefix in TASK_TAG_PREFIXES:
            if tag.startswith(prefix) and tag[len(prefix):].strip():
                return tag[len(prefix):].strip(), "tag"
    value = metadata.get("task") if isinstance(metadata, dict) else None
    if value not in (None, ""):
        return str(value), "metadata"
    return "untagged", "none"


def params_of(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: obj[k] for k in DECODING_PARAMS if obj.get(k) is not None}
