"""DuckDB reads LiteLLM spend rows as the streaming reader does: the same volume, task types, typing counts, read
accounting and sampled requests, from JSON lines (odd lines included) and from Parquet of the same rows."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.enginekit import nan_log, odd_lines, producer_rows, same_cost, spend_rows, traffic_facts, write_log
from tiertool.errors import InputError
from tiertool.ingest import scan


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    return write_log(tmp_path_factory.mktemp("engines") / "spend.jsonl", spend_rows(), odd_lines())


@pytest.mark.parametrize("sample_if", ["replayable", "answered"])
def test_duckdb_gives_the_streaming_readers_traffic(log, sample_if):
    stream = scan([log], sample=7, seed=5, sample_if=sample_if)
    duck = scan([log], sample=7, seed=5, sample_if=sample_if, engine="duckdb")
    assert stream.stats.skipped > 10 and len(stream.groups) >= 3  # the odd rows and inferred task types are in
    assert sum(map(len, stream.strata.values())) > 30
    assert traffic_facts(duck) == traffic_facts(stream)
    assert same_cost(duck, stream)


def test_topic_grouping_gives_the_same_traffic(log):
    """--semantic: prompts the typer types per text in SQL's groups join topics as the parser's do (this log's
    free-form prompts share too few terms for a topic: that is no crash either)."""
    stream = scan([log], sample=7, seed=5, semantic=True)
    assert traffic_facts(scan([log], sample=7, seed=5, semantic=True, engine="duckdb")) == traffic_facts(stream)


def test_every_untyped_prompt_sql_reads_is_the_parsers(log):
    """A sample as large as the log: every row SQL typed by its prompt text is read by the parser too, which
    must read the same (system, user) text (else the engine raises)."""
    stream = scan([log], sample=10_000, seed=2)
    duck = scan([log], sample=10_000, seed=2, engine="duckdb")
    assert sum(n for (task, _), n in stream.offered.items() if task.startswith("auto:")) > 100
    assert traffic_facts(duck) == traffic_facts(stream)


def test_duckdb_reads_parquet_of_the_same_rows(log, tmp_path):
    import duckdb

    rows = [r for r in spend_rows() if isinstance(r.get("request_id"), str)]
    clean = write_log(tmp_path / "clean.jsonl", [{k: json.dumps(v) if isinstance(v, (dict, list)) else v
                                                  for k, v in r.items()} for r in rows])
    pq = tmp_path / "spend.parquet"
    duckdb.sql(f"COPY (SELECT * FROM read_json('{clean}', format='newline_delimited', sample_size=-1)) TO '{pq}'")
    stream = scan([clean], sample=7, seed=1)
    duck = scan([pq], sample=7, seed=1)  # auto: DuckDB for Parquet
    assert traffic_facts(duck, sources=False) == traffic_facts(stream, sources=False)
    assert {r.source.split(":")[-1] for v in duck.strata.values() for r in v} <= {f"row {i}" for i in range(1, 700)}


def test_a_glob_is_read_by_duckdb_in_file_order(log, tmp_path):
    rows = spend_rows(90)
    for i in range(3):
        write_log(tmp_path / f"part-{i}.jsonl", rows[i::3])
    whole = scan(sorted(tmp_path.glob("part-*.jsonl")), sample=5)
    globbed = scan([str(tmp_path / "part-*.jsonl")], sample=5)
    assert traffic_facts(globbed) == traffic_facts(whole)


def test_engine_errors_name_what_to_do(tmp_path):
    with pytest.raises(InputError, match="no file matches"):
        scan([str(tmp_path / "*.parquet")])
    with pytest.raises(InputError, match="--engine stream"):
        scan([str(tmp_path / "x.jsonl")], fmt="openai-chat", engine="duckdb")


def test_held_rows_read_again_give_the_same_traffic_with_one_query(log, monkeypatch):
    """Inferred requests too many to hold are read again: the engine fetches only their rows (its query runs once)."""
    from tiertool.ingest import reader
    from tiertool.ingest.engines import base, files

    monkeypatch.setattr(reader, "BUFFER_CHARS", 100)
    monkeypatch.setattr(base, "BUFFER_CHARS", 100)
    queries, chunks = [], files.JsonLinesFile.chunks

    def counted(self):
        queries.append(self.name)
        yield from chunks(self)

    monkeypatch.setattr(files.JsonLinesFile, "chunks", counted)
    stream = scan([log], sample=7, seed=5)
    duck = scan([log], sample=7, seed=5, engine="duckdb")
    assert traffic_facts(duck) == traffic_facts(stream)
    assert queries == [str(log)]


def _agent_rows(proxied: dict) -> list[dict]:
    """Rows the carry check refuses for some tiers (a system message, a seed) and agent steps (tools offered, a
    tool turn, a session id), in the body of a row the proxy wrote."""
    body = json.loads(proxied["proxy_server_request"])
    call = {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
    variants = [
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]},
        {"messages": [{"role": "user", "content": "Hi"}], "seed": 7},
        {"messages": [{"role": "user", "content": "Find it"}], "tools": [{"type": "function", "function": {
            "name": "lookup", "parameters": {"type": "object"}}}]},
        {"messages": [{"role": "user", "content": "Find it"}, {"role": "assistant", "content": None,
                                                                "tool_calls": [call]},
                      {"role": "tool", "tool_call_id": "c1", "content": "found"}]},
    ]
    rows = [dict(proxied, request_id=f"agent-{k}-{i}", session_id=None,
                 proxy_server_request=json.dumps(dict(body, **v))) for i, v in enumerate(variants) for k in range(3)]
    return rows + [dict(proxied, request_id="agent-session", session_id="s-1")]


def test_duckdb_checks_what_the_tiers_take_and_types_agent_steps_as_the_streaming_reader(tmp_path):
    """audit's carry check (a system message to o3, a seed to Claude) and `agent_steps` change how rows read: the
    engine hands those rows to the parser, so both paths still agree."""
    from tiertool.config import Tier
    from tiertool.replay import carry_check

    rows = [dict(r, session_id=None) for r in spend_rows()]  # the proxy's own rows have one each: agent steps
    log = write_log(tmp_path / "agents.jsonl", rows + _agent_rows(producer_rows()[0]))
    check = carry_check([Tier(name="o3", model="openai/o3"),
                         Tier(name="claude", model="anthropic/claude-3-7-sonnet-20250219")])
    for options in ({"check": check}, {"steps": True}, {"check": check, "steps": True}):
        stream = scan([log], sample=7, seed=5, **options)
        duck = scan([log], sample=7, seed=5, engine="duckdb", **options)
        assert traffic_facts(duck) == traffic_facts(stream), options
        if "check" in options:
            assert any(why.startswith("tier o3: a system message") for why in stream.stats.not_replayable)
            assert any(why.startswith("tier claude: seed") for why in stream.stats.not_replayable)
        if "steps" in options:
            assert {"first", "after lookup"} <= {t.split(" › ")[-1] for t in stream.tasks if " › " in t}


@given(st.integers(0, 2**31), st.text(min_size=1, max_size=40))
@settings(max_examples=200)
def test_the_engines_sample_key_is_the_samplers(seed, request_id):
    """The BIGINT DuckDB orders the sample by is sample.sample_key, for any seed and request id."""
    import duckdb

    from tiertool.ingest.engines import spend_duckdb as sql
    from tiertool.ingest.sample import sample_key

    with duckdb.connect() as con:
        got = con.execute(f"SELECT ('0x' || md5({sql.sql_str(f'{seed}:')} || ?)[1:{sql.KEY_DIGITS}])::BIGINT",
                          [request_id]).fetchall()
    assert got == [(sample_key(seed, request_id),)]


def test_the_one_pass_does_not_hold_every_row(tmp_path):
    """Memory stays flat with the log: the pass's plan has no GROUPING SETS (which DuckDB runs by materialising
    every staged row) and its sample heaps hold numbers (string or struct values grow with the rows seen)."""
    import duckdb

    from tiertool.ingest.engines.files import DuckDB, ParquetFile

    path = tmp_path / "spend.parquet"
    rows = [r for r in spend_rows() if isinstance(r.get("request_id"), str)]
    clean = write_log(tmp_path / "clean.jsonl", [{k: json.dumps(v) if isinstance(v, (dict, list)) else v
                                                  for k, v in r.items()} for r in rows])
    with duckdb.connect() as con:
        con.execute(f"COPY (SELECT * FROM read_json('{clean}', format='newline_delimited', sample_size=-1)) "
                    f"TO '{path}'")
    query = ParquetFile(str(path), DuckDB(), "auto", 0, 7, False).query
    con = duckdb.connect()
    plan = "\n".join(str(row[1]) for row in con.execute("EXPLAIN " + query).fetchall())
    assert "Hash Group By" in plan or "HASH_GROUP_BY" in plan
    assert "grouping_sets_input" not in plan and "GROUPING SETS" not in query
    staged = query.split("), fine AS (")[0].split("WITH s AS (", 1)[1]
    types = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT key, n FROM ({staged})").fetchall()}
    assert types["key"] == "BIGINT" and types["n"] == "BIGINT"


def _group_by_rows() -> list[dict]:
    """Rows where --group-by's path is in the row, only in the request body (the parser looks there when the row
    has no value), in neither, or of another JSON type."""
    rows = []
    for i, r in enumerate(spend_rows()[:120]):
        if not isinstance(r.get("proxy_server_request"), str) or not r["proxy_server_request"].startswith("{"):
            continue
        body = json.loads(r["proxy_server_request"])
        meta = json.loads(r["metadata"]) if isinstance(r.get("metadata"), str) and r["metadata"][:1] == "{" else {}
        kind = i % 5
        body["metadata"] = dict(body.get("metadata") or {}, team=f"body-{i % 3}") if kind in (1, 3) else \
            body.get("metadata") or {}
        body["team"] = f"body-top-{i % 2}" if kind in (1, 4) else body.get("team")
        meta = dict(meta, team=f"row-{i % 3}") if kind in (0, 3) else dict(meta, team=7) if kind == 4 else meta
        rows.append(dict(r, request_id=f"gb-{i}", proxy_server_request=json.dumps(body), metadata=json.dumps(meta),
                         team=(f"row-top-{i % 2}" if kind == 0 else None if kind == 2 else 5 if kind == 3 else
                               r.get("team"))))
    return rows


@pytest.mark.parametrize("group_by", ["metadata.team", "team", "model_group", "request_tags.0", "not_a_field"])
def test_group_by_paths_give_the_streaming_readers_traffic(tmp_path, group_by):
    """An explicit --group-by reads the row's value, else the request body's (as litellm_spend.parse does)."""
    log = write_log(tmp_path / "gb.jsonl", _group_by_rows())
    stream = scan([log], sample=5, seed=4, group_by=group_by)
    duck = scan([log], sample=5, seed=4, group_by=group_by, engine="duckdb")
    if group_by in ("metadata.team", "team"):
        assert any(t.startswith("body-") for t in stream.tasks) and any(t.startswith("row-") for t in stream.tasks)
    assert traffic_facts(duck) == traffic_facts(stream)


@pytest.mark.parametrize("session", ["0", 0, 0.0, "", True, False, "s-1", 12, None, [], {}])
def test_session_ids_make_agent_steps_as_the_streaming_reader(tmp_path, session):
    """agent_steps: a session id the parser keeps (`session_id or None`) makes a row an agent step, on both paths."""
    rows = [dict(r, session_id=session if i % 2 else None) for i, r in enumerate(spend_rows()[:150])]
    log = write_log(tmp_path / "sessions.jsonl", rows)
    stream = scan([log], sample=5, seed=4, steps=True)
    assert traffic_facts(scan([log], sample=5, seed=4, steps=True, engine="duckdb")) == traffic_facts(stream)


@pytest.mark.parametrize("kind", ["plain", "gzip", "long line"])
def test_rows_read_again_are_the_lines_the_query_numbered(log, tmp_path, monkeypatch, kind):
    """The sampled and held rows are read again where they lie in a plain file (its line index), from the start
    in a gzip file or one with a line too long to read: the same lines either way, with BUFFER_CHARS small enough
    that the held rows are read a second time too."""
    import gzip

    from tiertool.ingest import reader, sources
    from tiertool.ingest.engines import base, files

    monkeypatch.setattr(reader, "BUFFER_CHARS", 100)
    monkeypatch.setattr(base, "BUFFER_CHARS", 100)
    path, data = tmp_path / "spend.jsonl", log.read_bytes()
    if kind == "long line":
        for module in (sources, files):
            monkeypatch.setattr(module, "MAX_LINE", 1 << 16)
        monkeypatch.setattr(files, "BATCH_BYTES", 1 << 14)  # as in use: a batch is smaller than MAX_LINE
        lines = data.split(b"\n")
        data = b"\n".join([*lines[:40], b'{"request_id": "' + b"x" * (1 << 17) + b'"}', *lines[40:]])
    path.write_bytes(data)
    if kind == "gzip":
        path = tmp_path / "spend.jsonl.gz"
        path.write_bytes(gzip.compress(data))
    indexed, real = [], files.JsonLinesFile._indexed

    def counted(self, rows, index):
        indexed.append(len(rows))
        yield from real(self, rows, index)

    monkeypatch.setattr(files.JsonLinesFile, "_indexed", counted)
    stream = scan([path], sample=7, seed=5)
    duck = scan([path], sample=7, seed=5, engine="duckdb")
    assert traffic_facts(duck) == traffic_facts(stream)
    assert (kind == "long line") == any("longer than" in r for r in stream.stats.reasons)
    assert len(indexed) >= (2 if kind == "plain" else 0) and (kind == "plain") == bool(indexed)


RESPONSES = [None, "", "Paris.", "5", 5, -2.5e3, True, "true", "null", {}, "{}", "{ }", [], "[]", [1, 2], "[1",
             "{not json", {"choices": [{"message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}]},
             json.dumps({"choices": [{"message": {"role": "assistant", "content": "Hi"}}]}),
             {"choices": [{"message": "oops"}]}, {"choices": []}, {"object": "response", "output": []}]


@pytest.mark.parametrize("sample_if", ["replayable", "answered"])
def test_every_shape_of_response_reads_as_the_parser_reads_it(tmp_path, sample_if):
    """The logged response as an object, JSON text, a plain answer, a number or a boolean, null or absent: the
    same answered counts and samples on both paths (DuckDB reads it as text: text a scalar would give is no plain
    answer, so with sample_if answered such rows are the parser's)."""
    rows = [dict(r, response=RESPONSES[i % len(RESPONSES)]) for i, r in enumerate(spend_rows()[:300])]
    rows += [{k: v for k, v in r.items() if k != "response"} for r in spend_rows()[300:320]]
    log = write_log(tmp_path / "responses.jsonl", rows)
    stream = scan([log], sample=6, seed=8, sample_if=sample_if)
    assert traffic_facts(scan([log], sample=6, seed=8, sample_if=sample_if, engine="duckdb")) == traffic_facts(stream)


@given(st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), max_size=3000), st.booleans())
@example([b"x"] * 1024, False)
@example([b"ab", b""] * 1500, True)
@settings(max_examples=60)
def test_line_ends_are_where_the_newlines_are(lines, last_newline):
    """files._ends, by find per line or numpy past 1,024 lines, gives the offsets split(b"\\n") implies, from the
    block's start wherever it lies in the buffer (a mapped file's blocks start mid-file)."""
    from tiertool.ingest.engines.files import _ends

    data = b"\n".join(lines) + (b"\n" if last_newline else b"")
    if not data:
        return
    want, at = [], 0
    for part in data.split(b"\n")[:-1]:
        at += len(part) + 1
        want.append(at)
    if at != len(data):
        want.append(len(data))
    assert _ends(bytearray(data), len(data)).tolist() == want
    assert _ends(bytearray(b"{}\n" + data + b"tail"), len(data) + 3, 3).tolist() == want


def test_parquet_text_columns_with_nan_are_read_as_the_parser_reads_them(tmp_path):
    """JSON text with NaN or Infinity (which DuckDB's JSON functions read and Python's parsers refuse) in a Parquet
    text column: the row is the parser's, so both paths give the same traffic."""
    clean, pq = nan_log(tmp_path)
    stream = scan([clean], sample=50, seed=1)
    duck = scan([pq], sample=50, seed=1)
    assert traffic_facts(duck, sources=False) == traffic_facts(stream, sources=False)
    # DuckDB writes a column whose values differ in type (model, spend, startTime here) as Parquet's JSON type:
    # the streaming reader reads each such value as the JSON it holds, as on the JSON line
    assert traffic_facts(scan([pq], sample=50, seed=1, engine="stream"), sources=False) == \
        traffic_facts(stream, sources=False)
