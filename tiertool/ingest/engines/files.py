"""Log files through DuckDB: JSON lines, Parquet (and their globs), local or on object storage.

Python splits the files into Arrow batches (JSON lines on b"\\n" exactly as the streaming reader numbers them, so
sources and skips agree; Parquet in record batches) and DuckDB runs the spend mapping on each batch in parallel.
Only volume groups come back, with the row numbers of the few rows Python must read; those rows, and the sampled
ones, are read from the batch in memory, so each file is read once and memory stays flat.
"""

from __future__ import annotations

import fnmatch
import glob
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from ...errors import InputError
from .. import sources
from ..sources import MAX_LINE, Unit
from . import spend_duckdb as sql
from .base import Chunk, split

BATCH_BYTES = 128 << 20
PARQUET_ROWS = 8192
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
        import duckdb

        self.con = duckdb.connect(config={"autoinstall_known_extensions": False})
        self.con.execute("SET TimeZone = 'UTC'")

    def run(self, query: str, **tables: Any) -> list[tuple[Any, ...]]:
        for name, table in tables.items():
            self.con.register(name, table)
        try:
            return self.con.execute(query).fetchall()
        finally:
            for name in tables:
                self.con.unregister(name)


class JsonLinesFile:
    """A JSON-lines file (gzip looked through) in batches of whole lines, numbered from 1."""

    def __init__(self, path: str, db: DuckDB, group_by: str, seed: int, size: int, answered: bool) -> None:
        self.name, self.db, self.size = path, db, size
        src = (f"(SELECT n, try(from_json(s, {sql.sql_str(sql.structure(group_by))})) AS r, s IS NULL "
               f"OR left(s, 1) <> '{{' OR contains(s, 'NaN') OR contains(s, 'Infinity') "
               f"OR regexp_matches(s, {sql.sql_str(sql.SUSPECT_JSON)}) AS odd "
               f"FROM (SELECT n, try(decode(line)) AS s FROM batch))")
        self.query = sql.query(sql.staged(src, group_by, seed, answered), size)

    def chunks(self) -> Iterator[Chunk]:
        import numpy as np
        import pyarrow as pa

        with _open(self.name) as fh:
            for first, block, long in _blocks(fh):
                ends = np.flatnonzero(np.frombuffer(block, np.uint8) == 10) + 1
                if len(block) and (not len(ends) or ends[-1] != len(block)):
                    ends = np.append(ends, len(block))  # the last line has no newline
                offsets = np.concatenate([[0], ends]).astype(np.int64)
                lines = pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(ends), [None, pa.py_buffer(offsets),
                                                                                         pa.py_buffer(block)])
                table = pa.table({"n": pa.array(np.arange(first, first + len(ends), dtype=np.int64)), "line": lines})
                groups, sample, python = split(self.db.run(self.query, batch=table))
                if long:  # lines over MAX_LINE were not read: the streaming reader skips them too
                    python = sorted(python + long)

                def units(rows: list[int], first: int = first, offsets: Any = offsets, block: bytes = block,
                          long: list[int] = long) -> Iterator[tuple[int, Unit]]:
                    for n in rows:
                        i = n - first
                        line = None if n in long else block[offsets[i]:offsets[i + 1]]
                        yield n, sources.line_unit(f"{self.name}:{n}", n, line)

                yield Chunk(groups, sample, python, units)


def _blocks(fh: IO[bytes]) -> Iterator[tuple[int, bytes, list[int]]]:
    """(number of the block's first line, whole lines, numbers of lines over MAX_LINE inside it)."""
    first, rest = 1, b""
    while True:
        data = fh.read(BATCH_BYTES)
        if not data:
            if rest:
                yield first, rest, []
            return
        data = rest + data
        cut = data.rfind(b"\n") + 1
        if not cut:
            if len(data) > MAX_LINE:  # one line longer than MAX_LINE: skip to its end, unread
                while data and b"\n" not in data:
                    data = fh.read(1 << 20)
                yield first, b"\n", [first]
                first, rest = first + 1, data[data.find(b"\n") + 1:] if data else b""
                continue
            rest = data
            continue
        block, rest = data[:cut], data[cut:]
        yield first, block, []
        first += block.count(b"\n")


class ParquetFile:
    """A Parquet file in record batches; rows numbered from 1 (`file:row N`)."""

    def __init__(self, path: str, db: DuckDB, group_by: str, seed: int, size: int, answered: bool) -> None:
        import pyarrow.parquet as pq

        self.name, self.db = path, db
        self.file = pq.ParquetFile(_open(path) if path.startswith(REMOTE) else path)
        columns = {f.name: f.type for f in self.file.schema_arrow}
        missing = {"request_id", "spend", "model"} - set(columns)
        if missing or not {"startTime", "call_type"} & set(columns):
            raise InputError(f"{path}: not LiteLLM spend rows (no column {', '.join(sorted(missing)) or 'startTime'});"
                             f" columns are: {', '.join(columns)}")
        self.query = sql.query(sql.staged(f"(SELECT n, {_struct(columns, group_by)} AS r, {_odd(columns)} AS odd "
                                          f"FROM batch)", group_by, seed, answered), size)

    def chunks(self) -> Iterator[Chunk]:
        import pyarrow as pa

        first = 1
        for batch in self.file.iter_batches(batch_size=PARQUET_ROWS):
            table = pa.Table.from_batches([batch]).append_column("n", pa.array(range(first, first + len(batch))))
            groups, sample, python = split(self.db.run(self.query, batch=table))

            def units(rows: list[int], first: int = first, batch: Any = batch) -> Iterator[tuple[int, Unit]]:
                for n in rows:
                    yield n, (f"{self.name}:row {n}", row_dict(batch.slice(n - first, 1).to_pylist()[0]), None)

            yield Chunk(groups, sample, python, units)
            first += len(batch)


def row_dict(row: dict[str, Any]) -> dict[str, Any]:
    """A table row as LiteLLM's JSON export holds it: times as ISO strings (UTC when they have no zone)."""
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


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
        else:
            value = f"{col}::VARCHAR" if pa.types.is_string(arrow) or pa.types.is_large_string(arrow) else \
                f"to_json({col})::VARCHAR"
        parts.append(f'"{name}" := {value}')
    return f"struct_pack({', '.join(parts)})"


def _odd(columns: dict[str, Any]) -> str:
    texts = [f'coalesce("{c}"::VARCHAR, \'\')' for c in sql.TEXT_FIELDS + ("response",) if c in columns]
    return " OR ".join(f"regexp_matches({t}, {sql.sql_str(sql.SUSPECT_JSON)})" for t in texts) or "false"
