"""The log's volume per task and model: what is spent today, and what savings are priced on."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, fields

from .records import Request


@dataclass
class Usage:
    requests: int = 0
    replayable: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    logged_cost: float = 0.0
    logged_cost_n: int = 0  # requests whose cost the log recorded

    def add(self, req: Request) -> None:
        self.requests += 1
        self.replayable += req.replayable
        self.input_tokens += req.input_tokens
        self.output_tokens += req.output_tokens
        self.cached_tokens += req.cached_tokens
        self.reasoning_tokens += req.reasoning_tokens
        if req.cost is not None:
            self.logged_cost += req.cost
            self.logged_cost_n += 1

    def as_row(self) -> tuple:
        return tuple(getattr(self, f.name) for f in fields(self))


USAGE_COLUMNS = tuple(f.name for f in fields(Usage))


class Volume:
    """Aggregates per (task, logged model) and the log's time span."""

    def __init__(self) -> None:
        self.by: dict[tuple[str, str], Usage] = defaultdict(Usage)
        self.first: float | None = None
        self.last: float | None = None

    def add(self, req: Request) -> None:
        self.by[(req.task, req.model)].add(req)
        if req.time is not None:
            self.first = req.time if self.first is None else min(self.first, req.time)
            self.last = req.time if self.last is None else max(self.last, req.time)

    def rename(self, renames: dict[str, str]) -> None:
        """Merge the aggregates of renamed tasks into their new task."""
        for (task, model) in [k for k in self.by if k[0] in renames]:
            usage = self.by.pop((task, model))
            into = self.by[(renames[task], model)]
            for f in fields(Usage):
                setattr(into, f.name, getattr(into, f.name) + getattr(usage, f.name))
