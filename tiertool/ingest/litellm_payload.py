"""LiteLLM StandardLoggingPayload: what its custom loggers and S3/GCS bucket logging write per call
(`id`, `model`, `messages`, `response`, `response_cost`, `hidden_params`, `request_tags`, `metadata`, ...).

The model that answered is `model` (the deployment's litellm model; `hidden_params.litellm_model_name` is the
same, but null on streamed calls); `response.model` is the model group alias the client called, not a model.
The client's own metadata and tags are `metadata.requester_metadata`; request parameters `model_parameters`.
"""

from __future__ import annotations

from typing import Any

from ..records import Request
from .common import as_dict, as_tags, maybe_json, need_str, response_reply, task_from, to_float, to_int, to_time
from .litellm_shared import client_metadata, request_chat, split_tags

NAME = "litellm-payload"


def sniff(obj: dict[str, Any]) -> bool:
    return "response_cost" in obj and ("hidden_params" in obj or "model_map_information" in obj)


def parse(obj: dict[str, Any], source: str, group_by: str) -> Request:
    model = need_str(obj, "model")
    metadata = as_dict(obj.get("metadata"), "metadata")
    requester = client_metadata(as_dict(metadata.get("requester_metadata"), "metadata.requester_metadata"))
    client = as_tags(requester["tags"], "requester_metadata.tags") if "tags" in requester else None
    tags, deployment_tags = split_tags(obj.get("request_tags"), client)
    body = {**as_dict(obj.get("model_parameters"), "model_parameters"), "messages": obj.get("messages")}
    chat = request_chat(str(obj.get("call_type") or ""), body)
    response = maybe_json(obj.get("response"))
    reply = response_reply(response)
    usage = as_dict(metadata.get("usage_object"), "metadata.usage_object") or (
        as_dict(response.get("usage"), "response.usage") if isinstance(response, dict) else {})
    prompt_details = as_dict(usage.get("prompt_tokens_details"), "usage.prompt_tokens_details")
    output_details = as_dict(usage.get("completion_tokens_details"), "usage.completion_tokens_details")
    task, how = task_from(tags, requester, obj, group_by)
    start, end = to_time(obj.get("startTime")), to_time(obj.get("endTime"))
    cost = to_float(obj.get("response_cost"), "response_cost")
    status = str(obj.get("status") or "success")
    return Request(
        id=str(obj.get("id") or source), source=source, model=model,
        requested_model=obj.get("model_group") or model, messages=chat.messages, params=chat.params,
        unreplayable=chat.unreplayable, output=reply.text, output_tool_calls=reply.tool_calls,
        finish_reason=reply.finish_reason, task=task, task_source=how,
        input_tokens=to_int(obj.get("prompt_tokens"), "prompt_tokens"),
        output_tokens=to_int(obj.get("completion_tokens"), "completion_tokens"),
        cached_tokens=to_int(prompt_details.get("cached_tokens"), "cached_tokens"),
        cache_write_tokens=to_int(prompt_details.get("cache_creation_tokens")
                                  or prompt_details.get("cache_write_tokens"), "cache_creation_tokens"),
        reasoning_tokens=to_int(output_details.get("reasoning_tokens"), "reasoning_tokens"),
        cost=cost, cost_source="logged" if cost is not None else None, time=start,
        latency_s=(end - start) if start is not None and end is not None else None, tags=tags,
        metadata={**requester, **({"deployment_tags": deployment_tags} if deployment_tags else {})},
        status="success" if status == "success" else "error",
        provider=obj.get("custom_llm_provider") or None, trace_id=obj.get("trace_id") or None,
    )
