"""The LiteLLM proxy's own database: `LiteLLM_SpendLogs` read where it lives (psycopg 3).

The spend mapping (spend_pg) runs in Postgres over the table's real types, in one statement: volume groups, the
seeded sample per (task, model) by md5 of "seed:request_id", the untyped prompts for the typer, and the ids of the
rows Python must read. Only those rows and the sampled ones are then fetched, by primary key, as LiteLLM's JSON
export holds them, and read by the streaming parser. `--since`/`--until` select rows by `startTime` (its index
serves them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ...errors import InputError
from ..sources import Unit
from . import spend_pg
from .base import Chunk, split
from .spend_duckdb import sql_str

TABLE = spend_pg.TABLE
TIMES = ("startTime", "endTime", "completionStartTime", "created_at", "updated_at")
JSONB = ("metadata", "request_tags", "messages", "response", "proxy_server_request")
FETCH = 2000


def safe_url(url: str) -> str:
    """The URL without its password, as it may be shown and stored."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = (f"{parts.username}@" if parts.username else "") + host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _when(value: str | None, flag: str) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{flag} {value}: expected a date or time, e.g. 2026-10-01 or 2026-10-01T12:00:00Z") from None
    return when.astimezone(timezone.utc).replace(tzinfo=None) if when.tzinfo else when


class SpendLogs:
    """The `LiteLLM_SpendLogs` table of one database, optionally between two start times. `hand`: (the reader
    checks what the tiers take, agent steps are typed apart), whose rows the parser reads (open_reader)."""

    def __init__(self, url: str, group_by: str, seed: int, size: int, answered: bool, since: str | None,
                 until: str | None, hand: tuple[bool, bool] = (False, False)) -> None:
        self.name, self.url = safe_url(url), url
        with self._connect() as conn:
            columns: dict[str, str] = dict(conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'LiteLLM_SpendLogs'"
            ).fetchall())
            utf8 = conn.execute("SHOW server_encoding").fetchone()[0] == "UTF8"
        if not columns:
            raise InputError(f"{self.name}: no LiteLLM_SpendLogs table (is this the LiteLLM proxy's database?)")
        self.where, self.params = ["true"], []
        for flag, value, op in (("--since", since, ">="), ("--until", until, "<")):
            when = _when(value, flag)
            if when is not None:
                self.where.append(f'"startTime" {op} %s')
                self.params.append(when)
        staged = spend_pg.staged(group_by, seed, answered, columns, *hand, utf8=utf8)
        self.query = spend_pg.query(staged.replace("{where}", " AND ".join(self.where)), size or 0)

    def _connect(self) -> Any:
        """A connection for one query or one fetch (closed after it: the reader may fetch rows again much later)."""
        try:
            import psycopg
        except ImportError:
            raise InputError("reading Postgres needs psycopg: pip install 'tiertool[postgres]'") from None
        try:
            return psycopg.connect(self.url, autocommit=True)
        except psycopg.Error as e:
            raise InputError(f"{self.name}: cannot connect ({str(e).strip().splitlines()[0]})") from None

    def chunks(self) -> Iterator[Chunk]:
        with self._connect() as conn:
            rows: list[tuple[Any, ...]] = [tuple(int(v) if isinstance(v, Decimal) else v for v in row)
                                           for row in conn.execute(self.query, self.params)]
        python: list[str] = next((list(row[-1] or ()) for row in rows if row[0] == 15), [])
        order = {rid: i for i, rid in enumerate(python)}  # the parser reads them in start-time order, as exported
        yield split(rows, lambda ids: self._units(sorted(ids, key=lambda r: order.get(r, -1))))

    def _units(self, rows: list[str]) -> Iterator[tuple[str, Unit]]:
        """The rows as LiteLLM's JSON export holds them (jsonb decoded, times ISO in UTC), by primary key."""
        times = ", ".join(f"{sql_str(t)}, to_char(t.{json.dumps(t)}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')" for t in TIMES)
        stmt = f"SELECT request_id, to_jsonb(t) || jsonb_strip_nulls(jsonb_build_object({times})) FROM {TABLE} t " \
               "WHERE request_id = ANY(%s)"
        for i in range(0, len(rows), FETCH):
            part = rows[i:i + FETCH]
            with self._connect() as conn:
                found: dict[str, Any] = dict(conn.execute(stmt, [part]).fetchall())
            for rid in part:
                yield rid, (f"{self.name}#{rid}", found[rid], None)


def is_url(path: str) -> bool:
    return bool(re.match(r"postgres(ql)?://", path))
