"""Replay across worker processes (`replay.workers`).

litellm spends about 3 ms of Python CPU on every call (request setup, cost, logging payload), so one process
tops out at a few hundred calls a second whatever the provider can take. Workers split the calls, each with its
own event loop and its own connection to the shared SQLite cache (WAL: concurrent writers are safe), and send
back every answer and their counts. Used only where the split cannot change what is sent: no --budget (a hard
cap needs one ledger) and no rpm/tpm limit (one clock); otherwise the replay stays in this process.

A worker dies with its parent: a `kill -9` of the audit must not leave processes that keep paying for calls.
On Linux the kernel sends it SIGKILL when the parent goes (PR_SET_PDEATHSIG); elsewhere a watchdog thread sees
the parent change. Ctrl-C is the parent's to handle: workers ignore SIGINT and the parent terminates them.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from ..config import Replay
from ..records import Call

Shard = Callable[[str, Replay, list[Call], Any], dict[str, Any]]  # (cache path, settings, calls, prices) -> results
PR_SET_PDEATHSIG = 1  # linux/prctl.h


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


def die_with_parent(parent: int) -> None:
    """Worker start-up: end this process the moment `parent` is gone, and leave Ctrl-C to the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        with suppress(OSError, AttributeError):  # no prctl: the watchdog below still ends it
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the kernel was told to watch it
        os._exit(1)
    threading.Thread(target=_watch, args=(parent,), daemon=True, name="tiertool-parent-watch").start()


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


class Pool:
    """Worker processes kept for the life of a Replayer, so later rounds do not pay their start-up again."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: Any = None

    def run(self, shard: Shard, cache_path: str, settings: Replay, calls: list[Call], prices: Any = None
            ) -> list[dict[str, Any]]:
        """Answer `calls` split over the workers, each running `shard` (the engine's in-process replay)."""
        if self._pool is None:
            # fork where it exists: a worker inherits the loaded modules instead of importing litellm again
            method = "fork" if sys.platform.startswith("linux") else "spawn"
            self._pool = multiprocessing.get_context(method).Pool(self.workers, die_with_parent, (os.getpid(),))
        per = settings.model_copy(update={"concurrency": max(1, -(-settings.concurrency // self.workers))})
        shards = [calls[i::self.workers] for i in range(self.workers)]
        pending = [self._pool.apply_async(shard, (cache_path, per, part, prices)) for part in shards if part]
        try:
            return [p.get() for p in pending]
        except BaseException:  # Ctrl-C or a worker's error: stop the others paying at once
            self.close(terminate=True)
            raise

    def close(self, terminate: bool = False) -> None:
        """Let the workers finish (or end them now) and wait for them to exit."""
        if self._pool is not None:
            if terminate:
                self._pool.terminate()
            else:
                self._pool.close()
            self._pool.join()
            self._pool = None


def merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The workers' answers, summed counts, stopped tiers, answered calls per tier, answers they could not write
    to the cache and why (`halted`), as one process's."""
    out: dict[str, Any] = {"answers": {}, "stats": {}, "stopped": {}, "ok": Counter(), "unsaved": {}, "halted": None}
    for r in results:
        out["halted"] = out["halted"] or r["halted"]
        out["answers"].update(r["answers"])
        out["unsaved"].update(r["unsaved"])
        for k, v in r["stats"].items():
            out["stats"][k] = out["stats"].get(k, [] if isinstance(v, list) else 0) + v
        for tier, why in r["stopped"].items():
            out["stopped"].setdefault(tier, why)
        out["ok"].update(r["ok"])
    return out
