"""Anthropic: Message Batches results `{custom_id, result: {type, message|error}}`, batch request lines
`{custom_id, params}`, and Messages API objects (`{"type": "message", ...}`, alone or as
`{"request": {...}, "response": {...}}`). Requests are put in chat form (canonical.from_anthropic): system
blocks, tool use and results, images, `thinking` and `tools` are kept for the replay.

Anthropic's `input_tokens` excludes cache reads and writes; OpenAI's `prompt_tokens` includes them. Records
use OpenAI's convention: input = input + cache_read + cache_creation; cached = cache_read. Thinking tokens
(`output_tokens_details.thinking_tokens`) are part of `output_tokens`, as reasoning tokens are."""

from __future__ import annotations

from typing import Any

from ..records import Request
from .canonical import anthropic_reply, from_anthropic
from .common import BadRecord, as_dict, as_tags, check_messages, need_str, task_from, to_int, to_time

RESULT, REQUEST, MESSAGE = "anthropic-batch-result", "anthropic-batch-request", "anthropic-message"
NO_REQUEST = "a Message object holds the answer, not the request (log the request with it)"


def sniff_result(obj: dict[str, Any]) -> bool:
    return "custom_id" in obj and isinstance(obj.get("result"), dict)


def sniff_request(obj: dict[str, Any]) -> bool:
    return "custom_id" in obj and isinstance(obj.get("params"), dict)


def sniff_message(obj: dict[str, Any]) -> bool:
    msg: dict[str, Any] = obj["response"] if isinstance(obj.get("response"), dict) else obj
    return msg.get("type") == "message" and "content" in msg and "usage" in msg


def usage_tokens(usage: Any) -> dict[str, int]:
    """Anthropic usage -> token fields in OpenAI's convention (cached tokens counted in input)."""
    usage = as_dict(usage, "usage")
    read = to_int(usage.get("cache_read_input_tokens"), "usage.cache_read_input_tokens")
    write = to_int(usage.get("cache_creation_input_tokens"), "usage.cache_creation_input_tokens")
    details = as_dict(usage.get("output_tokens_details"), "usage.output_tokens_details")
    return {"input_tokens": to_int(usage.get("input_tokens"), "usage.input_tokens") + read + write,
            "output_tokens": to_int(usage.get("output_tokens"), "usage.output_tokens"),
            "cached_tokens": read, "cache_write_tokens": write,
            "reasoning_tokens": to_int(details.get("thinking_tokens"), "usage.output_tokens_details.thinking_tokens")}


def _message_fields(msg: dict[str, Any]) -> dict[str, Any]:
    model = need_str(msg, "model")
    content = msg.get("content")
    if not isinstance(content, list):
        raise BadRecord("'content' must be a list of content blocks")
    reply = anthropic_reply(content, msg.get("stop_reason"))
    return dict(model=model, output=reply.text, output_tool_calls=reply.tool_calls,
                finish_reason=reply.finish_reason, provider="anthropic", **usage_tokens(msg.get("usage")))


def _request_fields(params: dict[str, Any], group_by: str, raw: dict[str, Any],
                    tags: tuple[str, ...] = ()) -> dict[str, Any]:
    metadata = as_dict(params.get("metadata"), "metadata")
    task, how = task_from(tags, metadata, raw, group_by)
    model = params.get("model")
    check_messages(params.get("messages"))  # every message a {role, content} object
    chat = from_anthropic(params) if params else None
    return dict(messages=chat.messages if chat else (), params=chat.params if chat else {},
                unreplayable=chat.unreplayable if chat else NO_REQUEST,
                requested_model=model if isinstance(model, str) else None, metadata=metadata,
                task=task, task_source=how)


def parse_request(obj: dict[str, Any], source: str, group_by: str) -> Request:
    fields = _request_fields(obj["params"], group_by, obj)
    if not fields["messages"] or not fields["requested_model"]:
        raise BadRecord("'params' needs 'model' and 'messages'")
    return Request(id=str(obj["custom_id"]), source=source, model=fields["requested_model"], is_batch=True,
                   provider="anthropic", **fields)


def parse_result(obj: dict[str, Any], source: str, group_by: str) -> Request:
    result = obj["result"]
    kind = result.get("type")
    task, how = task_from((), {}, obj, group_by)
    base: dict[str, Any] = dict(id=str(obj["custom_id"]), source=source, is_batch=True, task=task, task_source=how)
    if kind == "succeeded":
        return Request(**base, **_message_fields(as_dict(result.get("message"), "result.message")))
    if kind in ("errored", "canceled", "expired"):
        return Request(**base, model="unknown", status=kind, provider="anthropic")
    raise BadRecord(f"result.type {kind!r}: expected succeeded, errored, canceled or expired")


def parse_message(obj: dict[str, Any], source: str, group_by: str) -> Request:
    wrapped = isinstance(obj.get("response"), dict)
    msg = obj["response"] if wrapped else obj
    fields = _message_fields(msg)
    request = as_dict(obj.get("request"), "request") if wrapped else {}
    tags = as_tags(obj.get("tags"), "tags") if wrapped else ()
    return Request(id=str(msg.get("id") or source), source=source, tags=tags,
                   time=to_time(obj.get("created_at") or obj.get("timestamp")),
                   **_request_fields(request, group_by, obj, tags), **fields)
