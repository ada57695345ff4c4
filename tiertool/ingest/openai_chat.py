"""OpenAI chat JSON lines: `{"model", "messages", "response"?, "metadata"?, "usage"?}` per line."""

from __future__ import annotations

from typing import Any

from ..records import Request
from .common import (
    BadRecord,
    check_messages,
    maybe_json,
    need_str,
    params_of,
    response_text,
    task_from,
    to_int,
    to_time,
)

NAME = "openai-chat"


def sniff(obj: dict[str, Any]) -> bool:
    return "messages" in obj and "model" in obj and "request_id" not in obj and "custom_id" not in obj


def parse(obj: dict[str, Any], source: str, group_by: str) -> Request:
    model = need_str(obj, "model")
    messages = check_messages(obj.get("messages"))
    if not messages:
        raise BadRecord("'messages' is empty")
    raw = obj.get("response")
    text, finish = response_text(raw)
    response = maybe_json(raw)
    if not isinstance(response, dict) or "choices" not in response:
        response = {}  # a plain answer (even one that is JSON) has no usage, id or model of its own
    usage = (response.get("usage") if isinstance(response, dict) else None) or obj.get("usage") or {}
    if not isinstance(usage, dict):
        raise BadRecord("'usage' must be an object")
    metadata = obj.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise BadRecord("'metadata' must be an object")
    tags = obj.get("tags") or metadata.get("tags") or []
    if not isinstance(tags, list):
        raise BadRecord("'tags' must be a list of strings")
    tags = tuple(str(t) for t in tags)
    task, how = task_from(tags, metadata, obj, group_by)
    details = usage.get("prompt_tokens_details") or {}
    out_details = usage.get("completion_tokens_details") or {}
    resolved = response.get("model") if isinstance(response, dict) else None
    return Request(
        id=str(obj.get("id") or (response.get("id") if isinstance(response, dict) else None) or source),
        source=source,
        model=resolved or model,
        requested_model=model,
        messages=messages,
        params=params_of(obj),
        output=text,
        finish_reason=finish,
        task=task,
        task_source=how,
        input_tokens=to_int(usage.get("prompt_tokens"), "usage.prompt_tokens"),
        output_tokens=to_int(usage.get("completion_tokens"), "usage.completion_tokens"),
        cached_tokens=to_int(details.get("cached_tokens"), "cached_tokens"),
        reasoning_tokens=to_int(out_details.get("reasoning_tokens"), "reasoning_tokens"),
        time=to_time(obj.get("created") or (response.get("created") if isinstance(response, dict) else None)),
        tags=tags,
        metadata=metadata,
    )
