"""OpenRouter generations (@openrouter/sdk 1.3.19; hosted/openrouter.source.md): the body of
`GET /api/v1/generation?id=` one a line (`{"data": {...}}`: model slug, the provider's snapshot in
`provider_responses[].model_permaslug`, the provider's token counts `native_tokens_*`, `total_cost` USD) and,
optionally, the body of `GET /api/v1/generation/content?id=` one a line in a second file. A content line carries
no id, so line N of the content file is the content of line N of the stats file: the two files are read in
step and each pair is one record (stats alone: volume only). OpenRouter keeps no tool definitions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..records import Request
from . import sources
from .bodies import lost
from .common import BadRecord, as_dict, check_messages, content_text, task_from, to_float, to_int, to_time
from .traces import BaseStream, Item

NAME = "openrouter"
PAIR = "_openrouter_content"  # a stats record with its content line joined


def _data(value: Any) -> dict[str, Any] | None:
    data = value.get("data") if isinstance(value, dict) and set(value) - {PAIR} == {"data"} else None
    return data if isinstance(data, dict) else None


def sniff_stats(value: Any) -> bool:
    data = _data(value)
    return data is not None and "provider_responses" in data and "tokens_prompt" in data


def sniff_content(value: Any) -> bool:
    data = _data(value)
    return data is not None and "input" in data and set(data) <= {"input", "output", "error"}


def sniff(obj: dict[str, Any]) -> bool:
    return sniff_stats(obj)


def parse(obj: dict[str, Any], source: str, group_by: str) -> Request:
    stats, content = as_dict(obj["data"], "data"), as_dict(obj.get(PAIR), "content")
    providers = [p for p in stats.get("provider_responses") or [] if isinstance(p, dict)]
    last = providers[-1] if providers else {}
    slug = stats.get("model")
    model = last.get("model_permaslug") or slug
    if not isinstance(model, str) or not model:
        raise BadRecord("the generation names no model")
    inputs = as_dict(content.get("input"), "input")
    messages = check_messages(inputs["messages"]) if "messages" in inputs else (
        ({"role": "user", "content": inputs["prompt"]},) if isinstance(inputs.get("prompt"), str) else ())
    output = as_dict(content.get("output"), "output")
    status = to_int(last.get("status"), "provider_responses.status") or 200
    failed = status >= 400 or bool(content.get("error")) or bool(stats.get("cancelled"))
    finish = stats.get("finish_reason")
    why = lost(messages, {}, ())
    if finish == "tool_calls":
        why = "the answer is a tool call but the log keeps no tool definitions (nor the call)"
    elif content and not messages:
        why = "the content line has no messages"
    task, how = task_from((), {}, obj, group_by)
    cost = to_float(stats.get("total_cost"), "total_cost")
    latency = to_float(stats.get("latency"), "latency")
    return Request(
        id=str(stats.get("id") or source), source=source, model=model, requested_model=slug,
        messages=messages, output=content_text(output.get("completion")) or None, finish_reason=finish,
        unreplayable=why if content else "no content line (give the generation content file too)",
        task=task, task_source=how, input_tokens=to_int(stats.get("native_tokens_prompt"), "native_tokens_prompt"),
        output_tokens=to_int(stats.get("native_tokens_completion"), "native_tokens_completion"),
        cached_tokens=to_int(stats.get("native_tokens_cached"), "native_tokens_cached"),
        reasoning_tokens=to_int(stats.get("native_tokens_reasoning"), "native_tokens_reasoning"),
        cost=cost, cost_source="logged" if cost is not None else None, time=to_time(stats.get("created_at")),
        latency_s=latency / 1000 if latency is not None else None, status="error" if failed else "success",
        provider=str(stats.get("provider_name") or "").lower() or None, session_id=stats.get("session_id"),
        metadata={k: stats[k] for k in ("external_user", "http_referer", "app_id") if stats.get(k)},
    )


class PairStream(BaseStream):
    """Reads a content file in step with its stats file: the i-th stats file given pairs with the i-th content
    file (found by their first lines); the partner file is read here, not by the reader."""

    def __init__(self, paths: list[Path]) -> None:
        super().__init__()
        self.paths = paths
        self.kinds: dict[Path, str] | None = None
        self.partners: dict[str, tuple[Path, Iterator[sources.Unit]]] = {}

    def _kinds(self) -> dict[Path, str]:
        if self.kinds is None:
            self.kinds = {}
            for path in self.paths:
                first = sources.first_line_value(path) if sources.kind(path) == "text" else None
                kind = "stats" if sniff_stats(first) else "content" if sniff_content(first) else ""
                if kind:
                    self.kinds[path] = kind
        return self.kinds

    def owns(self, path: Path) -> bool:
        """A partner file: read by this stream in step with its pair."""
        return any(p == path for p, _ in self.partners.values())

    def _partner(self, file: str) -> Iterator[sources.Unit] | None:
        if file not in self.partners:
            kinds = self._kinds()
            me = next((p for p in kinds if str(p) == file), None)
            if me is None:
                return None
            mine = [p for p in kinds if kinds[p] == kinds[me]]
            others = [p for p in kinds if kinds[p] != kinds[me]]
            i = mine.index(me)
            if i >= len(others):
                return None
            self.partners[file] = (others[i], sources.json_units(others[i]))
        return self.partners[file][1]

    def claims(self, value: Any) -> bool:
        return sniff_stats(value) or sniff_content(value)

    def feed(self, file: str, source: str, value: dict[str, Any]) -> Iterator[Item]:
        partner = self._partner(file)
        other = next(partner, None) if partner is not None else None
        stats = sniff_stats(value)
        if other is not None:
            where, (osrc, oval, oerr) = str(self.partners[file][0]), other
            if oerr is None and (sniff_content(oval) if stats else sniff_stats(oval)):
                self.joined += 1
                pair = (value, oval["data"], file, source) if stats else (oval, value["data"], where, osrc)
                yield pair[2], pair[3], {**pair[0], PAIR: pair[1]}, None
                return
            yield where, osrc, None, oerr or "not the OpenRouter line its pair in the other file expects"
        if stats:
            yield file, source, value, None  # no content: volume only
        else:
            yield file, source, None, ("an OpenRouter content line with no generation stats line to pair with "
                                       "(give both files: line N of one pairs with line N of the other)")

    def finish(self) -> Iterator[Item]:
        """The partner file's lines past the end of its pair: stats alone are volume, content alone is skipped."""
        for path, rest in self.partners.values():
            for source, value, err in rest:
                if err is None and sniff_stats(value):
                    yield str(path), source, value, None
                else:
                    yield str(path), source, None, err or "a content line past the end of its stats file"
