"""Langfuse exports of observations (langfuse@6275144, tests/fixtures/hosted/langfuse.source.md):

- the blob-storage export (snake_case: `provided_model_name`, `usage_details`, `input`/`output` as JSON text,
  JSON lines or Parquet): observations carry no tags or trace name; those live in the `traces` files of the
  same export, which are joined on `trace_id` (given files, else the same-named file beside them);
- the UI export (camelCase, JSON / JSON lines / CSV, with `traceName`, `traceTags`; CSV cells hold JSON text,
  dates with their JSON quotes) and the public API v2 pages (`traceName`, `tags`, `sessionId`).

The model is the one that answered (Langfuse keeps no requested model). Usage `input` excludes cached tokens:
input tokens are every `input*` key summed, as Langfuse's own `inputUsage`. Tags are the trace's: a task tag or
metadata.task names the task, else the trace name with its tags (one name per app is common)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..records import Request
from . import sources
from .bodies import lost, request_params, tool_calls
from .common import (
    BadRecord,
    NotARequest,
    as_dict,
    as_tags,
    check_messages,
    content_text,
    maybe_json,
    to_float,
    to_int,
    to_time,
    trace_task,
)
from .traces import BaseStream, Item

BUCKET, API = "langfuse-export", "langfuse-api"
SNAKE = {"model": "provided_model_name", "usage": "usage_details", "trace": "trace_id", "start": "start_time",
         "end": "end_time", "params": "model_parameters", "trace_name": "trace_name", "tags": "tags",
         "total_cost": "total_cost", "cost": "cost_details", "session": "session_id", "user": "user_id"}
CAMEL = {"model": "providedModelName", "usage": "usageDetails", "trace": "traceId", "start": "startTime",
         "end": "endTime", "params": "modelParameters", "trace_name": "traceName", "tags": "traceTags",
         "total_cost": "totalCost", "cost": "costDetails", "session": "sessionId", "user": "userId"}
TRACE = "_langfuse_trace"  # the joined trace row's name, tags, user and session


def sniff_bucket(obj: dict[str, Any]) -> bool:
    return "type" in obj and ("provided_model_name" in obj or ("trace_id" in obj and "start_time" in obj))


def sniff_api(obj: dict[str, Any]) -> bool:
    return "type" in obj and ("providedModelName" in obj or ("traceId" in obj and "startTime" in obj))


def sniff_trace(obj: dict[str, Any]) -> bool:
    """A row of the blob export's traces table."""
    return "timestamp" in obj and "bookmarked" in obj and "tags" in obj and "type" not in obj


def _cell(value: Any) -> Any:
    """JSON text as a value: blob columns and CSV cells keep objects, and in CSV even dates, as JSON text."""
    if isinstance(value, str) and value[:1] == '"':
        try:
            return json.loads(value)
        except ValueError:
            return value
    return maybe_json(value)


def _request(value: Any) -> tuple[tuple[dict[str, Any], ...], dict[str, Any]]:
    """(messages, tools) of an observation's input: a message list, or {tools, messages} when tools were given."""
    value = _cell(value)
    tools: dict[str, Any] = {}
    if isinstance(value, dict) and "messages" in value:
        tools = request_params(value, ("tools", "tool_choice"))
        value = value["messages"]
    elif isinstance(value, dict) and "role" in value:
        value = [value]
    if isinstance(value, str):
        return (({"role": "user", "content": value},) if value else ()), tools
    return check_messages(value), tools


def _answer(value: Any) -> tuple[str | None, tuple[dict[str, Any], ...]]:
    value = _cell(value)
    if isinstance(value, dict) and ("content" in value or "tool_calls" in value):
        return content_text(value.get("content")) or None, tool_calls(value.get("tool_calls"))
    return (value or None, ()) if isinstance(value, str) else (None, ())


def _param(v: Any) -> Any:
    """Model parameters are exported as text ("0.3", "5", "true"): their JSON values back."""
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def _usage(usage: dict[str, Any]) -> dict[str, int]:
    """Token classes from `usage_details`, where `input` excludes cached (and audio) tokens."""
    def total(prefix: str) -> int:
        return sum(to_int(v, f"usage.{k}") for k, v in usage.items()
                   if k == prefix or k.startswith(prefix + "_") or k.endswith(f"_{prefix}_tokens"))

    return {"input_tokens": total("input"), "output_tokens": total("output"),
            "cached_tokens": to_int(usage.get("input_cached_tokens", usage.get("cache_read_input_tokens")),
                                    "usage.input_cached_tokens"),
            "cache_write_tokens": to_int(usage.get("cache_creation_input_tokens"), "usage.cache_creation_input_tokens"),
            "reasoning_tokens": to_int(usage.get("output_reasoning_tokens"), "usage.output_reasoning_tokens")}


def _parse(obj: dict[str, Any], source: str, group_by: str, k: dict[str, str]) -> Request:
    if obj.get("type") != "GENERATION":
        raise NotARequest(f"observation of type {obj.get('type')!r}, not a GENERATION")
    model = obj.get(k["model"]) or obj.get("model")
    if not isinstance(model, str) or not model:
        raise BadRecord(f"'{k['model']}' must be a non-empty string")
    trace = obj.get(TRACE) or {}
    metadata = as_dict(_cell(obj.get("metadata")), "metadata")
    tags = as_tags(_cell(trace.get("tags", obj.get(k["tags"], obj.get("tags")))), k["tags"])
    task, how = trace_task(tags, metadata, obj, group_by, name=trace.get("name", obj.get(k["trace_name"])))
    costs = as_dict(_cell(obj.get(k["cost"])), k["cost"])
    logged = obj.get(k["total_cost"]) if obj.get(k["total_cost"]) not in (None, "") else costs.get("total")
    cost = to_float(_cell(logged), k["total_cost"])
    start, end = to_time(_cell(obj.get(k["start"]))), to_time(_cell(obj.get(k["end"])))
    messages, tools = _request(obj.get("input"))
    params = {**request_params({p: _param(v) for p, v in as_dict(_cell(obj.get(k["params"])), k["params"]).items()
                                if v != "Infinity"}), **tools}  # "Infinity": the SDK's value for "not given"
    text, calls = _answer(obj.get("output"))
    error = obj.get("level") == "ERROR"
    tokens: dict[str, Any] = _usage(as_dict(_cell(obj.get(k["usage"])), k["usage"]))
    return Request(
        id=str(obj.get("id") or source), source=source, model=model, messages=messages, params=params,
        output=text, output_tool_calls=calls, unreplayable=lost(messages, params, calls), task=task,
        task_source=how, **tokens, cost=cost,
        cost_source="logged" if cost is not None else None, time=start,
        latency_s=(end - start) if start is not None and end is not None else None, tags=tags, metadata=metadata,
        status="error" if error else "success", trace_id=obj.get(k["trace"]) or None,
        session_id=trace.get("session_id") or obj.get(k["session"]) or None,
        parent_id=obj.get("parent_observation_id", obj.get("parentObservationId")) or None,
    )


def parse_bucket(obj: dict[str, Any], source: str, group_by: str) -> Request:
    return _parse(obj, source, group_by, SNAKE)


def parse_api(obj: dict[str, Any], source: str, group_by: str) -> Request:
    return _parse(obj, source, group_by, CAMEL)


class TraceStream(BaseStream):
    """Joins blob observations to the trace rows of the same export. Trace files given on the command line are
    read first (the reader orders them); without them, the traces file named like the observations file
    (`<project>/traces/<ts>.*` beside `<project>/observations/<ts>.*`) is read for its rows, one export window
    at a time. Given trace rows are joined (counted once) or skipped if no observation names them."""

    def __init__(self) -> None:
        super().__init__()
        self.given: dict[str, tuple[dict[str, Any], str, str, bool]] = {}  # id -> (info, file, source, used)
        self.found: dict[str, dict[str, Any]] = {}  # the rows of the traces file beside the current observations
        self.found_for: Path | None = None

    def claims(self, value: Any) -> bool:
        return isinstance(value, dict) and (sniff_trace(value) or (sniff_bucket(value) and TRACE not in value))

    def feed(self, file: str, source: str, value: dict[str, Any]) -> Iterator[Item]:
        if sniff_trace(value):
            self.given[str(value.get("id"))] = (_info(value), file, source, False)
            return
        trace_id = str(value.get("trace_id"))
        hit = self.given.get(trace_id)
        if hit is not None:
            if not hit[3]:
                self.given[trace_id] = (*hit[:3], True)
                self.joined += 1
            info: dict[str, Any] | None = hit[0]
        else:
            info = self._beside(Path(file)).get(trace_id)
        yield file, source, {**value, TRACE: info} if info else {**value, TRACE: {}}, None

    def finish(self) -> Iterator[Item]:
        for info, file, source, used in self.given.values():
            if not used:
                yield file, source, None, f"Langfuse trace {info.get('id')!r} has no observation in the given files"

    def _beside(self, path: Path) -> dict[str, dict[str, Any]]:
        if self.found_for == path or self.given:
            return self.found
        self.found, self.found_for = {}, path
        if path.parent.name != "observations":
            return self.found
        for twin in sorted((path.parent.parent / "traces").glob(path.stem + ".*")):
            what = sources.kind(twin)
            units = sources.parquet_units(twin) if what == "parquet" else sources.json_units(twin)
            for _, row, _ in units:
                if isinstance(row, dict) and sniff_trace(row):
                    self.found[str(row.get("id"))] = _info(row)
            break
        return self.found


def _info(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row.get("id"), "name": row.get("name"), "tags": _cell(row.get("tags")),
            "session_id": row.get("session_id"), "user_id": row.get("user_id")}
