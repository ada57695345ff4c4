"""Streams: formats whose records are not one unit each. The reader hands a stream every unit it claims (an
OTLP export request, a span waiting for its parent, a trace row); the stream gives back the items to parse
once they are whole, and counts the units it merged into them (`joined`), so that every unit is still
accounted for: `records + skipped == lines`, joined units apart."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from . import braintrust, langfuse, mlflow, openrouter
from .otlp import OtlpStream
from .traces import Item


class Stream(Protocol):
    joined: int  # units merged into the items given out (not counted as lines)

    def owns(self, path: Path) -> bool:
        """Whether the stream reads this file itself, in step with another (the reader passes it over)."""

    def claims(self, value: Any) -> bool:
        """Whether this unit is the stream's to read."""

    def feed(self, file: str, source: str, value: Any) -> Iterator[Item]:
        """The items that are complete now that this unit is read."""

    def finish(self) -> Iterator[Item]:
        """The items still held when the input ends."""


def make(paths: Sequence[Path]) -> list[Stream]:
    """Fresh streams for one pass over the given files."""
    return [OtlpStream(paths), langfuse.TraceStream(), braintrust.SpanStream(), mlflow.TraceStream(),
            openrouter.PairStream(list(paths))]


def read_first(value: Any) -> bool:
    """Whether a file that starts with this unit holds context that other files' records join to (Langfuse's
    trace rows): the reader reads such files first."""
    return isinstance(value, dict) and langfuse.sniff_trace(value)
