"""Engines: the one pass over traffic run where the logs live (issue 20), giving the Traffic the streaming
reader gives. `duckdb` reads JSON lines and Parquet files and globs, local or on object storage; `postgres` the
LiteLLM proxy's `LiteLLM_SpendLogs` table; `spark` paths or a table on a Spark session. Each reads LiteLLM spend
rows with the streaming parser's exact mapping, and hands the rows it cannot map exactly back to that parser.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ...errors import InputError
from .. import litellm_spend, sources
from ..reader import Check
from ..sample import Sampler
from .base import SPEND, EngineReader, Tally

ENGINES = ("auto", "stream", "duckdb", "postgres", "spark")
POSTGRES = ("postgresql://", "postgres://")


def choose(paths: Sequence[str | Path], fmt: str | None, mapping: object, engine: str | None) -> str:
    """The engine for these logs: `auto` streams the files the streaming reader reads, and picks DuckDB for
    LiteLLM spend Parquet, globs and object storage, Postgres for a postgresql:// URL."""
    from .files import REMOTE, is_glob, is_parquet

    engine = engine or "auto"
    if engine not in ENGINES:
        raise InputError(f"--engine {engine}: unknown engine; known: {', '.join(ENGINES)}")
    names = [str(p) for p in paths]
    db = [p for p in names if p.startswith(POSTGRES)]
    if db and (len(names) > 1 or engine not in ("auto", "postgres")):
        raise InputError(f"{db[0].split('@')[-1]}: a postgresql:// URL is read alone, by --engine postgres")
    if db:
        return "postgres"
    if engine == "auto":
        engine = "duckdb" if any(is_glob(p) or p.startswith(REMOTE) or (is_parquet(p) and _spend_rows(p))
                                 for p in names) else "stream"
    if engine == "postgres":
        raise InputError("--engine postgres reads a postgresql://USER@HOST:PORT/DB URL")
    if engine != "stream" and mapping:
        raise InputError(f"--map reads CSV and plain JSON lines with the streaming reader, not --engine {engine}")
    return engine


def _spend_rows(path: str) -> bool:
    """Whether a local Parquet file holds LiteLLM spend rows, which DuckDB maps (others, such as Langfuse's or
    MLflow's, are streamed by their own parsers)."""
    row = sources.first_row(Path(path)) if Path(path).is_file() else None
    return isinstance(row, dict) and litellm_spend.sniff(row)


def open_reader(engine: str, paths: Sequence[str | Path], fmt: str | None, group_by: str | None, tally: Tally,
                sampler: Sampler, answered: bool, since: str | None = None, until: str | None = None,
                semantic: bool = False, check: Check | None = None, steps: bool = False) -> EngineReader:
    """The reader of an engine's pass. With a `check` or `steps`, the rows whose reading they change go to the
    parser, which the reader then checks (and scan types by step) as the streaming reader's."""
    group_by = group_by or "auto"
    names = [str(p) for p in paths]
    if fmt not in (None, SPEND):
        raise InputError(f"--format {fmt}: the engines read LiteLLM spend rows ({SPEND}); use --engine stream")
    if engine == "duckdb":
        from . import files, spend_duckdb

        try:
            spend_duckdb.fields(group_by)
        except LookupError:
            raise InputError(f"--group-by {group_by}: the engines cannot read this path; use --engine stream") from None
        if since or until:
            raise InputError("--since/--until select rows of a database table (postgresql://...)")
        db = files.DuckDB()
        hand = (check is not None, steps)
        parts = [(files.ParquetFile if files.is_parquet(p) else files.JsonLinesFile)(
            p, db, group_by, sampler.seed, sampler.size, answered, hand) for p in files.expand(names)]
        return EngineReader(parts, fmt, group_by, tally, sampler, semantic, check)
    if engine == "postgres":
        from .postgres import SpendLogs

        return EngineReader([SpendLogs(names[0], group_by, sampler.seed, sampler.size, answered, since, until,
                                       (check is not None, steps))], fmt, group_by, tally, sampler, semantic, check)
    from .spark import SparkInput, session

    spark = session()
    inputs = [SparkInput(spark, name, group_by, sampler.seed, sampler.size, answered, (check is not None, steps))
              for name in names]
    return EngineReader(inputs, fmt, group_by, tally, sampler, semantic, check)
