"""JSON lines parsed on every core: worker processes read byte ranges of a plain file and parse its lines; the
reader gets their units back in file order, as `sources.json_units` would give them.

Parsing is most of the cost of reading a big log (a real LiteLLM spend line is ~21 KB of JSON inside JSON), and
one Python process uses one core. Each worker reads its own range of the file (the lines that start in it), so
nothing but the results crosses between processes, and at most 2 x workers ranges are in flight, so memory
stays flat. A worker does not know the number of the lines it reads (that needs every earlier range read), so
this module numbers them as the results come back in order.

`parse(line, first)` runs in a worker on each line (`first`: line 1 of the file). It returns what the reader is
to take for the line: a JSON value (a unit, read as if json_units gave it), bytes or None (the line, which the
reader reads itself as json_units does: `sources.line_units`), or anything else, taken as the line's one unit
(a record the worker parsed, whose `source`, if it has one, is set here: see `_numbered`).

Workers are forked (no re-import of the caller's script, as spawn would do), so this runs only where fork is
the platform's way to start processes and when the process has no other threads (a fork copies one thread: a
lock another thread held would stay held in the child), unless TIERTOOL_READ_WORKERS asks for it.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

from ..errors import InputError
from . import sources

CHUNK = 8 << 20  # bytes of the file a worker reads at a time
MIN_BYTES = 64 << 20  # a smaller file is read in this process: starting workers costs more than it saves
MAX_WORKERS = 8
MAX_ASKED = 64  # the most TIERTOOL_READ_WORKERS may ask for: each is a forked copy of this process
ENV = "TIERTOOL_READ_WORKERS"  # workers to parse with (1: none); set, it also allows a process with threads

Parse = Callable[[bytes | None, bool], Any]


def workers() -> int:
    """How many processes parse a big JSON-lines file: the cores this process may use (at most MAX_WORKERS),
    or TIERTOOL_READ_WORKERS; 1 where workers cannot be forked safely."""
    asked = os.environ.get(ENV, "").strip()
    if asked:
        try:
            n = int(asked)
        except ValueError:
            n = 0
        if not 1 <= n <= MAX_ASKED:
            raise InputError(f"{ENV}={asked!r}: expected a whole number of worker processes from 1 (none) to "
                             f"{MAX_ASKED}")
        return n
    if sys.platform != "linux" or threading.active_count() > 1:
        return 1
    return min(len(os.sched_getaffinity(0)), MAX_WORKERS)


def applies(path: Path, n: int) -> bool:
    """Whether `n` workers would read this file: a plain local JSON-lines file (no gzip, no BOM, its first line a
    whole JSON object) of at least MIN_BYTES."""
    if n < 2:
        return False
    try:
        with path.open("rb") as fh:
            head = fh.read(2)
        if head == sources.GZIP_MAGIC or head in sources.BOMS or path.stat().st_size < MIN_BYTES:
            return False
        return sources.lines_only(path)
    except OSError:
        return False


def units(path: Path, n: int, parse: Parse) -> Iterator[sources.Unit]:
    """The units of a JSON-lines file, each line parsed by `parse` in one of `n` worker processes."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    chunk = CHUNK
    size = path.stat().st_size
    starts = iter(range(0, size, chunk))
    job = partial(_read_range, str(path), chunk=chunk, parse=parse)
    line = 0
    with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork")) as pool:
        try:
            pending = deque(pool.submit(job, s) for s in itertools.islice(starts, 2 * n))
            while pending:
                results = pending.popleft().result()
                start = next(starts, None)
                if start is not None:
                    pending.append(pool.submit(job, start))
                for result in results:
                    line += 1
                    yield from _numbered(f"{path}:{line}", line, result)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _numbered(source: str, n: int, result: Any) -> Iterator[sources.Unit]:
    if result is None or isinstance(result, bytes):
        yield from sources.line_units(source, n, result)
        return
    if not isinstance(result, dict) and getattr(result, "source", None) is not None:
        # A record fresh from unpickling, referenced nowhere else: its line number is known only here.
        object.__setattr__(result, "source", source)
    yield source, result, None


def _read_range(path: str, start: int, *, chunk: int, parse: Parse) -> list[Any]:
    """In a worker: `parse` of each line that starts in [start, start + chunk), in order."""
    with open(path, "rb", buffering=sources.BUFFER) as fh:
        pos = start
        if start:  # the line that holds byte start - 1 belongs to the range before
            fh.seek(start - 1)
            pos = start - 1 + sources.rest_of_line(fh)
        return [parse(line, start == 0 and k == 1) for k, line in sources.plain_lines(fh, pos, start + chunk)]
