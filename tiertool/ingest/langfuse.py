"""Langfuse exports of observations: the blob-storage export (snake_case: `type: GENERATION`, `input`/`output`
as JSON strings, `provided_model_name`, `usage_details`, `cost_details`, `tags`, `trace_name`) and the UI/API
export (camelCase: `providedModelName`, `usageDetails`, `costDetails`, `traceId`, `startTime`, ...).
Observations that are not generations (spans, events) are not LLM requests: skipped and counted."""

from __future__ import annotations

import json
from typing import Any

from ..records import Request
from .common import (
    BadRecord,
    NotARequest,
    as_dict,
    as_tags,
    check_messages,
    content_text,
    maybe_json,
    params_of,
    response_text,
    task_from,
    to_float,
    to_int,
    to_time,
)

BUCKET, API = "langfuse-export", "langfuse-api"
SNAKE = {"model": "provided_model_name", "usage": "usage_details", "cost": "cost_details", "trace": "trace_id",
         "start": "start_time", "end": "end_time", "params": "model_parameters", "trace_name": "trace_name",
         "total_cost": "total_cost", "status_message": "status_message"}
CAMEL = {"model": "providedModelName", "usage": "usageDetails", "cost": "costDetails", "trace": "traceId",
         "start": "startTime", "end": "endTime", "params": "modelParameters", "trace_name": "traceName",
         "total_cost": "calculatedTotalCost", "status_message": "statusMessage"}


def sniff_bucket(obj: dict[str, Any]) -> bool:
    return "type" in obj and ("provided_model_name" in obj or ("trace_id" in obj and "start_time" in obj))


def sniff_api(obj: dict[str, Any]) -> bool:
    return "type" in obj and ("providedModelName" in obj or ("traceId" in obj and "startTime" in obj))


def _messages(value: Any) -> tuple[dict[str, Any], ...]:
    value = maybe_json(value)
    if isinstance(value, dict):
        value = value.get("messages", [value] if "role" in value else None)
    if isinstance(value, str):
        return ({"role": "user", "content": value},) if value else ()
    return check_messages(value)


def _value(v: Any) -> Any:
    """Model parameters are exported as strings ("0.3", "5", "true"): restore their JSON values."""
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def _output(value: Any) -> str | None:
    value = maybe_json(value)
    if isinstance(value, dict) and "content" in value:
        return content_text(value["content"])
    return response_text(value)[0] if isinstance(value, (dict, str)) else None


def _parse(obj: dict[str, Any], source: str, group_by: str, k: dict[str, str]) -> Request:
    if obj.get("type") != "GENERATION":
        raise NotARequest(f"observation of type {obj.get('type')!r}, not a GENERATION")
    model = obj.get(k["model"]) or obj.get("model")
    if not isinstance(model, str) or not model:
        raise BadRecord(f"'{k['model']}' must be a non-empty string")
    usage = as_dict(obj.get(k["usage"]), k["usage"])
    costs = as_dict(obj.get(k["cost"]), k["cost"])
    metadata = as_dict(obj.get("metadata"), "metadata")
    tags = as_tags(obj.get("tags"), "tags")
    task, how = task_from(tags, metadata, obj, group_by, name=obj.get(k["trace_name"]))
    cost = to_float(obj.get(k["total_cost"]) if obj.get(k["total_cost"]) is not None else costs.get("total"),
                    k["total_cost"])
    start, end = to_time(obj.get(k["start"])), to_time(obj.get(k["end"]))
    cached = usage.get("input_cached_tokens", usage.get("cache_read_input_tokens"))
    return Request(
        id=str(obj.get("id") or source), source=source, model=model, messages=_messages(obj.get("input")),
        params=params_of({p: _value(v) for p, v in as_dict(obj.get(k["params"]), k["params"]).items()}),
        output=_output(obj.get("output")), task=task, task_source=how,
        input_tokens=to_int(usage.get("input"), "usage.input"), output_tokens=to_int(usage.get("output"), "output"),
        cached_tokens=to_int(cached, "usage.input_cached_tokens"),
        reasoning_tokens=to_int(usage.get("output_reasoning_tokens"), "usage.output_reasoning_tokens"),
        cost=cost, cost_source="logged" if cost is not None else None, time=start,
        latency_s=(end - start) if start is not None and end is not None else None, tags=tags, metadata=metadata,
        status="error" if obj.get("level") == "ERROR" else "success", trace_id=obj.get(k["trace"]) or None,
    )


def parse_bucket(obj: dict[str, Any], source: str, group_by: str) -> Request:
    return _parse(obj, source, group_by, SNAKE)


def parse_api(obj: dict[str, Any], source: str, group_by: str) -> Request:
    return _parse(obj, source, group_by, CAMEL)
