"""MLflow traces (mlflow 3.17, `mlflow.openai.autolog()`; producers/README-otel.md): `Trace.to_json()` one a line
(`search_traces(return_type="list")`), or the `search_traces()` DataFrame saved as Parquet (its `trace` column is
the same JSON; without it the `spans`, `tags` and `trace_metadata` columns are read).

Each trace gives its spans: a chat span (`mlflow.spanType` CHAT_MODEL / LLM) is one model call, whose
`mlflow.spanInputs` is the provider request and `mlflow.spanOutputs` the provider response (bodies.py); every
span attribute is JSON text. The task is the trace tag `task` (or a task attribute on an ancestor span); the
user and session are trace metadata. A failed call is a span with status ERROR, even when the trace is OK."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ..records import Request
from .bodies import chat_bodies, usage
from .common import BadRecord, as_dict, property_tags, task_from, to_float, to_int
from .otlp import TASK_KEYS, hex_id
from .traces import BaseStream, Item, TraceJoin, context_of

NAME = "mlflow"
SPAN = "_mlflow_span"
LLM_TYPES = ("CHAT_MODEL", "LLM")


def sniff(obj: dict[str, Any]) -> bool:
    return obj.get(SPAN) is True


def _is_trace(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    info = value.get("info")
    return (isinstance(info, dict) and "trace_id" in info and isinstance(value.get("data"), dict)) or (
        str(value.get("trace_id", "")).startswith("tr-") and ("trace" in value or "spans" in value))


def _decoded(attrs: Any) -> dict[str, Any]:
    """Span attributes, each JSON text, as values (a Parquet row's null struct fields dropped)."""
    out: dict[str, Any] = {}
    for key, value in (attrs or {}).items():
        if value is None:
            continue
        try:
            out[key] = json.loads(value) if isinstance(value, str) else value
        except ValueError:
            out[key] = value
    return out


def _trace(value: dict[str, Any]) -> dict[str, Any]:
    """The `Trace.to_json()` object of a line or of a Parquet row."""
    if isinstance(value.get("trace"), str):
        value = json.loads(value["trace"])
    if "info" in value:
        return value
    return {"info": {"trace_id": value.get("trace_id"), "tags": value.get("tags") or {},
                     "trace_metadata": value.get("trace_metadata") or {}, "state": value.get("state")},
            "data": {"spans": value.get("spans") or []}}


def parse(span: dict[str, Any], source: str, group_by: str) -> Request:
    attrs, context = span["attrs"], span.get("_context") or {}
    request = attrs.get("mlflow.spanInputs")
    response = attrs.get("mlflow.spanOutputs")
    if not isinstance(request, dict):
        raise BadRecord("the chat span has no mlflow.spanInputs object")
    error = (span.get("status") or {}).get("code") == "STATUS_CODE_ERROR"
    fields = chat_bodies(request, response if isinstance(response, dict) and not error else {})
    if not (isinstance(response, dict) and response.get("usage")):
        fields.update(usage(attrs.get("mlflow.chat.tokenUsage")))
        fields["cached_tokens"] = to_int((attrs.get("mlflow.chat.tokenUsage") or {}).get("cache_read_input_tokens"),
                                        "mlflow.chat.tokenUsage.cache_read_input_tokens")
    answered, provider = fields.pop("model", None), fields.pop("provider", None)
    model = answered or (None if error else attrs.get("mlflow.llm.model")) or fields["requested_model"]
    if not isinstance(model, str) or not model:
        raise BadRecord("the chat span names no model")
    seen = {**context, **context_of(attrs)}
    tags = property_tags({k.rsplit(".", 1)[-1]: v for k, v in seen.items()
                          if k.rsplit(".", 1)[-1].lower() in TASK_KEYS})
    task, how = task_from(tags, {}, {"attributes": attrs, "context": context}, group_by)
    cost = to_float(as_dict(attrs.get("mlflow.llm.cost"), "mlflow.llm.cost").get("total_cost"), "mlflow.llm.cost")
    start = to_float(span.get("start_time_unix_nano"), "start_time_unix_nano")
    end = to_float(span.get("end_time_unix_nano"), "end_time_unix_nano")
    return Request(
        id=str(hex_id(span.get("span_id")) or source), source=source, model=model, **fields, task=task,
        task_source=how, tags=tags, cost=cost, cost_source="logged" if cost is not None else None,
        time=start / 1e9 if start else None, latency_s=(end - start) / 1e9 if start and end else None,
        status="error" if error else "success", provider=provider or "openai" * (
            attrs.get("mlflow.message.format") == "openai") or None,
        trace_id=span.get("trace"), parent_id=hex_id(span.get("parent_span_id")),
        session_id=context.get("mlflow.trace.session"), metadata={"user": context.get("mlflow.trace.user")}
        if context.get("mlflow.trace.user") else {},
    )


class TraceStream(BaseStream):
    """Each trace unit becomes its spans; chat spans are given out with their ancestors' and the trace's context."""

    def claims(self, value: Any) -> bool:
        return _is_trace(value)

    def feed(self, file: str, source: str, value: dict[str, Any]) -> Iterator[Item]:
        try:
            trace = _trace(value)
            info, spans = as_dict(trace.get("info"), "info"), as_dict(trace.get("data"), "data").get("spans")
        except (ValueError, BadRecord) as e:
            yield file, source, None, f"not an MLflow trace ({e})"
            return
        if not isinstance(spans, list) or not spans:
            yield file, source, None, "MLflow trace with no spans"
            return
        meta = as_dict(info.get("trace_metadata"), "trace_metadata")
        top = {**{k: v for k, v in as_dict(info.get("tags"), "tags").items() if not k.startswith("mlflow.")},
               **{k: meta[k] for k in ("mlflow.trace.user", "mlflow.trace.session") if meta.get(k)}}
        join = TraceJoin()
        root = "\x00trace"  # every root span's parent: the trace's own tags and metadata
        list(join.span(file, source, "t", root, None, context_of(top), None, None))
        for k, span in enumerate(spans, 1):
            src = f"{source} span {k}"
            if not isinstance(span, dict):
                yield file, src, None, "MLflow span must be an object"
                continue
            attrs = _decoded(span.get("attributes"))
            llm = attrs.get("mlflow.spanType") in LLM_TYPES
            record = {**span, SPAN: True, "attrs": attrs, "trace": info.get("trace_id")} if llm else None
            list(join.span(file, src, "t", str(span.get("span_id")), str(span.get("parent_span_id") or root),
                           context_of(attrs), record, None))
            if not llm:
                yield file, src, None, "span that is not a model call (its attributes go to the spans under it)"
        yield from join.finish()
