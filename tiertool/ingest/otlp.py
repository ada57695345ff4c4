"""OpenTelemetry traces and logs as files: OTLP JSON (the Collector's file exporter writes one export request a
line; a single document works too), bare OTLP spans one a line, and the SDK's ConsoleSpanExporter dump
(indented span objects one after another). Each span and log record becomes a plain span: attributes as plain
values, ids as lowercase hex, times in seconds. LLM spans are joined to their ancestors and their log records
(traces.py) and parsed by the GenAI-semconv or OpenInference reader; other spans only lend their attributes."""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from . import sources
from .common import BadRecord, maybe_json, property_tags, task_from, to_float, to_time
from .traces import Item, JoinedStream, context_of

SPAN = "_otel_span"  # marks a plain span made here: the span formats sniff it
TASK_KEYS = ("task", "taskname", "task_name", "feature")  # the last part of an attribute name that names a task
NAME_KEYS = ("traceloop.workflow.name", "langfuse.trace.name", "gen_ai.agent.name")
SESSION_KEYS = ("session.id", "gen_ai.conversation.id", "langfuse.session.id",
                "traceloop.association.properties.session_id")
STATUS = {2: "error", "STATUS_CODE_ERROR": "error", "ERROR": "error", 1: "ok", "STATUS_CODE_OK": "ok", "OK": "ok"}


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
        return [any_value(x) for x in _items(v["arrayValue"], "values", "arrayValue")]
    if "kvlistValue" in v:
        return attributes(_items(v["kvlistValue"], "values", "kvlistValue"))
    if "bytesValue" in v:
        return v["bytesValue"]
    return None


def attributes(items: Any) -> dict[str, Any]:
    """OTLP's [{key, value}] list, or the plain object the console exporter prints, as a dict."""
    if isinstance(items, dict):
        return items
    if items is None:
        return {}
    if not isinstance(items, list):
        raise BadRecord("'attributes' must be a list of {key, value}")
    return {a["key"]: any_value(a.get("value")) for a in items if isinstance(a, dict) and "key" in a}


def unflatten(attrs: dict[str, Any], prefix: str) -> list[Any]:
    """Indexed attributes (`llm.input_messages.0.message.role`, `gen_ai.prompt.1.tool_calls.0.name`) under
    `prefix` as the list of nested objects they flatten: [{"message": {"role": ...}}, ...]."""
    root: dict[str, Any] = {}
    lead = prefix + "."
    for key, value in attrs.items():
        if not key.startswith(lead):
            continue
        node = root
        *path, last = key[len(lead):].split(".")
        for part in path:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[last] = value
    out = _lists(root)
    return out if isinstance(out, list) else []


def _lists(node: Any) -> Any:
    """Objects whose keys are all indexes become lists, in index order."""
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        return [_lists(node[k]) for k in sorted(node, key=int)]
    return {k: _lists(v) for k, v in node.items()}


def span_fields(span: dict[str, Any], group_by: str, tags: tuple[str, ...] = (),
                metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Request fields every span convention shares: ids, times, status, and the task keys found on the span,
    its ancestors (`_context`) or its resource, the span's own value first."""
    attrs, context = span["attributes"], span.get("_context") or {}
    seen = {**context, **attrs}
    props = {k.rsplit(".", 1)[-1]: v for k, v in seen.items() if k.rsplit(".", 1)[-1].lower() in TASK_KEYS}
    tags = property_tags(props) + tags
    name = next((seen[k] for k in NAME_KEYS if seen.get(k)), None)
    raw = {"attributes": attrs, "context": context, "resource": span.get("resource") or {}, **span}
    task, how = task_from(tags, metadata or {}, raw, group_by, name=name)
    start, end = span.get("start"), span.get("end")
    error = span.get("status") == "error" or bool(attrs.get("error.type"))
    return dict(task=task, task_source=how, tags=tags, metadata=metadata or {}, time=start,
                latency_s=(end - start) if start and end else None, status="error" if error else "success",
                trace_id=span.get("trace_id"), parent_id=span.get("parent_id"),
                session_id=next((str(seen[k]) for k in SESSION_KEYS if seen.get(k)), None))


def json_attr(attrs: dict[str, Any], key: str) -> Any:
    """An attribute that holds JSON text in one producer and a structured value in another."""
    return maybe_json(attrs.get(key))


def _items(obj: Any, key: str, where: str) -> list[Any]:
    value = obj.get(key) if isinstance(obj, dict) else None
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRecord(f"OTLP '{where}.{key}' must be a list, got {type(value).__name__}")
    return value


def hex_id(value: Any) -> str | None:
    """A trace or span id as lowercase hex, from OTLP JSON's hex, the proto3 mapping's base64 or the console's 0x."""
    if not isinstance(value, str) or not value:
        return None
    text = value.removeprefix("0x")
    try:
        int(text, 16)
        return text.lower()
    except ValueError:
        pass
    try:
        return base64.b64decode(text, validate=True).hex()
    except (binascii.Error, ValueError):
        return text


def is_llm(attrs: dict[str, Any]) -> bool:
    kind = attrs.get("openinference.span.kind")
    if kind is not None:
        return str(kind).upper() == "LLM"
    return any(k.startswith("gen_ai.") for k in attrs)


def _is_console(value: dict[str, Any]) -> bool:
    ctx = value.get("context")
    return isinstance(ctx, dict) and "span_id" in ctx and "trace_id" in ctx and "name" in value


def _is_bare(value: dict[str, Any]) -> bool:
    return "traceId" in value and "spanId" in value and "attributes" in value


def _nanos(value: Any, name: str) -> float | None:
    number = to_float(value, name)
    return number / 1e9 if number else None


def _plain(span: dict[str, Any], resource: dict[str, Any], scope: str) -> dict[str, Any]:
    """An OTLP JSON span as a plain span."""
    status = span["status"] if isinstance(span.get("status"), dict) else {}
    return {SPAN: True, "trace_id": hex_id(span.get("traceId")), "span_id": hex_id(span.get("spanId")),
            "parent_id": hex_id(span.get("parentSpanId")), "name": span.get("name"), "scope": scope,
            "start": _nanos(span.get("startTimeUnixNano"), "startTimeUnixNano"),
            "end": _nanos(span.get("endTimeUnixNano"), "endTimeUnixNano"),
            "status": STATUS.get(status.get("code"), "unset"), "status_message": status.get("message"),
            "attributes": attributes(span.get("attributes")), "resource": resource,
            "events": [{"name": e.get("name"), "attributes": attributes(e.get("attributes")), "body": None}
                       for e in _items(span, "events", "span") if isinstance(e, dict)]}


def _console(span: dict[str, Any]) -> dict[str, Any]:
    """A ConsoleSpanExporter span (`span.to_json()`) as a plain span."""
    ctx, status = span["context"], span["status"] if isinstance(span.get("status"), dict) else {}
    resource = span["resource"] if isinstance(span.get("resource"), dict) else {}
    return {SPAN: True, "trace_id": hex_id(ctx.get("trace_id")), "span_id": hex_id(ctx.get("span_id")),
            "parent_id": hex_id(span.get("parent_id")), "name": span.get("name"), "scope": None,
            "start": to_time(span.get("start_time")), "end": to_time(span.get("end_time")),
            "status": STATUS.get(status.get("status_code"), "unset"), "status_message": status.get("description"),
            "attributes": attributes(span.get("attributes")), "resource": attributes(resource.get("attributes")),
            "events": [{"name": e.get("name"), "attributes": attributes(e.get("attributes")), "body": None}
                       for e in span.get("events") or [] if isinstance(e, dict)]}


class OtlpStream(JoinedStream):
    """The reader's stream for OpenTelemetry files: spans and logs in, joined LLM spans out. When the logs come
    in a file of their own (a Collector writing one file per pipeline), the spans of the traces file are held
    until the logs file has been read: memory then grows with the traces file."""

    def __init__(self, paths: Sequence[Path] = ()) -> None:
        super().__init__()
        firsts = [sources.first_line_value(p) for p in paths if sources.kind(p) == "text"]
        kinds = {next(iter(v)) for v in firsts if isinstance(v, dict) and len(v) == 1} & {"resourceSpans",
                                                                                           "resourceLogs"}
        if len(kinds) == 2:  # a traces file and a logs file: no window can tell when a trace is complete
            self.join.window = math.inf

    def claims(self, value: Any) -> bool:
        return isinstance(value, dict) and (
            "resourceSpans" in value or "resourceLogs" in value or _is_console(value) or _is_bare(value))

    def feed(self, file: str, source: str, value: dict[str, Any]) -> Iterator[Item]:
        try:
            if _is_console(value):
                spans = [(source, _console(value))]
            elif _is_bare(value):
                spans = [(source, _plain(value, {}, ""))]
            else:
                spans = [(f"{source} span {k}", s) for k, s in enumerate(self._spans(value), 1)]
            logs = [(f"{source} log {k}", log) for k, log in enumerate(self._logs(value), 1)]
        except BadRecord as e:
            yield file, source, None, str(e)
            return
        if not spans and not logs:
            yield file, source, None, "OTLP export with no spans or log records"
        for src, span in spans:
            yield from self._span(file, src, span)
        for src, (trace, span_id, log, time) in logs:
            if not trace or not span_id:
                yield file, src, None, "OTLP log record without a traceId/spanId (no span to join it to)"
            else:
                yield from self.join.log(file, src, trace, span_id, log, time)

    def _span(self, file: str, source: str, span: dict[str, Any]) -> Iterator[Item]:
        attrs = span["attributes"]
        if not span["trace_id"] or not span["span_id"]:
            yield file, source, span, None  # nothing to join it to: parsed alone
            return
        llm = is_llm(attrs)
        context = {**context_of(span["resource"]), **context_of(attrs)}
        yield from self.join.span(file, source, span["trace_id"], span["span_id"], span["parent_id"], context,
                                  span if llm else None, span["end"] or span["start"])
        if not llm:
            yield file, source, None, "span that is not an LLM call (its attributes go to the LLM spans under it)"

    @staticmethod
    def _spans(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
        for rs in _items(doc, "resourceSpans", "export"):
            if not isinstance(rs, dict):
                raise BadRecord("OTLP 'resourceSpans' items must be objects")
            res = rs["resource"] if isinstance(rs.get("resource"), dict) else {}
            resource = attributes(res.get("attributes"))
            for ss in _items(rs, "scopeSpans", "resourceSpans") or _items(rs, "instrumentationLibrarySpans", "rs"):
                scope = (ss.get("scope") or {}).get("name", "") if isinstance(ss, dict) else ""
                for span in _items(ss, "spans", "scopeSpans"):
                    if not isinstance(span, dict):
                        raise BadRecord("OTLP spans must be objects")
                    yield _plain(span, resource, scope)

    @staticmethod
    def _logs(doc: dict[str, Any]) -> Iterator[tuple[str | None, str | None, dict[str, Any], float | None]]:
        """(trace, span, plain log record, time) of each log record of an export request."""
        for rl in _items(doc, "resourceLogs", "export"):
            for sl in _items(rl, "scopeLogs", "resourceLogs"):
                for rec in _items(sl, "logRecords", "scopeLogs"):
                    if not isinstance(rec, dict):
                        raise BadRecord("OTLP log records must be objects")
                    attrs = attributes(rec.get("attributes"))
                    log = {"name": rec.get("eventName") or attrs.get("event.name"), "attributes": attrs,
                           "body": any_value(rec.get("body"))}
                    time = _nanos(rec.get("timeUnixNano") or rec.get("observedTimeUnixNano"), "timeUnixNano")
                    yield hex_id(rec.get("traceId")), hex_id(rec.get("spanId")), log, time
