"""LiteLLM StandardLoggingPayload: what its custom loggers and S3/GCS bucket logging write per call
(`id`, `model`, `messages`, `response`, `response_cost`, `hidden_params`, `request_tags`, `metadata`, ...)."""

from __future__ import annotations

from typing import Any

from ..records import Request
from .common import (
    NotARequest,
    as_dict,
    as_tags,
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

NAME = "litellm-payload"
CHAT_CALLS = ("completion", "acompletion", "text_completion", "atext_completion", "anthropic_messages",
              "aanthropic_messages", "responses", "aresponses", "")


def sniff(obj: dict[str, Any]) -> bool:
    return "response_cost" in obj and ("hidden_params" in obj or "model_map_information" in obj)


def parse(obj: dict[str, Any], source: str, group_by: str) -> Request:
    call_type = str(obj.get("call_type") or "")
    if call_type not in CHAT_CALLS:
        raise NotARequest(f"call_type {call_type!r} is not a chat/text completion")
    model = need_str(obj, "model")
    hidden = as_dict(obj.get("hidden_params"), "hidden_params")
    metadata = as_dict(obj.get("metadata"), "metadata")
    requester = as_dict(metadata.get("requester_metadata"), "metadata.requester_metadata")
    tags = as_tags(obj.get("request_tags"), "request_tags")
    response = maybe_json(obj.get("response"))
    text, finish = response_text(response)
    usage = as_dict(response.get("usage"), "response.usage") if isinstance(response, dict) else {}
    resolved = response.get("model") if isinstance(response, dict) else None
    task, how = task_from(tags, {**metadata, **requester}, obj, group_by)
    start, end = to_time(obj.get("startTime")), to_time(obj.get("endTime"))
    cost = to_float(obj.get("response_cost"), "response_cost")
    status = str(obj.get("status") or "success")
    return Request(
        id=str(obj.get("id") or source), source=source, model=resolved or hidden.get("litellm_model_name") or model,
        requested_model=obj.get("model_group") or model, messages=check_messages(obj.get("messages")),
        params=params_of(as_dict(obj.get("model_parameters"), "model_parameters")), output=text,
        finish_reason=finish, task=task, task_source=how,
        input_tokens=to_int(obj.get("prompt_tokens"), "prompt_tokens"),
        output_tokens=to_int(obj.get("completion_tokens"), "completion_tokens"),
        cached_tokens=to_int((usage.get("prompt_tokens_details") or {}).get("cached_tokens"), "cached_tokens"),
        reasoning_tokens=to_int((usage.get("completion_tokens_details") or {}).get("reasoning_tokens"),
                                "reasoning_tokens"),
        cost=cost, cost_source="logged" if cost is not None else None, time=start,
        latency_s=(end - start) if start is not None and end is not None else None, tags=tags,
        metadata=metadata, status="success" if status == "success" else "error",
        provider=obj.get("custom_llm_provider") or None, trace_id=obj.get("trace_id") or None,
    )
