"""Per-task random samples of a streamed log, in memory bounded by the sample size.

Each request gets a key from a seeded hash of its id; a task's sample is the requests with the
smallest keys. That is a uniform random sample, independent of log order, and the sample for n
is a prefix of the sample for any larger n, so a later round only adds requests.
"""

from __future__ import annotations

import hashlib
import heapq
from collections import defaultdict
from dataclasses import replace

from ..records import Request


def sample_key(seed: int, request_id: str) -> int:
    digest = hashlib.blake2b(f"{seed}:{request_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class Sampler:
    """Keep the `size` smallest-key replayable requests of each task."""

    def __init__(self, size: int, seed: int = 0) -> None:
        self.size = size
        self.seed = seed
        self._heaps: dict[str, list[tuple[int, int, Request]]] = defaultdict(list)
        self._n = 0

    def add(self, req: Request) -> None:
        key = sample_key(self.seed, req.id)
        heap = self._heaps[req.task]
        self._n += 1
        item = (-key, self._n, req)  # max-heap on key: the root is the one to evict
        if len(heap) < self.size:
            heapq.heappush(heap, item)
        elif -key > heap[0][0]:
            heapq.heapreplace(heap, item)

    def samples(self) -> dict[str, list[Request]]:
        """Each task's sample, smallest key first (the order later rounds extend)."""
        return {task: [r for _, _, r in sorted(heap, key=lambda t: (-t[0], t[1]))]
                for task, heap in self._heaps.items()}

    def rename(self, renames: dict[str, str]) -> None:
        """Rename tasks, merging those renamed alike (inferred groups named or dissolved after reading).
        Exact: the smallest keys of a union are among the smallest keys of its parts."""
        for old, new in renames.items():
            heap = self._heaps.pop(old, None)
            for _, _, req in heap or ():
                self.add(replace(req, task=new, task_source="none" if new == "untagged" else req.task_source))
