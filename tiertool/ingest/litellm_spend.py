"""LiteLLM proxy spend logs: rows of the `LiteLLM_SpendLogs` table, as JSON lines, a `/spend/logs` API page or
a Postgres `\\copy ... CSV HEADER` export (nested fields as objects or as JSON text, either column order).

Where LiteLLM 1.110 puts things: the prompt is in `proxy_server_request` (the client's whole request body,
stored with `store_prompts_in_spend_logs`), not in `messages` (always `{}`); `model` is the deployment's litellm
model (the one that answered), `model_group` the alias the client called, and `response.model` that alias too;
the client's `metadata` (with `task`) is `proxy_server_request.metadata.requester_metadata`, its tags
`proxy_server_request.metadata.caller_tags`; cached and reasoning tokens are in `metadata.usage_object`.
"""

from __future__ import annotations

from typing import Any

from ..records import Request
from .common import BadRecord, as_dict, as_tags, dotted, need_str, response_reply, task_from, to_float, to_int, to_time
from .litellm_shared import client_metadata, request_chat, split_tags

NAME = "litellm-spend"
NO_PROMPT = ("no prompt in the row (LiteLLM logs the request body in proxy_server_request only with "
             "general_settings.store_prompts_in_spend_logs: true)")


def sniff(obj: dict[str, Any]) -> bool:
    return "request_id" in obj and "spend" in obj and ("startTime" in obj or "call_type" in obj)


def _client_tags(request: dict[str, Any], metadata: dict[str, Any]) -> tuple[str, ...] | None:
    """The tags the client sent (body `metadata.tags`, body `tags`, the `x-litellm-tags` header), or None when
    the request body was not logged."""
    if isinstance(metadata.get("caller_tags"), list):
        return tuple(str(t) for t in metadata["caller_tags"])
    if not request:
        return None
    requester = as_dict(metadata.get("requester_metadata"), "requester_metadata")
    header = as_dict(metadata.get("headers"), "metadata.headers").get("x-litellm-tags")
    return tuple(dict.fromkeys([*as_tags(requester.get("tags"), "requester_metadata.tags"),
                                *as_tags(request.get("tags"), "proxy_server_request.tags"),
                                *as_tags(header, "x-litellm-tags")]))


def parse(obj: dict[str, Any], source: str, group_by: str) -> Request:
    model = need_str(obj, "model")
    request = as_dict(obj.get("proxy_server_request"), "proxy_server_request")
    body_meta = as_dict(request.get("metadata"), "proxy_server_request.metadata")
    client_meta = client_metadata(body_meta.get("requester_metadata")) or (
        {"task": body_meta["task"]} if body_meta.get("task") else {})
    tags, deployment_tags = split_tags(obj.get("request_tags"), _client_tags(request, body_meta))
    chat = request_chat(str(obj.get("call_type") or ""), request, obj.get("messages"))
    reply = response_reply(obj.get("response"))
    row_meta = as_dict(obj.get("metadata"), "metadata")
    usage = as_dict(row_meta.get("usage_object"), "metadata.usage_object")
    prompt_details = as_dict(usage.get("prompt_tokens_details"), "usage_object.prompt_tokens_details")
    output_details = as_dict(usage.get("completion_tokens_details"), "usage_object.completion_tokens_details")
    # --group-by reaches the row first, then the client's request body (so `metadata.task` finds the client's).
    raw = obj if group_by in ("auto", "", None) or dotted(obj, group_by) is not None else request
    task, how = task_from(tags, client_meta, raw, group_by)
    start, end = to_time(obj.get("startTime")), to_time(obj.get("endTime"))
    error = as_dict(row_meta.get("error_information"), "metadata.error_information")
    called = obj.get("model_group") or request.get("model") or None
    if called is not None and not isinstance(called, str):
        raise BadRecord(f"the model called ('model_group', else the request's 'model') must be a string, got "
                        f"{type(called).__name__}")
    return Request(
        id=str(obj["request_id"]),
        source=source,
        model=model,
        requested_model=called,
        messages=chat.messages,
        params=chat.params,
        unreplayable=chat.unreplayable or (None if chat.messages else NO_PROMPT),
        output=reply.text,
        output_tool_calls=reply.tool_calls,
        finish_reason=reply.finish_reason,
        task=task,
        task_source=how,
        input_tokens=to_int(obj.get("prompt_tokens"), "prompt_tokens"),
        output_tokens=to_int(obj.get("completion_tokens"), "completion_tokens"),
        cached_tokens=to_int(prompt_details.get("cached_tokens"), "cached_tokens"),
        cache_write_tokens=to_int(prompt_details.get("cache_creation_tokens")
                                  or prompt_details.get("cache_write_tokens"), "cache_creation_tokens"),
        reasoning_tokens=to_int(output_details.get("reasoning_tokens"), "reasoning_tokens"),
        cost=to_float(obj.get("spend"), "spend"),
        cost_source="logged" if obj.get("spend") not in (None, "") else None,
        provider=obj.get("custom_llm_provider") or None,
        time=start,
        latency_s=(end - start) if start is not None and end is not None else None,
        tags=tags,
        metadata={**client_meta, **({"deployment_tags": deployment_tags} if deployment_tags else {}),
                  **({"error": error.get("error_class")} if error.get("error_class") else {})},
        status=str(obj.get("status") or "success"),
        trace_id=obj.get("session_id") or None,
    )
