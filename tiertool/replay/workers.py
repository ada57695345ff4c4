"""Replay across worker processes (`replay.workers`).

litellm spends about 3 ms of Python CPU on every call (request setup, cost, logging payload), so one process
tops out at a few hundred calls a second whatever the provider can take. Workers split the calls, each with its
own event loop and its own connection to the shared SQLite cache (WAL: concurrent writers are safe), and send
back every answer and their counts. Used only where the split cannot change what is sent: no --budget (a hard
cap needs one ledger) and no rpm/tpm limit (one clock); otherwise the replay stays in this process.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from ..config import Replay
from ..records import Call

Shard = Callable[[str, Replay, list[Call]], dict[str, Any]]  # (cache path, settings, calls) -> answers and counts


def unsuitable(workers: int, calls: list[Call], budget: float | None) -> str | None:
    """Why these calls must stay in this process, or None when they can be split over `workers`."""
    if workers <= 1:
        return "one worker"
    if budget is not None:
        return "--budget keeps one ledger"
    if any(c.tier.rpm or c.tier.tpm for c in calls):
        return "rpm/tpm limits keep one clock"
    if len(calls) < 4 * workers:
        return "too few calls to be worth a split"
    return None


class Pool:
    """Worker processes kept for the life of a Replayer, so later rounds do not pay their start-up again."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None

    def run(self, shard: Shard, cache_path: str, settings: Replay, calls: list[Call]) -> list[dict[str, Any]]:
        """Answer `calls` split over the workers, each running `shard` (the engine's in-process replay)."""
        if self._executor is None:
            # fork where it exists: a worker inherits the loaded modules instead of importing litellm again
            method = "fork" if sys.platform.startswith("linux") else "spawn"
            self._executor = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context(method))
        per = settings.model_copy(update={"concurrency": max(1, -(-settings.concurrency // self.workers))})
        shards = [calls[i::self.workers] for i in range(self.workers)]
        futures = [self._executor.submit(shard, cache_path, per, part) for part in shards if part]
        return [f.result() for f in futures]

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


def merge(results: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any], dict[str, str], Counter[str]]:
    """The workers' answers, summed counts, stopped tiers and answered calls per tier, as one process's."""
    answers: dict[str, Any] = {}
    totals: dict[str, Any] = {}
    stopped: dict[str, str] = {}
    ok: Counter[str] = Counter()
    for r in results:
        answers.update(r["answers"])
        for k, v in r["stats"].items():
            totals[k] = totals.get(k, [] if isinstance(v, list) else 0) + v
        for tier, why in r["stopped"].items():
            stopped.setdefault(tier, why)
        ok.update(r["ok"])
    return answers, totals, stopped, ok
