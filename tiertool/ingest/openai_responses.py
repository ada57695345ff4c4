"""OpenAI Responses API objects (`Response.model_dump()`: `{"object": "response", "output": [...], "usage"}`).

A Response echoes the request's settings (`instructions`, `tools`, `tool_choice`, `text.format`,
`reasoning.effort`, `metadata`, `previous_response_id`) but not its `input`, so it is volume only; a batch
input line or a request log holds the input (openai_batch.py reads `/v1/responses` batches)."""

from __future__ import annotations

from typing import Any

from ..records import Request
from .canonical import from_responses
from .common import BadRecord, as_dict, as_tags, response_reply, task_from, to_int, to_time

NAME = "openai-response"
NO_INPUT = ("a Response object does not hold its input (log the request body, or fetch it with the "
            "input-items API: GET /v1/responses/{id}/input_items)")


def sniff(obj: dict[str, Any]) -> bool:
    return obj.get("object") == "response" and isinstance(obj.get("output"), list)


def response_usage(usage: Any) -> dict[str, Any]:
    """A Responses API `usage` in Request's token fields (input includes cached, output reasoning tokens)."""
    usage = as_dict(usage, "usage")
    details = as_dict(usage.get("input_tokens_details"), "usage.input_tokens_details")
    out_details = as_dict(usage.get("output_tokens_details"), "usage.output_tokens_details")
    return {"input_tokens": to_int(usage.get("input_tokens"), "usage.input_tokens"),
            "output_tokens": to_int(usage.get("output_tokens"), "usage.output_tokens"),
            "cached_tokens": to_int(details.get("cached_tokens"), "cached_tokens"),
            "cache_write_tokens": to_int(details.get("cache_write_tokens"), "cache_write_tokens"),
            "reasoning_tokens": to_int(out_details.get("reasoning_tokens"), "reasoning_tokens")}


def parse(obj: dict[str, Any], source: str, group_by: str) -> Request:
    model = obj.get("model")
    if not isinstance(model, str) or not model:
        raise BadRecord("'model' must be a non-empty string")
    settings = from_responses({k: v for k, v in obj.items() if k != "input"}, tools_given=False)
    reply = response_reply(obj)
    metadata = as_dict(obj.get("metadata"), "metadata")
    tags = as_tags(metadata.get("tags"), "metadata.tags")
    task, how = task_from(tags, metadata, obj, group_by)
    status = str(obj.get("status") or "completed")
    incomplete = as_dict(obj.get("incomplete_details"), "incomplete_details").get("reason")
    return Request(
        id=str(obj.get("id") or source), source=source, model=model, messages=settings.messages,
        params=settings.params, unreplayable=settings.unreplayable or NO_INPUT, output=reply.text,
        output_tool_calls=reply.tool_calls, finish_reason=incomplete or reply.finish_reason, task=task,
        task_source=how, time=to_time(obj.get("created_at")), tags=tags, metadata=metadata, provider="openai",
        status="success" if status == "completed" else status, **response_usage(obj.get("usage")),
    )
