"""Log files through DuckDB: JSON lines, Parquet (and their globs), local or on object storage.

Python splits JSON-lines files into Arrow batches (on b"\\n" exactly as the streaming reader numbers lines, so
sources and skips agree) and DuckDB runs the spend mapping on each batch in parallel; DuckDB reads a local Parquet
file itself (a remote one arrives in record batches). Only volume groups come back, with the row numbers of the
few rows Python must read and of the sampled ones, which are read again; memory stays flat.
"""

from __future__ import annotations

import fnmatch
import glob
import mmap
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from ...errors import InputError
from .. import sources
from ..sources import MAX_LINE, Unit
from . import spend_duckdb as sql
from .base import Chunk, split

BATCH_BYTES = 8 << 20  # per Arrow batch: DuckDB holds a few per thread
PARQUET_ROWS = 8192
FETCH_ROWS = 65_536  # rows fetched by number in one query
REMOTE = ("s3://", "gs://", "gcs://", "hdfs://")


def is_glob(path: str) -> bool:
    return any(c in path for c in "*?[")


def expand(paths: list[str]) -> list[str]:
    """Files named by paths and globs (local or remote), in the order given, each glob sorted."""
    out: list[str] = []
    for p in paths:
        found = _remote_glob(p) if p.startswith(REMOTE) else sorted(glob.glob(p)) if is_glob(p) else [p]
        if not found:
            raise InputError(f"{p}: no file matches")
        if found == [p] and not p.startswith(REMOTE) and not Path(p).is_file():
            raise InputError(f"{p}: no such file" + (" (it is a folder)" if Path(p).is_dir() else ""))
        out += found
    return out


def _remote_glob(uri: str) -> list[str]:
    if not is_glob(uri):
        return [uri]
    from pyarrow import fs

    scheme, rest = uri.split("://", 1)
    filesystem, root = fs.FileSystem.from_uri(f"{scheme}://{rest.split('*')[0].rsplit('/', 1)[0]}")
    infos = filesystem.get_file_info(fs.FileSelector(root, recursive="**" in rest))
    return sorted(f"{scheme}://{i.path}" for i in infos if i.type == fs.FileType.File
                  and fnmatch.fnmatch(f"{scheme}://{i.path}", uri))


def _open(path: str) -> IO[bytes]:
    if path.startswith(REMOTE):
        import gzip

        from pyarrow import fs

        filesystem, inner = fs.FileSystem.from_uri(path)
        stream = filesystem.open_input_stream(inner)
        return gzip.GzipFile(fileobj=stream) if path.endswith(".gz") else stream  # type: ignore[return-value]
    return sources._open(Path(path))


def is_parquet(path: str) -> bool:
    return path.lower().endswith((".parquet", ".pq"))


class DuckDB:
    """One in-process DuckDB connection for a scan (UTC, so timestamps without a zone are UTC as in Python)."""

    def __init__(self) -> None:
        try:
            import duckdb
        except ImportError:
            raise InputError("reading Parquet, globs and object storage needs DuckDB: "
                             "pip install 'tiertool[duckdb]'") from None

        self.con = duckdb.connect(config={"autoinstall_known_extensions": False})
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET enable_progress_bar = false")

    def run(self, query: str, **tables: Any) -> list[tuple[Any, ...]]:
        for name, table in tables.items():
            self.con.register(name, table)
        try:
            return self.con.execute(query).fetchall()
        finally:
            for name in tables:
                self.con.unregister(name)


class JsonLinesFile:
    """A JSON-lines file (gzip looked through), fed to DuckDB as Arrow batches of whole lines numbered from 1."""

    def __init__(self, path: str, db: DuckDB, group_by: str, seed: int, size: int, answered: bool,
                 hand: tuple[bool, bool] = (False, False)) -> None:
        self.name, self.db = path, db
        self.plain = _plain(path)  # a local file, not gzip: mapped into memory, its rows read again by offset
        src = (f"(SELECT n, try(from_json(s, {sql.sql_str(sql.structure(group_by))})) AS r, "
               f"{' OR '.join(sql.odd('s'))} AS odd FROM (SELECT n, try(decode(line)) AS s FROM batch))")
        self.query = sql.query(sql.staged(src, group_by, seed, answered, *hand), size)

    def chunks(self) -> Iterator[Chunk]:
        import numpy as np
        import pyarrow as pa

        long: list[int] = []  # lines over MAX_LINE, not read (the streaming reader skips them too)
        # A plain local file is indexed on the way (per block: first line, offset, line ends), so the few rows
        # read again are read where they lie; a gzip or remote file, or one with a line over MAX_LINE, is read
        # again from the start.
        index: list[tuple[int, int, Any]] = []
        indexed, at = self.plain, 0

        def batches() -> Iterator[pa.RecordBatch]:
            nonlocal indexed, at
            for first, block, ends, too_long in self._blocks():
                long.extend(too_long)
                indexed = indexed and not too_long
                if indexed:
                    index.append((first, at, ends.astype(np.uint32)))  # a block is far under 4 GiB
                    at += len(block)
                yield _lines_batch(first, block, ends)

        schema = pa.schema([("n", pa.int64()), ("line", pa.large_binary())])
        rows = self.db.run(self.query, batch=pa.RecordBatchReader.from_batches(schema, batches()))
        self._index = index if indexed else None
        yield split(rows, self._units, long)

    _index: list[tuple[int, int, Any]] | None = None

    def _blocks(self) -> Iterator[tuple[int, memoryview, Any, list[int]]]:
        """The file's blocks of whole lines: a plain local file mapped into memory (no copy), else read."""
        if self.plain:
            yield from _mapped_blocks(self.name)
            return
        with _open(self.name) as fh:
            yield from _blocks(fh)

    def _units(self, rows: list[int]) -> Iterator[tuple[int, Unit]]:
        """The units of these (sorted) lines, read again from the file."""
        if not rows:
            return
        if self._index:
            yield from self._indexed(rows, self._index)
            return
        k = 0
        for first, block, ends, long in self._blocks():
            if rows[k] >= first + len(ends):
                continue
            while k < len(rows) and rows[k] < first + len(ends):
                n = rows[k]
                line = None if long else bytes(block[(int(ends[n - first - 1]) if n > first else 0):
                                                     int(ends[n - first])])
                for unit in sources.line_units(f"{self.name}:{n}", n, line):
                    yield n, unit
                k += 1
            if k == len(rows):
                return

    def _indexed(self, rows: list[int], index: list[tuple[int, int, Any]]) -> Iterator[tuple[int, Unit]]:
        import bisect

        firsts = [first for first, _, _ in index]
        with open(self.name, "rb") as fh:
            for n in rows:
                first, at, ends = index[bisect.bisect_right(firsts, n) - 1]
                i = n - first
                start = at + (int(ends[i - 1]) if i else 0)
                fh.seek(start)
                line = fh.read(at + int(ends[i]) - start)
                for unit in sources.line_units(f"{self.name}:{n}", n, line):
                    yield n, unit


def _plain(path: str) -> bool:
    if path.startswith(REMOTE):
        return False
    with open(path, "rb") as fh:
        return fh.read(2) != sources.GZIP_MAGIC


def _ends(buf: bytearray | mmap.mmap, end: int, start: int = 0) -> Any:
    """Where each line of buf[start:end] ends, from `start` (the offset after its newline; the last line may have
    none). bytes.find (memchr) per line where lines are long, as LiteLLM's are; numpy for many short lines."""
    import numpy as np

    out: list[int] = []
    pos, find = start, buf.find
    while len(out) < 1024:
        i = find(b"\n", pos, end)
        if i < 0:
            break
        pos = i + 1
        out.append(pos)
    if len(out) == 1024:
        more = np.flatnonzero(np.frombuffer(buf, np.uint8, end - pos, pos) == 10) + (pos + 1)
        ends = np.concatenate([np.array(out, np.int64), more])
    else:
        ends = np.array(out, np.int64)
    ends = ends if len(ends) and ends[-1] == end else np.append(ends, end)
    return ends - start if start else ends


def _mapped_blocks(path: str) -> Iterator[tuple[int, memoryview, Any, list[int]]]:
    """_blocks of a plain local file mapped into memory: DuckDB reads the lines where the page cache holds them.
    The pages of blocks well behind are released as it goes (they are read again from the file if touched), so
    the resident memory stays a few blocks."""
    import numpy as np

    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if not size:
            return
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    view, first, pos, done, released = memoryview(mm), 1, 0, [], 0
    while pos < size:
        stop = min(size, pos + BATCH_BYTES)
        cut = mm.rfind(b"\n", pos, stop) + 1 if stop < size else size
        if cut <= pos:  # a line longer than a block
            newline = mm.find(b"\n", stop)
            cut = size if newline < 0 else newline + 1
            if cut - pos > MAX_LINE:
                yield first, memoryview(b"\n"), np.array([1], np.int64), [first]
                first, pos = first + 1, cut
                continue
        ends = _ends(mm, cut, pos)
        yield first, view[pos:cut], ends, []
        first, pos = first + len(ends), cut
        done.append(pos)
        page = done[-9] // mmap.PAGESIZE * mmap.PAGESIZE if len(done) > 8 else 0
        if page > released and hasattr(mmap, "MADV_DONTNEED"):
            mm.madvise(mmap.MADV_DONTNEED, released, page - released)
            released = page


def _lines_batch(first: int, block: memoryview, ends: Any) -> Any:
    """An Arrow batch (n, line) of a block of whole lines ending at `ends`, without copying them."""
    import numpy as np
    import pyarrow as pa

    offsets = np.concatenate([[0], ends]).astype(np.int64)
    lines = pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(ends), [None, pa.py_buffer(offsets),
                                                                             pa.py_buffer(block)])
    return pa.record_batch([pa.array(np.arange(first, first + len(ends), dtype=np.int64)), lines], names=["n", "line"])


def _blocks(fh: IO[bytes]) -> Iterator[tuple[int, memoryview, Any, list[int]]]:
    """(number of the block's first line, whole lines, where they end, [its number] when it is one line over
    MAX_LINE, unread), each block read into a fresh buffer once and never copied afterwards."""
    import numpy as np

    first, rest = 1, b""
    while True:
        buf = bytearray(len(rest) + BATCH_BYTES)
        buf[:len(rest)] = rest
        got = fh.readinto(memoryview(buf)[len(rest):])  # type: ignore[attr-defined]
        end = len(rest) + got
        if not got:
            if rest:
                yield first, memoryview(buf)[:len(rest)], _ends(buf, len(rest)), []
            return
        cut = buf.rfind(b"\n", 0, end) + 1
        if not cut:
            if end > MAX_LINE:  # skip to the end of that line
                tail = b""
                while b"\n" not in tail:
                    tail = fh.read(1 << 20)
                    if not tail:
                        break
                yield first, memoryview(b"\n"), np.array([1], np.int64), [first]
                first, rest = first + 1, tail[tail.find(b"\n") + 1:] if tail else b""
                continue
            rest = bytes(buf[:end])
            continue
        rest = bytes(buf[cut:end])
        ends = _ends(buf, cut)
        yield first, memoryview(buf)[:cut], ends, []
        first += len(ends)


class ParquetFile:
    """A Parquet file read by DuckDB; rows numbered from 1 (`file:row N`)."""

    def __init__(self, path: str, db: DuckDB, group_by: str, seed: int, size: int, answered: bool,
                 hand: tuple[bool, bool] = (False, False)) -> None:
        import pyarrow.parquet as pq

        self.name, self.db = path, db
        self.file = pq.ParquetFile(_open(path) if path.startswith(REMOTE) else path)
        columns = {f.name: f.type for f in self.file.schema_arrow}
        self.json_columns = frozenset(c for c, t in columns.items() if _is_json(t))
        missing = {"request_id", "spend", "model"} - set(columns)
        if missing or not {"startTime", "call_type"} & set(columns):
            raise InputError(f"{path}: not LiteLLM spend rows (no column {', '.join(sorted(missing)) or 'startTime'});"
                             f" columns are: {', '.join(columns)}")
        # a local file is read by DuckDB itself (only the columns used, row groups in parallel); a remote one is
        # streamed to it through pyarrow's filesystems
        self.local = not path.startswith(REMOTE)
        rows = (f"(SELECT *, file_row_number + 1 AS n FROM read_parquet({sql.sql_str(path)}, file_row_number = true))"
                if self.local else "batch")
        self.query = sql.query(sql.staged(f"(SELECT n, {_struct(columns, group_by)} AS r, {_odd(columns)} AS odd "
                                          f"FROM {rows})", group_by, seed, answered, *hand), size)

    def chunks(self) -> Iterator[Chunk]:
        import pyarrow as pa

        if self.local:
            yield split(self.db.run(self.query), self._units)
            return
        schema = self.file.schema_arrow.append(pa.field("n", pa.int64()))

        def batches() -> Iterator[pa.RecordBatch]:
            first = 1
            for batch in self.file.iter_batches(batch_size=PARQUET_ROWS):
                yield batch.append_column("n", pa.array(range(first, first + len(batch)), pa.int64()))
                first += len(batch)

        yield split(self.db.run(self.query, batch=pa.RecordBatchReader.from_batches(schema, batches())), self._units)

    def _units(self, rows: list[int]) -> Iterator[tuple[int, Unit]]:
        """The units of these (sorted) rows. DuckDB fetches a local file's by row number, FETCH_ROWS at a time,
        decoding only the pages that hold them (5x less CPU than pyarrow reading their whole row groups); a
        remote file's are taken from the row groups that hold them, PARQUET_ROWS at a time."""
        if self.local:
            query = (f"SELECT * EXCLUDE (file_row_number) FROM read_parquet({sql.sql_str(self.name)}, "
                     f"file_row_number = true) WHERE list_contains($1, file_row_number + 1) ORDER BY file_row_number")
            for at in range(0, len(rows), FETCH_ROWS):
                wanted = rows[at:at + FETCH_ROWS]
                table = self.db.con.sql(query, params=[wanted]).to_arrow_table()
                for n, row in zip(wanted, table.to_pylist(), strict=True):
                    yield n, (f"{self.name}:row {n}", row_dict(row, self.json_columns), None)
            return
        start, k = 1, 0
        for g in range(self.file.num_row_groups):
            size = self.file.metadata.row_group(g).num_rows
            end = k
            while end < len(rows) and rows[end] < start + size:
                end += 1
            if end > k:
                table = self.file.read_row_group(g)
                for at in range(k, end, PARQUET_ROWS):
                    wanted = rows[at:min(end, at + PARQUET_ROWS)]
                    for n, row in zip(wanted, table.take([n - start for n in wanted]).to_pylist(), strict=True):
                        yield n, (f"{self.name}:row {n}", row_dict(row, self.json_columns), None)
                k = end
            start += size


def row_dict(row: dict[str, Any], json_columns: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A table row as LiteLLM's JSON export holds it: times as ISO strings (UTC when they have no zone), JSON
    columns decoded."""
    import json

    return {k: v.isoformat() if isinstance(v, datetime) else json.loads(v) if k in json_columns and v is not None
            else v for k, v in row.items()}


def _is_json(arrow: Any) -> bool:
    return getattr(arrow, "extension_name", "") == "arrow.json"


def _struct(columns: dict[str, Any], group_by: str) -> str:
    """The mapping's struct from typed columns: JSON values of scalars, JSON text of the JSON columns."""
    import pyarrow as pa

    parts = []
    for name, kind in sql.fields(group_by).items():
        col, arrow = f'"{name}"', columns.get(name)
        if arrow is None:
            value = f"NULL::{kind}"
        elif pa.types.is_timestamp(arrow):
            value = f"to_json(strftime({col}, '%Y-%m-%dT%H:%M:%S.%f'))"
        elif kind == "JSON":
            value = f"to_json({col})"
        elif _is_json(arrow):  # a JSON column: its string values are read through maybe_json like the others
            value = f"CASE json_type({col}) WHEN 'VARCHAR' THEN {col}->>'$' ELSE {col}::VARCHAR END"
        else:
            value = f"{col}::VARCHAR" if pa.types.is_string(arrow) or pa.types.is_large_string(arrow) else \
                f"to_json({col})::VARCHAR"
        parts.append(f'"{name}" := {value}')
    return f"struct_pack({', '.join(parts)})"


def _odd(columns: dict[str, Any]) -> str:
    texts = [f'coalesce("{c}"::VARCHAR, \'\')' for c in sql.TEXT_FIELDS if c in columns]
    # NaN, Infinity and trailing commas in the JSON text columns (DuckDB reads them, the parser does not)
    return " OR ".join(" OR ".join(sql.odd(t)[1:3]) for t in texts) or "false"
