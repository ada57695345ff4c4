"""The one pass over traffic: `scan` reads the logs once and returns a `Traffic` with the final task names
applied (inferred task types are named only once the stream ends), so audit, inspect, monitor, the drift gate
and every later engine see the same task types and counts, and no caller handles renames.

Memory grows with tasks x models x days and the samples, not with the log.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..records import USAGE_COLUMNS, Key, Request, Usage
from .common import typing_tag
from .listing import Listing
from .reader import Check, LogReader, ReadStats, read_logs
from .sample import Sampler, Stratum, merge
from .steps import by_step, renamed
from .tasktype import Group


@dataclass
class TaskTraffic:
    """One task type's share of the log."""

    requests: int = 0
    replayable: int = 0
    sources: Counter[str] = field(default_factory=Counter)  # how its requests were typed: task_source -> n
    called: Counter[str] = field(default_factory=Counter)  # the model (group) name its clients called -> n
    tags: Counter[str] = field(default_factory=Counter)  # the exact tag that typed it (a proxy routes on it) -> n

    @property
    def typed_by(self) -> str:
        return self.sources.most_common(1)[0][0] if self.sources else "none"


@dataclass(frozen=True)
class Traffic:
    """What one pass over the logs found: volume, per-task counts and samples, read accounting."""

    paths: tuple[Path, ...]
    stats: ReadStats
    volume: dict[Key, Usage]  # per task, logged model, batch flag and day
    first_time: float | None
    last_time: float | None
    tasks: dict[str, TaskTraffic]  # every task type, largest first
    groups: dict[str, Group]  # inferred task types: the template group behind each name
    strata: dict[Stratum, list[Request]]  # seeded samples per (task, logged model), smallest key first
    offered: dict[Stratum, int]  # requests that could be sampled, per (task, logged model); when sampling
    seed: int = 0
    size: int = 0  # the sample size asked for

    def sample(self, task: str, model: Callable[[str], bool] | None = None) -> list[Request]:
        """The task's seeded sample (of the requests answered by a matching logged model, when given)."""
        parts = [reqs for (t, m), reqs in self.strata.items() if t == task and (model is None or model(m))]
        return merge(parts, self.seed, self.size)

    def eligible(self, task: str, model: Callable[[str], bool] | None = None) -> int:
        """How many of the task's requests could be sampled (answered by a matching logged model)."""
        return sum(n for (t, m), n in self.offered.items() if t == task and (model is None or model(m)))


class _Tally:
    """Counts while the log streams: per (task, model, batch, day) a list in Usage's field order, and per (task,
    task_source) the requests typed that way. Plain tuples and lists keep the pass fast; they become Keys,
    Usages and TaskTraffic, under the final task names, at the end."""

    def __init__(self) -> None:
        self.by: dict[tuple[str, str, bool, str], list[float]] = {}
        self.typed: dict[tuple[str, str], int] = {}
        self.clients: dict[tuple[str, str, str], int] = {}  # (task, model called, tag that typed it or "")
        self.first: float | None = None
        self.last: float | None = None
        self._days: dict[int, str] = {}  # unix day -> "YYYY-MM-DD", formatted once per day

    def add_group(self, task: str, how: str, model: str, batch: bool, day: str, usage: Sequence[float],
                  first: float | None, last: float | None, called: str, tag: str) -> None:
        """Counts an engine summed (Usage's field order) for requests of one task, how typed, model, day, model
        called and typing tag."""
        key = (task, model, batch, day)
        acc = self.by.get(key)
        if acc is None:
            acc = self.by[key] = [0] * len(USAGE_COLUMNS)
        for i, v in enumerate(usage):
            acc[i] += v
        self.typed[(task, how)] = self.typed.get((task, how), 0) + int(usage[0])
        client = (task, called, tag)
        self.clients[client] = self.clients.get(client, 0) + int(usage[0])
        if first is not None:
            self.first = first if self.first is None or first < self.first else self.first
        if last is not None:
            self.last = last if self.last is None or last > self.last else self.last

    def add(self, req: Request) -> None:
        day = ""
        if req.time is not None:
            n = int(req.time // 86400)
            day = self._days.get(n) or self._days.setdefault(n, time.strftime("%Y-%m-%d", time.gmtime(req.time)))
            self.first = req.time if self.first is None or req.time < self.first else self.first
            self.last = req.time if self.last is None or req.time > self.last else self.last
        key = (req.task, req.model, req.is_batch, day)
        acc = self.by.get(key)
        if acc is None:
            acc = self.by[key] = [0] * len(USAGE_COLUMNS)
        acc[0] += 1  # requests
        acc[1] += req.replayable
        acc[2] += req.input_tokens
        acc[3] += req.output_tokens
        acc[4] += req.cached_tokens
        acc[5] += req.cache_write_tokens
        acc[6] += req.reasoning_tokens
        if req.cost is not None:
            acc[7] += req.cost  # logged_cost
            acc[8] += 1  # logged_cost_n
        typed = (req.task, req.task_source)
        self.typed[typed] = self.typed.get(typed, 0) + 1
        client = (req.task, req.requested_model or req.model,
                  typing_tag(req.tags, req.task) if req.task_source == "tag" else "")
        self.clients[client] = self.clients.get(client, 0) + 1

    def volume(self, renames: dict[str, str]) -> dict[Key, Usage]:
        out: dict[Key, Usage] = {}
        for (task, model, batch, day), acc in self.by.items():
            final = Key(renames.get(task, task), model, batch, day)
            r, rp, i, o, c, w, rs, cost, logged = acc
            u = Usage(int(r), int(rp), int(i), int(o), int(c), int(w), int(rs), float(cost), int(logged))
            out[final] = out[final] + u if final in out else u
        return out

    def tasks(self, volume: dict[Key, Usage], renames: dict[str, str]) -> dict[str, TaskTraffic]:
        """Every task type, largest first; requests of a group dissolved into "untagged" count as untyped."""
        out: dict[str, TaskTraffic] = defaultdict(TaskTraffic)
        for key, u in volume.items():
            out[key.task].requests += u.requests
            out[key.task].replayable += u.replayable
        for (task, source), n in self.typed.items():
            new = renames.get(task, task)
            out[new].sources["none" if new == "untagged" and task != new else source] += n
        for (task, called, tag), n in self.clients.items():
            t = out[renames.get(task, task)]
            t.called[called] += n
            if tag:
                t.tags[tag] += n
        return dict(sorted(out.items(), key=lambda kv: (-kv[1].requests, kv[0])))


SAMPLE_IF: dict[str, Callable[[Request], bool]] = {
    "replayable": lambda req: req.replayable,  # the audit: requests whose prompt can be sent again
    "answered": lambda req: req.replayable and req.output is not None,  # monitor: with the logged answer too
    "any": lambda req: True,  # init: examples of every request (the streaming reader only)
}


def scan(paths: Sequence[str | Path], fmt: str | None = None, group_by: str | None = "auto",
         mapping: str | dict[str, str] | None = None, *, sample: int = 0, seed: int = 0,
         sample_if: str = "replayable", engine: str | None = None, since: str | None = None,
         until: str | None = None, semantic: bool = False, listing: str | Path | None = None,
         check: Check | None = None, steps: bool = False) -> Traffic:
    """Read the logs once: volume, task types (final names), how each was typed, and per task and logged model
    a seeded sample of `sample` requests among those `sample_if` accepts (SAMPLE_IF). `engine` (engines.ENGINES)
    runs the pass where the logs live; `since`/`until` select a database's rows by start time. `semantic`: also
    group free-form prompts by topic (config `semantic_tasks`); `listing`: a CSV file to write every request's
    typing to (listing.py; the streaming reader only: an engine hands Python only some rows); `check`: why a
    request cannot be sent to the audit's tiers (replay.carry), counted as not replayable; `steps`: type agent
    steps apart (steps.py, config `agent_steps`)."""
    from .engines import choose

    tally, sampler = _Tally(), Sampler(sample, seed)
    kind = choose(paths, fmt, mapping, engine)
    reader: LogReader
    if kind == "stream":
        if since or until:
            raise InputError("--since/--until select rows of a database table (postgresql://...)")
        reader = read_logs(paths, fmt, group_by, mapping, semantic=semantic, light=True, check=check)
    elif sample_if == "any" or listing is not None:
        raise InputError(f"{paths[0]}: this command reads files the streaming reader reads (not --engine {kind})")
    else:
        from .engines import open_reader

        reader = open_reader(kind, paths, fmt, group_by, tally, sampler, sample_if == "answered", since, until,
                             semantic, check, steps)
    eligible = SAMPLE_IF[sample_if]
    rows = Listing(listing) if listing is not None else None
    for req in reader:
        if steps:
            req = by_step(req)
        tally.add(req)
        if sample and eligible(req):
            sampler.add(req)
        if rows is not None:
            rows.add(req)
    renames = renamed(reader.renames, {k[0] for k in tally.by}) if steps else reader.renames
    if rows is not None:
        rows.close(renames)
    sampler.rename(renames)
    volume = tally.volume(renames)
    groups = {g.name: g for g in reader.typer.kept()} if reader.typer else {}
    return Traffic(tuple(reader.paths), reader.stats, volume, tally.first, tally.last, tally.tasks(volume, renames),
                   groups, sampler.samples(), dict(sampler.offered), seed, sample)
