"""Anthropic: Message Batches results `{custom_id, result: {type, message|error}}`, batch request lines
`{custom_id, params}`, and Messages API objects (`{"type": "message", ...}`, alone or as
`{"request": {...}, "response": {...}}`).

Anthropic's `input_tokens` excludes cache reads and writes; OpenAI's `prompt_tokens` includes them. Records
use OpenAI's convention: input = input + cache_read + cache_creation; cached = cache_read."""

from __future__ import annotations

from typing import Any

from ..records import Request
from .common import (
    BadRecord,
    anthropic_messages,
    as_dict,
    content_text,
    need_str,
    params_of,
    task_from,
    to_int,
    to_time,
)

RESULT, REQUEST, MESSAGE = "anthropic-batch-result", "anthropic-batch-request", "anthropic-message"
PARAMS = ("temperature", "top_p", "top_k", "max_tokens", "stop_sequences", "thinking")


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
    return {"input_tokens": to_int(usage.get("input_tokens"), "usage.input_tokens") + read + write,
            "output_tokens": to_int(usage.get("output_tokens"), "usage.output_tokens"),
            "cached_tokens": read, "cache_write_tokens": write}


def _message_fields(msg: dict[str, Any]) -> dict[str, Any]:
    model = need_str(msg, "model")
    content = msg.get("content")
    if not isinstance(content, list):
        raise BadRecord("'content' must be a list of content blocks")
    return dict(model=model, output=content_text(content), finish_reason=msg.get("stop_reason"),
                provider="anthropic", **usage_tokens(msg.get("usage")))


def _request_fields(params: dict[str, Any], group_by: str, raw: dict[str, Any]) -> dict[str, Any]:
    metadata = as_dict(params.get("metadata"), "metadata")
    task, how = task_from((), metadata, raw, group_by)
    model = params.get("model")
    return dict(messages=anthropic_messages(params.get("system"), params.get("messages")),
                params={**params_of(params), **{k: params[k] for k in PARAMS if params.get(k) is not None}},
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
    req_fields = _request_fields(request, group_by, obj)
    tags = tuple(str(t) for t in obj.get("tags") or ()) if isinstance(obj.get("tags"), list) else ()
    if tags:
        req_fields["task"], req_fields["task_source"] = task_from(tags, req_fields["metadata"], obj, group_by)
    return Request(id=str(msg.get("id") or source), source=source, tags=tags,
                   time=to_time(obj.get("created_at") or obj.get("timestamp")), **req_fields, **fields)
