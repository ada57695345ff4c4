"""What every engine hands the one pass, and the reader that turns it into what the streaming reader gives.

An engine runs the spend mapping where the data lives and returns, per part of the input (a file, a table), one
or more `Chunk`s: volume groups of the rows it read itself, per (task, logged model) the smallest-key rows that
may be sampled, and the rows that Python must read (rows outside the shapes the SQL reads exactly, and untagged
rows with a prompt, which the task typer needs). `EngineReader` is a `LogReader` whose units are those rows: the
parser, the typer and the read accounting are the streaming reader's own, so both paths give the same Traffic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ...records import Request
from .. import litellm_spend
from ..formats import FORMATS
from ..reader import BUFFER_CHARS, MAX_REASONS, Check, LogReader, ReadStats, _FileRead
from ..sample import Sampler
from ..sources import Unit
from ..streams import Stream
from ..tasktype import TaskTyper

SPEND = litellm_spend.NAME


class Tally(Protocol):
    def add_group(self, task: str, how: str, model: str, batch: bool, day: str, usage: Sequence[float],
                  first: float | None, last: float | None, called: str, tag: str) -> None: ...


@dataclass
class Chunk:
    """One query's answer. `groups`: (task, how, model, day, requests, replayable, input, output, cached,
    cache_write, reasoning, cost, costed, first, last, eligible, why not replayable, model called, typing tag);
    `sample`: per (task, model) rows as (row, key hex) smallest key first; `python`: the rows Python reads;
    `units(rows)` gives (row, unit) for sorted rows of either list."""

    groups: list[tuple[Any, ...]]
    sample: dict[tuple[str, str], list[tuple[Any, str]]]
    python: list[Any]
    units: Callable[[list[Any]], Iterator[tuple[Any, Unit]]]


class Part(Protocol):
    name: str  # the file or table, as stats and sources name it

    def chunks(self) -> Iterator[Chunk]: ...


def split(rows: list[tuple[Any, ...]]) -> tuple[list[tuple[Any, ...]], dict[tuple[str, str], list[tuple[Any, str]]],
                                                 list[Any]]:
    """Rows of a grouping-sets query (levels 0: volume, 5: sample per task and model, 15: rows for Python)."""
    groups: list[tuple[Any, ...]] = []
    sample: dict[tuple[str, str], list[tuple[Any, str]]] = {}
    python: list[Any] = []
    for level, task, how, model, day, *values, refs, py in rows:
        if level == 0 and values[0]:
            groups.append((task, how, model, day, *values))
        elif level == 5 and refs:  # GROUPING(task, how, model, day) = 0b0101
            sample[(task, model)] = [(x["n"], x["key"]) for x in refs]
        elif level == 15:
            python = py or []
    return groups, sample, python


class EngineReader(LogReader):
    """A LogReader over an engine's parts; `tally` and `sampler` receive what the engine counted and picked."""

    def __init__(self, parts: Sequence[Part], fmt: str | None, group_by: str | None, tally: Tally,
                 sampler: Sampler, semantic: bool = False, check: Check | None = None) -> None:
        self.mapping, self.fmt, self.group_by, self.check = {}, fmt, group_by or "auto", check
        self.paths = [p.name for p in parts]  # type: ignore[misc]  # names, not files, for engine sources
        self.parts, self.tally, self.sampler = parts, tally, sampler
        self.stats = ReadStats()
        self.typer = TaskTyper(semantic=semantic)
        self.buffer_chars, self.light = BUFFER_CHARS, False
        self._unit, self._only, self._files = None, None, {}
        self._read_once: dict[str, list[Chunk]] = {}  # per part, the chunks its query gave (to read rows again)

    def _new_streams(self) -> list[Stream]:
        return []  # LiteLLM spend rows join nothing

    def _batches(self) -> Iterator[Request]:
        for part in self.parts:
            if self._only is None or part.name in self._only:  # reading again: only parts with held rows
                yield from self._parse_units(part.name, self._units(part), self._forced())

    def _units(self, part: Part) -> Iterator[Unit]:
        """The rows Python reads; the engine's own groups and sample are counted on the way. When the rows of
        inferred requests are read again (LogReader._again), only those rows are fetched: the query is not run
        twice."""
        if self._only is not None:
            for chunk in self._read_once.get(part.name, []):
                for _, unit in chunk.units(sorted(chunk.python)):
                    yield unit
            return
        stats, sampler = self.stats, self.sampler
        tally = self._files.setdefault(part.name, _FileRead())
        seen = self._seen.setdefault(part.name, Counter())
        for chunk in part.chunks():
            self._read_once.setdefault(part.name, []).append(chunk)
            for task, how, model, day, n, replayable, pt, ct, cached, cw, rt, cost, costed, t0, t1, eligible, why, \
                    called, tag in chunk.groups:
                usage = (n, replayable, pt, ct, cached, cw, rt, cost or 0.0, costed)
                if why is not None:
                    stats.not_replayable[why if why in stats.not_replayable or len(stats.not_replayable) < MAX_REASONS
                                         else "other reasons"] += n
                self.tally.add_group(task, how, model, False, day, usage, t0, t1, called, tag)
                stats.lines += n
                stats.records += n
                tally.lines += n
                tally.records += n
                stats.typing[how] += n
                seen[SPEND] += n
                if eligible:
                    sampler.offered[(task, model)] += eligible
            wanted = {row: (int(key, 16), stratum) for stratum, refs in chunk.sample.items() for row, key in refs
                      if sampler.wants(stratum, int(key, 16))}
            python = set(chunk.python)
            for row, unit in chunk.units(sorted(python | set(wanted))):  # one more read of the part, in order
                if row in wanted:
                    key, stratum = wanted[row]
                    source, obj, _ = unit
                    sampler.keep(key, self._verified(FORMATS[SPEND].parser()(obj, source, self.group_by), stratum, key))
                if row in python:
                    yield unit

    def _verified(self, req: Request, stratum: tuple[str, str], key: int) -> Request:
        """The parser's reading of a row the engine sampled must be the engine's: else it is a bug, said aloud."""
        from ..sample import sample_key

        if (req.task, req.model) != stratum or sample_key(self.sampler.seed, req.id) != key or not req.replayable:
            raise RuntimeError(f"{req.source}: the engine read task {stratum[0]!r}, model {stratum[1]!r}; the parser "
                               f"reads {req.task!r}, {req.model!r} (a bug in tiertool's SQL mapping: please report it)")
        return req
