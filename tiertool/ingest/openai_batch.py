"""OpenAI Batch API files: input lines `{custom_id, method, url, body}` and output lines
`{id, custom_id, response: {status_code, request_id, body}, error}`. Given together, the reader joins
them on `custom_id`; an output file alone still counts for volume (its prompts are not in it)."""

from __future__ import annotations

from typing import Any

from ..records import Request
from .common import BadRecord, as_dict, as_tags, check_messages, params_of, response_text, task_from, to_int, to_time

INPUT, OUTPUT = "openai-batch-input", "openai-batch-output"


def sniff_input(obj: dict[str, Any]) -> bool:
    return "custom_id" in obj and "body" in obj and ("url" in obj or "method" in obj)


def sniff_output(obj: dict[str, Any]) -> bool:
    return "custom_id" in obj and ("response" in obj or "error" in obj) and "body" not in obj and "result" not in obj


def parse_input(obj: dict[str, Any], source: str, group_by: str) -> Request:
    body = as_dict(obj.get("body"), "body")
    url = obj.get("url") or "?"
    messages = check_messages(body.get("messages"))
    if not messages:
        raise BadRecord(f"batch request to {url} has no 'body.messages' (only chat completions are read)")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRecord("'body.model' must be a non-empty string")
    metadata = as_dict(body.get("metadata"), "body.metadata")
    tags = as_tags(metadata.get("tags"), "body.metadata.tags")
    task, how = task_from(tags, metadata, obj, group_by)
    return Request(id=str(obj["custom_id"]), source=source, model=model, requested_model=model, messages=messages,
                   params=params_of(body), task=task, task_source=how, tags=tags, metadata=metadata,
                   is_batch=True, provider="openai", expected=obj.get("expected") or obj.get("ideal"))


def parse_output(obj: dict[str, Any], source: str, group_by: str) -> Request:
    response = as_dict(obj.get("response"), "response")
    error = obj.get("error")
    body = as_dict(response.get("body"), "response.body")
    code = response.get("status_code")
    ok = not error and body and code in (None, 200)
    usage = as_dict(body.get("usage"), "usage")
    text, finish = response_text(body)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        if ok:
            raise BadRecord("'response.body.model' must be a non-empty string")
        model = "unknown"
    task, how = task_from((), {}, obj, group_by)
    return Request(
        id=str(obj["custom_id"]), source=source, model=model, output=text, finish_reason=finish,
        task=task, task_source=how,
        input_tokens=to_int(usage.get("prompt_tokens"), "usage.prompt_tokens"),
        output_tokens=to_int(usage.get("completion_tokens"), "usage.completion_tokens"),
        cached_tokens=to_int((usage.get("prompt_tokens_details") or {}).get("cached_tokens"), "cached_tokens"),
        reasoning_tokens=to_int((usage.get("completion_tokens_details") or {}).get("reasoning_tokens"),
                                "reasoning_tokens"),
        time=to_time(body.get("created")), status="success" if ok else "error", is_batch=True, provider="openai",
    )
