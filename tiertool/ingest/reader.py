"""Read request logs in any supported format, streaming, and account for every unit read.

`read_logs` yields canonical `Request`s (inferred task types under provisional names: `scan`, in traffic.py,
applies the final ones); its `stats` say what was read, what was skipped and why, and how
each request got its task type, so that `records + skipped == lines` always holds. A unit is a JSON line, an
item of a JSON array document, a span of an OTLP export, a CSV row or a SQLite row. A batch result joined to
its request line makes one record with it (counted in `joined`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..records import Request, Skipped
from . import llm_logs, mapped, otel_genai, sources
from .common import BadRecord
from .formats import FORMAT_LIST, FORMAT_NAMES, FORMATS, Format
from .tasktype import TaskTyper

EXAMPLES_PER_REASON = 5
MAX_REASONS = 1000


@dataclass
class ReadStats:
    """What reading the logs found. Skips are all counted; a few examples of each reason are kept."""

    lines: int = 0
    records: int = 0
    skipped: int = 0
    joined: int = 0  # batch results merged into their request's record
    formats: dict[str, str] = field(default_factory=dict)  # file -> format(s)
    reasons: Counter[str] = field(default_factory=Counter)
    examples: list[Skipped] = field(default_factory=list)
    typing: Counter[str] = field(default_factory=Counter)  # task_source -> requests
    notes: list[str] = field(default_factory=list)  # file-level remarks (empty file, mixed formats)

    def skip(self, source: str, reason: str) -> None:
        self.skipped += 1
        if reason not in self.reasons and len(self.reasons) >= MAX_REASONS:  # memory stays bounded
            reason = f"other reasons (more than {MAX_REASONS} distinct ones)"
        if self.reasons[reason] < EXAMPLES_PER_REASON:
            self.examples.append(Skipped(source, reason))
        self.reasons[reason] += 1


def _describe(obj: dict[str, Any]) -> str:
    return ", ".join(sorted(map(str, obj))[:6])


class LogReader:
    """Iterate the requests of one or more log files; read `stats` (and `typer.groups`) afterwards."""

    def __init__(self, paths: Sequence[str | Path], fmt: str | None = None, group_by: str | None = "auto",
                 mapping: str | dict[str, str] | None = None, infer_tasks: bool = True) -> None:
        self.mapping = mapped.parse_map(mapping) if isinstance(mapping, str) else dict(mapping or {})
        if self.mapping and fmt in (None, mapped.NAME):
            fmt = mapped.NAME
        elif fmt == mapped.NAME:
            raise InputError("--format mapped needs --map prompt=COLUMN,model=COLUMN[,response=...,task=...]")
        elif self.mapping:
            raise InputError(f"--map reads CSV or plain JSON lines; it cannot be combined with --format {fmt}")
        if fmt is not None and fmt not in FORMAT_NAMES:
            raise InputError(f"--format {fmt}: unknown format; known: {', '.join(FORMAT_NAMES)}")
        self.paths = [Path(p) for p in paths]
        for p in self.paths:
            if not p.is_file():
                raise InputError(f"{p}: no such file" + (" (it is a folder)" if p.is_dir() else ""))
        self.fmt = fmt
        self.group_by = group_by or "auto"
        self.stats = ReadStats()
        self.typer = TaskTyper() if infer_tasks else None

    def _forced(self) -> Format | None:
        if self.fmt == mapped.NAME:
            return Format(mapped.NAME, mapped.sniff, partial(mapped.parse, mapping=self.mapping))
        return FORMATS[self.fmt] if self.fmt else None

    # --- iteration -----------------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Request]:
        stats, typer = self.stats, self.typer
        for req in self._joined():
            if typer is not None:
                req = typer.assign(req)
            stats.records += 1
            stats.typing[req.task_source] += 1
            yield req
        if typer is not None:
            self.renames = typer.renames()
            moved = sum(g.requests for g in typer.groups if self.renames[g.key] == "untagged")
            stats.typing["inferred"] -= moved
            stats.typing["none"] += moved
            stats.typing += Counter()  # drop zero counts

    # Provisional inferred group -> final task name, set once reading is done (see TaskTyper.renames):
    # `scan` (traffic.py) applies it to its aggregates and samples, so no command handles renames.
    renames: dict[str, str] = {}

    def _joined(self) -> Iterator[Request]:
        """Batch result files are read first and joined to their request lines when both are given."""
        roles = {p: self._role(p) for p in self.paths} if len(self.paths) > 1 else {}
        if not ({"batch-request", "batch-result"} <= set(roles.values())):
            for path in self.paths:
                yield from self._read(path)
            return
        pending: dict[str, Request] = {}
        for path in (p for p in self.paths if roles[p] == "batch-result"):
            for res in self._read(path):
                if res.id in pending:
                    self.stats.skip(res.source, f"duplicate custom_id {res.id!r} (first at {pending[res.id].source})")
                else:
                    pending[res.id] = res
        for path in (p for p in self.paths if roles[p] != "batch-result"):
            for req in self._read(path):
                result = pending.pop(req.id, None) if req.is_batch else None
                if result is not None:
                    self.stats.joined += 1
                    self.stats.lines -= 1  # the result line is part of this record
                    req = _merge(req, result)
                yield req
        yield from pending.values()  # results whose request line was not given: volume only

    def _role(self, path: Path) -> str:
        """The batch role of a file, from its first line."""
        if self.fmt == mapped.NAME or sources.kind(path) != "text":
            return ""
        obj = sources.first_line_value(path)  # batch files are JSON lines
        if not isinstance(obj, dict):
            return ""
        fmt = self._forced() or next((f for f in FORMAT_LIST if f.sniff(obj)), None)
        return fmt.role if fmt else ""

    def _read(self, path: Path) -> Iterator[Request]:
        stats = self.stats
        what = sources.kind(path)
        if what == "empty":
            stats.notes.append(f"{path}: empty file (no lines)")
            return
        if what == "binary":
            stats.lines += 1
            stats.skip(f"{path}:1", "binary file, not text (expected JSON lines, CSV or llm's logs.db)")
            return
        if what == "sqlite":
            if self.fmt not in (None, llm_logs.NAME):
                raise InputError(f"{path}: a SQLite file cannot be read as --format {self.fmt}; "
                                 f"the only SQLite log read is llm's logs.db (--format {llm_logs.NAME})")
            units = ((f"{path}:responses row {rowid}", row, None) for rowid, row in llm_logs.db_rows(path))
            yield from self._parse_units(path, units, FORMATS[llm_logs.NAME])
            return
        if what == "text" and self.fmt == mapped.NAME and not isinstance(sources.first_line_value(path), dict):
            what = "csv"  # --map on a file that is not JSON lines: CSV whatever its name
        if what == "csv":
            if self.fmt not in (None, mapped.NAME):
                raise InputError(f"{path}: a CSV log is read with --map prompt=COLUMN,model=COLUMN, "
                                 f"not --format {self.fmt}")
            if not self.mapping:
                header = sources.csv_header(path)
                if not {"prompt", "model"} <= set(header):
                    raise InputError(f"{path}: a CSV log needs a column map: --map prompt=COLUMN,model=COLUMN"
                                     f"[,response=COLUMN,task=COLUMN]; columns are: {', '.join(header)}")
                self.mapping = {k: k for k in mapped.KEYS if k in header}
            mapped.check_columns(str(path), sources.csv_header(path), self.mapping)
            fmt = Format(mapped.NAME, mapped.sniff, partial(mapped.parse, mapping=self.mapping))
            yield from self._parse_units(path, sources.csv_units(path), fmt)
            return
        yield from self._parse_units(path, sources.json_units(path), self._forced())

    def _parse_units(self, path: Path, units: Iterator[sources.Unit], forced: Format | None) -> Iterator[Request]:
        stats, group_by = self.stats, self.group_by
        key = str(path)
        fmt: Format | None = forced
        seen: dict[str, int] = {}
        for source, obj, err in units:
            if err is not None:
                stats.lines += 1
                stats.skip(source, err)
                continue
            if isinstance(obj, dict) and "resourceSpans" in obj:
                try:
                    items = [(f"{source} span {k}", span) for k, span in enumerate(otel_genai.expand(obj), 1)]
                except BadRecord as e:
                    stats.lines += 1
                    stats.skip(source, str(e))
                    continue
                if not items:
                    stats.lines += 1
                    stats.skip(source, "OTLP export with no spans")
                    continue
            else:
                items = [(source, obj)]
            for src, item in items:
                stats.lines += 1
                if not isinstance(item, dict):
                    stats.skip(src, f"expected a JSON object, got {type(item).__name__}")
                    continue
                use = fmt if fmt is not None and fmt.sniff(item) else None
                if use is None:
                    other = next((f for f in FORMAT_LIST if f.sniff(item)), None)
                    if forced is not None:
                        hint = f"; it looks like {other.name}" if other else ""
                        stats.skip(src, f"not a {forced.name} record (fields {_describe(item)}){hint}")
                        continue
                    if other is None:
                        stats.skip(src, f"not a record of any known format (fields {_describe(item)})")
                        continue
                    use = fmt = other
                seen[use.name] = seen.get(use.name, 0) + 1
                try:
                    req = use.parse(item, src, group_by)
                except BadRecord as e:
                    stats.skip(src, str(e))
                    continue
                except (TypeError, ValueError, AttributeError, KeyError, OverflowError) as e:  # wrong shapes deep down
                    stats.skip(src, f"unexpected shape for {use.name} ({type(e).__name__}: {e})")
                    continue
                yield req
        if seen:
            stats.formats[key] = "+".join(sorted(seen, key=lambda name: seen[name], reverse=True))
            if len(seen) > 1:
                stats.notes.append(f"{path}: mixed formats in one file: "
                                   + ", ".join(f"{n} {name}" for name, n in seen.items()))


def _merge(req: Request, res: Request) -> Request:
    """A batch request line with its result line: the prompt from one, the answer and usage from the other."""
    return replace(
        req, model=res.model if res.model != "unknown" else req.model, output=res.output,
        finish_reason=res.finish_reason, input_tokens=res.input_tokens, output_tokens=res.output_tokens,
        cached_tokens=res.cached_tokens, cache_write_tokens=res.cache_write_tokens,
        reasoning_tokens=res.reasoning_tokens, status=res.status, time=res.time or req.time,
        cost=res.cost, cost_source=res.cost_source,
    )


def read_logs(paths: Sequence[str | Path], fmt: str | None = None, group_by: str | None = "auto",
              mapping: str | dict[str, str] | None = None, infer_tasks: bool = True) -> LogReader:
    """A stream of the logs' requests; read `stats` (and `renames`) once it is consumed."""
    return LogReader(paths, fmt, group_by, mapping, infer_tasks)


def find_requests(paths: Sequence[str | Path], sources: set[str], fmt: str | None = None,
                  mapping: dict[str, str] | None = None) -> dict[str, Request]:
    """The requests logged at these sources ("file:line", as `Request.source`), read back through the same
    formats, gzip and joins as the audit; logs that are gone are passed over (their requests stay missing)."""
    found: dict[str, Request] = {}
    present = [p for p in paths if Path(p).is_file()]
    if not sources or not present:
        return found
    for req in read_logs(present, fmt, "auto", mapping, infer_tasks=False):
        if req.source in sources:
            found[req.source] = req
            if len(found) == len(sources):
                break
    return found
