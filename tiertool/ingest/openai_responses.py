"""OpenAI Responses API objects (`Response.model_dump()`: `{"object": "response", "output": [...], "usage"}`).

A Response echoes the request's settings (`instructions`, `tools`, `tool_choice`, `text.format`,
`reasoning.effort`, `metadata`, `previous_response_id`) but not its `input`, so it is volume only; a batch
input line or a request log holds the input (openai_batch.py reads `/v1/responses` batches)."""

from __future__ import annotations

from typing import Any

from ..records import Request
from .canonical import from_responses
from .common import (
    RESPONSE_ANSWERED,
    RESPONSES_USAGE,
    BadRecord,
    as_dict,
    as_tags,
    response_reply,
    task_from,
    to_time,
    usage_fields,
)

NAME = "openai-response"
NO_INPUT = ("a Response object does not hold its input (log the request body, or fetch it with the "
            "input-items API: GET /v1/responses/{id}/input_items)")


def sniff(obj: dict[str, Any]) -> bool:
    return obj.get("object") == "response" and isinstance(obj.get("output"), list)


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
        status="success" if status in RESPONSE_ANSWERED else status,
        **usage_fields(obj.get("usage"), RESPONSES_USAGE),
    )
