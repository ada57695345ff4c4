"""The join of an LLM span (or run) to the rest of its trace: the attributes of its ancestors (a task set on
the app's parent span, a session on the root) and its log records (content that an instrumentation emits as
events). Traces are held while they are in flight and given out once the log's own time has moved
`WINDOW_S` past their last unit, or at the end of the input: memory grows with the traffic of a few minutes,
not with the log. Every unit is accounted for: joined into a record, given out, or skipped with its reason."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WINDOW_S = 300.0
CONTEXT_CHARS = 1024  # ancestors keep their short scalar attributes only (task keys, ids), not content
Item = tuple[str, str, Any, "str | None"]  # (file, source, value to parse, or the reason it is skipped)


def context_of(attrs: dict[str, Any]) -> dict[str, Any]:
    """What a span can pass to its descendants: short scalars and short lists of strings (tags)."""
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        short = isinstance(value, (str, int, float, bool)) and len(str(value)) <= CONTEXT_CHARS
        if short or (isinstance(value, list) and len(value) <= 32 and all(isinstance(v, str) for v in value)):
            out[key] = value
    return out


class BaseStream:
    """What a stream (streams.py) does unless it says otherwise: nothing held, no file of its own."""

    def __init__(self) -> None:
        self.joined = 0  # units merged into the items given out (they are not lines of their own)

    def owns(self, path: Path) -> bool:
        """Whether the stream reads this file itself (the reader then passes it over)."""
        return False

    def finish(self) -> Iterator[Item]:
        return iter(())


@dataclass
class _Trace:
    parents: dict[str, tuple[str | None, dict[str, Any]]] = field(default_factory=dict)  # span -> (parent, context)
    pending: list[tuple[str, str, dict[str, Any], str]] = field(default_factory=list)  # (file, source, record, span)
    logs: dict[str, list[tuple[str, str, Any]]] = field(default_factory=dict)  # span -> (file, source, log record)
    last: float = 0.0


@dataclass
class TraceJoin:
    """Hold LLM records until their trace is complete; give them out with `_context` (their ancestors'
    context, nearest first) and `_logs` (their log records, in order) set."""

    window: float = WINDOW_S
    joined: int = 0  # log records merged into a record
    traces: dict[str, _Trace] = field(default_factory=dict)
    watermark: float = 0.0

    def span(self, file: str, source: str, trace: str, span: str, parent: str | None, context: dict[str, Any],
             record: dict[str, Any] | None, time: float | None) -> Iterator[Item]:
        """Add a span of a trace; `record` is the LLM record to give out once the trace is complete."""
        t = self.traces.setdefault(trace, _Trace())
        t.parents[span] = (parent, context)
        if record is not None:
            t.pending.append((file, source, record, span))
        yield from self._tick(t, time)

    def log(self, file: str, source: str, trace: str, span: str, log: Any, time: float | None) -> Iterator[Item]:
        t = self.traces.setdefault(trace, _Trace())
        t.logs.setdefault(span, []).append((file, source, log))
        yield from self._tick(t, time)

    def _tick(self, t: _Trace, time: float | None) -> Iterator[Item]:
        if time:
            t.last = max(t.last, time)
            self.watermark = max(self.watermark, time)
        while self.traces:
            trace, first = next(iter(self.traces.items()))
            if not first.last or first.last + self.window > self.watermark:
                return
            del self.traces[trace]
            yield from self._emit(trace, first)

    def finish(self) -> Iterator[Item]:
        while self.traces:
            trace = next(iter(self.traces))
            yield from self._emit(trace, self.traces.pop(trace))

    def _emit(self, trace: str, t: _Trace) -> Iterator[Item]:
        for file, source, record, span in t.pending:
            record["_context"] = self._ancestry(t, span)
            logs = t.logs.pop(span, [])
            record["_logs"] = [log for _, _, log in logs]
            self.joined += len(logs)
            yield file, source, record, None
        for span, logs in t.logs.items():
            why = ("a span that is not an LLM call" if span in t.parents else
                   f"span {span} (trace {trace}), which is not in the given files within {self.window:.0f} s of it")
            for file, source, _ in logs:
                yield file, source, None, f"OTLP log record of {why}"

    @staticmethod
    def _ancestry(t: _Trace, span: str) -> dict[str, Any]:
        """The context of a span's ancestors, the nearest one's value first (cycles stop the walk)."""
        merged: dict[str, Any] = {}
        seen = {span}
        parent = t.parents.get(span, (None, {}))[0]
        while parent is not None and parent not in seen and parent in t.parents:
            seen.add(parent)
            parent, context = t.parents[parent]
            for key, value in context.items():
                merged.setdefault(key, value)
        return merged


class JoinedStream(BaseStream):
    """A stream whose LLM spans wait in a TraceJoin for the rest of their trace."""

    def __init__(self) -> None:
        super().__init__()
        self.join = TraceJoin()

    def finish(self) -> Iterator[Item]:
        yield from self.join.finish()
        self.joined = self.join.joined
