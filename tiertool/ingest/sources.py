"""Turn a log file into units (a JSON line, an array item, a CSV row, a SQLite row), streaming, each with a
`file:line` source and either a value or the reason it cannot be read. Nothing is dropped unaccounted."""

from __future__ import annotations

import csv
import datetime
import decimal
import gzip
import io
import itertools
import json
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, cast

from ..errors import InputError

loads: Callable[[bytes | str], Any]
try:  # orjson parses JSON lines 2-3x faster; the standard library is the fallback
    import orjson

    loads = orjson.loads
except ImportError:  # pragma: no cover - orjson is a declared dependency
    loads = json.loads

MAX_LINE = 64 << 20  # a longer line is skipped unread (memory stays bounded)
BLOCK = 1 << 22  # bytes read at a time
BUFFER = 1 << 20  # read buffer of a plain file (its lines are read by readline, in C)
MAX_DOC = 256 << 20  # a single JSON document is parsed whole, so it must fit in memory
SQLITE_MAGIC = b"SQLite format 3\x00"
PARQUET_MAGIC = b"PAR1"
PARQUET_BATCH = 512  # rows per record batch: memory holds one batch (and pyarrow one row group's columns)
GZIP_MAGIC = b"\x1f\x8b"
BOMS = {b"\xff\xfe": "utf-16", b"\xfe\xff": "utf-16"}
Unit = tuple[str, Any, str | None]  # (source, value, reason it could not be read)
GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)  # a gzip file cut short, or not gzip after its magic
CUT_SHORT = "the gzip stream ends early or is corrupt (a truncated file?): nothing from here on could be read"


def kind(path: Path) -> str:
    """sqlite | parquet | csv | text | empty | binary | corrupt, from the first bytes (gzip is looked through)."""
    try:
        with _open(path) as fh:
            head = fh.read(8192)
    except GZIP_ERRORS:
        return "corrupt"
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PARQUET_MAGIC) and (b"\x00" in head or _tail(path) == PARQUET_MAGIC):
        return "parquet"  # text that merely starts with "PAR1" (no binary bytes, no footer) is text
    if not head:
        return "empty"
    if b"\x00" in head and head[:2] not in BOMS:
        return "binary"
    if path.suffix.lower() in (".csv", ".tsv") or path.name.lower().endswith((".csv.gz", ".tsv.gz")):
        return "csv"
    return "text"


def _tail(path: Path) -> bytes:
    """The last four bytes of the file (gzip looked through)."""
    with _open(path) as fh:
        tail = b""
        while chunk := fh.read(1 << 20):
            tail = (tail + chunk)[-4:]
    return tail


def _open(path: Path) -> IO[bytes]:
    with path.open("rb") as fh:
        magic = fh.read(2)
    return cast(IO[bytes], gzip.open(path, "rb")) if magic == GZIP_MAGIC else path.open("rb", buffering=BUFFER)


def decode_error(e: Exception, line: bytes | str) -> str:
    """Why a line is not JSON, in words a user can act on."""
    msg = getattr(e, "msg", None) or str(e)
    if isinstance(e, UnicodeDecodeError) or "UTF-8" in msg or "utf-8" in msg:
        return "not UTF-8 text (re-save the file as UTF-8, e.g. iconv -f latin1 -t utf-8)"
    pos = getattr(e, "pos", None)
    ends_early = "end of data" in msg or "Unterminated" in msg or (pos is not None and pos >= len(line.rstrip()))
    if ends_early and line.lstrip()[:1] in (b"{", b"[", "{", "["):
        return "truncated JSON (the line ends before the object closes)"
    if "after document" in msg or "Extra data" in msg:
        return "not valid JSON (text after the object)"
    return f"not valid JSON ({msg.split(':')[0]})"


def _lines(fh: IO[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """(line number, line without its newline), read in blocks; a line over MAX_LINE is consumed unread and given
    as None (memory stays bounded)."""
    if not isinstance(fh, gzip.GzipFile):
        yield from plain_lines(fh)
        return
    n, rest, skipping = 0, b"", False
    # read1: a gzip stream cut short raises in the read that meets the cut, losing what that read decompressed;
    # read1 decompresses one input buffer at a time, so every line before the cut is still given
    read = getattr(fh, "read1", fh.read)
    while True:
        block = read(BLOCK)
        if not block:
            if rest or skipping:
                yield n + 1, None if skipping else rest
            return
        lines = (rest + block).split(b"\n")
        rest = lines.pop()
        for line in lines:
            n += 1
            if skipping:
                skipping = False
                yield n, None
            else:
                yield n, line if len(line) <= MAX_LINE else None
        if len(rest) > MAX_LINE:
            rest, skipping = b"", True


def plain_lines(fh: IO[bytes], pos: int = 0, stop: int | None = None) -> Iterator[tuple[int, bytes | None]]:
    """`_lines` of a plain file: readline with a limit splits in C, without the block copies (about 6x faster
    on 21 KB lines); a line over MAX_LINE is consumed unread the same way. With `stop`, the file is at offset
    `pos` and the lines given are those that start before `stop` (a worker's range: parallel.py)."""
    n, readline = 0, fh.readline
    while stop is None or pos < stop:
        line = readline(MAX_LINE + 1)
        if not line:
            return
        n += 1
        pos += len(line)
        if line[-1:] == b"\n":
            yield n, line[:-1]
        elif len(line) <= MAX_LINE:
            yield n, line  # the last line, without a newline
        else:
            pos += rest_of_line(fh)
            yield n, None


def rest_of_line(fh: IO[bytes]) -> int:
    """Consume the file up to and including the next newline, MAX_LINE at most at a time; the bytes consumed."""
    consumed = 0
    while more := fh.readline(MAX_LINE):
        consumed += len(more)
        if more[-1:] == b"\n":
            break
    return consumed


def lines_only(path: Path) -> bool:
    """Whether json_units reads this file line by line from its first line: its first non-empty line is a whole
    JSON object (not an array, a pretty-printed document or objects one after another)."""
    try:
        first, whole = _text_head(path)
    except GZIP_ERRORS:
        return False
    return first == b"{" and whole


def first_line_value(path: Path) -> Any:
    """The JSON value of the first non-empty line, or None."""
    try:
        with _open(path) as fh:
            first = next((ln for _, ln in _lines(fh) if ln is not None and ln.strip()), b"")
        return loads(first.removeprefix(b"\xef\xbb\xbf"))
    except (ValueError, UnicodeDecodeError, *GZIP_ERRORS):
        return None


PAGE_ITEMS = ("data", "events", "runs", "calls", "items")  # API pages: {"data": [...], "meta": {...}}
PAGE_META = {"meta", "cursor", "cursors", "error", "next", "next_cursor", "has_more", "total", "page", "limit",
             "object", "first_id", "last_id", "pagination", "count", "page_size", "total_pages", "offset",
             "total_is_capped"}
CHUNK = 1 << 20


def page_items(value: Any) -> tuple[str, list[Any]] | None:
    """(key, items) of an API page (Langfuse, Helicone, Braintrust, LangSmith, LiteLLM's UI): an object with
    one list of records and only paging fields beside it. Anything else is a record, not a page."""
    if not isinstance(value, dict):
        return None
    lists = [k for k in PAGE_ITEMS if isinstance(value.get(k), list)]
    if len(lists) != 1 or not set(value) - {lists[0]} <= PAGE_META:
        return None
    return lists[0], value[lists[0]]


def _text_head(path: Path) -> tuple[bytes, bool]:
    """The first non-blank byte of the file, and whether its first non-empty line is one whole JSON value."""
    with _open(path) as fh:
        for _, line in _lines(fh):
            if line is None:
                return b"", False
            line = line.removeprefix(b"\xef\xbb\xbf")
            if line.strip():
                try:
                    loads(line)
                except ValueError:
                    return line.lstrip()[:1], False
                return line.lstrip()[:1], True
    return b"", False


Value = tuple[int, "int | None", Any, "str | None"]  # (line, array item, value, reason it cannot be read)


def _values(path: Path) -> Iterator[Value]:
    """Each JSON value of a file that is not JSON lines: the items of a top-level array (streamed, never
    parsed whole), one pretty-printed object, or objects one after another (ConsoleSpanExporter). A trailing
    comma before the closing `]` (Helicone's export tool) is accepted. A value that does not parse ends the
    stream with its reason: what follows it cannot be told apart."""
    decoder = json.JSONDecoder()
    with _open(path) as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict") as fh:
        state = _Buffer(fh)
        array: bool | None = None  # None until the first value: is the file one array?
        item = 0
        try:
            while True:
                if not state.skip(" \t\r\n," if array else " \t\r\n"):
                    if array:
                        yield state.line, None, None, "truncated JSON (the array is not closed with ])"
                    return
                if array is None:
                    array = state.peek() == "["
                    state.pos += array
                    continue
                if array and state.peek() == "]":
                    state.pos += 1
                    if state.skip(" \t\r\n"):
                        yield state.line, None, None, "not valid JSON (text after the closing ])"
                    return
                try:
                    value = state.decode(decoder)
                except ValueError as e:
                    yield state.line, None, None, decode_error(e, state.buf[state.pos:state.pos + 200])
                    return
                item += 1
                yield state.line, item if array else None, value, None
                state.advance()
        except UnicodeDecodeError:
            yield state.line, None, None, "not UTF-8 text (re-save the file as UTF-8, e.g. iconv -f latin1 -t utf-8)"


class _Buffer:
    """A text window over a file for `_values`: refilled in CHUNKs, counting lines as it moves on."""

    def __init__(self, fh: IO[str]) -> None:
        self.fh, self.buf, self.pos, self.end, self.line, self.eof = fh, "", 0, 0, 1, False

    def more(self) -> bool:
        chunk = "" if self.eof else self.fh.read(CHUNK)
        if not chunk:
            self.eof = True
            return False
        self.buf, self.end, self.pos = self.buf[self.pos:] + chunk, self.end - self.pos, 0
        return True

    def peek(self) -> str:
        return self.buf[self.pos]

    def skip(self, chars: str) -> bool:
        """Move past `chars`; False at the end of the file."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in chars:
                self.line += self.buf[self.pos] == "\n"
                self.pos += 1
            if self.pos < len(self.buf) or not self.more():
                return self.pos < len(self.buf)

    def decode(self, decoder: json.JSONDecoder) -> Any:
        """The value at `pos`, reading on until it is whole (at most MAX_DOC)."""
        while True:
            try:
                value, self.end = decoder.raw_decode(self.buf, self.pos)
                if self.end < len(self.buf) or self.eof or self.buf[self.pos] in "[{\"":
                    return value  # a bare number at the end of the window might go on in the next chunk
            except ValueError:
                if self.eof:
                    raise
            if len(self.buf) - self.pos > MAX_DOC:
                raise InputError(f"one JSON value of over {MAX_DOC >> 20} MiB at line {self.line}; convert the "
                                 f"file to JSON lines first, e.g. jq -c '.[]' FILE > FILE.jsonl")
            self.more()

    def advance(self) -> None:
        self.line += self.buf.count("\n", self.pos, self.end)
        self.pos = self.end


def json_units(path: Path, keep: Callable[[int], bool] | None = None,
               project: Callable[[bytes], Any] | None = None) -> Iterator[Unit]:
    """Units of a JSON-lines file or of JSON values one after another (an array's items, one pretty-printed
    object, concatenated objects). An API page, whole or one a line, gives its items.

    `keep(n)` false: line n of a JSON-lines file is not parsed, and its unit is ("", None, None). `project` may
    read a JSON line's value more cheaply (None: read it in full)."""
    with _open(path) as fh:
        head = fh.read(4)
    if head[:2] in BOMS:
        yield from _utf16_units(path)
        return
    try:
        first, whole = _text_head(path)
    except GZIP_ERRORS:
        first, whole = b"", False  # read line by line: the cut is reported where it is
    if first == b"[" or (first == b"{" and not whole):
        try:
            values = _values(path)
            start = next(values, None)
        except InputError as e:
            raise InputError(f"{path}: {e}") from None
        except GZIP_ERRORS:
            start = None
        if start is not None and start[3] is None:  # else not JSON values either: read it line by line
            try:
                for at, item, value, reason in itertools.chain((start,), values):
                    where = f"{path}:item {item}" if item is not None else f"{path}:{at}"
                    if reason is not None:
                        yield where, None, f"{reason}; nothing after line {at} is read"
                    else:
                        yield from _page(where, value, item is None)
            except InputError as e:
                raise InputError(f"{path}: {e}") from None
            except GZIP_ERRORS:
                yield f"{path}:{at + 1}", None, CUT_SHORT
            return
    n = 0
    with _open(path) as fh:
        try:
            for n, line in _lines(fh):
                if keep is not None and not keep(n):
                    yield "", None, None
                    continue
                source = f"{path}:{n}"
                value = project(line) if project is not None and line is not None and n > 1 else None
                if value is not None:
                    yield source, value, None
                    continue
                yield from line_units(source, n, line)
        except GZIP_ERRORS:
            yield f"{path}:{n + 1}", None, CUT_SHORT


def line_units(source: str, n: int, line: bytes | None) -> Iterator[Unit]:
    """The units of line `n` of a JSON-lines file (None: a line over MAX_LINE), as every reader of such files
    sees them (the streaming reader and the engines' rows that Python reads): one, or an API page's items."""
    if line is None:
        yield source, None, f"line longer than {MAX_LINE >> 20} MiB (skipped unread)"
        return
    if n == 1 and line.startswith(b"\xef\xbb\xbf"):
        line = line[3:]
    if not line.strip():
        yield source, None, "empty line"
        return
    try:
        value = loads(line)
    except (ValueError, UnicodeDecodeError) as e:
        yield source, None, decode_error(e, line)
        return
    yield from _page(source, value, True)


def _page(source: str, value: Any, expand: bool) -> Iterator[Unit]:
    """The value, or each item of it when it is an API page (an array's items are never pages)."""
    page = page_items(value) if expand else None
    if page is None:
        yield source, value, None
        return
    key, items = page
    if not items:
        yield source, None, f"API page with no records (its '{key}' list is empty)"
    whole, _, line = source.rpartition(":")
    for k, item in enumerate(items, 1):  # a page alone in its file: file:item N, as for an array
        yield (f"{whole}:item {k}" if line == "1" else f"{source} item {k}"), item, None


def _utf16_units(path: Path) -> Iterator[Unit]:
    with _open(path) as raw, io.TextIOWrapper(raw, encoding="utf-16", errors="strict") as fh:
        n = 0
        while True:
            try:
                line = fh.readline()
            except UnicodeDecodeError:
                yield f"{path}:{n + 1}", None, "not valid UTF-16 text from here on (re-save the file as UTF-8)"
                return
            except GZIP_ERRORS:
                yield f"{path}:{n + 1}", None, CUT_SHORT
                return
            if not line:
                return
            n += 1
            if not line.strip():
                yield f"{path}:{n}", None, "empty line"
                continue
            try:
                yield f"{path}:{n}", loads(line), None
            except ValueError as e:
                yield f"{path}:{n}", None, decode_error(e, line)


def csv_header(path: Path) -> list[str]:
    try:
        with _open(path) as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="") as fh:
            return next(csv.reader(fh, dialect=_dialect(path)), [])
    except GZIP_ERRORS:
        return []


def _dialect(path: Path) -> str:
    return "excel-tab" if ".tsv" in path.suffixes else "excel"


def csv_units(path: Path) -> Iterator[Unit]:
    """One unit per CSV row (quoted newlines allowed); rows with the wrong field count or bad bytes are
    reported, not guessed."""
    csv.field_size_limit(MAX_LINE)
    with _open(path) as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape",
                                              newline="") as fh:
        reader = csv.reader(fh, dialect=_dialect(path))
        header = next(reader, [])
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except GZIP_ERRORS:
                yield f"{path}:{reader.line_num + 1}", None, CUT_SHORT
                return
            except csv.Error as e:
                yield f"{path}:{reader.line_num}", None, f"not valid CSV ({e})"
                continue
            source = f"{path}:{reader.line_num}"
            if not row or not any(c.strip() for c in row):
                yield source, None, "empty line"
            elif len(row) != len(header):
                yield source, None, f"row has {len(row)} fields, the header has {len(header)}"
            elif any("\udc80" <= ch <= "\udcff" for c in row for ch in c):
                yield source, None, "not UTF-8 text (re-save the file as UTF-8)"
            else:
                yield source, dict(zip(header, row, strict=True)), None


def parquet_units(path: Path) -> Iterator[Unit]:
    """One unit per row of a Parquet file (Langfuse's blob export, MLflow's search_traces), streamed in record
    batches, each row as plain JSON values (timestamps as epoch numbers, decimals as floats, maps as objects).
    pyarrow is imported only here: `pip install 'tiertool[parquet]'`."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError(f"{path}: reading Parquet needs pyarrow: pip install 'tiertool[parquet]'") from None
    try:
        parquet = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises ArrowInvalid / OSError for a damaged file
        raise InputError(f"{path}: not a readable Parquet file ({e})") from None
    n, nested = 0, _nested(parquet.schema_arrow)
    texts = json_columns(parquet.schema_arrow)
    batches = parquet.iter_batches(batch_size=PARQUET_BATCH)
    while True:
        try:
            batch = next(batches, None)
        except Exception as e:  # a damaged page deep in the file: pyarrow raises OSError / ArrowInvalid
            raise InputError(f"{path}: row {n + 1} onwards is not readable Parquet ({e})") from None
        if batch is None:
            return
        for row in _flat(batch).to_pylist(maps_as_pydicts="lossy"):
            n += 1
            err = _decoded(row, texts) if texts else None
            yield f"{path}:row {n}", {k: _plain(v) for k, v in row.items()} if nested else row, err


def json_columns(schema: Any) -> list[str]:
    """The top-level columns of Parquet's JSON type in an Arrow schema. Such a column (DuckDB writes one for a JSON
    column, or where a column's values differ in type) holds each value as JSON text: its value is that text
    decoded, as a JSON line would give it."""
    import pyarrow as pa

    json_type = getattr(pa, "JsonType", ())  # pyarrow 19+
    return [f.name for f in schema if isinstance(f.type, json_type)]


def _decoded(row: dict[str, Any], texts: list[str]) -> str | None:
    """Decode the row's JSON-typed columns in place; why not, when one holds text that is not JSON."""
    for name in texts:
        value = row.get(name)
        if isinstance(value, str):
            try:
                row[name] = loads(value)
            except ValueError:
                return f"column {name!r} is of Parquet's JSON type but holds text that is not JSON: {value[:60]!r}"
    return None


def _flat(batch: Any) -> Any:
    """The batch with its top-level timestamp, date and decimal columns cast in Arrow, whole columns at once, to
    plain values: epoch numbers (in the column's unit), ISO dates and floats."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for column in batch.columns:
        kind = column.type
        if pa.types.is_timestamp(kind):  # epoch seconds, ms, us or ns: to_time reads each
            column = pc.cast(column, pa.int64())
        elif pa.types.is_date(kind):
            column = pc.strftime(column, format="%Y-%m-%d")
        elif pa.types.is_decimal(kind):
            column = pc.cast(column, pa.float64())
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _nested(schema: Any) -> bool:
    """Whether a column nests values Arrow gives as Python objects JSON has not (in structs or lists)."""
    import pyarrow as pa

    def odd(kind: Any) -> bool:
        if pa.types.is_struct(kind):
            return any(odd(kind.field(i).type) for i in range(kind.num_fields))
        if pa.types.is_list(kind) or pa.types.is_large_list(kind):
            return odd(kind.value_type)
        if pa.types.is_map(kind):
            return odd(kind.key_type) or odd(kind.item_type)
        return pa.types.is_timestamp(kind) or pa.types.is_date(kind) or pa.types.is_decimal(kind) or \
            pa.types.is_binary(kind)

    return any(odd(f.type) for f in schema if not (pa.types.is_timestamp(f.type) or pa.types.is_date(f.type)
                                                         or pa.types.is_decimal(f.type)))


def first_row(path: Path) -> Any:
    """The first row of a Parquet file, or None."""
    try:
        return next(parquet_units(path), (None, None, None))[1]
    except InputError:
        return None


def _plain(value: Any) -> Any:
    """Arrow's Python values as JSON's: what a parser of the JSON-lines export expects."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value
