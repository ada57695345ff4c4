"""OpenAI Batch API files: input lines `{custom_id, method, url, body}` (`/v1/chat/completions` or
`/v1/responses`) and output or error-file lines `{id, custom_id, response: {status_code, request_id, body},
error}`. Given together, the reader joins them on `custom_id`; an output file alone still counts for volume
(its prompts are not in it). A request the API refused is in the errors file with its `status_code`, and
`error` stays null (it is for failures without an HTTP response)."""

from __future__ import annotations

from typing import Any

from ..records import Request
from .canonical import Chat, from_responses
from .common import (
    CHAT_USAGE,
    RESPONSE_ANSWERED,
    RESPONSES_USAGE,
    BadRecord,
    NotARequest,
    as_dict,
    as_tags,
    check_messages,
    params_of,
    response_reply,
    task_from,
    to_time,
    usage_fields,
)

INPUT, OUTPUT = "openai-batch-input", "openai-batch-output"
CHAT_URLS, RESPONSES_URLS = ("/v1/chat/completions", "/chat/completions"), ("/v1/responses", "/responses")


def sniff_input(obj: dict[str, Any]) -> bool:
    return "custom_id" in obj and "body" in obj and ("url" in obj or "method" in obj)


def sniff_output(obj: dict[str, Any]) -> bool:
    return "custom_id" in obj and ("response" in obj or "error" in obj) and "body" not in obj and "result" not in obj


def _chat(url: str, body: dict[str, Any]) -> Chat:
    if url in RESPONSES_URLS:
        return from_responses(body)
    if url not in CHAT_URLS and url != "?":
        raise NotARequest(f"batch request to {url} (only chat completions and responses are LLM requests)")
    return Chat(check_messages(body.get("messages")), params_of(body))


def parse_input(obj: dict[str, Any], source: str, group_by: str) -> Request:
    body = as_dict(obj.get("body"), "body")
    url = str(obj.get("url") or "?")
    chat = _chat(url, body)
    if not chat.messages:
        raise BadRecord(f"batch request to {url} has no messages ('body.messages' or 'body.input')")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRecord("'body.model' must be a non-empty string")
    metadata = as_dict(body.get("metadata"), "body.metadata")
    tags = as_tags(metadata.get("tags"), "body.metadata.tags")
    task, how = task_from(tags, metadata, obj, group_by)
    return Request(id=str(obj["custom_id"]), source=source, model=model, requested_model=model,
                   messages=chat.messages, params=chat.params, unreplayable=chat.unreplayable, task=task,
                   task_source=how, tags=tags, metadata=metadata, is_batch=True, provider="openai",
                   expected=obj.get("expected") or obj.get("ideal"))


def parse_output(obj: dict[str, Any], source: str, group_by: str) -> Request:
    response = as_dict(obj.get("response"), "response")
    error = obj.get("error")
    body = as_dict(response.get("body"), "response.body")
    code = response.get("status_code")
    is_response = body.get("object") == "response"
    ok = not error and bool(body) and code in (None, 200) and body.get("status", "completed") in RESPONSE_ANSWERED
    reply = response_reply(body)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        if ok:
            raise BadRecord("'response.body.model' must be a non-empty string")
        model = "unknown"
    tokens = usage_fields(body.get("usage"), RESPONSES_USAGE if is_response else CHAT_USAGE)
    task, how = task_from((), {}, obj, group_by)
    return Request(
        id=str(obj["custom_id"]), source=source, model=model, output=reply.text,
        output_tool_calls=reply.tool_calls, task=task, task_source=how,
        finish_reason=as_dict(body.get("incomplete_details"), "incomplete_details").get("reason")
        or reply.finish_reason,
        time=to_time(body.get("created_at") if is_response else body.get("created")),
        status="success" if ok else "error", is_batch=True, provider="openai", **tokens,
    )
