"""Read request logs in any supported format, streaming, and account for every unit read.

`read_logs` yields canonical `Request`s (inferred task types under provisional names: `scan`, in traffic.py,
applies the final ones); its `stats` say what was read, what was skipped and why, and how
each request got its task type, so that `records + skipped == lines` always holds. A unit is a JSON line, an
item of a JSON array document or API page, a span or log record of an OTLP export, a CSV or Parquet row or a
SQLite row. A unit merged into another's record (a batch result joined to its request line, a log record to its
span: streams.py) is counted in `joined`. A file that gives no record at all is an error (hint.py says what it
holds and how to read it): reading nothing is never a green run. A big LiteLLM spend log's lines are parsed by
worker processes (parallel.py, `_spend_line`); everything else a unit leads to happens here, in file order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import cache, partial
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..records import Request, Skipped
from . import litellm_spend, llm_logs, mapped, parallel, sources, spend_light, streams
from .common import BadRecord, check_ranges
from .formats import FORMAT_LIST, FORMAT_NAMES, FORMATS, Format, Parse
from .hint import nothing_read
from .tasktype import TaskTyper

Check = Callable[[Request], "str | None"]  # why a request cannot be sent as logged, or None

EXAMPLES_PER_REASON = 5
SHAPE_ERRORS = (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError, RecursionError)
MAX_REASONS = 1000
BUFFER_CHARS = 32 << 20  # prompt characters of inferred requests held in memory rather than read again
HEAD = 3  # units whose fields a file that gives nothing is described by


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
    not_replayable: Counter[str] = field(default_factory=Counter)  # why records are not replayed -> records

    def skip(self, source: str, reason: str) -> None:
        self.skipped += 1
        if reason not in self.reasons and len(self.reasons) >= MAX_REASONS:  # memory stays bounded
            reason = f"other reasons (more than {MAX_REASONS} distinct ones)"
        if self.reasons[reason] < EXAMPLES_PER_REASON:
            self.examples.append(Skipped(source, reason))
        self.reasons[reason] += 1


def _describe(obj: dict[str, Any]) -> str:
    return ", ".join(sorted(map(str, obj))[:6])


@dataclass
class _FileRead:
    """One file's share of the read, to say what it held when it gave nothing."""

    lines: int = 0
    records: int = 0
    fields: list[str] = field(default_factory=list)  # top-level fields of its first units, in order
    reasons: Counter[str] = field(default_factory=Counter)
    kind: str = ""
    shown: int = 0  # units whose fields are kept
    streamed: bool = False  # a stream read its units: they may all be joined into other files' records

    def saw(self, unit: Any) -> None:
        if self.shown < HEAD and isinstance(unit, (dict, _Failed)):
            self.shown += 1
            keys = unit.keys if isinstance(unit, _Failed) else unit
            self.fields += [str(k) for k in keys if str(k) not in self.fields]


class LogReader:
    """Iterate the requests of one or more log files; read `stats` (and `typer.groups`) afterwards."""

    def __init__(self, paths: Sequence[str | Path], fmt: str | None = None, group_by: str | None = "auto",
                 mapping: str | dict[str, str] | None = None, infer_tasks: bool = True,
                 semantic: bool = False, light: bool = False, check: Check | None = None) -> None:
        self.check = check  # why a request cannot be sent to the audit's tiers (replay.carry), if given
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
        self.typer = TaskTyper(semantic=semantic) if infer_tasks else None
        self.buffer_chars = BUFFER_CHARS
        self._unit: tuple[str, int] | None = None  # (file, unit number) of the request last parsed, if known
        self._only: dict[str, bytearray] | None = None  # when reading again: the units to parse, per file
        self._files: dict[str, _FileRead] = {}
        # spend lines read through spend_light (only what the parser reads is built): the one pass
        self.light = light and self.group_by == "auto" and fmt in (None, litellm_spend.NAME)

    def _forced(self) -> Format | None:
        if self.fmt == mapped.NAME:
            return Format(mapped.NAME, mapped.sniff, partial(mapped.parse, mapping=self.mapping))
        return FORMATS[self.fmt] if self.fmt else None

    def _checked(self, req: Request) -> Request:
        """The request marked not replayable when the check says the tiers cannot be sent it as logged."""
        if self.check is None or not req.replayable:
            return req
        why = self.check(req)
        return replace(req, unreplayable=why) if why else req

    # --- iteration -----------------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Request]:
        """Requests nothing types stream first; those whose task type is inferred follow once the whole log
        has been read, since their templates are learned from all of it (typer.fit)."""
        stats, typer = self.stats, self.typer
        self._files = {}
        deferred = _Deferred(self.buffer_chars)
        for req in self._joined():
            stats.records += 1
            if typer is not None:
                size = typer.observe(req)
                if size:
                    deferred.add(self._unit, req, size)
                    continue
            req = self._checked(req)
            _count(stats, req)
            yield req
        # A file a stream read may have been joined whole into other files' records (a Langfuse traces file,
        # OTLP logs in a file of their own): it gave nothing only when nothing was read at all.
        empty = [nothing_read(str(p), f.lines, f.fields, f.reasons, f.kind) for p in self.paths
                 if (f := self._files.get(str(p), _FileRead())).records == 0 and not (f.streamed and stats.records)]
        if empty:
            raise InputError(empty[0] + (f" (and {len(empty) - 1} more file(s) gave nothing)" if len(empty) > 1
                                         else ""))
        if typer is None or not (deferred.requests or self._held):
            return  # nothing to infer: the log was read once
        typer.fit()
        for req in deferred.replay(self):
            req = self._checked(typer.assign(req))
            _count(stats, req)
            yield req
        self._assign_held(typer)
        self.renames = typer.renames()
        for g in typer.groups:
            if self.renames.get(g.key) == "untagged":
                stats.typing[g.how] -= g.requests
                stats.typing["none"] += g.requests
        stats.typing += Counter()  # drop zero counts

    # Inferred group -> "untagged" for groups too small to be a task type, known once reading is done (see
    # TaskTyper.renames): `scan` (traffic.py) applies it to its aggregates and samples, so no command does.
    renames: dict[str, str] = {}
    _held = 0  # prompts an engine counted in SQL and the typer observed (engines/base.py types them after fit)

    def _assign_held(self, typer: TaskTyper) -> None:
        """After fit: type the prompts an engine holds (none here)."""

    def _again(self, units: dict[str, bytearray] | None) -> Iterator[Request]:
        """The requests of the marked units (None: of every unit), read again (parsing only those) with
        throwaway read counts."""
        stats, files, self.stats, self._files, self._only = self.stats, self._files, ReadStats(), {}, units
        try:
            yield from self._joined()
        finally:
            self.stats, self._files, self._only = stats, files, None

    def _joined(self) -> Iterator[Request]:
        """Every file, then what the streams held back (spans waiting for their trace, ...)."""
        self._streams, self._seen, self._last, self._parsers = self._new_streams(), {}, {}, {}
        yield from self._batches()
        for stream in self._streams:
            self._unit = None
            for item in stream.finish():
                yield from self._item(*item, self._forced())
            self.stats.joined += stream.joined
        for key, seen in self._seen.items():
            if not seen:
                continue
            self.stats.formats[key] = "+".join(sorted(seen, key=lambda name: seen[name], reverse=True))
            if len(seen) > 1:
                self.stats.notes.append(f"{key}: mixed formats in one file: "
                                        + ", ".join(f"{n} {name}" for name, n in seen.items()))

    def _new_streams(self) -> list[streams.Stream]:
        """Fresh streams for one pass over the files (an engine's parts have none)."""
        return streams.make(self.paths)

    _streams: list[streams.Stream] = []
    _seen: dict[str, Counter[str]] = {}  # file -> format -> records
    _last: dict[str, Format] = {}  # file -> the format that read its last record (tried first)
    _parsers: dict[str, dict[str, Parse]] = {}  # file -> format -> its parser (some remember earlier records)

    def _batches(self) -> Iterator[Request]:
        """Batch result files are read first and joined to their request lines when both are given. custom_ids
        are unique only within one batch, so a join is scoped to a file pair (the k-th request file with the k-th
        result file, in the order given) whenever the files pair up one to one."""
        roles = {p: self._role(p) for p in self.paths} if len(self.paths) > 1 else {}
        paths = sorted(self.paths, key=lambda p: roles.get(p) != "context")  # context (trace rows) first
        if not ({"batch-request", "batch-result"} <= set(roles.values())):
            for path in paths:
                yield from self._read(path)
            return
        requests = [p for p in self.paths if roles[p] == "batch-request"]
        results = [p for p in self.paths if roles[p] == "batch-result"]
        scopes = ([([q], [r]) for q, r in zip(requests, results, strict=True)] if len(requests) == len(results)
                  else [(requests, results)])
        for path in (p for p in paths if roles[p] == "context"):
            yield from self._read(path)
        for request_files, result_files in scopes:
            yield from self._join(request_files, result_files)
        for path in (p for p in self.paths if roles[p] not in ("batch-request", "batch-result", "context")):
            yield from self._read(path)

    def _join(self, request_files: list[Path], result_files: list[Path]) -> Iterator[Request]:
        pending: dict[str, Request] = {}
        for path in result_files:
            for res in self._read(path, whole=True):  # read again in full: the marked requests need them
                if res.id in pending:
                    self.stats.skip(res.source, f"duplicate custom_id {res.id!r} (first at {pending[res.id].source})")
                else:
                    pending[res.id] = res
        joined: set[str] = set()
        ambiguous = 0
        for path in request_files:
            for req in self._read(path):
                result = pending.pop(req.id, None) if req.is_batch else None
                if result is not None:
                    self.stats.joined += 1
                    self.stats.lines -= 1  # the result line is part of this record
                    req = _merge(req, result)
                    joined.add(req.id)
                elif req.is_batch and req.id in joined:
                    ambiguous += 1
                yield req
        if ambiguous:
            self.stats.notes.append(
                f"{ambiguous} custom_ids are in several of {', '.join(map(str, request_files))}, so their results "
                f"may be joined to the wrong request; give one result file per request file, in the same order")
        yield from pending.values()  # results whose request line was not given: volume only

    def _role(self, path: Path) -> str:
        """The role of a file (batch request or result, context), from its first line or row."""
        what = sources.kind(path)
        if self.fmt == mapped.NAME or what not in ("text", "parquet"):
            return ""
        obj = sources.first_line_value(path) if what == "text" else sources.first_row(path)
        if not isinstance(obj, dict):
            return ""
        if streams.read_first(obj):
            return "context"
        fmt = self._forced() or next((f for f in FORMAT_LIST if f.sniff(obj)), None)
        return fmt.role if fmt else ""

    def _read(self, path: Path, whole: bool = False) -> Iterator[Request]:
        if self._only is not None and not whole and str(path) not in self._only:
            return  # reading again: nothing marked in this file
        tally = self._files.setdefault(str(path), _FileRead())
        if any(s.owns(path) for s in self._streams):
            tally.streamed = True
            return  # read by a stream, in step with the file it pairs with
        what = sources.kind(path)
        if what == "empty":
            return
        if what in ("binary", "corrupt"):
            self.stats.lines += 1
            tally.lines += 1
            self._skip(str(path), f"{path}:1", "binary file, not text (expected JSON lines, CSV or llm's logs.db)"
                       if what == "binary" else "a gzip header followed by data that is not gzip, or cut short")
            return
        if what == "sqlite":
            if self.fmt not in (None, llm_logs.NAME):
                raise InputError(f"{path}: a SQLite file cannot be read as --format {self.fmt}; "
                                 f"the only SQLite log read is llm's logs.db (--format {llm_logs.NAME})")
            tally.kind = "logs.db row"
            yield from self._parse_units(path, llm_logs.db_units(path), FORMATS[llm_logs.NAME], whole)
            return
        if what == "parquet":
            if self.fmt == mapped.NAME:
                raise InputError(f"{path}: --map reads CSV or JSON lines; a Parquet file is read by its format")
            tally.kind = "Parquet row"
            yield from self._parse_units(path, sources.parquet_units(path), self._forced(), whole)
            return
        if what == "text" and self.fmt == mapped.NAME and not isinstance(sources.first_line_value(path), dict):
            what = "csv"  # --map on a file that is not JSON lines: CSV whatever its name
        if what == "csv":
            tally.kind = "CSV row"
            yield from self._parse_units(path, sources.csv_units(path), self._csv_format(path), whole)
            return
        marks = self._only.get(str(path)) if self._only is not None and not whole else None
        keep = partial(_marked, marks) if marks is not None else None
        first = sources.first_line_value(path) if self.light else None
        light = spend_light.project if isinstance(first, dict) and litellm_spend.sniff(first) else None
        n = parallel.workers() if light and self._only is None and not whole else 1
        units = (parallel.units(path, n, _spend_line) if parallel.applies(path, n)
                 else sources.json_units(path, keep, light))
        yield from self._parse_units(path, units, self._forced(), whole)

    def _csv_format(self, path: Path) -> Format | None:
        """A CSV of a known format's records (a LiteLLM_SpendLogs `\\copy`, a Helicone or Langfuse export) is
        read as that format, JSON cells and all; any other CSV through --map (columns `prompt` and `model` are
        mapped by name)."""
        header = sources.csv_header(path)
        if not self.mapping:
            forced = self._forced()
            first = next((row for _, row, err in sources.csv_units(path) if err is None), None)
            if first is not None and any(f.sniff(first) for f in ([forced] if forced else FORMAT_LIST)):
                return forced
            if forced is not None:
                raise InputError(f"{path}: a CSV log is read with --map prompt=COLUMN,model=COLUMN (or as the "
                                 f"known export it is); its first row is not a {forced.name} record "
                                 f"(fields {', '.join(header[:6])})")
            if not {"prompt", "model"} <= set(header):
                raise InputError(f"{path}: a CSV log needs a column map: --map prompt=COLUMN,model=COLUMN"
                                 f"[,response=COLUMN,task=COLUMN]; columns are: {', '.join(header)}")
            self.mapping = {k: k for k in mapped.KEYS if k in header}
        mapped.check_columns(str(path), header, self.mapping)
        return Format(mapped.NAME, mapped.sniff, partial(mapped.parse, mapping=self.mapping))

    def _parse_units(self, path: Path | str, units: Iterator[sources.Unit], forced: Format | None,
                     whole: bool = False) -> Iterator[Request]:
        key = str(path)
        marks = self._only.get(key) if self._only is not None and not whole else None
        tally = self._files.setdefault(key, _FileRead())
        unit = 0
        for source, obj, err in units:
            unit += 1
            if marks is not None and not _marked(marks, unit):
                continue  # reading again: not a unit a held request came from
            tally.saw(obj)
            stream = (None if err is not None or isinstance(obj, (Request, _Failed))  # _spend_line: no stream's
                      else next((s for s in self._streams if s.claims(obj)), None))
            if stream is None:
                # An item of a page on a JSON line is not found again by its unit number (a line passed over
                # when reading again is one unit, whatever it held): such requests are read again with all.
                self._unit = (key, unit) if " item " not in source and ":item " not in source else None
                yield from self._item(key, source, obj, err, forced)
                continue
            tally.streamed = True
            self._unit = None  # a stream's items may need units of other files: read again with all
            try:  # a unit read whole before its items are parsed: a shape error deep down skips the unit
                items = list(stream.feed(key, source, obj))
            except SHAPE_ERRORS as e:
                items = [(key, source, None, f"unexpected shape ({type(e).__name__}: {e})")]
            for item in items:
                yield from self._item(*item, forced)

    def _item(self, key: str, src: str, item: Any, err: str | None, forced: Format | None) -> Iterator[Request]:
        """Parse one unit with the format that reads it (the file's last one first), or count why not."""
        tally = self._files.get(key) or self._files.setdefault(key, _FileRead())  # no new _FileRead a unit
        self.stats.lines += 1
        tally.lines += 1
        if err is not None:
            self._skip(key, src, err)
            return
        if isinstance(item, (Request, _Failed)):  # a spend line a worker parsed (_spend_line)
            self._counts(key)[litellm_spend.NAME] += 1
            if forced is None:
                self._last[key] = SPEND
            if isinstance(item, _Failed):
                self._skip(key, src, item.reason)
                return
            tally.records += 1
            yield item
            return
        if not isinstance(item, dict):
            self._skip(key, src, f"expected a JSON object, got {type(item).__name__}")
            return
        seen = self._counts(key)
        last = forced or self._last.get(key)
        use = last if last is not None and last.sniff(item) else None
        if use is None:
            other = next((f for f in FORMAT_LIST if f.sniff(item)), None)
            if forced is not None:
                hint = f"; it looks like {other.name}" if other else ""
                self._skip(key, src, f"not a {forced.name} record (fields {_describe(item)}){hint}")
                return
            if other is None:
                self._skip(key, src, f"not a record of any known format (fields {_describe(item)})")
                return
            use = self._last[key] = other
        seen[use.name] += 1
        parsers = self._parsers.setdefault(key, {})
        parse = parsers.get(use.name) or parsers.setdefault(use.name, use.parser())
        req = _parsed(use.name, parse, item, src, self.group_by)
        if isinstance(req, str):
            self._skip(key, src, req)
            return
        tally.records += 1
        yield req

    def _counts(self, key: str) -> Counter[str]:
        seen = self._seen.get(key)
        return self._seen.setdefault(key, Counter()) if seen is None else seen

    def _skip(self, key: str, src: str, reason: str) -> None:
        self.stats.skip(src, reason)
        self._files.setdefault(key, _FileRead()).reasons[reason] += 1


def _parsed(name: str, parse: Parse, item: dict[str, Any], src: str, group_by: str) -> Request | str:
    """The unit's record as format `name` parses it, or why it is skipped."""
    try:
        return check_ranges(parse(item, src, group_by))
    except BadRecord as e:
        return str(e)
    except SHAPE_ERRORS as e:  # wrong shapes deep down
        return f"unexpected shape for {name} ({type(e).__name__}: {e})"


SPEND = FORMATS[litellm_spend.NAME]
OTHERS = tuple(f for f in FORMAT_LIST if f is not SPEND)


class _Failed:
    """Why a worker's parser refused a spend line, and the line's fields (for hint.nothing_read)."""

    __slots__ = ("reason", "keys")

    def __init__(self, reason: str, keys: list[str]) -> None:
        self.reason, self.keys = reason, keys


@cache
def _claimers() -> list[streams.Stream]:
    """Streams that would claim a unit (their `claims` reads the unit alone)."""
    return streams.make([])


def _spend_line(line: bytes | None, first: bool) -> Any:
    """In a worker (parallel.py): a line of a LiteLLM spend log, parsed as `_item` parses it where the spend
    format alone reads it and no stream claims it, else the line's value or the line itself, for the reader to
    read as ever."""
    if line is None or first:
        return line  # line 1 is read in full (json_units does not project it); an over-long line is skipped
    value = spend_light.project(line)
    if value is None:
        return line
    if not SPEND.sniff(value) or any(f.sniff(value) for f in OTHERS) or any(s.claims(value) for s in _claimers()):
        return value
    req = _parsed(SPEND.name, SPEND.parse, value, "", "auto")
    return _Failed(req, list(value)) if isinstance(req, str) else req


class _Deferred:
    """The requests whose task type is inferred, held until the templates are learned: kept while their prompts
    total at most `budget` characters, else read again from the log, where only their units are parsed (one bit
    per unit marks them) unless one of them came from a unit that cannot be found again by its number (a stream's
    item, an item of an array or page): then the whole log is read again."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.requests = 0
        self.kept: list[Request] | None = []
        self.units: dict[str, bytearray] | None = {}  # file -> bit n set when unit n holds a deferred request

    def add(self, unit: tuple[str, int] | None, req: Request, size: int) -> None:
        self.requests += 1
        if unit is None:
            self.units = None  # read every unit again
        elif self.units is not None:
            key, n = unit
            marks = self.units.get(key)
            if marks is None:
                marks = self.units[key] = bytearray()
            if n >> 3 >= len(marks):
                marks.extend(bytes((n >> 3) + 1 - len(marks)))
            marks[n >> 3] |= 1 << (n & 7)
        if self.kept is not None:
            self.budget -= size
            if self.budget >= 0:
                self.kept.append(req)
            else:
                self.kept = None  # too many to hold: read them again

    def replay(self, reader: LogReader) -> Iterator[Request]:
        """The deferred requests, in log order, from memory or read again (other requests of a marked unit,
        such as typed spans of the same OTLP export, were given already and are passed over)."""
        if self.kept is not None:
            return iter(self.kept)
        typer = reader.typer
        assert typer is not None
        return (r for r in reader._again(self.units) if typer.prompt(r) is not None)


def _count(stats: ReadStats, req: Request) -> None:
    """How the request was typed and, if so, why it cannot be replayed (counted as it is given out)."""
    stats.typing[req.task_source] += 1
    why = req.not_replayable_because
    if why is not None:
        stats.not_replayable[why if why in stats.not_replayable or len(stats.not_replayable) < MAX_REASONS
                             else "other reasons"] += 1


def _marked(marks: bytearray, n: int) -> bool:
    return n >> 3 < len(marks) and bool(marks[n >> 3] >> (n & 7) & 1)


def _merge(req: Request, res: Request) -> Request:
    """A batch request line with its result line: the prompt from one, the answer and usage from the other."""
    return replace(
        req, model=res.model if res.model != "unknown" else req.model, output=res.output,
        output_tool_calls=res.output_tool_calls,
        finish_reason=res.finish_reason, input_tokens=res.input_tokens, output_tokens=res.output_tokens,
        cached_tokens=res.cached_tokens, cache_write_tokens=res.cache_write_tokens,
        reasoning_tokens=res.reasoning_tokens, status=res.status, time=res.time or req.time,
        cost=res.cost, cost_source=res.cost_source,
    )


def read_logs(paths: Sequence[str | Path], fmt: str | None = None, group_by: str | None = "auto",
              mapping: str | dict[str, str] | None = None, infer_tasks: bool = True,
              semantic: bool = False, light: bool = False, check: Check | None = None) -> LogReader:
    """A stream of the logs' requests; read `stats` (and `renames`) once it is consumed. `light`: LiteLLM
    spend lines through spend_light. `check`: why a request cannot be sent as logged to the audit's tiers (it
    is then counted as not replayable, with that reason)."""
    return LogReader(paths, fmt, group_by, mapping, infer_tasks, semantic, light, check)


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
