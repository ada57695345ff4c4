"""The LiteLLM proxy's own database: `LiteLLM_SpendLogs` read where it lives (psycopg 3).

The spend mapping runs in Postgres over the table's real types (jsonb columns, `timestamp(3)` in UTC), in one
statement: volume groups, the seeded sample per (task, model) by md5 of "seed:request_id", and the ids of rows
Python must read. Those rows are then fetched by primary key as LiteLLM's JSON export holds them and read by the
streaming parser. `--since`/`--until` select rows by `startTime` (its index serves them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ...errors import InputError
from ..sources import Unit
from .base import Chunk
from .spend_duckdb import SPACE, TASK_TAG, sql_str

TABLE = '"LiteLLM_SpendLogs"'
TIMES = ("startTime", "endTime", "completionStartTime", "created_at", "updated_at")
JSONB = ("metadata", "request_tags", "messages", "response", "proxy_server_request")
FETCH = 2000


# litellm_spend.parse reads the client's request body (`proxy_server_request`: prompt, client tags, metadata.task);
# this SQL predates that, so until it is ported from spend_duckdb.staged every row is read by the parser itself:
# exact, but not pushed down.
PUSHED_DOWN = "false"

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


def _group_by(group_by: str, columns: dict[str, str]) -> tuple[str, str]:
    """(ok, task or NULL) of an explicit --group-by path over the row, as common.dotted reads it."""
    head, *rest = group_by.split(".")
    kind = columns.get(head)
    col = f'"{head}"'
    if kind is None:
        return "true", "NULL"
    if kind != "jsonb":
        if rest:  # a text column is parsed by maybe_json only when it looks like JSON: the parser reads those
            return f"(left({col}::text, 1) NOT IN ('{{', '['))", "NULL"
        if kind in ("text", "integer", "bigint"):
            return "true", f"nullif({col}::text, '')"
        raise InputError(f"--group-by {group_by}: column {head} is {kind}; group by a text or JSON column")
    ok, reached = [], "true"
    for k in range(len(rest)):
        node = f"jsonb_typeof({col} #> {sql_str('{' + ','.join(rest[:k]) + '}')})"
        ok.append(f"NOT ({reached} AND {node} = 'string')")  # a JSON string would be parsed again
        reached = f"{reached} AND {node} = 'object'"
    path = sql_str("{" + ",".join(rest) + "}")
    final = f"jsonb_typeof({col} #> {path})"
    ok.append(f"NOT ({reached}) OR {final} IS NULL OR {final} IN ('null', 'string')")
    value = f"CASE WHEN {reached} AND {final} = 'string' THEN nullif({col} #>> {path}, '') END"
    return "(" + " AND ".join(f"({c})" for c in ok) + ")", value


def staged(group_by: str, seed: int, answered: bool, columns: dict[str, str]) -> str:
    strip = f"[{SPACE}]+"
    if group_by in ("auto", "", None):
        gb_ok, task = "true", "coalesce(tag_task, meta_task)"
        how = "CASE WHEN tag_task IS NOT NULL THEN 'tag' WHEN meta_task IS NOT NULL THEN 'metadata' ELSE 'none' END"
    else:
        gb_ok, task = _group_by(group_by, columns)
        how = f"CASE WHEN {task} IS NOT NULL THEN 'group_by' ELSE 'none' END"
    num = "jsonb_typeof(c) = 'number' AND abs((c)::numeric) < 9e15"  # where Python's int(float(v)) is exact
    return f"""
SELECT request_id, "startTime", ok, task, how, model, day, t, pt, ct, cached, cost, replayable, key,
  NOT ok OR (how = 'none' AND has_msgs) AS py, {"replayable AND answered" if answered else "replayable"} AS eligible
FROM (
  SELECT request_id, "startTime", model, coalesce({task}, 'untagged') AS task, {how} AS how,
    to_char("startTime", 'YYYY-MM-DD') AS day, extract(epoch FROM "startTime")::float8 AS t,
    prompt_tokens::bigint AS pt, completion_tokens::bigint AS ct,
    CASE WHEN c IS NOT NULL AND jsonb_typeof(c) = 'number' THEN trunc((c)::numeric)::bigint ELSE 0 END AS cached,
    spend AS cost, has_msgs AND coalesce(nullif(status, ''), 'success') = 'success' AS replayable,
    md5({sql_str(f"{seed}:")} || request_id) AS key, has_msgs,
    model <> '' AND spend NOT IN ('NaN'::float8, 'Infinity', '-Infinity')
    AND (request_tags IS NULL OR (jsonb_typeof(request_tags) = 'array' AND NOT EXISTS (
         SELECT 1 FROM jsonb_array_elements(request_tags) e WHERE jsonb_typeof(e) <> 'string')))
    AND (metadata IS NULL OR jsonb_typeof(metadata) = 'object' AND (metadata->'task' IS NULL
         OR jsonb_typeof(metadata->'task') IN ('null', 'string'))
         AND (u IS NULL OR jsonb_typeof(u) = 'null' OR jsonb_typeof(u) = 'object' AND (p IS NULL
              OR jsonb_typeof(p) = 'null' OR jsonb_typeof(p) = 'object' AND (c IS NULL OR jsonb_typeof(c) = 'null'
              OR {num}))))
    AND (messages IS NULL OR messages = '{{}}'::jsonb OR jsonb_typeof(messages) = 'array' AND NOT EXISTS (
         SELECT 1 FROM jsonb_array_elements(messages) e WHERE jsonb_typeof(e) <> 'object' OR NOT e ? 'role'))
    AND NOT (jsonb_typeof(response) = 'string' AND left(response #>> '{{}}', 1) IN ('[', '{{'))
    AND NOT (jsonb_typeof(response->'choices'->0) = 'object' AND response->'choices'->0->'message' IS NOT NULL
             AND jsonb_typeof(response->'choices'->0->'message') NOT IN ('null', 'object'))
    AND {gb_ok} AND {PUSHED_DOWN} AS ok,
    CASE WHEN jsonb_typeof(response->'choices'->0) = 'object'
         THEN jsonb_typeof(response->'choices'->0->'message') = 'object'
              AND jsonb_typeof(response->'choices'->0->'message'->'content') IS DISTINCT FROM 'null'
              AND response->'choices'->0->'message'->'content' IS NOT NULL
         ELSE jsonb_typeof(response) = 'string' AND response #>> '{{}}' <> '' END AS answered
  FROM (
    SELECT *, metadata->'usage_object' AS u, metadata->'usage_object'->'prompt_tokens_details' AS p,
      metadata->'usage_object'->'prompt_tokens_details'->'cached_tokens' AS c,
      (SELECT regexp_replace(m[1], {sql_str(f'^{strip}|{strip}$')}, '', 'g') FROM jsonb_array_elements_text(
         CASE WHEN jsonb_typeof(request_tags) = 'array' THEN request_tags END) WITH ORDINALITY AS x(tag, i),
         regexp_match(tag, {sql_str(TASK_TAG.replace('(?s)', ''))}) AS m
       WHERE regexp_replace(m[1], {sql_str(f'^{strip}|{strip}$')}, '', 'g') <> '' ORDER BY i LIMIT 1) AS tag_task,
      CASE WHEN jsonb_typeof(metadata->'task') = 'string' THEN nullif(metadata->>'task', '') END AS meta_task,
      jsonb_typeof(messages) = 'array' AND jsonb_array_length(messages) > 0 AND NOT EXISTS (
        SELECT 1 FROM jsonb_array_elements(messages) e WHERE e->'content' = '"redacted-by-litellm"'::jsonb
      ) AS has_msgs
    FROM {TABLE} WHERE {{where}}
  ) raw
) s"""


def query(staged_sql: str, size: int) -> str:
    done = "ok AND NOT py"
    return f"""
WITH s AS MATERIALIZED ({staged_sql})
SELECT 0, task, how, model, day, count(*), count(*) FILTER (WHERE replayable), sum(pt), sum(ct), sum(cached), 0, 0,
  sum(cost), count(cost), min(t), max(t), count(*) FILTER (WHERE eligible), NULL, NULL, NULL, NULL, NULL
FROM s WHERE {done} GROUP BY task, how, model, day
UNION ALL
SELECT 1, task, NULL, model, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, request_id, key
FROM (SELECT *, row_number() OVER (PARTITION BY task, model ORDER BY key, request_id) AS r
      FROM s WHERE {done} AND eligible) q WHERE r <= {size}
UNION ALL
(SELECT 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, request_id, NULL
 FROM s WHERE py ORDER BY "startTime", request_id)"""


class SpendLogs:
    """The `LiteLLM_SpendLogs` table of one database, optionally between two start times."""

    def __init__(self, url: str, group_by: str, seed: int, size: int, answered: bool, since: str | None,
                 until: str | None) -> None:
        self.name, self.url = safe_url(url), url
        with self._connect() as conn:
            columns: dict[str, str] = dict(conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'LiteLLM_SpendLogs'"
            ).fetchall())
        if not columns:
            raise InputError(f"{self.name}: no LiteLLM_SpendLogs table (is this the LiteLLM proxy's database?)")
        self.where, self.params = ["true"], []
        for flag, value, op in (("--since", since, ">="), ("--until", until, "<")):
            when = _when(value, flag)
            if when is not None:
                self.where.append(f'"startTime" {op} %s')
                self.params.append(when)
        self.query = query(staged(group_by, seed, answered, columns).replace("{where}", " AND ".join(self.where)),
                           size or 0)

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
        groups: list[tuple[Any, ...]] = []
        sample: dict[tuple[str, str], list[tuple[Any, str]]] = {}
        python: list[Any] = []
        with self._connect() as conn:
            rows = conn.execute(self.query, self.params).fetchall()
        for kind, task, how, model, day, *values, rid, key in rows:
            if kind == 0:
                groups.append((task, how, model, day, *values))
            elif kind == 1:
                sample.setdefault((task, model), []).append((rid, key))
            else:
                python.append(rid)
        order = {rid: i for i, rid in enumerate(python)}
        yield Chunk(groups, sample, python, lambda rows: self._units(sorted(rows, key=lambda r: order.get(r, -1))))

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
