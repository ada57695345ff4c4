"""Turn a log file into units (a JSON line, an array item, a CSV row, a SQLite row), streaming, each with a
`file:line` source and either a value or the reason it cannot be read. Nothing is dropped unaccounted."""

from __future__ import annotations

import csv
import gzip
import io
import json
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
MAX_DOC = 256 << 20  # a single JSON document is parsed whole, so it must fit in memory
SQLITE_MAGIC = b"SQLite format 3\x00"
GZIP_MAGIC = b"\x1f\x8b"
BOMS = {b"\xff\xfe": "utf-16", b"\xfe\xff": "utf-16"}
Unit = tuple[str, Any, str | None]  # (source, value, reason it could not be read)


def kind(path: Path) -> str:
    """sqlite | csv | text | empty | binary, from the first bytes (gzip is looked through)."""
    with _open(path) as fh:
        head = fh.read(8192)
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if not head:
        return "empty"
    if b"\x00" in head and head[:2] not in BOMS:
        return "binary"
    if path.suffix.lower() in (".csv", ".tsv") or path.name.lower().endswith((".csv.gz", ".tsv.gz")):
        return "csv"
    return "text"


def _open(path: Path) -> IO[bytes]:
    with path.open("rb") as fh:
        magic = fh.read(2)
    return cast(IO[bytes], gzip.open(path, "rb")) if magic == GZIP_MAGIC else path.open("rb")


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
    """(line number, line) with lines over MAX_LINE consumed in chunks and given as None."""
    n = 0
    readline = fh.readline
    while True:
        line = readline(MAX_LINE + 1)
        if not line:
            return
        n += 1
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            while True:
                rest = readline(1 << 20)
                if not rest or rest.endswith(b"\n"):
                    break
            yield n, None
            continue
        yield n, line


def first_line_value(path: Path) -> Any:
    """The JSON value of the first non-empty line, or None."""
    with _open(path) as fh:
        first = next((ln for _, ln in _lines(fh) if ln is not None and ln.strip()), b"")
    try:
        return loads(first.removeprefix(b"\xef\xbb\xbf"))
    except (ValueError, UnicodeDecodeError):
        return None


def _document(path: Path, first: bytes) -> Any:
    """The whole file as one JSON value when it is one (an array, or a pretty-printed object), else None."""
    if first.lstrip()[:1] not in (b"{", b"["):
        return None
    try:
        value = loads(first)
    except ValueError:
        value = None
    else:  # the first line is complete: JSON lines, unless it is the file's only line and an array
        return value if isinstance(value, list) and len(first) >= path.stat().st_size - 3 else None
    size = path.stat().st_size
    if size > MAX_DOC:
        raise InputError(f"{path}: one JSON document of {size >> 20} MiB (over {MAX_DOC >> 20} MiB); "
                         f"convert it to JSON lines first, e.g. jq -c '.[]' {path} > {path.stem}.jsonl")
    with _open(path) as fh:
        data = fh.read()
    try:
        return loads(data)
    except ValueError:
        return None  # not one document either: read it line by line and report each bad line


def json_units(path: Path) -> Iterator[Unit]:
    """Units of a JSON-lines file or of a single JSON document (array items, or the object itself)."""
    with _open(path) as fh:
        head = fh.read(4)
    if head[:2] in BOMS:
        yield from _utf16_units(path)
        return
    with _open(path) as fh:
        first = next((ln for _, ln in _lines(fh) if ln is not None and ln.strip()), b"")
    doc = _document(path, first)
    if doc is not None:
        if isinstance(doc, dict) and isinstance(doc.get("data"), list):  # API pages: {"data": [...], "meta": ...}
            doc = doc["data"]
        if isinstance(doc, list):
            for i, item in enumerate(doc, 1):
                yield f"{path}:item {i}", item, None
        else:
            yield f"{path}:1", doc, None
        return
    with _open(path) as fh:
        for n, line in _lines(fh):
            source = f"{path}:{n}"
            if line is None:
                yield source, None, f"line longer than {MAX_LINE >> 20} MiB (skipped unread)"
                continue
            if n == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            if not line.strip():
                yield source, None, "empty line"
                continue
            try:
                yield source, loads(line), None
            except (ValueError, UnicodeDecodeError) as e:
                yield source, None, decode_error(e, line)


def _utf16_units(path: Path) -> Iterator[Unit]:
    with _open(path) as raw, io.TextIOWrapper(raw, encoding="utf-16", errors="strict") as fh:
        n = 0
        while True:
            try:
                line = fh.readline()
            except UnicodeDecodeError:
                yield f"{path}:{n + 1}", None, "not valid UTF-16 text from here on (re-save the file as UTF-8)"
                return
            if not line:
                return
            n += 1
            if not line.strip():
                yield f"{path}:{n}", None, "empty line"
                continue
            try:
                yield f"{path}:{n}", json.loads(line), None
            except ValueError as e:
                yield f"{path}:{n}", None, decode_error(e, line)


def csv_header(path: Path) -> list[str]:
    with _open(path) as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="") as fh:
        return next(csv.reader(fh, dialect=_dialect(path)), [])


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
