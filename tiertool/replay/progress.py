"""Replay progress per tier: a rich bar on a terminal, plain lines otherwise (CI), nothing with --quiet."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from ..text import printable


@dataclass
class TierCount:
    total: int
    done: int = 0
    failed: int = 0  # sent and failed after retries: the audit summary's "failed"
    unsent: int = 0  # never sent (the tier stopped, --budget): not failures
    retried: int = 0
    spend: float = 0.0

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.unsent

    def info(self) -> str:
        return (f"{self.failed} failed, " + (f"{self.unsent} not sent, " if self.unsent else "")
                + f"{self.retried} retried, ${self.spend:,.4f}")

    def line(self, tier: str, started: float) -> str:
        finished = self.finished
        rate = finished / max(time.monotonic() - started, 1e-9)
        eta = f", ETA {(self.total - finished) / rate:.0f}s" if rate and finished < self.total else ""
        return (f"{printable(tier)}: {finished}/{self.total} ({self.done} done, {self.failed} failed, "
                + (f"{self.unsent} not sent, " if self.unsent else "")
                + f"{self.retried} retried), ${self.spend:,.4f} spent{eta}")


class Progress:
    """Silent progress; subclasses show it. The Replayer calls `start`, `update` per event, and `stop`."""

    def __init__(self) -> None:
        self.counts: dict[str, TierCount] = {}
        self.started = time.monotonic()

    def start(self, totals: dict[str, int]) -> None:
        self.counts = {tier: TierCount(n) for tier, n in totals.items()}
        self.started = time.monotonic()

    def update(self, tier: str, done: int = 0, failed: int = 0, retried: int = 0, spend: float = 0.0,
               unsent: int = 0) -> None:
        c = self.counts.get(tier)
        if c is None:
            return
        c.done += done
        c.failed += failed
        c.unsent += unsent
        c.retried += retried
        c.spend += spend
        self.show(tier, c)

    def show(self, tier: str, count: TierCount) -> None:
        pass

    def note(self, message: str) -> None:
        """A line worth the user's eye while calls run (a batch submitted, with its id)."""

    def stop(self) -> None:
        pass


class PlainProgress(Progress):
    """One line per tier each time it passes another tenth of its calls, and when it ends."""

    def __init__(self, write: Callable[[str], None]) -> None:
        super().__init__()
        self.write = write
        self.shown: dict[str, int] = {}

    def start(self, totals: dict[str, int]) -> None:
        super().start(totals)
        self.shown = {}  # each round (Replayer.run) counts from zero again

    def show(self, tier: str, count: TierCount) -> None:
        step = count.finished * 10 // max(count.total, 1)
        if step > self.shown.get(tier, 0):
            self.shown[tier] = step
            self.write(count.line(tier, self.started))

    def note(self, message: str) -> None:
        self.write(printable(message))


class RichProgress(Progress):
    """A rich progress bar per tier: done, failed, retried, spend so far, ETA."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__()
        from rich.console import Console

        self.console = Console(file=stream)
        self.bar: Any = None
        self.tasks: dict[str, Any] = {}

    def start(self, totals: dict[str, int]) -> None:
        from rich.markup import escape
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar

        super().start(totals)
        self.bar = Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TextColumn("{task.fields[info]}"), TimeRemainingColumn(), console=self.console,
                       transient=False)
        self.tasks = {tier: self.bar.add_task(escape(printable(tier)), total=n, info="") for tier, n in totals.items()}
        self.bar.start()

    def show(self, tier: str, count: TierCount) -> None:
        self.bar.update(self.tasks[tier], completed=count.finished, info=count.info())

    def note(self, message: str) -> None:
        from rich.markup import escape

        self.console.print(escape(printable(message)))

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def make_progress(quiet: bool, stream: IO[str] | None = None) -> Progress:
    """The right display for where output goes: nothing, a rich bar (terminal) or plain lines."""
    stream = stream or sys.stderr
    if quiet:
        return Progress()
    if stream.isatty():
        return RichProgress(stream)
    return PlainProgress(lambda line: print(line, file=stream, flush=True))
