"""Braintrust project logs (`/v1/project_logs/{id}/fetch` pages, braintrust 0.48.1; hosted/braintrust.source.md):
LLM spans (`span_attributes.type: llm`, written by `wrap_openai`) with the request's messages as `input`, its
parameters (tools, response_format, ...) and the REQUESTED model in `metadata`, the choices as `output` and the
tokens in `metrics`; the app's root span (`@traced`) holds the `tags` and the user metadata. LLM spans are joined
to their root on `root_span_id`. The wrapper never logs the answering model, nor a failure: an LLM span with no
output is a call that raised."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..records import Request
from .bodies import lost, openai_answer, openai_request
from .common import BadRecord, NotARequest, as_dict, as_tags, to_int, to_time, trace_task
from .traces import Item, JoinedStream, context_of

NAME = "braintrust"
METRICS = {"input_tokens": "prompt_tokens", "output_tokens": "completion_tokens",
           "cached_tokens": "prompt_cached_tokens", "reasoning_tokens": "completion_reasoning_tokens"}


def sniff(obj: dict[str, Any]) -> bool:
    return "span_attributes" in obj and "root_span_id" in obj and "span_id" in obj


def _llm(obj: dict[str, Any]) -> bool:
    return isinstance(obj.get("span_attributes"), dict) and obj["span_attributes"].get("type") == "llm"


def parse(obj: dict[str, Any], source: str, group_by: str) -> Request:
    if not _llm(obj):
        raise NotARequest(f"span of type {obj['span_attributes'].get('type')!r}, not an LLM call")
    metadata = as_dict(obj.get("metadata"), "metadata")
    fields = openai_request({**metadata, "messages": obj.get("input")})
    if obj.get("output") is not None:
        fields.update(openai_answer({"choices": obj["output"]}))
    fields.pop("model", None)
    metrics = as_dict(obj.get("metrics"), "metrics")
    fields.update({k: to_int(metrics.get(m), f"metrics.{m}") for k, m in METRICS.items()})
    model = fields["requested_model"]
    if not model:
        raise BadRecord("the LLM span's metadata has no model")
    context = obj.get("_context") or {}
    tags = as_tags(context.get("tags") or obj.get("tags"), "tags")
    task, how = trace_task(tags, metadata, obj, group_by, name=context.get("name"))
    start, end = metrics.get("start"), metrics.get("end")
    failed = obj.get("error") is not None or obj.get("output") is None
    return Request(
        id=str(obj.get("id") or source), source=source, model=model, **fields, task=task, task_source=how,
        unreplayable=lost(fields["messages"], fields["params"], fields.get("output_tool_calls", ())),
        time=to_time(start) if start is not None else to_time(obj.get("created")),
        latency_s=float(end) - float(start) if isinstance(start, (int, float)) and isinstance(end, (int, float))
        else None, tags=tags, metadata=metadata, status="error" if failed else "success",
        provider=metadata.get("provider"), trace_id=obj.get("root_span_id"),
        session_id=context.get("session_id") or None,
        parent_id=(obj.get("span_parents") or [None])[0] if isinstance(obj.get("span_parents"), list) else None,
    )


class SpanStream(JoinedStream):
    """Holds LLM spans until their root span (tags, task name) has been read."""

    def claims(self, value: Any) -> bool:
        return isinstance(value, dict) and sniff(value) and "_context" not in value

    def feed(self, file: str, source: str, value: dict[str, Any]) -> Iterator[Item]:
        llm = _llm(value)
        meta = value["metadata"] if isinstance(value.get("metadata"), dict) else {}
        name = (value.get("span_attributes") or {}).get("name")
        context = {**context_of(meta), "name": name} if not llm else {}
        if value.get("tags"):
            context["tags"] = value["tags"]
        parents = value.get("span_parents") if isinstance(value.get("span_parents"), list) else []
        yield from self.join.span(file, source, str(value["root_span_id"]), str(value["span_id"]),
                                  str(parents[0]) if parents else None, context, value if llm else None,
                                  to_time(value.get("created")))
        if not llm:
            yield file, source, None, "span that is not an LLM call (its tags and name go to the LLM spans under it)"
