"""Spark: the same pass on a Spark session (`--engine spark`), for traffic beyond one machine.

Each input (a JSON-lines path, a Parquet path, or a table name) becomes lines of JSON numbered in order (a table's
rows through to_json, times with microseconds), parsed with Spark's VARIANT functions (Spark 4+), and mapped as
spend_duckdb maps them: the volume per (task, how, model, day), the seeded sample per (task, model) and the rows
Python must read, which are fetched by number and read by the streaming parser.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...errors import InputError
from .. import sources
from ..sources import Unit
from .base import Chunk
from .spend_duckdb import ISO, SPACE, SUSPECT_JSON, TASK_TAG

# litellm_spend.parse reads the client's request body (`proxy_server_request`: prompt, client tags, metadata.task);
# this SQL predates that, so until it is ported from spend_duckdb.staged every row is read by the parser itself:
# exact, but not pushed down.
PUSHED_DOWN = "false"

def sql_str(s: str) -> str:
    """A Spark SQL string literal (backslashes are escapes there)."""
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"

TIMES = "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX"
NUM = ("BIGINT", "DOUBLE")


def _is(t: str, *types: str) -> str:
    return "(" + " OR ".join(f"{t} = '{x}'" if x != "DECIMAL" else f"{t} LIKE 'DECIMAL%'" for x in types) + ")"


def _type(path: str, of: str = "v") -> str:
    return f"schema_of_variant(variant_get({of}, {sql_str(path)}))"


def _text(path: str, of: str = "v") -> str:
    """maybe_json's view of a field: the string, or the JSON text of an object or array."""
    return f"variant_get({of}, {sql_str(path)}, 'string')"


def _tok(x: str) -> tuple[str, str]:
    t = f"schema_of_variant({x})"
    ok = (f"({x} IS NULL OR {t} = 'VOID' OR {t} = 'BIGINT' OR (({t} = 'DOUBLE' OR {t} LIKE 'DECIMAL%') "
          f"AND abs(variant_get({x}, '$', 'double')) < 9e15))")
    value = f"coalesce(CAST(try_variant_get({x}, '$', 'double') AS BIGINT), 0)"  # truncates, as int(float(x))
    return ok, f"CASE WHEN {t} = 'BIGINT' THEN variant_get({x}, '$', 'bigint') ELSE {value} END"


def staged(group_by: str, seed: int, answered: bool) -> str:
    if group_by not in ("auto", "", None):
        raise InputError(f"--group-by {group_by}: --engine spark reads the task from tags and metadata.task")
    strip = f"[{SPACE}]+"
    pt_ok, pt = _tok("variant_get(v, '$.prompt_tokens')")
    ct_ok, ct = _tok("variant_get(v, '$.completion_tokens')")
    c_ok, cached = _tok("variant_get(mv, '$.usage_object.prompt_tokens_details.cached_tokens')")
    meta_t = _type("$.task", "mv")
    u_t, p_t = _type("$.usage_object", "mv"), _type("$.usage_object.prompt_tokens_details", "mv")
    return f"""
WITH a AS (
  SELECT n, line, v, line IS NULL OR left(line, 1) <> '{{' OR contains(line, 'NaN') OR contains(line, 'Infinity')
      OR line RLIKE {sql_str(SUSPECT_JSON)} AS odd,
    {_type('$.request_id')} AS t_id, {_type('$.model')} AS t_model, {_type('$.status')} AS t_status,
    {_type('$.spend')} AS t_spend, {_type('$.response')} AS t_resp,
    CASE WHEN {_type('$.startTime')} = 'STRING' THEN {_text('$.startTime')} END AS s_start,
    CASE WHEN {_type('$.endTime')} = 'STRING' THEN {_text('$.endTime')} END AS s_end,
    {_text('$.metadata')} AS m_text, {_text('$.request_tags')} AS tag_text, {_text('$.messages')} AS msg_text
  FROM (SELECT n, line, try_parse_json(line) AS v FROM lines)
), b AS (
  SELECT *,
    CASE WHEN left(m_text, 1) = '{{' THEN try_parse_json(m_text) END AS mv,
    CASE WHEN left(tag_text, 1) = '[' THEN try_variant_get(try_parse_json(tag_text), '$', 'array<variant>') END AS tags,
    CASE WHEN left(msg_text, 1) IN ('[', '{{') THEN try_parse_json(msg_text) END AS msgs_v,
    CASE WHEN t_resp = 'STRING' AND left({_text('$.response')}, 1) IN ('[', '{{')
         THEN try_parse_json({_text('$.response')})
         WHEN t_resp LIKE 'OBJECT%' THEN variant_get(v, '$.response') END AS resp
  FROM a
), c AS (
  SELECT *,
    CASE WHEN s_start RLIKE {sql_str(ISO)} THEN try_to_timestamp(s_start) END AS ts,
    CASE WHEN s_end RLIKE {sql_str(ISO)} THEN try_to_timestamp(s_end) END AS te,
    try_variant_get(msgs_v, '$', 'array<variant>') AS msgs,
    CASE WHEN {meta_t} = 'STRING' THEN nullif(variant_get(mv, '$.task', 'string'), '') END AS meta_task,
    try_element_at(filter(transform(tags, x -> CASE WHEN schema_of_variant(x) = 'STRING' THEN regexp_replace(
        regexp_replace(regexp_extract(variant_get(x, '$', 'string'), {sql_str(TASK_TAG)}, 1),
                       {sql_str('^' + strip)}, ''), {sql_str(strip + '$')}, '') END), x -> x <> ''), 1) AS tag_task,
    schema_of_variant(variant_get(resp, '$.choices[0]')) AS t_c0,
    schema_of_variant(variant_get(resp, '$.choices[0].message')) AS t_msg,
    schema_of_variant(variant_get(resp, '$.choices[0].message.content')) AS t_content
  FROM b
), d AS (
  SELECT *,
    coalesce(schema_of_variant(msgs_v) LIKE 'ARRAY%' AND size(msgs) > 0 AND NOT exists(msgs, e ->
      schema_of_variant(variant_get(e, '$.content')) = 'STRING'
      AND variant_get(e, '$.content', 'string') = 'redacted-by-litellm'), false) AS has_msgs,
    coalesce(NOT odd AND v IS NOT NULL AND t_id = 'STRING' AND t_model = 'STRING' AND {_text('$.model')} <> ''
    AND {_is('t_spend', *NUM, 'DECIMAL')} AND isnotnull(try_variant_get(v, '$.spend', 'double'))
    AND (variant_get(v, '$.startTime') IS NOT NULL OR variant_get(v, '$.call_type') IS NOT NULL)
    AND (t_status IS NULL OR t_status IN ('VOID', 'STRING')) AND {pt_ok} AND {ct_ok}
    AND (s_start IS NULL AND coalesce({_type('$.startTime')}, 'VOID') = 'VOID' OR s_start = '' OR ts IS NOT NULL)
    AND (s_end IS NULL AND coalesce({_type('$.endTime')}, 'VOID') = 'VOID' OR s_end = '' OR te IS NOT NULL)
    AND (tag_text IS NULL OR tag_text = '' OR tags IS NOT NULL)
    AND (m_text IS NULL OR m_text = '' OR mv IS NOT NULL AND ({meta_t} IS NULL OR {meta_t} IN ('VOID', 'STRING'))
         AND ({u_t} IS NULL OR {u_t} = 'VOID' OR {u_t} LIKE 'OBJECT%' AND ({p_t} IS NULL OR {p_t} = 'VOID'
              OR {p_t} LIKE 'OBJECT%' AND {c_ok})))
    AND (msg_text IS NULL OR msg_text = '' OR schema_of_variant(msgs_v) = 'OBJECT<>'
         OR schema_of_variant(msgs_v) LIKE 'ARRAY%' AND forall(msgs, e -> schema_of_variant(e) LIKE 'OBJECT%'
                                                             AND variant_get(e, '$.role') IS NOT NULL))
    AND NOT (t_c0 LIKE 'OBJECT%' AND t_msg IS NOT NULL AND t_msg <> 'VOID' AND t_msg NOT LIKE 'OBJECT%')
    AND {PUSHED_DOWN}, false) AS ok,
    CASE WHEN t_c0 LIKE 'OBJECT%' THEN t_msg LIKE 'OBJECT%' AND t_content IS NOT NULL AND t_content <> 'VOID'
         ELSE t_resp = 'STRING' AND {_text('$.response')} <> '' END AS answered
  FROM c
)
SELECT n, ok, coalesce(tag_task, meta_task, 'untagged') AS task,
  CASE WHEN tag_task IS NOT NULL THEN 'tag' WHEN meta_task IS NOT NULL THEN 'metadata' ELSE 'none' END AS how,
  {_text('$.model')} AS model, coalesce(date_format(ts, 'yyyy-MM-dd'), '') AS day, unix_micros(ts) / 1e6 AS t,
  {pt} AS pt, {ct} AS ct, CASE WHEN {p_t} LIKE 'OBJECT%' THEN {cached} ELSE 0 END AS cached,
  try_variant_get(v, '$.spend', 'double') AS cost,
  has_msgs AND coalesce(nullif({_text('$.status')}, ''), 'success') = 'success' AS replayable, answered,
  md5(concat({sql_str(f"{seed}:")}, {_text('$.request_id')})) AS key, has_msgs
FROM d"""


class SparkInput:
    """One path or table on the active Spark session."""

    def __init__(self, spark: Any, name: str, group_by: str, seed: int, size: int, answered: bool) -> None:
        from pyspark.sql import functions as F

        self.spark, self.name, self.size = spark, name, size
        if Path(name).suffix.lower() in (".parquet", ".pq"):
            frame = spark.read.parquet(name).select(F.to_json(F.struct("*"), {"timestampFormat": TIMES}).alias("line"))
            self.source = f"{name}:row {{}}"
        elif Path(name).exists() or "/" in name or "://" in name:
            frame = spark.read.text(name).withColumnRenamed("value", "line")
            self.source = f"{name}:{{}}"
        else:
            frame = spark.table(name).select(F.to_json(F.struct("*"), {"timestampFormat": TIMES}).alias("line"))
            self.source = f"{name}:row {{}}"
        self.lines = _numbered(frame)
        self.staged = staged(group_by, seed, answered)
        self.eligible = "replayable AND answered" if answered else "replayable"

    def chunks(self) -> Iterator[Chunk]:
        self.lines.createOrReplaceTempView("lines")
        s = self.spark.sql(f"SELECT *, NOT ok OR (how = 'none' AND has_msgs) AS py, {self.eligible} AS eligible "
                           f"FROM ({self.staged})").persist()
        try:
            s.createOrReplaceTempView("staged")
            done = "ok AND NOT py"
            groups = [tuple(r) for r in self.spark.sql(
                f"SELECT task, how, model, day, count(*), count_if(replayable), sum(pt), sum(ct), sum(cached), 0, 0, "
                f"sum(cost), count(cost), min(t), max(t), count_if(eligible), NULL, NULL, NULL "
                f"FROM staged WHERE {done} "
                f"GROUP BY task, how, model, day").collect()]
            sample: dict[tuple[str, str], list[tuple[int, str]]] = {}
            if self.size:
                for task, model, n, key in self.spark.sql(
                        f"SELECT task, model, n, key FROM (SELECT *, row_number() OVER (PARTITION BY task, model "
                        f"ORDER BY key, n) AS r FROM staged WHERE {done} AND eligible) WHERE r <= {self.size} "
                        f"ORDER BY key, n").collect():
                    sample.setdefault((task, model), []).append((n, key))
            python = [r[0] for r in self.spark.sql("SELECT n FROM staged WHERE py ORDER BY n").collect()]
        finally:
            s.unpersist()
        yield Chunk(groups, sample, python, self._units)

    def _units(self, rows: list[int]) -> Iterator[tuple[int, Unit]]:
        if not rows:
            return
        self.spark.createDataFrame([(n,) for n in rows], "n long").createOrReplaceTempView("wanted")
        found = dict(self.spark.sql("SELECT l.n, l.line FROM lines l JOIN wanted w ON l.n = w.n").collect())
        for n in rows:
            line = found[n]
            for unit in sources.line_units(self.source.format(n), n, None if line is None else line.encode()):
                yield n, unit


def _numbered(frame: Any) -> Any:
    """Lines numbered from 1 in their order, without moving them to one partition: each partition's rows are
    counted once, and a row's number is its partition's offset plus its place in it."""
    from pyspark.sql import functions as F

    marked = frame.select(F.spark_partition_id().alias("p"), F.monotonically_increasing_id().alias("m"), "line")
    counts = dict(marked.groupBy("p").count().collect())
    offset, offsets = 1, {}
    for p in sorted(counts):
        offsets[p], offset = offset, offset + counts[p]
    starts = F.create_map(*[F.lit(x) for p in sorted(offsets) for x in (p, offsets[p])]) if offsets else F.lit(None)
    return marked.select((starts[F.col("p")] + F.col("m") - F.shiftleft(F.col("p").cast("long"), 33)).alias("n"),
                         "line")


def session() -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise InputError("--engine spark needs pyspark 4+: pip install 'tiertool[spark]'") from None
    return SparkSession.builder.getOrCreate()
