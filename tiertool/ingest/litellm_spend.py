"""LiteLLM proxy spend logs: rows of the LiteLLM_SpendLogs table, exported as JSON lines."""

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
    to_float,
    to_int,
    to_time,
)

NAME = "litellm-spend"


def sniff(obj: dict[str, Any]) -> bool:
    return "request_id" in obj and "spend" in obj and ("startTime" in obj or "call_type" in obj)


def parse(obj: dict[str, Any], source: str, group_by: str) -> Request:
    model = need_str(obj, "model")
    tags = maybe_json(obj.get("request_tags")) or []
    if not isinstance(tags, list):
        raise BadRecord("'request_tags' must be a list of strings")
    tags = tuple(str(t) for t in tags)
    metadata = maybe_json(obj.get("metadata")) or {}
    if not isinstance(metadata, dict):
        raise BadRecord("'metadata' must be an object")
    messages = check_messages(obj.get("messages"))
    text, finish = response_text(obj.get("response"))
    proxy_req = maybe_json(obj.get("proxy_server_request")) or {}
    params = params_of(proxy_req) if isinstance(proxy_req, dict) else {}
    task, how = task_from(tags, metadata, obj, group_by)
    usage = maybe_json(metadata.get("usage_object")) or {}
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") if isinstance(usage, dict) else 0
    start, end = to_time(obj.get("startTime")), to_time(obj.get("endTime"))
    status = str(obj.get("status") or "success")
    return Request(
        id=str(obj["request_id"]),
        source=source,
        model=model,
        requested_model=obj.get("model_group") or None,
        messages=messages,
        params=params,
        output=text,
        finish_reason=finish,
        task=task,
        task_source=how,
        input_tokens=to_int(obj.get("prompt_tokens"), "prompt_tokens"),
        output_tokens=to_int(obj.get("completion_tokens"), "completion_tokens"),
        cached_tokens=to_int(cached, "cached_tokens"),
        cost=to_float(obj.get("spend"), "spend"),
        cost_source="logged" if obj.get("spend") not in (None, "") else None,
        provider=obj.get("custom_llm_provider") or None,
        time=start,
        latency_s=(end - start) if start is not None and end is not None else None,
        tags=tags,
        metadata=metadata,
        status=status,
    )
