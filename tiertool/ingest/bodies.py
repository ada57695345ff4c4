"""Provider bodies as producers log them verbatim: an OpenAI chat request and chat completion, an Anthropic
Messages request and message. Helicone, W&B Weave, MLflow span inputs/outputs, OpenInference's `input.value`,
LangSmith and Braintrust runs all keep these; they are read here once, so every such format replays the same
request: the messages as sent (tool calls, tool results, image parts), the tools, tool_choice, response_format
and provider parameters, and the answer with its tool calls."""

from __future__ import annotations

import json
from typing import Any

from ..records import Message
from .anthropic import usage_tokens
from .canonical import anthropic_reply, from_anthropic
from .common import REQUEST_PARAMS, BadRecord, as_dict, check_messages, content_text, maybe_json, to_int

TOOL_PARAMS = ("tools", "functions")
URL_SCHEMES = ("data:", "http://", "https://")


def request_params(body: dict[str, Any], keys: tuple[str, ...] = REQUEST_PARAMS) -> dict[str, Any]:
    return {k: maybe_json(body[k]) for k in keys if body.get(k) is not None}


def tool_call(call: Any) -> Message:
    """A tool call in OpenAI's shape {id, type: function, function: {name, arguments: JSON text}}, from that
    shape or the flat {id, name, arguments|args} that tracers write."""
    if not isinstance(call, dict):
        raise BadRecord(f"a tool call must be an object, got {type(call).__name__}")
    fn = call["function"] if isinstance(call.get("function"), dict) else call
    args = fn.get("arguments", fn.get("args", fn.get("input")))
    if not isinstance(fn.get("name"), str):
        raise BadRecord("a tool call has no function name")
    text = args if isinstance(args, str) else json.dumps(args if args is not None else {}, ensure_ascii=False)
    return {"id": str(call.get("id") or ""), "type": "function", "function": {"name": fn["name"], "arguments": text}}


def tool_calls(calls: Any) -> tuple[Message, ...]:
    calls = maybe_json(calls)
    if calls in (None, "", [], {}):
        return ()
    if not isinstance(calls, list):
        raise BadRecord(f"tool calls must be a list, got {type(calls).__name__}")
    return tuple(tool_call(c) for c in calls)


def lost(messages: tuple[Message, ...], params: dict[str, Any], answer_calls: tuple[Message, ...]) -> str | None:
    """Why a logged request cannot be replayed as it was sent, or None: tools used (tool calls in the answer or
    the history) but not logged, or a content part that points at what the log does not hold (an MLflow
    attachment, a file id)."""
    if not any(params.get(k) for k in TOOL_PARAMS):
        if answer_calls:
            return "the answer is a tool call but the log keeps no tool definitions"
        if any(m.get("tool_calls") or m.get("role") == "tool" for m in messages):
            return "the history has tool calls but the log keeps no tool definitions"
    for m in messages:
        parts: list[Any] = m["content"] if isinstance(m.get("content"), list) else []
        for part in parts:
            url = ((part.get("image_url") or {}).get("url") if isinstance(part, dict) else None) or ""
            if isinstance(part, dict) and part.get("type") == "image_url" and not url.startswith(URL_SCHEMES):
                return f"an image part refers to {url.split('?')[0][:60]!r}, which the log does not hold"
            if isinstance(part, dict) and part.get("type") == "file" and not (part.get("file") or {}).get("file_data"):
                return "a file part refers to an uploaded file the log does not hold"
    return None


def usage(u: Any) -> dict[str, int]:
    """Token counts by class from OpenAI's `usage` or LangChain's `usage_metadata` (cached within input,
    reasoning within output)."""
    u = as_dict(u, "usage")
    pd = as_dict(u.get("prompt_tokens_details") or u.get("input_token_details"), "usage.prompt_tokens_details")
    cd = as_dict(u.get("completion_tokens_details") or u.get("output_token_details"), "usage.completion_tokens_details")
    return {"input_tokens": to_int(u.get("prompt_tokens", u.get("input_tokens")), "usage.prompt_tokens"),
            "output_tokens": to_int(u.get("completion_tokens", u.get("output_tokens")), "usage.completion_tokens"),
            "cached_tokens": to_int(pd.get("cached_tokens", pd.get("cache_read")), "usage.cached_tokens"),
            "cache_write_tokens": to_int(pd.get("cache_creation"), "usage.cache_creation"),
            "reasoning_tokens": to_int(cd.get("reasoning_tokens", cd.get("reasoning")), "usage.reasoning_tokens")}


def openai_request(body: dict[str, Any]) -> dict[str, Any]:
    """Request fields of an OpenAI chat request body: messages exactly as sent and the parameters kept."""
    return {"messages": check_messages(body.get("messages")), "params": request_params(body),
            "requested_model": body.get("model") if isinstance(body.get("model"), str) else None}


def openai_answer(resp: dict[str, Any]) -> dict[str, Any]:
    """Request fields of an OpenAI chat completion: the answering model, the answer, its tool calls, usage."""
    choices = resp.get("choices")
    out: dict[str, Any] = {"output": None, "output_tool_calls": (), "finish_reason": None}
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        msg = as_dict(choices[0].get("message"), "choices[0].message")
        out = {"output": content_text(msg.get("content")) or None,
               "output_tool_calls": tool_calls(msg.get("tool_calls")), "finish_reason": choices[0].get("finish_reason")}
    if isinstance(resp.get("model"), str):
        out["model"] = resp["model"]
    return {**out, **usage(resp.get("usage") or resp.get("usage_metadata"))}


def anthropic_request(body: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic Messages request body in chat form (canonical.from_anthropic: system, tools, tool turns)."""
    check_messages(body.get("messages"))
    chat = from_anthropic(body)
    return {"messages": chat.messages, "params": chat.params, "unreplayable": chat.unreplayable,
            "requested_model": body.get("model") if isinstance(body.get("model"), str) else None,
            "provider": "anthropic"}


def anthropic_answer(msg: dict[str, Any]) -> dict[str, Any]:
    reply = anthropic_reply(msg.get("content"), msg.get("stop_reason"))
    out = {"output": reply.text or None, "output_tool_calls": reply.tool_calls, "finish_reason": reply.finish_reason,
           **usage_tokens(msg.get("usage"))}
    return {**out, "model": msg["model"]} if isinstance(msg.get("model"), str) else out


def is_anthropic(request: dict[str, Any], response: dict[str, Any]) -> bool:
    return response.get("type") == "message" or "system" in request or (
        "max_tokens" in request and str(request.get("model", "")).startswith("claude"))


def chat_bodies(request: Any, response: Any) -> dict[str, Any]:
    """Request fields from a logged request body and response body, OpenAI or Anthropic shape."""
    req, resp = as_dict(request, "request body"), as_dict(response, "response body")
    if is_anthropic(req, resp):
        fields = {**anthropic_request(req), **(anthropic_answer(resp) if resp else {})}
    else:
        fields = {**openai_request(req), **(openai_answer(resp) if resp else {})}
    why = fields.get("unreplayable") or lost(fields["messages"], fields["params"], fields.get("output_tool_calls", ()))
    return {**fields, "unreplayable": why}
