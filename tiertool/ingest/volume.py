"""The log's volume per task, model, batch flag and day: what is spent today, and what savings are priced on.

Kept per day so that the savings' confidence interval can resample days (traffic varies day to day)."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, fields, replace

from ..records import Request


@dataclass
class Usage:
    requests: int = 0
    replayable: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    logged_cost: float = 0.0
    logged_cost_n: int = 0  # requests whose cost the log recorded

    def add(self, req: Request) -> None:
        self.requests += 1
        self.replayable += req.replayable
        self.input_tokens += req.input_tokens
        self.output_tokens += req.output_tokens
        self.cached_tokens += req.cached_tokens
        self.cache_write_tokens += req.cache_write_tokens
        self.reasoning_tokens += req.reasoning_tokens
        if req.cost is not None:
            self.logged_cost += req.cost
            self.logged_cost_n += 1

    def merge(self, other: Usage) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_row(self) -> tuple:
        return tuple(getattr(self, f.name) for f in fields(self))


USAGE_COLUMNS = tuple(f.name for f in fields(Usage))


@dataclass(frozen=True)
class Key:
    """A volume group: the task type, the logged model, whether it went through a batch API, and the day."""

    task: str
    model: str
    batch: bool
    day: str  # YYYY-MM-DD (UTC), or "" when the log has no time


class Volume:
    """Aggregates per Key and the log's time span; memory grows with tasks x models x days, not requests."""

    def __init__(self) -> None:
        self.by: dict[Key, Usage] = defaultdict(Usage)
        self.first: float | None = None
        self.last: float | None = None

    def add(self, req: Request) -> None:
        day = time.strftime("%Y-%m-%d", time.gmtime(req.time)) if req.time is not None else ""
        self.by[Key(req.task, req.model, req.is_batch, day)].add(req)
        if req.time is not None:
            self.first = req.time if self.first is None else min(self.first, req.time)
            self.last = req.time if self.last is None else max(self.last, req.time)

    def rename(self, renames: dict[str, str]) -> None:
        """Merge the aggregates of renamed (inferred) task types into their final names."""
        for key in [k for k in self.by if k.task in renames]:
            self.by[replace(key, task=renames[key.task])].merge(self.by.pop(key))


def totals(by: dict[Key, Usage], days: bool = False) -> dict[Key, Usage]:
    """Sum over days (keeping task, model, batch), or keep days when `days` is true."""
    if days:
        return by
    out: dict[Key, Usage] = defaultdict(Usage)
    for key, usage in by.items():
        out[Key(key.task, key.model, key.batch, "")].merge(usage)
    return dict(out)
