"""LiteLLM spend rows as DuckDB SQL: the streaming parser's mapping (ingest/litellm_spend.py), row for row.

Each source gives a relation `src(n, r, odd)`: `n` the row's number, `r` a struct of the fields the mapping reads
(JSON values for scalars, whose JSON type the checks need; JSON text for the columns the parser reads through
`maybe_json`, where a string of JSON and the object itself mean the same), and `odd` when the row may be one the
parser reads differently from DuckDB (JSON DuckDB accepts and orjson refuses). A row is `ok` when every field is
of a shape whose mapping here is exactly the parser's; any other row goes back to Python, which reads it with
the parser itself. So the engine never guesses. An untagged row with a prompt is read here when its (system,
user) text, what the task typer reads (TaskTyper.prompt), is too: it is counted per text for the typer; else it
goes to the parser as well.
"""

from __future__ import annotations

import json

from ...limits import MAX_TOKENS, MIN_TIME, latest_time
from ..common import TASK_TAG_PREFIXES
from ..litellm_spend import NO_PROMPT
from ..sample import KEY_DIGITS

# Python's str.strip() whitespace, for task tags ("task: x " -> "x").
SPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
ISO = (r"^[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{3}|\.[0-9]{6})?"
       r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?$")  # what Python 3.10+ fromisoformat reads the same way
TASK_TAG = r"^(?:task|taskName|feature):((?s).*)$"  # common.TASK_TAG_PREFIXES
NUMBER = ("UBIGINT", "BIGINT", "DOUBLE")
JSON_FIELDS = ("request_id", "model", "model_group", "status", "spend", "prompt_tokens", "completion_tokens",
               "startTime", "endTime", "call_type", "session_id")
# read through maybe_json (the response too: as text it costs DuckDB's from_json half what a JSON value does)
TEXT_FIELDS = ("request_tags", "metadata", "messages", "proxy_server_request", "response")
# a response of text that a JSON number, boolean or null would give too: no plain answer (with --sample-if
# answered, such rows are the parser's)
SCALAR_TEXT = r"-?[0-9][0-9.eE+-]*|true|false|null"
CHAT_CALLS = ("completion", "acompletion", "")  # litellm_shared.CHAT: call types whose body is a chat request
SUSPECT_JSON = r",(\s|\\[nrt])*[}\]]"  # trailing commas: DuckDB reads them, Python's JSON parsers do not
MESSAGES = json.dumps([{"role": "JSON", "content": "JSON"}])  # from_json's structure for the messages
EMPTY_OBJECT = r"\{[ \t\n\r]*\}[ \t\n\r]*"  # a body "{}": the row has no request body
# metadata's two members the parser reads, taken out in one parse of the (large) document; then the types
# (USAGE_PATHS) and texts (USAGE_TOKENS) inside the small usage_object
_TOKENS = ("$.prompt_tokens_details.cached_tokens", "$.prompt_tokens_details.cache_creation_tokens",
           "$.prompt_tokens_details.cache_write_tokens", "$.completion_tokens_details.reasoning_tokens")
USAGE_TOKENS = ", ".join(f"'{p}'" for p in _TOKENS)
USAGE_PATHS = ", ".join(f"'{p}'" for p in ("$", "$.prompt_tokens_details", *_TOKENS[:3],
                                           "$.completion_tokens_details", _TOKENS[3]))
BODY_PATHS = ", ".join(f"'{p}'" for p in ("$.metadata.caller_tags", "$.metadata.requester_metadata",
                                          "$.metadata.requester_metadata.task", "$.metadata.task", "$.messages",
                                          "$.model", "$.tools"))


def sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def odd(s: str) -> tuple[str, str, str]:
    """SQL conditions on a line's text `s` under which DuckDB may read it otherwise than the parser (any one makes
    the row Python's): not a JSON object; NaN or Infinity (DuckDB reads them, orjson does not); trailing commas."""
    return (f"{s} IS NULL OR left({s}, 1) <> '{{'", f"contains({s}, 'NaN') OR contains({s}, 'Infinity')",
            f"regexp_matches({s}, {sql_str(SUSPECT_JSON)})")


def _path(parts: list[str]) -> str:
    return sql_str("$" + "".join("." + json.dumps(p) for p in parts))


def fields(group_by: str) -> dict[str, str]:
    """The struct `r` every source builds: field -> JSON | VARCHAR. None when --group-by names a field in a way
    this mapping cannot read (the streaming reader then reads the log)."""
    out = {f: "JSON" for f in JSON_FIELDS} | {f: "VARCHAR" for f in TEXT_FIELDS}
    if group_by not in ("auto", "", None):
        parts = group_by.split(".")
        want = "JSON" if len(parts) == 1 else "VARCHAR"
        if out.setdefault(parts[0], want) != want:
            raise LookupError(group_by)
    return out


def structure(group_by: str) -> str:
    """`r` as from_json's structure argument."""
    return json.dumps(fields(group_by))


def _tok(t: str, v: str) -> tuple[str, str]:
    """(ok, value) of a token count read by common.to_int, from its JSON type `t` (NULL: absent) and its JSON
    text `v`: null or a number (truncated), else the parser."""
    ok = (f"({t} IS NULL OR {t} = 'NULL' OR ({t} IN ('UBIGINT', 'BIGINT') AND try_cast({v} AS BIGINT) "
          f"IS NOT NULL) OR ({t} = 'DOUBLE' AND abs(try_cast({v} AS DOUBLE)) < 9e18))")
    value = (f"coalesce(CASE {t} WHEN 'DOUBLE' THEN try_cast(trunc(try_cast({v} AS DOUBLE)) AS BIGINT) "
             f"WHEN 'NULL' THEN 0 ELSE try_cast({v} AS BIGINT) END, 0)")
    return ok, value


def _group_by(group_by: str) -> tuple[str, str]:
    """(ok, task or NULL) for an explicit --group-by path, as common.dotted reads it: SQL reads the rows whose
    value there is a string; the others are the parser's (where the row has no value it looks in the request
    body, and it makes text of other values)."""
    parts = group_by.split(".")
    head = f"r.{json.dumps(parts[0])}"
    if len(parts) == 1:
        return f"coalesce(json_type({head}) = 'VARCHAR', false)", f"nullif({head}->>'$', '')"
    doc = f"CASE WHEN left({head}, 1) = '{{' THEN {head} END"
    types = f"try(json_type({doc}, [{', '.join(_path(parts[1:k]) for k in range(2, len(parts) + 1))}]))"
    # an intermediate that is a JSON string would be parsed again by maybe_json: the parser reads that row
    reached = " AND ".join(f"{types}[{k}] = 'OBJECT'" for k in range(1, len(parts) - 1)) or "true"
    ok = f"coalesce(({reached}) AND {types}[{len(parts) - 1}] = 'VARCHAR', false)"
    return ok, f"CASE WHEN {ok} THEN nullif(json_extract_string({doc}, {_path(parts[1:])}), '') END"


def _truthy(x: str) -> str:
    """The JSON value `x` is one Python takes as true (`session_id or None` keeps it): not null, false, 0, "",
    [] or {}."""
    return (f"coalesce(CASE json_type({x}) WHEN 'VARCHAR' THEN {x}->>'$' <> '' WHEN 'BOOLEAN' THEN {x}->>'$' = 'true' "
            f"WHEN 'BIGINT' THEN try_cast({x}->>'$' AS DOUBLE) <> 0 WHEN 'UBIGINT' THEN true "
            f"WHEN 'DOUBLE' THEN try_cast({x}->>'$' AS DOUBLE) <> 0 WHEN 'ARRAY' THEN json_array_length({x}) > 0 "
            f"WHEN 'OBJECT' THEN len(json_keys({x})) > 0 ELSE false END, false)")


def staged(src: str, group_by: str, seed: int, answered: bool, checked: bool = False, steps: bool = False) -> str:
    """SELECT of the staged rows of `src`: n, ok, py (read by Python), task, how, model, day, t, tokens, cost,
    replayable, why (not), eligible (may be sampled) and key (the sample key's hex digits). `checked`: the
    reader checks what the tiers can be sent (reader.Check), so every replayable row is Python's; `steps`: agent
    steps are typed apart (steps.py), so the rows that may be one (a session id, tools offered, a tool turn or
    tool calls in the history) are Python's.

    As litellm_spend.parse reads a row: the client's request body `proxy_server_request` (px) gives the prompt
    (its `messages`, else the row's), the client's tags (`metadata.caller_tags`) and its `metadata.task`
    (`requester_metadata`, else the body's own); a row without a body has the row's tags less LiteLLM's
    User-Agent entries (no task key among those) and no metadata task."""
    pt_ok, pt = _tok("json_type(r.prompt_tokens)", "(r.prompt_tokens->>'$')")
    ct_ok, ct = _tok("json_type(r.completion_tokens)", "(r.completion_tokens->>'$')")
    c_ok, cached = _tok("mt[5]", "mv[1]")  # metadata's types (mt) and texts (mv), see stage a
    cc_ok, cc = _tok("mt[6]", "mv[2]")
    cw_ok, cw = _tok("mt[7]", "mv[3]")
    rt_ok, rt = _tok("mt[9]", "mv[4]")
    if group_by in ("auto", "", None):
        gb_ok = "true"
        task = "coalesce(tag_task, meta_task, 'untagged')"  # the client's task tag, then its metadata.task
        how = "CASE WHEN tag_task IS NOT NULL THEN 'tag' WHEN meta_task IS NOT NULL THEN 'metadata' ELSE 'none' END"
    else:
        gb_ok, gb = _group_by(group_by)
        task = f"coalesce({gb}, 'untagged')"
        how = f"CASE WHEN {gb} IS NOT NULL THEN 'group_by' ELSE 'none' END"
    eligible = "replayable AND answered" if answered else "replayable"
    agent = (f"{_truthy('r.session_id')} OR coalesce(pt[9] <> 'NULL', false) OR coalesce(list_contains("
             "json_extract_string(msg_text, '$[*].role'), 'tool'), false) OR coalesce(list_bool_or(list_transform("
             "json_type(msg_text, '$[*].tool_calls'), lambda x: x IS NOT NULL AND x <> 'NULL')), false)"
             ) if steps else "false"
    hand = " OR ".join(["how = 'none' AND has_msgs AND NOT texts_ok", *(["replayable"] if checked else []),
                        *(["agent"] if steps else [])])
    return f"""
WITH a0 AS (  -- the body's JSON types (pt) and values (px) of the paths read, in one parse each
  SELECT *,
    CASE WHEN left(r.proxy_server_request, 1) = '{{' THEN try(json_type(r.proxy_server_request, ['$', '$.metadata',
      {BODY_PATHS}])) END AS pt,
    CASE WHEN left(r.proxy_server_request, 1) = '{{' THEN try(json_extract(r.proxy_server_request, [{BODY_PATHS}]))
      END AS px,
    CASE WHEN left(r.metadata, 1) = '{{' THEN try(json_extract(r.metadata, ['$.error_information', '$.usage_object']))
      END AS mj
  FROM {src}
), a1 AS (
  SELECT *, json_type(mj[2], [{USAGE_PATHS}]) AS ut,
    r.proxy_server_request IS NULL OR r.proxy_server_request = '' OR (pt[1] = 'OBJECT'
      AND regexp_full_match(r.proxy_server_request, {sql_str(EMPTY_OBJECT)})) AS no_body,
    pt[2] AS t_bmeta, pt[3] AS t_caller, pt[4] AS t_req, pt[7] AS t_bmsgs,
    CASE WHEN pt[4] = 'OBJECT' THEN len(list_filter(json_keys(px[2]), lambda k: k <> 'headers')) > 0
         ELSE false END AS req_meta
  FROM a0
), a AS (
  SELECT n, odd, r, pt, px, no_body, t_bmeta, t_caller, t_req, t_bmsgs,
    CASE WHEN req_meta THEN px[3] ELSE px[4] END AS btask, CASE WHEN req_meta THEN pt[5] ELSE pt[6] END AS t_btask,
    CASE WHEN t_bmsgs = 'ARRAY' AND json_array_length(px[5]) > 0 THEN px[5]::VARCHAR ELSE r.messages END AS msg_text,
    json_type(r.request_id) AS t_id, json_type(r.model) AS t_model, json_type(r.status) AS t_status,
    json_type(r.spend) AS t_spend,
    CASE WHEN r.response IS NULL THEN 'NULL' WHEN left(r.response, 1) IN ('[', '{{') THEN 'JSON'
         WHEN regexp_full_match(r.response, {sql_str(SCALAR_TEXT)}) THEN 'SCALAR' ELSE 'TEXT' END AS t_resp,
    CASE WHEN json_type(r.startTime) = 'VARCHAR' THEN r.startTime->>'$' END AS s_start,
    CASE WHEN json_type(r.endTime) = 'VARCHAR' THEN r.endTime->>'$' END AS s_end,
    -- metadata's types at $, error_information, usage_object and USAGE_PATHS in it (mt); token texts (mv)
    CASE WHEN mj IS NOT NULL THEN list_value('OBJECT', json_type(mj[1]), ut[1], ut[2], ut[3], ut[4], ut[5], ut[6],
                                             ut[7]) END AS mt,
    json_extract_string(mj[2], [{USAGE_TOKENS}]) AS mv,
    CASE WHEN left(r.request_tags, 1) = '[' THEN try(json_type(r.request_tags, '$[*]')) END AS tag_types,
    CASE WHEN left(r.request_tags, 1) = '[' THEN try(json_extract_string(r.request_tags, '$[*]')) END AS row_tags,
    CASE WHEN t_caller = 'ARRAY' THEN json_type(px[1], '$[*]') END AS caller_types,
    CASE WHEN t_caller = 'ARRAY' THEN json_extract_string(px[1], '$[*]') END AS caller_tags
  FROM a1
), a2 AS (  -- the messages in one parse: each one's role and content as JSON text (NULL: absent, null or
  -- not an object; such rows are the parser's, see c and g)
  SELECT *, CASE WHEN no_body THEN row_tags ELSE caller_tags END AS tags,
    CASE WHEN left(msg_text, 1) = '[' THEN try(from_json(msg_text, {sql_str(MESSAGES)})) END AS msgs
  FROM a
), a3 AS (
  SELECT *, CASE WHEN msgs IS NOT NULL THEN 'ARRAY'
                 WHEN left(msg_text, 1) IN ('[', '{{') THEN try(json_type(msg_text)) END AS t_msgs
  FROM a2
), b AS (
  SELECT *,
    CASE WHEN regexp_full_match(s_start, {sql_str(ISO)}) THEN try_cast(s_start AS TIMESTAMPTZ) END AS ts,
    CASE WHEN regexp_full_match(s_end, {sql_str(ISO)}) THEN try_cast(s_end AS TIMESTAMPTZ) END AS te,
    try(json_extract(CASE WHEN t_resp = 'JSON' THEN r.response END,
                     ['$.choices[0]', '$.choices[0].message', '$.choices[0].message.content'])) AS rx,
    CASE WHEN NOT no_body AND t_btask = 'VARCHAR' THEN nullif(btask->>'$', '') END AS meta_task,
    list_filter(tags, lambda x: {" OR ".join(f"starts_with(x, {sql_str(p)})" for p in TASK_TAG_PREFIXES)})
      AS task_tags,
    coalesce(t_msgs = 'ARRAY', false) AND len(msgs) > 0
      AND NOT coalesce(list_bool_or(list_transform(msgs, lambda m: m.content = '"redacted-by-litellm"')), false)
      AS has_msgs,
    t_resp IN ('NULL', 'TEXT') OR (t_resp = 'JSON' AND trim(r.response) IN ('{{}}', '[]')) AS plain_answer,
    coalesce(nullif(r.status->>'$', ''), 'success') AS status,
    -- the model (group) the client called: Request.requested_model, else the model
    coalesce(nullif(r.model_group->>'$', ''), CASE WHEN NOT no_body THEN nullif(px[6]->>'$', '') END,
             r.model->>'$') AS called
  FROM a3
), b1 AS (
  SELECT *, list_transform(task_tags, lambda x: trim(x[strpos(x, ':') + 1:], {sql_str(SPACE)})) AS tag_values FROM b
), b2 AS (
  SELECT *, list_filter(tag_values, lambda x: x <> '')[1] AS tag_task FROM b1
), c AS (
  SELECT *,
    coalesce(NOT odd AND r IS NOT NULL AND t_id = 'VARCHAR' AND t_model = 'VARCHAR' AND r.model->>'$' <> ''
    AND t_spend IN {NUMBER} AND isfinite(try_cast(r.spend AS DOUBLE))
    AND (r.startTime IS NOT NULL OR r.call_type IS NOT NULL)
    AND (t_status IS NULL OR t_status IN ('NULL', 'VARCHAR')) AND {pt_ok} AND {ct_ok}
    AND (r.startTime IS NULL OR json_type(r.startTime) = 'NULL' OR s_start = '' OR ts IS NOT NULL)
    AND (r.endTime IS NULL OR json_type(r.endTime) = 'NULL' OR s_end = '' OR te IS NOT NULL)
    AND (r.request_tags IS NULL OR r.request_tags = '' OR (row_tags IS NOT NULL
         AND try(json_type(r.request_tags)) = 'ARRAY'
         AND coalesce(list_bool_and(list_transform(tag_types, lambda x: x = 'VARCHAR')), true)))
    AND (r.call_type IS NULL OR json_type(r.call_type) = 'NULL'
         OR (json_type(r.call_type) = 'VARCHAR' AND r.call_type->>'$' IN {CHAT_CALLS}))
    AND (no_body OR (pt[1] = 'OBJECT' AND coalesce(t_bmeta, 'NULL') IN ('NULL', 'OBJECT')
         AND t_caller = 'ARRAY' AND coalesce(list_bool_and(list_transform(caller_types, lambda x: x = 'VARCHAR')), true)
         AND coalesce(t_req, 'NULL') IN ('NULL', 'OBJECT') AND coalesce(t_btask, 'NULL') IN ('NULL', 'VARCHAR')
         AND (t_bmsgs IS NULL OR t_bmsgs IN ('NULL', 'ARRAY')
              OR (t_bmsgs = 'OBJECT' AND len(json_keys(px[5])) = 0) OR (t_bmsgs = 'VARCHAR' AND px[5]->>'$' = ''))))
    AND (r.metadata IS NULL OR r.metadata = '' OR (mt IS NOT NULL
         AND (mt[2] IS NULL OR mt[2] IN ('NULL', 'OBJECT'))
         AND (mt[3] IS NULL OR mt[3] = 'NULL' OR (mt[3] = 'OBJECT'
              AND (mt[4] IS NULL OR mt[4] = 'NULL' OR (mt[4] = 'OBJECT'
                   AND {c_ok} AND {cc_ok} AND {cw_ok}
                   AND mt[6] IS DISTINCT FROM 'DOUBLE'))
              AND (mt[8] IS NULL OR mt[8] = 'NULL' OR (mt[8] = 'OBJECT' AND {rt_ok}))))))
    AND (msg_text IS NULL OR msg_text = '' OR (t_msgs = 'OBJECT' AND len(json_keys(msg_text)) = 0)
         OR (t_msgs = 'ARRAY' AND coalesce(list_bool_and(list_transform(msgs, lambda m: m.role IS NOT NULL)),
                                            true)))
    AND NOT (json_type(rx[1]) = 'OBJECT' AND rx[2] IS NOT NULL AND json_type(rx[2]) NOT IN ('NULL', 'OBJECT'))
    AND (r.model_group IS NULL OR json_type(r.model_group) IN ('NULL', 'VARCHAR'))
    AND (no_body OR pt[8] IS NULL OR pt[8] IN ('NULL', 'VARCHAR'))
    AND {gb_ok} AND {"plain_answer" if answered else "true"}, false) AS ok,
    t_resp = 'TEXT' AND r.response <> '' AS answered
  FROM b2
), d AS (
  SELECT n, ok, {task} AS task, {how} AS how, r.model->>'$' AS model, coalesce(strftime(ts, '%Y-%m-%d'), '') AS day,
    epoch_us(ts) / 1000000.0 AS t, {pt} AS pt, {ct} AS ct,
    CASE WHEN mt[4] = 'OBJECT' THEN {cached} ELSE 0 END AS cached,
    CASE WHEN mt[4] = 'OBJECT' THEN CASE WHEN {cc} <> 0 THEN {cc} ELSE {cw} END ELSE 0 END AS cw,
    CASE WHEN mt[8] = 'OBJECT' THEN {rt} ELSE 0 END AS rt,
    try_cast(r.spend AS DOUBLE) AS cost, has_msgs AND status = 'success' AS replayable, answered,
    CASE WHEN status <> 'success' THEN 'the call failed (' || status || ')' WHEN NOT has_msgs THEN {sql_str(NO_PROMPT)}
      END AS why,
    ('0x' || md5({sql_str(f"{seed}:")} || (r.request_id->>'$'))[1:{KEY_DIGITS}])::BIGINT AS key, has_msgs, called,
    CASE WHEN tag_task IS NOT NULL AND {how} = 'tag' THEN task_tags[list_position(tag_values, tag_task)] ELSE ''
      END AS tag,
    ts, te, {agent} AS agent, msg_text, msgs
  FROM c
), e AS (  -- common.check_ranges: a figure out of range is the parser's to skip, with its reason
  SELECT * REPLACE (ok AND pt BETWEEN 0 AND {MAX_TOKENS} AND ct BETWEEN 0 AND {MAX_TOKENS}
    AND cached BETWEEN 0 AND {MAX_TOKENS} AND cw BETWEEN 0 AND {MAX_TOKENS} AND rt BETWEEN 0 AND {MAX_TOKENS}
    AND cost >= 0 AND (ts IS NULL OR te IS NULL OR te >= ts)
    AND (t IS NULL OR t BETWEEN {MIN_TIME} AND {latest_time()}) AS ok)
  FROM d
), g AS (  -- what the task typer reads of an untyped prompt (TaskTyper.prompt), where SQL reads it exactly:
  -- every role and content a string (list_bool_and skips NULLs: hence the coalesce)
  SELECT *, how = 'none' AND has_msgs AND ok AND coalesce(list_bool_and(list_transform(msgs,
      lambda m: coalesce(left(m.role, 1) = '"' AND left(m.content, 1) = '"', false))), false) AS texts_ok
  FROM e
), h AS (
  SELECT *, CASE WHEN texts_ok THEN array_to_string(list_transform(list_filter(msgs,
      lambda m: m.role IN ('"system"', '"developer"')), lambda m: m.content->>'$'), chr(10)) END AS p_system,
    CASE WHEN texts_ok THEN coalesce(list_filter(msgs, lambda m: m.role = '"user"')[1].content->>'$', '')
      END AS p_user
  FROM g
)
SELECT * EXCLUDE (ts, te, agent, msg_text, msgs, texts_ok,
                  p_system, p_user),
  NOT ok OR {hand} AS py, {eligible} AS eligible,
  CASE WHEN texts_ok AND NOT ({hand}) AND (p_system <> '' OR p_user <> '') THEN p_system END AS p_system,
  CASE WHEN texts_ok AND NOT ({hand}) AND (p_system <> '' OR p_user <> '') THEN p_user END AS p_user
FROM h"""


def query(staged_sql: str, size: int) -> str:
    """One pass over the staged rows: volume per (task, how, model, day) of the rows SQL read; per (task, model)
    the `size` smallest-key rows that may be sampled; and the numbers of the rows Python must read. Untyped
    prompts SQL reads are counted per (system, user) text too (p_system, p_user; NULL for the others), for the
    typer to type each text once.

    One GROUP BY at the finest grain, then rolled up over its (small) result: DuckDB runs GROUPING SETS by
    materialising every staged row first, which made memory grow with the log."""
    done = "ok AND NOT py"
    # min_by with fixed-width values and ordering (row numbers by key, keys by key): DuckDB's heaps of strings or
    # structs grow with the rows they see, these stay flat; equal keys (a repeated request id) sit side by side
    sample = (f"min_by(n, key, {size}) FILTER (WHERE {done} AND eligible) AS sample_n, "
              f"min_by(key, key, {size}) FILTER (WHERE {done} AND eligible) AS sample_k" if size else
              "NULL AS sample_n, NULL AS sample_k")
    picked = (f"list_slice(list_sort(flatten(list(list_transform(range(len(sample_k)), "
              f"lambda i: struct_pack(key := sample_k[i + 1], n := sample_n[i + 1]))))), 1, {size})"
              if size else "NULL")
    blank = ", ".join(["NULL"] * 15)
    return f"""
WITH s AS ({staged_sql}), fine AS (
  SELECT task, how, model, day, why, called, tag, p_system, p_user,
    count(*) FILTER (WHERE {done}) AS n, count(*) FILTER (WHERE {done} AND replayable) AS replayable,
    sum(pt) FILTER (WHERE {done}) AS pt, sum(ct) FILTER (WHERE {done}) AS ct,
    sum(cached) FILTER (WHERE {done}) AS cached, sum(cw) FILTER (WHERE {done}) AS cw,
    sum(rt) FILTER (WHERE {done}) AS rt, sum(cost) FILTER (WHERE {done}) AS cost,
    count(cost) FILTER (WHERE {done}) AS cost_n, min(t) FILTER (WHERE {done}) AS t0,
    max(t) FILTER (WHERE {done}) AS t1, count(*) FILTER (WHERE {done} AND eligible) AS eligible,
    {sample}, list(n) FILTER (WHERE py) AS python
  FROM s GROUP BY task, how, model, day, why, called, tag, p_system, p_user
)
SELECT 0 AS level, task, how, model, day, n, replayable, pt, ct, cached, cw, rt, cost, cost_n, t0, t1, eligible,
  why, called, tag, p_system, p_user, NULL AS sample, NULL AS python FROM fine
UNION ALL
SELECT 5, task, NULL, model, NULL, {blank}, p_system, p_user, {picked}, NULL
FROM fine GROUP BY task, model, p_system, p_user
UNION ALL
SELECT 15, NULL, NULL, NULL, NULL, {blank}, NULL, NULL, NULL, list_sort(flatten(list(python))) FROM fine"""
