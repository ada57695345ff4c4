"""OpenInference spans (Arize Phoenix and its instrumentations), read from a plain span (otlp.py): an LLM span
(`openinference.span.kind: LLM`) with `llm.model_name` (the model that answered), `llm.invocation_parameters`
(JSON text: the requested model and parameters), `llm.input_messages.N.message.*`, `llm.output_messages.N.*`,
`llm.tools.N.tool.json_schema`, `llm.token_count.*`, `llm.cost.*`, `tag.tags`, `metadata`, `session.id`.

Where `input.value` is the provider's request body as JSON (the OpenAI and Anthropic instrumentations log the
request kwargs), it is the request replayed: it keeps what the flattened messages lose (an image's `detail`).
The gen_ai.* attributes the same span may carry (OPENINFERENCE_ENABLE_GENAI_SEMCONV) are not read again: they
repeat the call, with the answering model as `gen_ai.request.model` and `max_completion_tokens` as `max_tokens`."""

from __future__ import annotations

from typing import Any

from ..records import Message, Request
from .bodies import chat_bodies, lost, request_params, tool_call
from .common import BadRecord, as_dict, as_tags, maybe_json, to_float, to_int
from .otlp import SPAN, json_attr, span_fields, unflatten

NAME = "openinference"
TOKENS = {"input_tokens": "llm.token_count.prompt", "output_tokens": "llm.token_count.completion",
          "cached_tokens": "llm.token_count.prompt_details.cache_read",
          "cache_write_tokens": "llm.token_count.prompt_details.cache_write",
          "reasoning_tokens": "llm.token_count.completion_details.reasoning"}


def sniff(obj: dict[str, Any]) -> bool:
    return obj.get(SPAN) is True and "openinference.span.kind" in obj.get("attributes", {})


def _part(content: Any) -> dict[str, Any]:
    c = content.get("message_content", content) if isinstance(content, dict) else {}
    kind = c.get("type")
    if kind == "text":
        return {"type": "text", "text": str(c.get("text", ""))}
    if kind == "image":
        return {"type": "image_url", "image_url": {"url": ((c.get("image") or {}).get("image") or {}).get("url")}}
    raise BadRecord(f"OpenInference message content of type {kind!r} is not one tiertool can replay")


def message(item: Any) -> Message:
    """One `llm.input_messages.N` / `llm.output_messages.N` entry as an OpenAI message."""
    m = item.get("message", item) if isinstance(item, dict) else None
    if not isinstance(m, dict):
        raise BadRecord("OpenInference messages must be objects")
    content = [_part(c) for c in m["contents"]] if isinstance(m.get("contents"), list) else m.get("content")
    msg: Message = {"role": m.get("role", "user"), "content": content}
    calls = [tool_call(tc.get("tool_call", tc)) for tc in m.get("tool_calls") or [] if isinstance(tc, dict)]
    if calls:
        msg["tool_calls"] = calls
    if m.get("tool_call_id"):
        msg["tool_call_id"] = str(m["tool_call_id"])
    return msg


def _from_attributes(attrs: dict[str, Any]) -> dict[str, Any]:
    """The request and answer from the flattened attributes (instrumentations that log no request body)."""
    invocation = as_dict(json_attr(attrs, "llm.invocation_parameters"), "llm.invocation_parameters")
    params = request_params(invocation)
    tools = [maybe_json((t.get("tool") or {}).get("json_schema")) for t in unflatten(attrs, "llm.tools")
             if isinstance(t, dict)]
    if tools:
        params["tools"] = tools
    outputs = [message(m) for m in unflatten(attrs, "llm.output_messages")]
    answer = outputs[0] if outputs else {}
    text = answer.get("content")
    return {"messages": tuple(message(m) for m in unflatten(attrs, "llm.input_messages")), "params": params,
            "requested_model": invocation.get("model") if isinstance(invocation.get("model"), str) else None,
            "output": text if isinstance(text, str) and text else None,
            "output_tool_calls": tuple(answer.get("tool_calls", ())), "finish_reason": attrs.get("llm.finish_reason")}


def _body(attrs: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = maybe_json(attrs.get(f"{key}.value")) if attrs.get(f"{key}.mime_type") == "application/json" else None
    return value if isinstance(value, dict) else None


def parse(span: dict[str, Any], source: str, group_by: str) -> Request:
    attrs = span["attributes"]
    if str(attrs.get("openinference.span.kind")).upper() != "LLM":
        raise BadRecord(f"OpenInference span of kind {attrs.get('openinference.span.kind')!r}, not LLM")
    request = _body(attrs, "input")
    if request is not None and isinstance(request.get("messages"), list):
        fields = chat_bodies(request, _body(attrs, "output") or {})
    else:
        fields = _from_attributes(attrs)
        fields["unreplayable"] = lost(fields["messages"], fields["params"], fields["output_tool_calls"])
    fields.setdefault("finish_reason", attrs.get("llm.finish_reason"))
    for name, key in TOKENS.items():
        if attrs.get(key) is not None:
            fields[name] = to_int(attrs[key], key)
    answered, provider = fields.pop("model", None), fields.pop("provider", None)
    model = attrs.get("llm.model_name") or answered or fields.get("requested_model")
    if not isinstance(model, str) or not model:
        raise BadRecord("OpenInference LLM span has no llm.model_name and no requested model")
    cost = to_float(attrs.get("llm.cost.total"), "llm.cost.total")
    metadata = as_dict(json_attr(attrs, "metadata"), "metadata")
    return Request(
        id=str(span.get("span_id") or source), source=source, model=model, cost=cost,
        cost_source="logged" if cost is not None else None,
        provider=attrs.get("llm.provider") or attrs.get("llm.system") or provider, **fields,
        **span_fields(span, group_by, as_tags(attrs.get("tag.tags"), "tag.tags"), metadata),
    )
