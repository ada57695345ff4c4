"""The OpenTelemetry GenAI semantic conventions, every version producers write, read from a plain span (otlp.py):

- current (openai-v2 >= 2.4, OpenLLMetry >= 0.55, OpenInference's gen_ai mode): `gen_ai.input.messages` /
  `gen_ai.output.messages` with typed parts, as JSON text on spans or structured in the
  `gen_ai.client.inference.operation.details` log record; `gen_ai.tool.definitions`;
- v1.30 events (openai-v2 <= 2.3, OpenLLMetry's event mode): one log record per message
  (`gen_ai.user.message`, ..., `gen_ai.choice`) whose body is the OpenAI message;
- indexed attributes (OpenLLMetry <= 0.54): `gen_ai.prompt.N.*`, `gen_ai.completion.N.*`, `llm.request.functions.N.*`.

Messages become OpenAI chat messages with their tool calls, tool results and image parts. What a producer did
not record cannot be replayed: a message logged without its parts, tools used but not defined, a response
format kept without its schema make the request not replayable, with that reason."""

from __future__ import annotations

import json
from typing import Any

from ..records import Message, Request
from . import bodies
from .bodies import tool_call, tool_calls
from .common import BadRecord, NotARequest, content_text, maybe_json, to_int
from .otlp import SPAN, json_attr, span_fields, unflatten

NAME = "otel-genai"
PARAMS = {"temperature": "temperature", "top_p": "top_p", "max_tokens": "max_tokens", "seed": "seed",
          "stop_sequences": "stop", "frequency_penalty": "frequency_penalty", "presence_penalty": "presence_penalty",
          "reasoning_effort": "reasoning_effort"}
INPUT = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
OUTPUT = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
CACHE_READ = ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
              "gen_ai.usage.cached_input_tokens")
CACHE_WRITE = ("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens")
REASONING = ("gen_ai.usage.reasoning_tokens", "gen_ai.usage.reasoning.output_tokens", "llm.usage.reasoning_tokens")
ROLES = {"gen_ai.system.message": "system", "gen_ai.user.message": "user", "gen_ai.assistant.message": "assistant",
         "gen_ai.tool.message": "tool"}
DETAILS = "gen_ai.client.inference.operation.details"
NOT_CHAT = ("embeddings", "create_agent", "invoke_agent", "execute_tool")


def sniff(obj: dict[str, Any]) -> bool:
    return obj.get(SPAN) is True


def _first(attrs: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((attrs[k] for k in keys if attrs.get(k) not in (None, "")), None)


class _Lost(Exception):
    """The log did not keep part of the request: the request is read, but not replayable."""


def _part(part: Any) -> dict[str, Any] | None:
    """A typed input part as an OpenAI content part (None: not sent to the model, e.g. reasoning)."""
    if not isinstance(part, dict):
        raise BadRecord("a message part must be an object")
    kind, modality = part.get("type", "text"), part.get("modality")
    if kind == "text":
        return {"type": "text", "text": str(part.get("content", part.get("text", "")))}
    if kind == "reasoning":
        return None
    if kind in ("blob", "uri") and modality == "image":
        url = part.get("uri") if kind == "uri" else f"data:{part.get('mime_type')};base64,{part.get('content')}"
        return {"type": "image_url", "image_url": {"url": url}}
    if kind == "blob" and modality == "audio":
        return {"type": "input_audio", "input_audio": {"data": part.get("content"),
                                                       "format": str(part.get("mime_type", "")).rsplit("/", 1)[-1]}}
    raise _Lost(f"a message part of type {kind!r} ({modality or 'no modality'}) is not one tiertool can replay")


def _content(parts: list[dict[str, Any]]) -> Any:
    return parts[0]["text"] if len(parts) == 1 and parts[0]["type"] == "text" else parts


def from_parts(message: Any) -> list[Message]:
    """One semconv message ({role, parts}) as OpenAI messages (tool results become one message each)."""
    if not isinstance(message, dict):
        raise BadRecord("gen_ai messages must be objects")
    role, parts = message.get("role", "user"), message.get("parts")
    if parts is None and "content" in message:
        return [{"role": role, "content": message["content"]}]
    if not isinstance(parts, list):
        raise BadRecord("a gen_ai message's 'parts' must be a list")
    if not parts:
        raise _Lost(f"a {role} message was logged with no parts (the producer dropped its content)")
    calls = [tool_call(p) for p in parts if isinstance(p, dict) and p.get("type") == "tool_call"]
    results = [p for p in parts if isinstance(p, dict) and p.get("type") == "tool_call_response"]
    if results:
        return [{"role": "tool", "tool_call_id": str(p.get("id") or ""),
                 "content": p["response"] if isinstance(p.get("response"), str) else json.dumps(p.get("response"))}
                for p in results]
    content = [c for c in (_part(p) for p in parts if p.get("type") != "tool_call") if c is not None]
    msg: Message = {"role": role, "content": _content(content) if content else None}
    if calls:
        msg["tool_calls"] = calls
    return [msg]


def _indexed_message(m: Any, n: int) -> Message:
    """An OpenLLMetry <= 0.54 `gen_ai.prompt.N.*` message."""
    if not isinstance(m, dict):
        raise BadRecord(f"gen_ai.prompt.{n} must be an object")
    msg: Message = {"role": m.get("role", "user"), "content": maybe_json(m.get("content"))}
    if m.get("tool_calls"):
        msg["tool_calls"] = list(tool_calls(m["tool_calls"]))
    if m.get("tool_call_id"):
        msg["tool_call_id"] = str(m["tool_call_id"])
    if msg["content"] is None and "tool_calls" not in msg:
        raise _Lost(f"prompt message {n} ({msg['role']}) was logged without its content")
    return msg


def _event_message(role: str, body: Any) -> Message:
    """A v1.30 message event's body ({content, tool_calls, id}) as an OpenAI message."""
    body = body if isinstance(body, dict) else {"content": body}
    content = body.get("content")
    msg: Message = {"role": role, "content": None if content in ({}, None) else content}
    if body.get("tool_calls"):
        msg["tool_calls"] = list(tool_calls(body["tool_calls"]))
    if role == "tool" and body.get("id"):
        msg["tool_call_id"] = str(body["id"])
    return msg


def _events(span: dict[str, Any]) -> tuple[list[Message], dict[str, Any] | None, dict[str, Any]]:
    """(messages, choice body, operation-details attributes) from the span's events and joined log records."""
    msgs: list[Message] = []
    choice: dict[str, Any] | None = None
    details: dict[str, Any] = {}
    for ev in [*(span.get("events") or []), *(span.get("_logs") or [])]:
        name, attrs = ev.get("name") or "", ev.get("attributes") or {}
        body = ev.get("body")
        if body in (None, {}) and name != DETAILS:
            body = maybe_json(attrs.get("content") or attrs.get("gen_ai.event.content"))
            body = body if isinstance(body, dict) else ({"content": body} if body is not None else None)
        if name == DETAILS:
            details.update(attrs)
        elif name in ROLES and body is not None:
            msgs.append(_event_message(ROLES[name], body))
        elif name == "gen_ai.choice" and choice is None and body is not None:
            choice = body if isinstance(body, dict) else {"message": {"content": body}}
    return msgs, choice, details


def _messages(attrs: dict[str, Any], events: list[Message]) -> list[Message]:
    msgs: list[Message] = []
    system = json_attr(attrs, "gen_ai.system_instructions")
    if system:
        text = system if isinstance(system, str) else content_text(
            [{"type": "text", "text": p.get("content", "")} for p in system if isinstance(p, dict)])
        msgs.append({"role": "system", "content": text})
    inputs = json_attr(attrs, "gen_ai.input.messages")
    if isinstance(inputs, list):
        return msgs + [out for m in inputs for out in from_parts(m)]
    indexed = unflatten(attrs, "gen_ai.prompt")
    if indexed:
        return msgs + [_indexed_message(m, n) for n, m in enumerate(indexed)]
    return msgs + events


def _answer(attrs: dict[str, Any], choice: dict[str, Any] | None) -> tuple[str | None, tuple[Message, ...], Any]:
    """(text, tool calls, finish reason) of the answer."""
    outputs = json_attr(attrs, "gen_ai.output.messages")
    if isinstance(outputs, list) and outputs and isinstance(outputs[0], dict):
        msg = from_parts(outputs[0])[0]
        text = content_text(msg.get("content")) or None
        return text, tuple(msg.get("tool_calls", ())), outputs[0].get("finish_reason")
    completions = unflatten(attrs, "gen_ai.completion")
    if completions and isinstance(completions[0], dict):
        c = completions[0]
        content = maybe_json(c.get("content"))  # a list of parts as JSON text; an answer that is JSON stays text
        text = content_text(content) if isinstance(content, list) else c.get("content")
        return (str(text) if text else None), tool_calls(c.get("tool_calls")), c.get("finish_reason")
    if choice is not None:
        msg = choice["message"] if isinstance(choice.get("message"), dict) else choice
        calls = tool_calls(msg.get("tool_calls") or choice.get("tool_calls"))
        content = msg.get("content")
        return (content_text(content) or None) if content != {} else None, calls, choice.get("finish_reason")
    return None, (), None


def tools(attrs: dict[str, Any]) -> list[Message] | None:
    """The tools offered, as OpenAI tool objects, from `gen_ai.tool.definitions` or `llm.request.functions.N`."""
    defs = json_attr(attrs, "gen_ai.tool.definitions")
    if not isinstance(defs, list):
        defs = [{**f, "parameters": maybe_json(f.get("parameters"))} for f in unflatten(attrs, "llm.request.functions")
                if isinstance(f, dict)]
    out = [d if isinstance(d.get("function"), dict) else
           {"type": "function", "function": {k: d[k] for k in ("name", "description", "parameters") if k in d}}
           for d in defs if isinstance(d, dict)]
    return out or None


def params(attrs: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """(request parameters, why the request cannot be replayed) from `gen_ai.request.*`."""
    out = {p: attrs[f"gen_ai.request.{k}"] for k, p in PARAMS.items() if attrs.get(f"gen_ai.request.{k}") not in
           (None, "", [])}
    effort = attrs.get("llm.request.reasoning_effort")
    if effort not in (None, "", []):
        out["reasoning_effort"] = effort
    offered = tools(attrs)
    if offered:
        out["tools"] = offered
    fmt = attrs.get("gen_ai.openai.request.response_format")
    if attrs.get("gen_ai.request.structured_output_schema"):
        return out, "the log keeps the response_format's JSON schema but not its name and strict flag"
    if fmt == "json_object":
        out["response_format"] = {"type": "json_object"}
    elif fmt not in (None, "", "text"):
        return out, f"the response_format was logged only as {fmt!r}, without its schema"
    if attrs.get("gen_ai.output.type") not in (None, "", "text"):
        return out, f"the response format was logged only as gen_ai.output.type={attrs['gen_ai.output.type']!r}"
    return out, None


def parse(span: dict[str, Any], source: str, group_by: str) -> Request:
    msgs, choice, details = _events(span)
    attrs = {**details, **span["attributes"]}
    if not any(k.startswith("gen_ai.") for k in attrs):
        raise NotARequest(f"span {span.get('name')!r} has no gen_ai.* attributes (not an LLM call)")
    if attrs.get("gen_ai.operation.name") in NOT_CHAT:
        raise NotARequest(f"gen_ai.operation.name {attrs['gen_ai.operation.name']!r} is not a model call")
    model = attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model")
    if not isinstance(model, str) or not model:
        raise BadRecord("span has neither gen_ai.response.model nor gen_ai.request.model")
    request, lost = params(attrs)
    try:
        messages = tuple(_messages(attrs, msgs))
    except _Lost as e:
        messages, lost = (), str(e)
    try:
        text, calls, finish = _answer(attrs, choice)
    except _Lost:
        text, calls, finish = None, (), None
    if not messages and not lost:
        lost = "the span has no prompt (the instrumentation did not capture message content)"
    finishes = attrs.get("gen_ai.response.finish_reasons")
    if finish is None and isinstance(finishes, list) and finishes:
        finish = str(finishes[0])
    return Request(
        id=str(attrs.get("gen_ai.response.id") or span.get("span_id") or source), source=source, model=model,
        requested_model=attrs.get("gen_ai.request.model"), messages=messages, params=request, output=text,
        output_tool_calls=calls, finish_reason=finish,
        unreplayable=lost or bodies.lost(messages, request, calls),
        input_tokens=to_int(_first(attrs, INPUT), INPUT[0]), output_tokens=to_int(_first(attrs, OUTPUT), OUTPUT[0]),
        cached_tokens=to_int(_first(attrs, CACHE_READ), CACHE_READ[0]),
        cache_write_tokens=to_int(_first(attrs, CACHE_WRITE), CACHE_WRITE[0]),
        reasoning_tokens=to_int(_first(attrs, REASONING), REASONING[0]),
        provider=attrs.get("gen_ai.provider.name") or attrs.get("gen_ai.system"),
        **span_fields(span, group_by),
    )
