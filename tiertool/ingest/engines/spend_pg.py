"""LiteLLM spend rows as Postgres SQL over the proxy's own `LiteLLM_SpendLogs` table: the streaming parser's mapping
(ingest/litellm_spend.py), row for row, as spend_duckdb maps a file's rows.

The table's types make most of the mapping plain: text columns are strings or NULL, the token counts integers,
`spend` a float8 and the times `timestamp(3)` in UTC. The five jsonb columns hold what the parser reads through
`maybe_json`; a row is `ok` only when each of them has a shape whose mapping here is exactly the parser's (a jsonb
string, which the parser might parse again, is never one), so the engine never guesses: any other row is read by
the parser itself (`py`). The answer has spend_duckdb.query's shape, so base.split reads it; a row is named by its
request id (the primary key) instead of a number.
"""

from __future__ import annotations

import json

from ...errors import InputError
from ...limits import MAX_TOKENS, MIN_TIME, latest_time
from ..common import REDACTED, TASK_TAG_PREFIXES
from ..litellm_shared import CHAT
from ..litellm_spend import NO_PROMPT
from ..sample import KEY_DIGITS
from .spend_duckdb import SPACE, sql_str

TABLE = '"LiteLLM_SpendLogs"'
TASK = "^(?:" + "|".join(p.removesuffix(":") for p in TASK_TAG_PREFIXES) + "):(.*)$"  # . matches newlines here
TOOLS = "b->'tools'"
STRIP = f"^[{SPACE}]+|[{SPACE}]+$"  # Python's str.strip()


def _is(x: str, *types: str) -> str:
    """`x` absent (SQL NULL) or of one of these jsonb types."""
    return f"({x} IS NULL OR jsonb_typeof({x}) IN ({', '.join(map(sql_str, types))}))"


def _count(x: str) -> tuple[str, str]:
    """(ok, value) of a token count read by common.to_int: absent, null or a number, whose value is Python's
    int(float(v)) (the float8 rounding first); else the parser's. CASE guards every cast (SQL does not promise
    to evaluate AND from the left)."""
    n = f"({x})::numeric"
    fits = f"abs({n}) < 9e15 AND ({n} = 0 OR abs({n}) > 1e-300)"
    ok = f"CASE WHEN jsonb_typeof({x}) = 'number' THEN {fits} ELSE {_is(x, 'null')} END"
    value = (f"CASE WHEN jsonb_typeof({x}) = 'number' THEN CASE WHEN {fits} THEN trunc({n}::float8)::bigint END "
             "ELSE 0 END")
    return ok, value


def _array(x: str) -> str:
    return f"CASE WHEN jsonb_typeof({x}) = 'array' THEN {x} END"


def _all(x: str, cond: str) -> str:
    """Every element `e` of a jsonb array meets `cond` (true for an empty array or one that is none)."""
    return f"NOT EXISTS (SELECT 1 FROM jsonb_array_elements({_array(x)}) e WHERE NOT coalesce({cond}, false))"


def _group_by(group_by: str, columns: dict[str, str]) -> tuple[str, str]:
    """(ok, value) of an explicit --group-by path as common.dotted reads the row. Where the row has no value
    there, the parser looks in the request body: those rows are the parser's, as are values that are not text."""
    head, *rest = group_by.split(".")
    kind, col = columns.get(head), f'"{head}"'
    if kind is None or (rest and kind != "jsonb"):
        return "false", "NULL"  # not a column, or a path into text: the parser reads every row
    if kind == "jsonb":
        at = f"{col} #> {sql_str('{' + ','.join(rest) + '}')}"
        return f"coalesce(jsonb_typeof({at}) = 'string', false)", f"nullif({at} #>> '{{}}', '')"
    if kind in ("text", "integer", "bigint"):
        return f"{col} IS NOT NULL", f"nullif({col}::text, '')"
    raise InputError(f"--group-by {group_by}: column {head} is {kind}; group by a text or JSON column")


def staged(group_by: str, seed: int, answered: bool, columns: dict[str, str], checked: bool = False,
           steps: bool = False, utf8: bool = True) -> str:
    """SELECT of the staged rows of the table (`{where}` selects them): n (the request id), st (start time), ok,
    py, task, how, model, day, t, tokens, cost, replayable, why, eligible, key, called, tag, p_system, p_user;
    as spend_duckdb.staged (`checked`: replayable rows are the parser's; `steps`: rows that may be agent steps;
    not `utf8`: the regular expressions would read bytes, not characters, so the parser reads every row).
    Each level is computed once per row (OFFSET 0 keeps Postgres from inlining it into every use)."""
    c_ok, cached = _count("x_c")
    cc_ok, cc = _count("x_cc")
    cw_ok, cw = _count("x_cw")
    rt_ok, rt = _count("x_rt")
    if group_by in ("auto", "", None):
        gb_ok, task = "true", "coalesce(tag_task, meta_task)"
        how = "CASE WHEN tag_task IS NOT NULL THEN 'tag' WHEN meta_task IS NOT NULL THEN 'metadata' ELSE 'none' END"
    else:
        gb_ok, task = _group_by(group_by, columns)
        how = f"CASE WHEN {task} IS NOT NULL THEN 'group_by' ELSE 'none' END"
    text = "response #>> '{}'"
    # in "answered" mode only a plain answer (a string, or none) is read here: the parser reads the others
    plain = (f"({_is('response', 'null')} OR response = '{{}}'::jsonb OR jsonb_typeof(response) = 'string' "
             f"AND (left({text}, 1) NOT IN ('[', '{{') OR btrim({text}) IN ('{{}}', '[]')))")
    said = f"coalesce(jsonb_typeof(response) = 'string' AND {text} <> '' AND left({text}, 1) NOT IN ('[', '{{'), false)"
    tool_free = "e->>'role' IS DISTINCT FROM 'tool' AND " + _is("e->'tool_calls'", "null")
    agent = (f"coalesce(session_id, '') <> '' OR NOT no_body AND NOT {_is(TOOLS, 'null')} "
             f"OR NOT {_all('msgs', tool_free)}") if steps else "false"
    hand = " OR ".join(["how = 'none' AND has_msgs AND NOT texts_ok", *(["replayable"] if checked else []),
                        *(["agent"] if steps else [])])
    texts = _all("msgs", "jsonb_typeof(e->'role') = 'string' AND jsonb_typeof(e->'content') = 'string'")
    elements = "jsonb_array_elements(msgs) WITH ORDINALITY AS y(e, i)"
    unredacted = _all("msgs", "e->'content' IS DISTINCT FROM " + sql_str(json.dumps(REDACTED[0])) + "::jsonb")
    tags = _array("CASE WHEN no_body THEN request_tags ELSE bm->'caller_tags' END")
    value = f"regexp_replace((regexp_match(x, {sql_str(TASK)}))[1], {sql_str(STRIP)}, '', 'g')"
    tagged = (f"(SELECT ARRAY[x, v] FROM jsonb_array_elements_text({tags}) WITH ORDINALITY AS y(x, i), {value} AS v "
              "WHERE v <> '' ORDER BY i LIMIT 1)")
    return f"""
SELECT n, st, ok, NOT ok OR {hand} AS py, task, how, model, day, t, pt, ct, cached, cw, rt, cost, replayable, why,
  {"replayable AND answered" if answered else "replayable"} AS eligible, key, called, tag,
  CASE WHEN texts_ok AND NOT ({hand}) AND (p_system <> '' OR p_user <> '') THEN p_system END AS p_system,
  CASE WHEN texts_ok AND NOT ({hand}) AND (p_system <> '' OR p_user <> '') THEN p_user END AS p_user
FROM (
  SELECT *, how = 'none' AND has_msgs AND {texts} AS texts_ok, {agent} AS agent,
    coalesce(ok_rows AND pt BETWEEN 0 AND {MAX_TOKENS} AND ct BETWEEN 0 AND {MAX_TOKENS}
      AND cached BETWEEN 0 AND {MAX_TOKENS} AND cw BETWEEN 0 AND {MAX_TOKENS} AND rt BETWEEN 0 AND {MAX_TOKENS}
      AND cost >= 0 AND "endTime" >= st AND t BETWEEN {MIN_TIME} AND {latest_time()}, false) AS ok
  FROM (
    SELECT *, coalesce({task}, 'untagged') AS task, {how} AS how, has_msgs AND status_s = 'success' AS replayable,
      CASE WHEN status_s <> 'success' THEN 'the call failed (' || status_s || ')'
           WHEN NOT has_msgs THEN {sql_str(NO_PROMPT)} END AS why,
      CASE WHEN ({how}) = 'tag' THEN tagged[1] ELSE '' END AS tag,
      CASE WHEN has_msgs THEN coalesce((SELECT string_agg(e->>'content', chr(10) ORDER BY i) FROM {elements}
                                        WHERE e->>'role' IN ('system', 'developer')), '') END AS p_system,
      CASE WHEN has_msgs THEN coalesce((SELECT e->>'content' FROM {elements} WHERE e->>'role' = 'user'
                                        ORDER BY i LIMIT 1), '') END AS p_user,
      cost NOT IN ('NaN'::float8, 'Infinity', '-Infinity') AND model <> ''
      AND call_type IN ({", ".join(map(sql_str, CHAT))})
      AND {_is("psr", "null", "object")} AND {_is("bm", "null", "object")} AND {_is("rm", "null", "object")}
      AND {_is("btask", "null", "string")} AND {_is("b->'model'", "null", "string")}
      AND (no_body OR coalesce(jsonb_typeof(bm->'caller_tags') = 'array', false)
           AND {_all("bm->'caller_tags'", "jsonb_typeof(e) = 'string'")})
      AND ({_is("request_tags", "null")} OR jsonb_typeof(request_tags) = 'array'
           AND {_all("request_tags", "jsonb_typeof(e) = 'string'")})
      AND ({_is("b->'messages'", "null", "array")} OR b->'messages' IN ('{{}}'::jsonb, '""'::jsonb))
      AND ({_is("msgs", "null")} OR msgs IN ('{{}}'::jsonb, '[]'::jsonb) OR jsonb_typeof(msgs) = 'array'
           AND {_all("msgs", "jsonb_typeof(e) = 'object' AND e ? 'role'")})
      AND {_is("md", "null", "object")} AND {_is("u", "null", "object")} AND {_is("ptd", "null", "object")}
      AND {_is("ctd", "null", "object")} AND {_is("md->'error_information'", "null", "object")}
      AND {c_ok} AND {cc_ok} AND {cw_ok} AND {rt_ok} AND {gb_ok} AND {plain if answered else "true"} AND {utf8}
      AS ok_rows,
      {said} AS answered
    FROM (
      SELECT *, tagged[2] AS tag_task,
        CASE WHEN NOT no_body AND jsonb_typeof(btask) = 'string' THEN nullif(btask #>> '{{}}', '') END AS meta_task,
        coalesce(jsonb_typeof(msgs) = 'array' AND msgs <> '[]'::jsonb
                 AND {unredacted}, false)
          AS has_msgs
      FROM (
        SELECT *, CASE WHEN req_meta THEN rm->'task' ELSE bm->'task' END AS btask,
          CASE WHEN jsonb_typeof(b->'messages') = 'array' AND b->'messages' <> '[]'::jsonb
               THEN b->'messages' ELSE messages END AS msgs,
          -- the first task tag with a value: (the tag, its value stripped)
          {tagged} AS tagged,
          coalesce(nullif(model_group, ''), CASE WHEN NOT no_body THEN nullif(b->>'model', '') END, model) AS called,
          {cached} AS cached, {rt} AS rt,
          CASE WHEN jsonb_typeof(x_cc) = 'number' THEN CASE WHEN (x_cc)::numeric = 0 THEN {cw} ELSE {cc} END
               ELSE {cw} END AS cw
        FROM (
          SELECT *, jsonb_typeof(rm) = 'object' AND EXISTS (SELECT 1 FROM jsonb_object_keys(
              CASE WHEN jsonb_typeof(rm) = 'object' THEN rm END) k WHERE k <> 'headers') AS req_meta,
            u->'prompt_tokens_details' AS ptd, u->'completion_tokens_details' AS ctd,
            u->'prompt_tokens_details'->'cached_tokens' AS x_c,
            u->'prompt_tokens_details'->'cache_creation_tokens' AS x_cc,
            u->'prompt_tokens_details'->'cache_write_tokens' AS x_cw,
            u->'completion_tokens_details'->'reasoning_tokens' AS x_rt
          FROM (
            SELECT *, CASE WHEN jsonb_typeof(psr) = 'object' THEN psr END AS b, psr->'metadata' AS bm,
              psr->'metadata'->'requester_metadata' AS rm, md->'usage_object' AS u,
              psr IS NULL OR psr IN ('null'::jsonb, '{{}}'::jsonb) AS no_body
            FROM (  -- the two bulky documents read from their TOAST once (a path '{{}}' gives a copy in memory)
              SELECT t.*, request_id AS n, "startTime" AS st, spend AS cost, prompt_tokens::bigint AS pt,
                completion_tokens::bigint AS ct, proxy_server_request #> '{{}}' AS psr, metadata #> '{{}}' AS md,
                to_char("startTime", 'YYYY-MM-DD') AS day, extract(epoch FROM "startTime")::float8 AS t,
                coalesce(nullif(status, ''), 'success') AS status_s,
                left(md5({sql_str(f"{seed}:")} || request_id), {KEY_DIGITS}) AS key
              FROM {TABLE} t WHERE {{where}} OFFSET 0
            ) l0 OFFSET 0
          ) l1 OFFSET 0
        ) l2 OFFSET 0
      ) l3 OFFSET 0
    ) l4 OFFSET 0
  ) l5 OFFSET 0
) l6"""


def query(staged_sql: str, size: int) -> str:
    """One pass as spend_duckdb.query's (levels 0: volume, 5: sample per task, model and untyped prompt, 15: the
    rows the parser reads, in start-time order): the staged rows are materialised once, small columns each."""
    done = "ok AND NOT py"
    blank = ", ".join(["NULL"] * 15)
    sums = ", ".join(f"sum({c}) FILTER (WHERE {done}) AS {c}" for c in ("pt", "ct", "cached", "cw", "rt", "cost"))
    return f"""
WITH s AS MATERIALIZED ({staged_sql}), fine AS (
  SELECT task, how, model, day, why, called, tag, p_system, p_user, count(*) FILTER (WHERE {done}) AS n,
    count(*) FILTER (WHERE {done} AND replayable) AS replayable, {sums}, count(cost) FILTER (WHERE {done}) AS cost_n,
    min(t) FILTER (WHERE {done}) AS t0, max(t) FILTER (WHERE {done}) AS t1,
    count(*) FILTER (WHERE {done} AND eligible) AS eligible
  FROM s GROUP BY task, how, model, day, why, called, tag, p_system, p_user
), picks AS (
  SELECT task, model, p_system, p_user, jsonb_agg(jsonb_build_object('n', n, 'key', key) ORDER BY key, n) AS refs
  FROM (SELECT task, model, p_system, p_user, n, key, row_number() OVER (
          PARTITION BY task, model, p_system, p_user ORDER BY key, n) AS r FROM s WHERE {done} AND eligible) q
  WHERE r <= {size} GROUP BY task, model, p_system, p_user
)
SELECT 0 AS level, task, how, model, day, n, replayable, pt, ct, cached, cw, rt, cost, cost_n, t0, t1, eligible,
  why, called, tag, p_system, p_user, NULL::jsonb AS sample, NULL::text[] AS python FROM fine
UNION ALL
SELECT 5, task, NULL, model, NULL, {blank}, p_system, p_user, refs, NULL FROM picks
UNION ALL
SELECT 15, NULL, NULL, NULL, NULL, {blank}, NULL, NULL, NULL, (SELECT array_agg(n ORDER BY st, n) FROM s WHERE py)"""
