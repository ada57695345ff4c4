"""OpenAI chat JSON lines: request logs `{"model", "messages", "response"?, "metadata"?, "usage"?}`, chat-format
JSONL `{"messages": [...]}` (fine-tuning and eval sets: the last assistant turn, when there is one, is the
answer and the turns before it the request), and `ChatCompletion` objects as the SDK returns them
(`{"object": "chat.completion", "choices", "usage"}`), which hold the answer but not the request: volume only."""

from __future__ import annotations

from typing import Any

from ..records import Message, Request
from .canonical import Reply, chat_reply
from .common import (
    BadRecord,
    as_dict,
    as_tags,
    check_messages,
    maybe_json,
    params_of,
    response_reply,
    task_from,
    to_time,
    usage_fields,
)

NAME, MESSAGES, COMPLETION = "openai-chat", "chat-jsonl", "openai-chat-completion"
NO_REQUEST = ("a chat.completion object holds the answer, not the request (log the request with it, e.g. "
              "{model, messages, response} per line)")


def sniff(obj: dict[str, Any]) -> bool:
    return "messages" in obj and "model" in obj and "request_id" not in obj and "custom_id" not in obj


def sniff_messages(obj: dict[str, Any]) -> bool:
    return isinstance(obj.get("messages"), list) and "model" not in obj and "custom_id" not in obj


def sniff_completion(obj: dict[str, Any]) -> bool:
    return obj.get("object") == "chat.completion" and isinstance(obj.get("choices"), list) and "messages" not in obj


def _split_answer(messages: tuple[Message, ...]) -> tuple[tuple[Message, ...], Reply | None]:
    """A conversation that ends with an assistant turn: (the turns before it, that turn as the answer)."""
    if len(messages) > 1 and messages[-1].get("role") == "assistant":
        return messages[:-1], chat_reply(messages[-1])
    return messages, None


def parse(obj: dict[str, Any], source: str, group_by: str) -> Request:
    model = obj.get("model")
    if model is not None and (not isinstance(model, str) or not model):
        raise BadRecord("'model' must be a non-empty string")
    messages = check_messages(obj.get("messages"))
    if not messages:
        raise BadRecord("'messages' is empty")
    raw = obj.get("response")
    reply = response_reply(raw)
    if raw is None:
        messages, last = _split_answer(messages)
        reply = last or reply
    response = maybe_json(raw)
    if not isinstance(response, dict) or "choices" not in response:
        response = {}  # a plain answer (even one that is JSON) has no usage, id or model of its own
    metadata = as_dict(obj.get("metadata"), "metadata")
    tags = as_tags(obj.get("tags") or metadata.get("tags"), "tags")
    task, how = task_from(tags, metadata, obj, group_by)
    expected = obj.get("expected", obj.get("ideal"))
    return Request(
        id=str(obj.get("id") or response.get("id") or source), source=source,
        model=response.get("model") or model or "unknown", requested_model=model, messages=messages,
        params=params_of(obj), output=reply.text, output_tool_calls=reply.tool_calls,
        finish_reason=reply.finish_reason, task=task, task_source=how,
        time=to_time(obj.get("created") or response.get("created")), tags=tags, metadata=metadata,
        expected=None if expected in (None, "") else str(expected),
        **usage_fields(response.get("usage") or obj.get("usage")),
    )


def parse_completion(obj: dict[str, Any], source: str, group_by: str) -> Request:
    model = obj.get("model")
    if not isinstance(model, str) or not model:
        raise BadRecord("'model' must be a non-empty string")
    reply = response_reply(obj)
    metadata = as_dict(obj.get("metadata"), "metadata")
    task, how = task_from((), metadata, obj, group_by)
    return Request(id=str(obj.get("id") or source), source=source, model=model, output=reply.text,
                   output_tool_calls=reply.tool_calls, finish_reason=reply.finish_reason, task=task,
                   task_source=how, time=to_time(obj.get("created")), metadata=metadata, provider="openai",
                   unreplayable=NO_REQUEST, **usage_fields(obj.get("usage")))
