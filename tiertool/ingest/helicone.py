"""Helicone requests (jawn request.ts@0003b75, export tool index.ts@c7feb31; tests/fixtures/hosted/helicone.source.md):
the request query API's rows (`{"data": [...]}` pages) and `npx @helicone/export` output as JSON lines, JSON
(indented, with a trailing comma) or CSV (object cells with every quote doubled twice, no answer column).

With `--include-body` the export holds the provider's request and response bodies (OpenAI or Anthropic),
read by bodies.py; the API returns a placeholder string for bodies kept in S3, so such a row counts for volume
only. The task is a request property (`Helicone-Property-Task`)."""

from __future__ import annotations

from typing import Any

from ..records import Request
from .bodies import chat_bodies
from .common import as_dict, maybe_json, property_tags, task_from, to_float, to_int, to_time

NAME = "helicone"
NO_BODY = "the row has no request body (the API keeps bodies in S3; export with --include-body)"


def sniff(obj: dict[str, Any]) -> bool:
    if "spend" in obj:
        return False
    return ("request_id" in obj and ("request_created_at" in obj or "request_body" in obj)) or (
        "response_id" in obj and "request_created_at" in obj and "request_body" in obj)  # the CSV export


def _body(value: Any) -> dict[str, Any]:
    """A body: an object, JSON text, or the CSV export's JSON with its quotes still doubled."""
    if isinstance(value, str) and value.startswith('{""'):
        value = value.replace('""', '"')
    body = as_dict(maybe_json(value) if isinstance(value, str) else value, "request_body")
    return {} if "helicone_message" in body else body


def parse(obj: dict[str, Any], source: str, group_by: str) -> Request:
    req, resp = _body(obj.get("request_body")), _body(obj.get("response_body"))
    fields = chat_bodies(req, resp if "error" not in resp else {})
    answered, provider = fields.pop("model", None), fields.pop("provider", None)
    model = answered or obj.get("request_model") or obj.get("model") or fields.get("requested_model") or "unknown"
    props = _body(obj.get("request_properties") or obj.get("properties"))
    tags = property_tags(props) + tuple(str(t) for t in req.get("tags") or () if isinstance(req.get("tags"), list))
    task, how = task_from(tags, props, obj, group_by)
    logged = obj.get("cost") if obj.get("cost") not in (None, "") else obj.get("cost_usd", obj.get("costUSD"))
    cost = to_float(logged, "cost")
    status = to_int(obj.get("response_status"), "response_status") or 200
    if "input_tokens" not in fields or not resp:  # no response body: the row's own counts
        read = to_int(obj.get("prompt_cache_read_tokens"), "prompt_cache_read_tokens")
        write = to_int(obj.get("prompt_cache_write_tokens"), "prompt_cache_write_tokens")
        prompt = to_int(obj.get("prompt_tokens"), "prompt_tokens")
        anthropic = str(obj.get("provider", "")).upper() == "ANTHROPIC"  # Anthropic's input excludes the cache
        fields.update(input_tokens=prompt + (read + write if anthropic else 0), cached_tokens=read,
                      cache_write_tokens=write, output_tokens=to_int(obj.get("completion_tokens"), "completion_tokens"))
    delay = to_float(obj.get("delay_ms"), "delay_ms")
    if not fields["messages"] and not req:
        fields["unreplayable"] = NO_BODY
    return Request(
        id=str(obj.get("request_id") or obj.get("response_id") or source), source=source, model=str(model),
        **fields, task=task, task_source=how, cost=cost, cost_source="logged" if cost is not None else None,
        time=to_time(obj.get("request_created_at")), latency_s=delay / 1000 if delay is not None else None,
        tags=tags, metadata=props, status="success" if 200 <= status < 400 else "error",
        provider=(str(obj.get("provider") or "")).lower() or provider,
    )

