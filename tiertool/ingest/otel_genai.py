"""OpenTelemetry GenAI spans in OTLP JSON (`resourceSpans[].scopeSpans[].spans[]`), one document or one
export request per line. Reads the GenAI semantic conventions: `gen_ai.request.model`, `gen_ai.response.model`,
`gen_ai.usage.input_tokens`, `gen_ai.input.messages` / `gen_ai.output.messages` / `gen_ai.system_instructions`
(and the older indexed `gen_ai.prompt.N.*` / `gen_ai.completion.N.*` attributes and message events).
Without content capture a span has no prompt: it counts for volume but is not replayable."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..records import Request
from .common import BadRecord, NotARequest, maybe_json, property_tags, task_from, to_float, to_int

NAME = "otel-genai"
PARAMS = {"temperature": "temperature", "top_p": "top_p", "max_tokens": "max_tokens", "seed": "seed",
          "stop_sequences": "stop", "frequency_penalty": "frequency_penalty",
          "presence_penalty": "presence_penalty"}
INDEXED = re.compile(r"gen_ai\.(prompt|completion)\.(\d+)\.(role|content|finish_reason)$")
# The semantic conventions' names first, then those older instrumentations (OpenLLMetry, OpenLIT) write.
CACHE_READ = ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
              "gen_ai.usage.cached_input_tokens")
CACHE_WRITE = ("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens")
NAME_KEYS = ("traceloop.workflow.name", "langfuse.trace.name", "gen_ai.agent.name")


def sniff(obj: dict[str, Any]) -> bool:
    return "resourceSpans" in obj or ("traceId" in obj and "spanId" in obj and "attributes" in obj)


def any_value(v: Any) -> Any:
    """An OTLP AnyValue ({"stringValue": ...}, {"intValue": "3"}, arrays, kvlists) as a plain value."""
    if not isinstance(v, dict):
        return v
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "arrayValue" in v:
        return [any_value(x) for x in (v["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in v:
        return attributes((v["kvlistValue"] or {}).get("values", []))
    return None


def attributes(items: Any) -> dict[str, Any]:
    if not isinstance(items, list):
        raise BadRecord("'attributes' must be a list of {key, value}")
    return {a["key"]: any_value(a.get("value")) for a in items if isinstance(a, dict) and "key" in a}


def _items(obj: Any, key: str, where: str) -> list:
    value = obj.get(key) if isinstance(obj, dict) else None
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRecord(f"OTLP '{where}.{key}' must be a list, got {type(value).__name__}")
    return value


def expand(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Each span of an export request, with its resource's attributes under `_resource`. Raises BadRecord
    when the export's nesting is not OTLP's."""
    for rs in _items(doc, "resourceSpans", "export"):
        if not isinstance(rs, dict):
            raise BadRecord("OTLP 'resourceSpans' items must be objects")
        res = rs.get("resource") or {}
        resource = attributes(res.get("attributes", []) if isinstance(res, dict) else [])
        for ss in _items(rs, "scopeSpans", "resourceSpans") or _items(rs, "instrumentationLibrarySpans", "rs"):
            for span in _items(ss, "spans", "scopeSpans"):
                yield {**span, "_resource": resource} if isinstance(span, dict) else span


def _parts_text(parts: Any) -> str:
    if isinstance(parts, str):
        return parts
    if not isinstance(parts, list):
        return ""
    return "".join(str(p.get("content", p.get("text", ""))) for p in parts
                   if isinstance(p, dict) and p.get("type", "text") == "text")


def _messages(attrs: dict[str, Any], events: list[dict[str, Any]]) -> tuple[list[dict], str | None, str | None]:
    """(messages, output text, finish reason) from whichever content convention the span used."""
    msgs: list[dict] = []
    system = maybe_json(attrs.get("gen_ai.system_instructions"))
    if system:
        msgs.append({"role": "system", "content": _parts_text(system)})
    inputs = maybe_json(attrs.get("gen_ai.input.messages"))
    if isinstance(inputs, list):
        msgs += [{"role": m.get("role", "user"), "content": _parts_text(m.get("parts", m.get("content")))}
                 for m in inputs if isinstance(m, dict)]
    outputs = maybe_json(attrs.get("gen_ai.output.messages"))
    text = finish = None
    if isinstance(outputs, list) and outputs and isinstance(outputs[0], dict):
        text, finish = _parts_text(outputs[0].get("parts", outputs[0].get("content"))), outputs[0].get("finish_reason")
    indexed: dict[tuple[str, int], dict] = {}
    for key, value in attrs.items():
        m = INDEXED.match(key)
        if m:
            indexed.setdefault((m[1], int(m[2])), {})[m[3]] = value
    for (kind, _), v in sorted(indexed.items()):
        if kind == "prompt":
            msgs.append({"role": v.get("role", "user"), "content": v.get("content", "")})
        elif text is None:
            text, finish = v.get("content"), v.get("finish_reason")
    for ev in events:
        name, ev_attrs = ev.get("name", ""), attributes(ev.get("attributes", []))
        body = maybe_json(ev_attrs.get("content") or ev_attrs.get("gen_ai.event.content") or ev.get("body"))
        role = name.removeprefix("gen_ai.").removesuffix(".message")
        if role in ("system", "user", "assistant", "tool") and body:
            msgs.append({"role": role, "content": body.get("content", "") if isinstance(body, dict) else str(body)})
        elif name == "gen_ai.choice" and text is None and body:
            msg = body.get("message", body) if isinstance(body, dict) else {"content": body}
            text = str(msg.get("content", "")) if isinstance(msg, dict) else str(msg)
    return msgs, text, finish


def _first(attrs: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((attrs[k] for k in keys if k in attrs), None)


def parse(span: dict[str, Any], source: str, group_by: str) -> Request:
    if not isinstance(span, dict):
        raise BadRecord("span must be an object")
    attrs = attributes(span.get("attributes", []))
    if not any(k.startswith("gen_ai.") for k in attrs):
        raise NotARequest(f"span {span.get('name')!r} has no gen_ai.* attributes (not an LLM call)")
    model = attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model")
    if not isinstance(model, str) or not model:
        raise BadRecord("span has neither gen_ai.response.model nor gen_ai.request.model")
    resource = span.get("_resource") or {}
    msgs, text, finish = _messages(attrs, span.get("events") or [])
    finishes = attrs.get("gen_ai.response.finish_reasons")
    if finish is None and isinstance(finishes, list) and finishes:
        finish = str(finishes[0])
    props = {k.rsplit(".", 1)[-1]: v for k, v in {**resource, **attrs}.items()
             if k.rsplit(".", 1)[-1].lower() in ("task", "taskname", "task_name", "feature")}
    tags = property_tags(props)
    name = next((attrs.get(k) or resource.get(k) for k in NAME_KEYS if attrs.get(k) or resource.get(k)), None)
    task, how = task_from(tags, attrs, {"attributes": attrs, "resource": resource, **span}, group_by, name=name)
    start = to_float(span.get("startTimeUnixNano"), "startTimeUnixNano")
    end = to_float(span.get("endTimeUnixNano"), "endTimeUnixNano")
    usage_in = attrs.get("gen_ai.usage.input_tokens", attrs.get("gen_ai.usage.prompt_tokens"))
    usage_out = attrs.get("gen_ai.usage.output_tokens", attrs.get("gen_ai.usage.completion_tokens"))
    status = (span.get("status") or {}).get("code")
    return Request(
        id=str(attrs.get("gen_ai.response.id") or span.get("spanId") or source), source=source, model=model,
        requested_model=attrs.get("gen_ai.request.model"), messages=tuple(msgs),
        params={p: attrs[f"gen_ai.request.{k}"] for k, p in PARAMS.items() if f"gen_ai.request.{k}" in attrs},
        output=text, finish_reason=finish, task=task, task_source=how,
        input_tokens=to_int(usage_in, "gen_ai.usage.input_tokens"),
        output_tokens=to_int(usage_out, "gen_ai.usage.output_tokens"),
        cached_tokens=to_int(_first(attrs, CACHE_READ), CACHE_READ[0]),
        cache_write_tokens=to_int(_first(attrs, CACHE_WRITE), CACHE_WRITE[0]),
        time=start / 1e9 if start else None, latency_s=(end - start) / 1e9 if start and end else None,
        tags=tags, status="error" if status in (2, "STATUS_CODE_ERROR") else "success",
        provider=attrs.get("gen_ai.provider.name") or attrs.get("gen_ai.system"), trace_id=span.get("traceId"),
    )
