"""Spark: the same pass on a Spark session (`--engine spark`), for traffic beyond one machine.

Each input (a JSON-lines path, a Parquet path, or a table name) becomes lines of JSON (a table's rows through
to_json, times with microseconds), parsed with Spark's VARIANT functions (Spark 4+) and mapped as spend_duckdb
maps them, which is the streaming parser's mapping (litellm_spend.parse), row for row: the client's request body
gives the prompt, the client's tags and its metadata.task. A row is read here only when every field it is read
by has a shape whose mapping is exactly the parser's; any other row goes back to Python. The input is read once
(the staged rows are persisted, a few small columns each): volume groups, the seeded sample per (task, model),
the untyped prompts for the typer and the numbers of the rows Python reads come back; those rows, and the
sampled ones, are fetched by number and read by the streaming parser.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ...errors import InputError
from ...limits import MAX_TOKENS, MIN_TIME, latest_time
from .. import sources
from ..common import TASK_TAG_PREFIXES
from ..litellm_spend import NO_PROMPT
from ..sources import MAX_LINE, Unit
from .base import Chunk
from .spend_duckdb import CHAT_CALLS, ISO, SPACE


def sql_str(s: str) -> str:
    """A Spark SQL string literal (backslashes are escapes there)."""
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


TIMES = "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX"
# A row as a JSON line: times as above; a null column kept as null (a key the parser sniffs, such as `spend`,
# is there as in the row), not left out as to_json does by default
AS_LINE = {"timestampFormat": TIMES, "ignoreNullFields": "false"}
# Spark's JSON parser reads the first value of a text and ignores what follows it ('{"a": 1} x'); orjson refuses
# such a line. Parsed as `[text,"\u0000"]`, a text is one JSON value exactly when the array's second item is that
# NUL string and there is no third (a line holding the escape \u0000 goes to Python, so the NUL is ours).
TAIL = ',"\\u0000"]'
# Lines Spark reads and orjson refuses, or reads otherwise (each goes to Python): a number past a double (1e400 is
# Infinity to Spark), bytes that are not UTF-8 (Spark reads U+FFFD), a NUL escape (see TAIL), a BOM (Python strips
# it on line 1), a line over MAX_LINE (the streaming reader skips it unread). Spark SQL literals read \\uXXXX.
HUGE = r"[:,\[]\s*-?[0-9.]+[eE][+-]?[0-9]{3}|[0-9]{309}"  # a JSON number with a 3-digit exponent, or 309 digits
ODD = ("line IS NULL", "left(line, 1) <> '{'", f"line RLIKE {sql_str(HUGE)}",
       "contains(line, '\\uFFFD')", "contains(line, '\\\\u0000')", "contains(line, '\\uFEFF')",
       f"octet_length(line) > {MAX_LINE}")
ZONE = r"(Z|[+-][0-9]{2}:[0-9]{2})\z"
NUM = ("BIGINT", "DOUBLE", "DECIMAL")


def _get(x: str, path: str, kind: str | None = None) -> str:
    return f"variant_get({x}, {sql_str(path)})" if kind is None else f"try_variant_get({x}, {sql_str(path)}, '{kind}')"


def _obj(x: str) -> str:
    """Whether a value is an object (a cast to a one-field struct: no other key is read, unlike schema_of_variant,
    which walks the whole value)."""
    return f"(try_variant_get({x}, '$', 'struct<_:variant>') IS NOT NULL)"


def _arr(x: str) -> str:
    return f"(try_variant_get({x}, '$', 'array<variant>') IS NOT NULL)"


def _none(x: str) -> str:
    """Absent or JSON null (None to the parser)."""
    return f"({x} IS NULL OR is_variant_null({x}))"


def _scalar(x: str, *types: str) -> str:
    """A scalar of one of these types (schema_of_variant only where the value is no object or array)."""
    t = " OR ".join(f"schema_of_variant({x}) LIKE '{k}%'" if k == "DECIMAL" else f"schema_of_variant({x}) = '{k}'"
                    for k in types)
    return f"(CASE WHEN {x} IS NULL OR {_obj(x)} OR {_arr(x)} THEN false ELSE {t} END)"


def _empty_obj(x: str) -> str:
    return f"coalesce(size(try_variant_get({x}, '$', 'map<string,variant>')) = 0, false)"


def _one(w: str) -> str:
    """The value of a text parsed with TAIL, or NULL when the text is not exactly one JSON value."""
    return f"CASE WHEN {_get(w, '$[1]', 'string')} = chr(0) AND {_get(w, '$[2]')} IS NULL THEN {_get(w, '$[0]')} END"


def _tok(x: str) -> tuple[str, str]:
    """(ok, value) of a token count read by common.to_int: absent, null or a number (truncated), else Python's."""
    ok = (f"({_none(x)} OR schema_of_variant({x}) = 'BIGINT' OR ((schema_of_variant({x}) = 'DOUBLE' "
          f"OR schema_of_variant({x}) LIKE 'DECIMAL%') AND abs({_get(x, '$', 'double')}) < 9e15))")
    value = (f"CASE WHEN {_none(x)} THEN 0 WHEN schema_of_variant({x}) = 'BIGINT' THEN {_get(x, '$', 'bigint')} "
             f"ELSE coalesce(try_cast({_get(x, '$', 'double')} AS BIGINT), 0) END")
    return ok, value


def _time(s: str) -> str:
    """A time string as litellm_spend reads it (fromisoformat, UTC without an offset), where exactly that."""
    iso = ISO.removesuffix("$") + r"\z"  # Java's $ would also match before a final newline
    return (f"CASE WHEN {s} RLIKE {sql_str(iso)} THEN try_cast(CASE WHEN {s} RLIKE {sql_str(ZONE)} THEN {s} "
            f"ELSE concat({s}, 'Z') END AS TIMESTAMP) END")


TEXT_FIELDS = ("metadata", "request_tags", "messages", "proxy_server_request", "response")
SCALARS = ("request_id", "model", "model_group", "status", "spend", "prompt_tokens", "completion_tokens",
           "startTime", "endTime", "call_type", "session_id")
SHORT = {"metadata": "meta", "request_tags": "tags", "messages": "msgs", "proxy_server_request": "body",
         "response": "resp"}


def staged(group_by: str, seed: int, answered: bool, checked: bool = False, steps: bool = False) -> str:
    """SELECT over `lines(p, m, line)` of the staged rows: p, m, py (read by Python), task, how, model, day, t,
    tokens, cost, replayable, eligible, why, called, tag, p_system, p_user (an untyped prompt's text for the typer)
    and key; as spend_duckdb.staged, whose port this is (`checked`: the replayable rows are Python's; `steps`: the
    rows that may be agent steps)."""
    if group_by not in ("auto", "", None):
        raise InputError(f"--group-by {group_by}: --engine spark reads the task from tags and metadata.task")
    odd = " OR ".join(ODD)
    x = {f: f"x_{SHORT.get(f, f)}" for f in (*SCALARS, *TEXT_FIELDS)}
    pick = ", ".join(f"{_get('v', '$.' + f)} AS {x[f]}" for f in (*SCALARS, *TEXT_FIELDS))
    # maybe_json's reading of the text fields: an object or array as it is, a string of JSON parsed; `s_`: the
    # string, `d_`: the value read, `e_`: None or "" (the parser's empty)
    kinds = ", ".join(f"{_obj(x[f])} AS o_{SHORT[f]}, {_arr(x[f])} AS a_{SHORT[f]}" for f in TEXT_FIELDS)
    strings = ", ".join(f"CASE WHEN {x[f]} IS NOT NULL AND NOT o_{k} AND NOT a_{k} AND schema_of_variant({x[f]}) = "
                        f"'STRING' THEN {_get(x[f], '$', 'string')} END AS s_{k}"
                        for f, k in SHORT.items())
    parsed = ", ".join(f"CASE WHEN left(s_{k}, 1) IN ('[', '{{') THEN try_parse_json(concat('[', s_{k}, "
                       f"{sql_str(TAIL)})) END AS w_{k}" for k in SHORT.values())
    docs = ", ".join(f"CASE WHEN o_{k} OR a_{k} THEN {x[f]} ELSE {_one('w_' + k)} END AS d_{k}, "
                     f"{_none(x[f])} OR coalesce(s_{k} = '', false) AS e_{k}" for f, k in SHORT.items())
    pt_ok, pt = _tok(x["prompt_tokens"])
    ct_ok, ct = _tok(x["completion_tokens"])
    c_ok, cached = _tok("x_cached")
    cc_ok, cc = _tok("x_cc")
    cw_ok, cw = _tok("x_cw")
    rt_ok, rt = _tok("x_rt")
    eligible = "replayable AND answered" if answered else "replayable"
    prefixes = " OR ".join(f"startswith(x, {sql_str(p)})" for p in TASK_TAG_PREFIXES)
    role = "variant_get(e, '$.role')"
    content = "variant_get(e, '$.content')"
    session = x["session_id"]
    agent = (f"({session} IS NOT NULL AND NOT is_variant_null({session}) AND NOT (schema_of_variant({session}) = "
             f"'BOOLEAN' AND NOT {_get(session, '$', 'boolean')}) AND NOT ({_scalar(session, 'STRING')} AND "
             f"{_get(session, '$', 'string')} = '') AND NOT ({_scalar(session, *NUM)} AND "
             f"{_get(session, '$', 'double')} = 0)) OR (NOT no_body AND NOT {_none('b_tools')}) "
             f"OR coalesce(exists(msgs, e -> coalesce({_get('e', '$.role', 'string')} = 'tool', false) OR NOT "
             f"{_none(_get('e', '$.tool_calls'))}), false)") if steps else "false"
    hand = " OR ".join(["how = 'none' AND has_msgs AND NOT texts_ok", *(["replayable"] if checked else []),
                        *(["agent"] if steps else [])])
    return f"""
WITH a AS (
  SELECT p, m, CASE WHEN NOT odd THEN try_parse_json(concat('[', line, {sql_str(TAIL)})) END AS w, odd
  FROM (SELECT p, m, line, {odd} AS odd FROM lines)
), b AS (
  SELECT p, m, odd, v, {pick} FROM (SELECT p, m, odd, {_one('w')} AS v FROM a)
), b1 AS (SELECT *, {kinds} FROM b
), b2 AS (SELECT *, {strings} FROM b1
), b3 AS (SELECT *, {parsed} FROM b2
), c AS (SELECT *, {docs} FROM b3
), c1 AS (  -- the client's request body (d_body): metadata, tags, requester_metadata, messages, model, tools
  SELECT *, {_get('d_body', '$.metadata')} AS b_meta, {_get('d_body', '$.messages')} AS b_msgs,
    {_get('d_body', '$.model')} AS b_model, {_get('d_body', '$.tools')} AS b_tools,
    e_body OR (o_body OR {_obj('d_body')}) AND {_get('d_body', '$.metadata')} IS NULL
      AND {_get('d_body', '$.messages')} IS NULL AND {_empty_obj('d_body')} AS no_body,
    {_get('d_meta', '$.usage_object')} AS u
  FROM c
), c2 AS (
  SELECT *, {_get('b_meta', '$.caller_tags', 'array<variant>')} AS caller_arr,
    {_get('b_meta', '$.requester_metadata')} AS rm, {_get('b_msgs', '$', 'array<variant>')} AS b_msgs_arr,
    {_get('u', '$.prompt_tokens_details')} AS ptd, {_get('u', '$.completion_tokens_details')} AS ctd,
    {_get('d_tags', '$', 'array<variant>')} AS tags_arr
  FROM c1
), c3 AS (
  SELECT *,
    {_obj('rm')} AND ({_get('rm', '$.task')} IS NOT NULL
      OR exists(map_keys({_get('rm', '$', 'map<string,variant>')}), k -> k <> 'headers')) AS req_meta,
    coalesce(NOT no_body AND size(b_msgs_arr) > 0, false) AS body_msgs,
    {_get('ptd', '$.cached_tokens')} AS x_cached, {_get('ptd', '$.cache_creation_tokens')} AS x_cc,
    {_get('ptd', '$.cache_write_tokens')} AS x_cw, {_get('ctd', '$.reasoning_tokens')} AS x_rt
  FROM c2
), c4 AS (
  SELECT *, CASE WHEN req_meta THEN {_get('rm', '$.task')} ELSE {_get('b_meta', '$.task')} END AS btask,
    CASE WHEN body_msgs THEN b_msgs_arr ELSE {_get('d_msgs', '$', 'array<variant>')} END AS msgs,
    transform(CASE WHEN no_body THEN tags_arr ELSE caller_arr END, e -> {_get('e', '$', 'string')}) AS tags,
    {_get('d_resp', '$.choices[0]')} AS r_c0, {_get('d_resp', '$.choices[0].message')} AS r_msg
  FROM c3
), d AS (
  SELECT *,
    CASE WHEN NOT no_body AND {_scalar('btask', 'STRING')} THEN nullif({_get('btask', '$', 'string')}, '') END
      AS meta_task,
    filter(tags, x -> {prefixes}) AS task_tags,
    coalesce(size(msgs) > 0 AND NOT exists(msgs, e -> coalesce({_get('e', '$.content', 'string')}
                                                                   = 'redacted-by-litellm', false)), false) AS has_msgs,
    CASE WHEN {_scalar(x['startTime'], 'STRING')} THEN {_get(x['startTime'], '$', 'string')} END AS s_start,
    CASE WHEN {_scalar(x['endTime'], 'STRING')} THEN {_get(x['endTime'], '$', 'string')} END AS s_end,
    coalesce(nullif({_get(x['status'], '$', 'string')}, ''), 'success') AS status_s,
    coalesce(nullif({_get(x['model_group'], '$', 'string')}, ''),
             CASE WHEN NOT no_body THEN nullif({_get('b_model', '$', 'string')}, '') END,
             {_get(x['model'], '$', 'string')}) AS called
  FROM c4
), d1 AS (
  SELECT *, transform(task_tags, x -> trim(BOTH {sql_str(SPACE)} FROM substring(x, instr(x, ':') + 1)))
      AS tag_values, {_time('s_start')} AS ts, {_time('s_end')} AS te
  FROM d
), d2 AS (SELECT *, try_element_at(filter(tag_values, x -> x <> ''), 1) AS tag_task FROM d1
), s_ok AS (
  SELECT *, coalesce(NOT odd AND v IS NOT NULL AND {_scalar(x['request_id'], 'STRING')}
    AND {_scalar(x['model'], 'STRING')} AND {_get(x['model'], '$', 'string')} <> ''
    AND {_scalar(x['spend'], *NUM)} AND abs({_get(x['spend'], '$', 'double')}) <= 1.7976931348623157E308
    AND ({x['startTime']} IS NOT NULL OR {x['call_type']} IS NOT NULL)
    AND ({_none(x['status'])} OR {_scalar(x['status'], 'STRING')}) AND {pt_ok} AND {ct_ok}
    AND ({_none(x['startTime'])} OR s_start = '' OR ts IS NOT NULL)
    AND ({_none(x['endTime'])} OR s_end = '' OR te IS NOT NULL)
    AND (e_tags OR tags_arr IS NOT NULL AND forall(tags_arr, e -> {_scalar('e', 'STRING')}))
    AND ({_none(x['call_type'])} OR {_scalar(x['call_type'], 'STRING')}
         AND {_get(x['call_type'], '$', 'string')} IN ({', '.join(map(sql_str, CHAT_CALLS))}))
    AND (no_body OR (o_body OR {_obj('d_body')}) AND ({_none('b_meta')} OR {_obj('b_meta')})
         AND caller_arr IS NOT NULL AND forall(caller_arr, e -> {_scalar('e', 'STRING')})
         AND ({_none('rm')} OR {_obj('rm')}) AND ({_none('btask')} OR {_scalar('btask', 'STRING')})
         AND ({_none('b_msgs')} OR b_msgs_arr IS NOT NULL OR {_obj('b_msgs')} AND {_empty_obj('b_msgs')}
              OR {_scalar('b_msgs', 'STRING')} AND {_get('b_msgs', '$', 'string')} = '')
         AND ({_none('b_model')} OR {_scalar('b_model', 'STRING')}))
    AND (e_meta OR {_obj('d_meta')}
         AND ({_none(_get('d_meta', '$.error_information'))} OR {_obj(_get('d_meta', '$.error_information'))})
         AND ({_none('u')} OR {_obj('u')}
              AND ({_none('ptd')} OR {_obj('ptd')} AND {c_ok} AND {cc_ok} AND {cw_ok}
                   AND NOT {_scalar('x_cc', 'DOUBLE', 'DECIMAL')})
              AND ({_none('ctd')} OR {_obj('ctd')} AND {rt_ok})))
    AND (CASE WHEN body_msgs THEN true WHEN e_msgs THEN true
              WHEN {_obj('d_msgs')} THEN {_empty_obj('d_msgs')} ELSE msgs IS NOT NULL END)
    AND coalesce(forall(msgs, e -> {_obj('e')} AND {role} IS NOT NULL), true)
    AND NOT ({_obj('r_c0')} AND NOT {_none('r_msg')} AND NOT {_obj('r_msg')})
    AND ({_none(x['model_group'])} OR {_scalar(x['model_group'], 'STRING')})
    AND {"plain_answer" if answered else "true"}, false) AS ok,
    coalesce(s_resp <> '' AND left(s_resp, 1) NOT IN ('[', '{{'), false) AS answered
  FROM (SELECT *, {_none(x['response'])} OR s_resp IS NOT NULL AND (left(s_resp, 1) NOT IN ('[', '{{')
      OR trim(s_resp) IN ('{{}}', '[]')) OR o_resp AND {_empty_obj(x['response'])} AS plain_answer FROM d2)
), s_row AS (
  SELECT p, m, ok, has_msgs, answered, msgs, agent, coalesce(tag_task, meta_task, 'untagged') AS task,
    CASE WHEN tag_task IS NOT NULL THEN 'tag' WHEN meta_task IS NOT NULL THEN 'metadata' ELSE 'none' END AS how,
    {_get(x['model'], '$', 'string')} AS model,
    coalesce(CAST(date_from_unix_date(CAST(floor(unix_micros(ts) / 86400000000) AS INT)) AS STRING), '') AS day,
    unix_micros(ts) / 1e6 AS t, unix_micros(ts) AS us, unix_micros(te) AS ue,
    {pt} AS pt, {ct} AS ct, CASE WHEN {_obj('ptd')} THEN {cached} ELSE 0 END AS cached,
    CASE WHEN {_obj('ptd')} THEN CASE WHEN {cc} <> 0 THEN {cc} ELSE {cw} END ELSE 0 END AS cw,
    CASE WHEN {_obj('ctd')} THEN {rt} ELSE 0 END AS rt, {_get(x['spend'], '$', 'double')} AS cost,
    has_msgs AND status_s = 'success' AS replayable,
    CASE WHEN status_s <> 'success' THEN concat('the call failed (', status_s, ')')
         WHEN NOT has_msgs THEN {sql_str(NO_PROMPT)} END AS why,
    md5(concat({sql_str(f"{seed}:")}, {_get(x['request_id'], '$', 'string')})) AS key, called,
    CASE WHEN tag_task IS NOT NULL THEN element_at(task_tags, CAST(array_position(tag_values, tag_task) AS INT))
      ELSE '' END AS tag
  FROM (SELECT *, {agent} AS agent FROM s_ok)
), s_range AS (  -- common.check_ranges: a figure out of range is the parser's to skip, with its reason
  SELECT *, ok AND pt BETWEEN 0 AND {MAX_TOKENS} AND ct BETWEEN 0 AND {MAX_TOKENS}
    AND cached BETWEEN 0 AND {MAX_TOKENS} AND cw BETWEEN 0 AND {MAX_TOKENS} AND rt BETWEEN 0 AND {MAX_TOKENS}
    AND cost >= 0 AND (us IS NULL OR ue IS NULL OR ue >= us)
    AND (t IS NULL OR t BETWEEN {MIN_TIME} AND {latest_time()}) AS good,
    -- what the task typer reads of an untyped prompt (TaskTyper.prompt), where SQL reads it exactly
    how = 'none' AND has_msgs AND coalesce(forall(msgs, e -> {_scalar(role, 'STRING')} AND {content} IS NOT NULL
      AND ({_none(content)} OR {_scalar(content, 'STRING')})), false) AS texts_ok
  FROM s_row
), s_text AS (
  SELECT *, NOT good OR {hand} AS py,
    CASE WHEN texts_ok THEN concat_ws(chr(10), transform(filter(msgs, e -> {_get('e', '$.role', 'string')}
      IN ('system', 'developer')), e -> coalesce({_get('e', '$.content', 'string')}, ''))) END AS p_sys,
    CASE WHEN texts_ok THEN coalesce({_get("try_element_at(filter(msgs, e -> " + _get('e', '$.role', 'string') +
                                           " = 'user'), 1)", '$.content', 'string')}, '') END AS p_usr
  FROM s_range
)
SELECT p, m, py, task, how, model, day, t, pt, ct, cached, cw, rt, cost, replayable, NOT py AND {eligible}
    AS eligible, why, called, tag, key,
  CASE WHEN texts_ok AND NOT py AND (p_sys <> '' OR p_usr <> '') THEN p_sys END AS p_system,
  CASE WHEN texts_ok AND NOT py AND (p_sys <> '' OR p_usr <> '') THEN p_usr END AS p_user
FROM s_text"""


@contextmanager
def _refused(name: str) -> Iterator[None]:
    """Spark's refusal to read an input (no such path, a Parquet type it has no reader for) as a one-line error."""
    from pyspark.errors import AnalysisException

    try:
        yield
    except AnalysisException as e:
        why = (str(e).strip().splitlines() or [type(e).__name__])[0]
        fix = ("; Spark reads no UUID columns: write them as text (DuckDB: `col::VARCHAR`; pyarrow: a string "
               "column)") if "(UUID)" in why else ""
        raise InputError(f"{name}: Spark cannot read it: {why}{fix}") from None


def _json_columns(name: str) -> set[str]:
    """The columns of Parquet's JSON type (sources.json_columns) in a local Parquet file, folder or glob (its first
    file); none found elsewhere (object storage), where such columns read as text, or in a file pyarrow cannot
    read (Spark then says why it cannot)."""
    import glob

    import pyarrow.parquet as pq

    path = Path(name)
    files = [name] if path.is_file() else sorted(glob.glob(str(path / "**" / "*.parquet"), recursive=True)
                                                 if path.is_dir() else glob.glob(name))
    try:
        return set(sources.json_columns(pq.read_schema(files[0]))) if files else set()
    except Exception:  # pyarrow raises ArrowInvalid / OSError for a damaged file
        return set()


class SparkInput:
    """One path or table on the active Spark session. `hand`: (the reader checks what the tiers take, agent
    steps are typed apart), whose rows the parser reads (open_reader)."""

    def __init__(self, spark: Any, name: str, group_by: str, seed: int, size: int, answered: bool,
                 hand: tuple[bool, bool] = (False, False)) -> None:
        self.spark, self.name, self.size, self.text = spark, name, size, False
        with _refused(name):
            self.lines = self._lines(spark, name)
        self.staged = staged(group_by, seed, answered, *hand)
        self.offsets: dict[int, int] = {}

    def _lines(self, spark: Any, name: str) -> Any:
        from pyspark.sql import functions as F

        if Path(name).suffix.lower() in (".parquet", ".pq"):
            frame = spark.read.parquet(name)
            texts = _json_columns(name)  # Spark reads them as strings of JSON text: the values, as a line holds them
            if texts:
                frame = frame.select(*[F.expr(f"coalesce(try_parse_json(`{c}`), CAST(`{c}` AS VARIANT))").alias(c)
                                       if c in texts else F.col(f"`{c}`") for c in frame.columns])
            frame = frame.select(F.to_json(F.struct("*"), AS_LINE).alias("line"))
            self.source = f"{name}:row {{}}"
        elif Path(name).exists() or "/" in name or "://" in name:
            # lines split on "\n" only, as the streaming reader numbers them (Spark's default also splits on "\r")
            frame = spark.read.option("lineSep", "\n").text(name).withColumnRenamed("value", "line")
            self.source = f"{name}:{{}}"
            self.text = True
        else:
            frame = spark.table(name).select(F.to_json(F.struct("*"), AS_LINE).alias("line"))
            self.source = f"{name}:row {{}}"
        # p: the partition, m: an id increasing through the input; a row's number is its partition's offset plus
        # its place in it, known once the partitions' sizes are (counted on the staged rows: no pass of its own)
        return frame.select(F.spark_partition_id().alias("p"), F.monotonically_increasing_id().alias("m"), "line")

    def _queries(self) -> tuple[list[Any], list[Any], list[int]]:
        """One read of the input: the volume groups, the sampled rows and the numbers of the rows Python reads."""
        from pyspark import StorageLevel

        self.lines.createOrReplaceTempView("lines")
        s = self.spark.sql(self.staged).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            s.createOrReplaceTempView("staged")
            sizes = dict(self.spark.sql("SELECT p, count(*) FROM staged GROUP BY p").collect())
            offset = 1
            for p in sorted(sizes):
                self.offsets[p], offset = offset, offset + sizes[p]
            groups = self.spark.sql(
                "SELECT task, how, model, day, count(*), count_if(replayable), "
                + ", ".join(f"sum(CAST({c} AS DECIMAL(38, 0)))" for c in ("pt", "ct", "cached", "cw", "rt"))
                + ", sum(cost), count(cost), min(t), max(t), count_if(eligible), why, called, tag, p_system, p_user "
                "FROM staged WHERE NOT py GROUP BY task, how, model, day, why, called, tag, p_system, p_user").collect()
            picks = self.spark.sql(
                f"SELECT task, model, p_system, p_user, p, m, key FROM (SELECT *, row_number() OVER (PARTITION BY "
                f"task, model, p_system, p_user ORDER BY key, m) AS r FROM staged WHERE eligible) "
                f"WHERE r <= {self.size} ORDER BY key, m").collect() if self.size else []
            python = [self._n(p, m) for p, m in self.spark.sql("SELECT p, m FROM staged WHERE py").collect()]
        finally:
            s.unpersist()
        return groups, picks, python

    def chunks(self) -> Iterator[Chunk]:
        with _refused(self.name):
            groups, picks, python = self._queries()
        chunk = Chunk([], {}, sorted(python), self._units)
        for task, how, model, day, n, replayable, *sums, cost, costed, t0, t1, eligible, why, called, tag, system, \
                user in groups:
            values = (n, replayable, *map(int, sums), cost, costed, t0, t1, eligible, why, called, tag)
            if system is None:
                chunk.groups.append((task, how, model, day, *values))
            else:
                chunk.held.append(((system, user), (model, day, *values)))
        for task, model, system, user, p, m, key in picks:
            if system is None:
                chunk.sample.setdefault((task, model), []).append((self._n(p, m), key))
            else:
                chunk.held_sample.setdefault(((system, user), model), []).append((self._n(p, m), key))
        yield chunk

    def _n(self, p: int, m: int) -> int:
        return self.offsets[p] + m - (p << 33)

    def _units(self, rows: list[int]) -> Iterator[tuple[int, Unit]]:
        """The units of these (sorted) rows, fetched by number in one more read of the input, in order."""
        from pyspark.sql import functions as F

        if not rows:
            return
        starts = sorted((start, p) for p, start in self.offsets.items())
        wanted, k = [], 0
        for n in rows:
            while k + 1 < len(starts) and starts[k + 1][0] <= n:
                k += 1
            start, p = starts[k]
            wanted.append(((p << 33) + n - start,))
        ids = self.spark.createDataFrame(wanted, "m long")
        found = self.lines.join(F.broadcast(ids), "m", "left_semi").select("m", "line").sortWithinPartitions("m")
        given = 0
        for at, (m, line) in enumerate(found.toLocalIterator()):
            if at >= len(wanted) or m != wanted[at][0]:
                raise RuntimeError(f"{self.name}: Spark gave row {m} out of order (a bug: please report it)")
            n, given = rows[at], at + 1
            data = None if line is None else line.encode()
            for unit in sources.line_units(self.source.format(n), n, None if self.text and data
                                           and len(data) > MAX_LINE else data):
                yield n, unit
        if given != len(wanted):
            raise RuntimeError(f"{self.name}: Spark gave {given} of {len(wanted)} rows (a bug: please report it)")


def session() -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise InputError("--engine spark needs pyspark 4+: pip install 'tiertool[spark]'") from None
    return SparkSession.builder.getOrCreate()
