"""Replay across worker processes (`replay.workers`).

litellm spends about 3 ms of Python CPU on every call (request setup, cost, logging payload), so one process
tops out at a few hundred calls a second whatever the provider can take. Workers split the calls, each with its
own event loop and its own connection to the shared SQLite cache (WAL: concurrent writers are safe), and send
back every answer and their counts. Used only where the split cannot change what is sent: no --budget (a hard
cap needs one ledger) and no rpm/tpm limit (one clock); otherwise the replay stays in this process.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from typing import Any

from ..config import Replay


def unsuitable(workers: int, calls: list[Any], budget: float | None, hooked: bool) -> str | None:
    """Why these calls must stay in this process, or None when they can be split over `workers`."""
    if workers <= 1:
        return "one worker"
    if budget is not None:
        return "--budget keeps one ledger"
    if hooked:
        return "an on_answer hook runs in this process"
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

    def run(self, cache_path: str, settings: Replay, calls: list[Any]) -> list[dict[str, Any]]:
        if self._executor is None:
            # fork where it exists: a worker inherits the loaded modules instead of importing litellm again
            method = "fork" if sys.platform.startswith("linux") else "spawn"
            self._executor = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context(method))
        per = settings.model_copy(update={"concurrency": max(1, -(-settings.concurrency // self.workers))})
        shards = [calls[i::self.workers] for i in range(self.workers)]
        futures = [self._executor.submit(_shard, cache_path, per, shard) for shard in shards if shard]
        return [f.result() for f in futures]

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


def _shard(cache_path: str, settings: Replay, calls: list[Any]) -> dict[str, Any]:
    """In a worker: answer these calls with an in-process Replayer on its own cache connection."""
    from .cache import Cache
    from .engine import Replayer

    cache = Cache(cache_path)
    try:
        replayer = Replayer(cache, settings.model_copy(update={"workers": 1}))
        replayer.approved = True  # the parent showed the plan and checked the keys
        asyncio.run(replayer._run_all(calls))
    finally:
        cache.close()
    return {"answers": replayer.answers, "stats": asdict(replayer.stats), "stopped": replayer.stopped,
            "ok": dict(replayer.ok)}


def merge(results: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any], dict[str, str], Counter]:
    answers: dict[str, Any] = {}
    totals: dict[str, Any] = {}
    stopped: dict[str, str] = {}
    ok: Counter = Counter()
    for r in results:
        answers.update(r["answers"])
        for k, v in r["stats"].items():
            totals[k] = totals.get(k, [] if isinstance(v, list) else 0) + v
        for tier, why in r["stopped"].items():
            stopped.setdefault(tier, why)
        ok.update(r["ok"])
    return answers, totals, stopped, ok
