"""Per-task random samples of a streamed log, in memory bounded by the sample size.

Each request gets a key from a seeded hash of its id (md5 of "seed:id", which DuckDB, Postgres and Spark compute
too, so an engine picks the same requests where the data lives); a task's sample is the requests with the smallest
keys.
That is a uniform random sample, independent of log order, and the sample for n is a prefix of the sample for
any larger n, so a later round only adds requests. Samples are kept per task *and logged model* (a stratum), so
that `monitor` can sample the requests its assigned model answered although inferred task types get their final
names only after the stream; the smallest keys of a union are among the smallest keys of its parts, so merging
strata gives exactly the per-task sample.
"""

from __future__ import annotations

import hashlib
import heapq
from collections import Counter, defaultdict
from dataclasses import replace

from ..records import Request

Stratum = tuple[str, str]  # (task, logged model)


KEY_DIGITS = 15  # hex digits of the md5 a key keeps: 60 bits, a positive BIGINT in every engine


def sample_key(seed: int, request_id: str) -> int:
    """The request's place in every sample: smaller keys are sampled first. SQL: the first 15 hex digits of
    md5(seed || ':' || id) as a BIGINT, which engines carry through their aggregates as a fixed-width number."""
    return int(hashlib.md5(f"{seed}:{request_id}".encode()).hexdigest()[:KEY_DIGITS], 16)


class Sampler:
    """Keep the `size` smallest-key requests of each (task, logged model), and count every request offered."""

    def __init__(self, size: int, seed: int = 0) -> None:
        self.size = size
        self.seed = seed
        self.offered: Counter[Stratum] = Counter()
        self._heaps: dict[Stratum, list[tuple[int, int, Request]]] = defaultdict(list)
        self._n = 0

    def add(self, req: Request) -> None:
        self.offered[(req.task, req.model)] += 1
        if self.size > 0:
            self._keep(-sample_key(self.seed, req.id), req)

    def wants(self, stratum: Stratum, key: int) -> bool:
        """Whether a request of this key would enter its stratum's sample now (so an engine parses only those)."""
        heap = self._heaps.get(stratum)
        return self.size > 0 and (heap is None or len(heap) < self.size or -key > heap[0][0])

    def keep(self, key: int, req: Request) -> None:
        """Offer a request an engine picked; engines count `offered` themselves."""
        if self.wants((req.task, req.model), key):
            self._keep(-key, req)

    def _keep(self, neg_key: int, req: Request) -> None:
        heap = self._heaps[(req.task, req.model)]
        self._n += 1
        item = (neg_key, self._n, req)  # max-heap on key: the root is the one to evict
        if len(heap) < self.size:
            heapq.heappush(heap, item)
        elif neg_key > heap[0][0]:
            heapq.heapreplace(heap, item)

    def rename(self, renames: dict[str, str]) -> None:
        """Rename tasks, merging those renamed alike (inferred groups named or dissolved after reading)."""
        for stratum in [s for s in self._heaps if s[0] in renames]:
            new = renames[stratum[0]]
            for neg_key, _, req in self._heaps.pop(stratum):
                self._keep(neg_key, replace(req, task=new,
                                            task_source="none" if new == "untagged" else req.task_source))
        for task, model in [s for s in self.offered if s[0] in renames]:
            self.offered[(renames[task], model)] += self.offered.pop((task, model))

    def samples(self) -> dict[Stratum, list[Request]]:
        """Each stratum's sample, smallest key first (the order later rounds extend)."""
        return {s: [r for _, _, r in sorted(heap, key=lambda t: (-t[0], t[1]))] for s, heap in self._heaps.items()}


def merge(parts: list[list[Request]], seed: int, size: int) -> list[Request]:
    """The `size` smallest-key requests of several strata's samples, smallest key first."""
    return sorted((r for part in parts for r in part), key=lambda r: sample_key(seed, r.id))[:size]
