"""`inspect --requests FILE.csv`: how every request was typed, row by row, so the classification layer that every
decision rests on can be audited.

Rows are written as the one pass streams. Inferred task types get their final names only once the stream ends
(a group too small to be a task type goes back to "untagged"), so rows typed from the prompt wait in a spooled
temporary file and are written last, renamed; the others are written as they come. Memory stays bounded.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path
from typing import IO, Any

from ..errors import InputError
from ..records import INFERRED_SOURCES, Request

COLUMNS = ("id", "source", "task", "typed_by", "template")
SPOOL = 8 << 20  # bytes of inferred rows kept in memory before the spool goes to disk


class Listing:
    """One CSV row per request: id, source ("file:line"), final task type, how it was typed (a key of
    records.TASK_SOURCES), and the template's fixed text or the topic's terms for inferred ones."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._fh: IO[str] = self.path.open("w", encoding="utf-8", newline="")
        except OSError as e:
            raise InputError(f"--requests {self.path}: cannot write ({e.strerror})") from None
        self._out = csv.writer(self._fh)
        self._out.writerow(COLUMNS)
        self._spool: Any = tempfile.SpooledTemporaryFile(SPOOL, mode="w+", encoding="utf-8", newline="")  # noqa: SIM115
        self._later = csv.writer(self._spool)

    def add(self, req: Request) -> None:
        row = (req.id, req.source, req.task, req.task_source, req.template or "")
        (self._later if req.task_source in INFERRED_SOURCES else self._out).writerow(row)

    def close(self, renames: dict[str, str]) -> None:
        """Write the inferred rows under their final names (renamed ones are untyped after all)."""
        self._spool.seek(0)
        for rid, source, task, how, template in csv.reader(self._spool):
            new = renames.get(task)
            self._out.writerow((rid, source, new, "none", "") if new else (rid, source, task, how, template))
        self._spool.close()
        self._fh.close()
