"""What every engine hands the one pass, and the reader that turns it into what the streaming reader gives.

An engine runs the spend mapping where the data lives and returns, per part of the input (a file, a table), one
or more `Chunk`s: volume groups of the rows it read itself, per (task, logged model) the smallest-key rows that
may be sampled, and the rows that Python must read (rows outside the shapes the SQL reads exactly). Untagged
rows with a prompt come back as groups per prompt text (what the task typer reads), so the typer types each text
once after its first pass and only the rows sampled among them are parsed. `EngineReader` is a `LogReader` whose
units are the rows Python reads: the parser, the typer and the read accounting are the streaming reader's own,
so both paths give the same Traffic.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from ...records import Request
from .. import litellm_spend
from ..formats import FORMATS
from ..reader import BUFFER_CHARS, MAX_REASONS, Check, LogReader, ReadStats, _FileRead
from ..sample import KEY_DIGITS, Sampler
from ..sources import Unit
from ..streams import Stream
from ..tasktype import TaskTyper

SPEND = litellm_spend.NAME


class Tally(Protocol):
    def add_group(self, task: str, how: str, model: str, batch: bool, day: str, usage: Sequence[float],
                  first: float | None, last: float | None, called: str, tag: str) -> None: ...


Prompt = tuple[str, str]  # (system, user): what the task typer reads of an untyped request


@dataclass
class Chunk:
    """One query's answer. `groups`: (task, how, model, day, requests, replayable, input, output, cached,
    cache_write, reasoning, cost, costed, first, last, eligible, why not replayable, model called, typing tag);
    `sample`: per (task, model) rows as (row, key hex) smallest key first; `python`: the rows Python reads;
    `units(rows)` gives (row, unit) for sorted rows of any list. `held`: untyped prompts the engine read
    itself, as (prompt, group) with the group's model, day and values as in `groups` (task "untagged", how
    "none" until the typer types the prompt), and `held_sample` per (prompt, model) its smallest-key rows."""

    groups: list[tuple[Any, ...]]
    sample: dict[tuple[str, str], list[tuple[Any, str]]]
    python: list[Any]
    units: Callable[[list[Any]], Iterator[tuple[Any, Unit]]]
    held: list[tuple[Prompt, tuple[Any, ...]]] = field(default_factory=list)
    held_sample: dict[tuple[Prompt, str], list[tuple[Any, str]]] = field(default_factory=dict)


class Part(Protocol):
    name: str  # the file or table, as stats and sources name it

    def chunks(self) -> Iterator[Chunk]: ...


def split(rows: list[tuple[Any, ...]], units: Callable[[list[Any]], Iterator[tuple[Any, Unit]]],
          unread: Sequence[Any] = ()) -> Chunk:
    """Rows of the one-pass query (levels 0: volume, 5: sample per task and model, 15: rows for Python);
    `unread`: more rows for Python (lines too long for the engine)."""
    chunk = Chunk([], {}, list(unread), units)
    for level, task, how, model, day, *values, system, user, refs, py in rows:
        prompt = None if system is None else (system, user)
        if level == 0 and values[0]:
            if prompt is None:
                chunk.groups.append((task, how, model, day, *values))
            else:
                chunk.held.append((prompt, (model, day, *values)))
        elif level == 5 and refs:  # per (task, model[, prompt])
            picked = [(x["n"], x["key"] if isinstance(x["key"], str) else f"{x['key']:0{KEY_DIGITS}x}") for x in refs]
            if prompt is None:
                chunk.sample[(task, model)] = picked
            else:
                chunk.held_sample[(prompt, model)] = picked
        elif level == 15:
            chunk.python = sorted({*chunk.python, *(py or ())})  # a line too long is also the query's
    return chunk


def _key(digits: str) -> int:
    """A sample key from an engine's hex digits (engines may give the whole md5: its first KEY_DIGITS count)."""
    return int(digits[:KEY_DIGITS], 16)


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
        stats, sampler, typer = self.stats, self.sampler, self.typer
        assert typer is not None  # an engine's reader always infers task types
        tally = self._files.setdefault(part.name, _FileRead())
        seen = self._seen.setdefault(part.name, Counter())
        for chunk in part.chunks():
            self._read_once.setdefault(part.name, []).append(chunk)
            counts: Counter[Prompt] = Counter()
            for prompt, (_, _, n, *_, why, _, _) in chunk.held:
                self._count(tally, seen, n, why)
                counts[prompt] += n
            for prompt, n in counts.items():  # pass 1 of the typer, once per prompt
                typer.observe_text(*prompt, n)
            self._held += len(counts)
            for task, how, model, day, n, replayable, pt, ct, cached, cw, rt, cost, costed, t0, t1, eligible, why, \
                    called, tag in chunk.groups:
                self._count(tally, seen, n, why)
                self.tally.add_group(task, how, model, False, day, (n, replayable, pt, ct, cached, cw, rt, cost or 0.0,
                                                                    costed), t0, t1, called, tag)
                stats.typing[how] += n
                if eligible:
                    sampler.offered[(task, model)] += eligible
            wanted = {row: (_key(key), stratum) for stratum, refs in chunk.sample.items() for row, key in refs
                      if sampler.wants(stratum, _key(key))}
            python = set(chunk.python)
            for row, unit in chunk.units(sorted(python | set(wanted))):  # one more read of the part, in order
                if row in wanted:
                    key, stratum = wanted[row]
                    source, obj, _ = unit
                    sampler.keep(key, self._verified(FORMATS[SPEND].parser()(obj, source, self.group_by), stratum, key))
                if row in python:
                    yield unit

    def _count(self, tally: _FileRead, seen: Counter[str], n: int, why: str | None) -> None:
        """Read accounting of `n` rows the engine read itself."""
        stats = self.stats
        if why is not None:
            stats.not_replayable[why if why in stats.not_replayable or len(stats.not_replayable) < MAX_REASONS
                                 else "other reasons"] += n
        stats.lines += n
        stats.records += n
        tally.lines += n
        tally.records += n
        seen[SPEND] += n

    def _assign_held(self, typer: TaskTyper) -> None:
        """After fit: each untyped prompt the engine read is typed once (for all its requests), its groups counted
        under its task type, and each stratum's smallest-key rows among them read by the parser for the sample."""
        chunks = [c for part in self.parts for c in self._read_once.get(part.name, [])]
        totals: Counter[Prompt] = Counter()
        for chunk in chunks:
            for prompt, values in chunk.held:
                totals[prompt] += values[2]
        group = {prompt: typer.assign_text(*prompt, n) for prompt, n in totals.items()}
        sampler = self.sampler
        offers: dict[tuple[str, str], list[tuple[int, Any, int, Prompt]]] = {}
        for chunk in chunks:
            for prompt, (model, day, n, replayable, pt, ct, cached, cw, rt, cost, costed, t0, t1, eligible, _,
                         called, tag) in chunk.held:
                g = group[prompt]
                task, how = (g.key, g.how) if g else ("untagged", "none")
                self.tally.add_group(task, how, model, False, day, (n, replayable, pt, ct, cached, cw, rt, cost or 0.0,
                                                                    costed), t0, t1, called, tag)
                self.stats.typing[how] += n
                if eligible:
                    sampler.offered[(task, model)] += eligible
            for (prompt, model), refs in chunk.held_sample.items():
                g = group[prompt]
                stratum = (g.key if g else "untagged", model)
                offers.setdefault(stratum, []).extend((_key(key), row, id(chunk), prompt) for row, key in refs)
        wanted: dict[int, dict[Any, tuple[int, tuple[str, str], Prompt]]] = {}
        for stratum, picks in offers.items():
            for key, row, at, prompt in heapq.nsmallest(sampler.size, picks):
                if sampler.wants(stratum, key):
                    wanted.setdefault(at, {})[row] = (key, stratum, prompt)
        for chunk in chunks:
            rows = wanted.get(id(chunk), {})
            for row, (source, obj, _) in chunk.units(sorted(rows)) if rows else ():
                key, stratum, prompt = rows[row]
                req = FORMATS[SPEND].parser()(obj, source, self.group_by)
                if typer.prompt(req) != prompt:
                    raise RuntimeError(f"{req.source}: the engine read another prompt than the parser (a bug in "
                                       f"tiertool's SQL mapping: please report it)")
                g = group[prompt]
                if g is not None:
                    req = replace(req, task=g.key, task_source=g.how, template=g.fixed)
                sampler.keep(key, self._verified(req, stratum, key))

    def _verified(self, req: Request, stratum: tuple[str, str], key: int) -> Request:
        """The parser's reading of a row the engine sampled must be the engine's: else it is a bug, said aloud."""
        from ..sample import sample_key

        if (req.task, req.model) != stratum or sample_key(self.sampler.seed, req.id) != key or not req.replayable:
            raise RuntimeError(f"{req.source}: the engine read task {stratum[0]!r}, model {stratum[1]!r}; the parser "
                               f"reads {req.task!r}, {req.model!r} (a bug in tiertool's SQL mapping: please report it)")
        return req
