"""Read request logs in any supported format, streaming, and account for every line.

`read_logs` yields canonical `Request`s; its `stats` say what was read, what was skipped and why,
so that `records + skipped == lines` always holds.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from ..errors import InputError
from ..records import Request, Skipped
from . import litellm_spend, openai_chat
from .common import BadRecord

FORMATS: dict[str, ModuleType] = {m.NAME: m for m in (litellm_spend, openai_chat)}
EXAMPLES_PER_REASON = 5


@dataclass
class ReadStats:
    """What reading the logs found. Skips are all counted; a few examples of each reason are kept."""

    lines: int = 0
    records: int = 0
    skipped: int = 0
    formats: dict[str, str] = field(default_factory=dict)  # file -> format
    reasons: Counter = field(default_factory=Counter)
    examples: list[Skipped] = field(default_factory=list)

    def skip(self, source: str, reason: str) -> None:
        self.skipped += 1
        if self.reasons[reason] < EXAMPLES_PER_REASON:
            self.examples.append(Skipped(source, reason))
        self.reasons[reason] += 1


def sniff_format(obj: dict) -> str | None:
    """The format a JSON object looks like, or None."""
    return next((name for name, mod in FORMATS.items() if mod.sniff(obj)), None)


class LogReader:
    """Iterate the requests of one or more log files; read `stats` afterwards."""

    def __init__(self, paths: list[str | Path], fmt: str | None = None, group_by: str = "auto") -> None:
        if fmt is not None and fmt not in FORMATS:
            raise InputError(f"--format {fmt}: unknown format; known: {', '.join(FORMATS)}")
        self.paths = [Path(p) for p in paths]
        for p in self.paths:
            if not p.is_file():
                raise InputError(f"{p}: no such file")
        self.fmt = fmt
        self.group_by = group_by
        self.stats = ReadStats()

    def __iter__(self) -> Iterator[Request]:
        for path in self.paths:
            yield from self._read(path)

    def _read(self, path: Path) -> Iterator[Request]:
        stats, fmt = self.stats, self.fmt
        with path.open("rb") as fh:
            head = fh.read(8192)
            if b"\x00" in head:
                raise InputError(f"{path}: binary file, expected JSON lines (one JSON object per line)")
            fh.seek(0)
            for lineno, raw in enumerate(fh, 1):
                source = f"{path}:{lineno}"
                stats.lines += 1
                if not raw.strip():
                    stats.skip(source, "empty line")
                    continue
                try:
                    obj = json.loads(raw)
                except UnicodeDecodeError:
                    stats.skip(source, "not UTF-8 text")
                    continue
                except ValueError as e:
                    stats.skip(source, f"not valid JSON ({e.msg})")
                    continue
                if not isinstance(obj, dict):
                    stats.skip(source, f"expected a JSON object, got {type(obj).__name__}")
                    continue
                if fmt is None:
                    fmt = sniff_format(obj)
                    if fmt is None:
                        stats.skip(source, "not a record of any known format")
                        continue
                    stats.formats[str(path)] = fmt
                elif str(path) not in stats.formats:
                    stats.formats[str(path)] = fmt
                module = FORMATS[fmt]
                if not module.sniff(obj):
                    stats.skip(source, f"not a {fmt} record (fields {', '.join(sorted(obj)[:6])})")
                    continue
                try:
                    req = module.parse(obj, source, self.group_by)
                except BadRecord as e:
                    stats.skip(source, str(e))
                    continue
                stats.records += 1
                yield req
            fmt = self.fmt


def read_logs(paths: list[str | Path], fmt: str | None = None, group_by: str = "auto") -> LogReader:
    return LogReader(paths, fmt, group_by)
