"""Helicone request exports (`npx @helicone/export`, the request query API): `request_id`,
`request_created_at`, `request_body`, `response_body`, `request_properties`, token counts, `cost`.
Exported without `--include-body`, a request has no prompt: it counts for volume but is not replayable."""

from __future__ import annotations

from typing import Any

from ..records import Request
from .anthropic import usage_tokens
from .common import (
    anthropic_messages,
    as_dict,
    as_tags,
    content_text,
    params_of,
    property_tags,
    response_text,
    task_from,
    to_float,
    to_int,
    to_time,
)

NAME = "helicone"


def sniff(obj: dict[str, Any]) -> bool:
    return "request_id" in obj and ("request_created_at" in obj or "request_body" in obj) and "spend" not in obj


def _output(body: dict[str, Any]) -> tuple[str | None, str | None]:
    if body.get("type") == "message":  # an Anthropic response
        return content_text(body.get("content")), body.get("stop_reason")
    return response_text(body)


def parse(obj: dict[str, Any], source: str, group_by: str) -> Request:
    req = as_dict(obj.get("request_body"), "request_body")
    resp = as_dict(obj.get("response_body"), "response_body")
    model = obj.get("model") or obj.get("response_model") or obj.get("request_model") or req.get("model")
    if not isinstance(model, str) or not model:
        model = "unknown"
    props = as_dict(obj.get("request_properties") or obj.get("properties"), "request_properties")
    tags = property_tags(props) + as_tags(req.get("tags"), "request_body.tags")
    task, how = task_from(tags, props, obj, group_by)
    text, finish = _output(resp)
    cost = to_float(obj.get("cost") if obj.get("cost") is not None else obj.get("costUSD"), "cost")
    status = to_int(obj.get("response_status"), "response_status") or 200
    read = to_int(obj.get("prompt_cache_read_tokens"), "prompt_cache_read_tokens")
    write = to_int(obj.get("prompt_cache_write_tokens"), "prompt_cache_write_tokens")
    tokens: dict[str, Any] = {"input_tokens": to_int(obj.get("prompt_tokens"), "prompt_tokens"),
              "output_tokens": to_int(obj.get("completion_tokens"), "completion_tokens"),
              "cached_tokens": read, "cache_write_tokens": write}
    if not obj.get("prompt_tokens") and resp.get("type") == "message":
        tokens = usage_tokens(resp.get("usage"))
    delay = to_float(obj.get("delay_ms"), "delay_ms")
    return Request(
        id=str(obj["request_id"]), source=source, model=str(resp.get("model") or model),
        requested_model=req.get("model") or obj.get("request_model") or None,
        messages=anthropic_messages(req.get("system"), req.get("messages")), params=params_of(req),
        output=text, finish_reason=finish, task=task, task_source=how, **tokens,
        cost=cost, cost_source="logged" if cost is not None else None, time=to_time(obj.get("request_created_at")),
        latency_s=delay / 1000 if delay is not None else None, tags=tags, metadata=props,
        status="success" if 200 <= status < 400 else "error", provider=(obj.get("provider") or "").lower() or None,
    )
