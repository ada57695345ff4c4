"""Postgres reads the LiteLLM proxy's `LiteLLM_SpendLogs` table as the streaming reader reads the same rows
exported from it: the same volume, task types, accounting and sampled requests; a time window selects rows."""

from __future__ import annotations

import json

import pytest

from tests.conftest import make_sample
from tests.enginekit import producer_rows, same_cost, traffic_facts, write_log
from tests.kit.postgres import insert_spend_rows
from tiertool.errors import InputError
from tiertool.ingest import scan

COLUMNS = ("request_id", "call_type", "spend", "prompt_tokens", "completion_tokens", "startTime", "endTime", "model",
           "model_group", "custom_llm_provider", "metadata", "request_tags", "messages", "response", "status")


def table_rows() -> list[dict]:
    """Producer rows, synthetic rows of each typing channel, and jsonb shapes the SQL leaves to the parser."""
    rows = producer_rows()
    for style in ("tag", "metadata", "none"):
        synth, _ = make_sample.synth_log(120, seed=8, tag_style=style)
        rows += [{k: r[k] for k in COLUMNS} | {"request_id": f"{style}-{r['request_id']}"} for r in synth]
    base = rows[-1]
    text = json.dumps  # a jsonb string (insert_spend_rows takes JSON text)
    odd = [{"request_tags": text("task:as-text")}, {"metadata": text('{"task": "in-a-string"}')}, {"model": ""},
           {"messages": [{"role": "user", "content": "redacted-by-litellm"}]}, {"response": text("plain answer")},
           {"response": text('{"choices": []}')}, {"status": None}, {"status": "failure"}, {"metadata": {"task": 4}},
           {"request_tags": ["feature: search ", "task:x"]}, {"messages": {"role": "user"}},
           # jsonb shapes the SQL reads itself or leaves to the parser: numbers as Python's float rounds them, huge
           # and tiny ones, the client's metadata in each place, body messages of every JSON type
           {"metadata": '{"usage_object": {"prompt_tokens_details": {"cached_tokens": 3.9999999999999999, '
                        '"cache_creation_tokens": 0.0, "cache_write_tokens": 2}}}'},  # text: jsonb keeps digits
           {"metadata": {"usage_object": {"prompt_tokens_details": {"cached_tokens": 1e300}}}},
           {"metadata": {"usage_object": {"completion_tokens_details": {"reasoning_tokens": 1e-400}}}},
           {"proxy_server_request": {"metadata": {"requester_metadata": {"headers": {}}, "task": "body-task",
                                                  "caller_tags": []}, "messages": []}},
           {"proxy_server_request": {"metadata": {"requester_metadata": {"task": 5}, "caller_tags": []}}},
           {"proxy_server_request": {"metadata": {"requester_metadata": {"task": "client"}, "caller_tags": ["a"]},
                                     "messages": ""}},
           {"proxy_server_request": {"metadata": {"tags": ["task:no-caller-tags"]}}},
           {"proxy_server_request": text('{"metadata": {}}')}, {"proxy_server_request": {}},
           {"proxy_server_request": {"metadata": {"caller_tags": ["task:\u00a0 body \t"]}, "model": "alias",
                                     "messages": [{"role": "user", "content": "Ticket 11"}]}},
           {"proxy_server_request": {"metadata": {"caller_tags": [1]}}}, {"request_tags": [None]},
           {"messages": text("[]")}, {"response": {"choices": [{"message": {"content": "hi"}}]}}]
    rows += [dict(base, request_id=f"odd-{i}", **v) for i, v in enumerate(odd)]
    return [{k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in r.items()} for r in rows]


@pytest.fixture
def spend_db(spendlogs_db):
    import psycopg

    with psycopg.connect(spendlogs_db) as conn:
        insert_spend_rows(conn, table_rows())
    return spendlogs_db


def export(url: str, path) -> object:
    """The table as JSON lines, in start-time order: what the streaming reader reads."""
    import psycopg

    with psycopg.connect(url) as conn:
        rows = [r for (r,) in conn.execute('SELECT to_jsonb(t) FROM "LiteLLM_SpendLogs" t '
                                           'ORDER BY "startTime", request_id')]
    return write_log(path, rows)


@pytest.mark.parametrize("sample_if", ["replayable", "answered"])
def test_postgres_gives_the_streaming_readers_traffic(spend_db, tmp_path, sample_if):
    stream = scan([export(spend_db, tmp_path / "export.jsonl")], sample=6, seed=2, sample_if=sample_if)
    db = scan([spend_db], sample=6, seed=2, sample_if=sample_if)
    assert stream.stats.skipped >= 2 and stream.groups and sum(map(len, stream.strata.values())) > 20
    assert traffic_facts(db, sources=False) == traffic_facts(stream, sources=False)
    assert same_cost(db, stream)
    assert all(r.source == f"{spend_db}#{r.id}" for v in db.strata.values() for r in v)


@pytest.mark.parametrize("group_by", ["metadata.task", "model_group", "request_tags.0", "user", "not_a_column"])
def test_group_by_paths_give_the_streaming_readers_traffic(spend_db, tmp_path, group_by):
    """An explicit --group-by: rows whose value the row holds are grouped in SQL; the others (the parser then
    looks in the request body) are the parser's."""
    stream = scan([export(spend_db, tmp_path / "export.jsonl")], sample=4, seed=3, group_by=group_by)
    db = scan([spend_db], sample=4, seed=3, group_by=group_by)
    assert traffic_facts(db, sources=False) == traffic_facts(stream, sources=False)


def test_since_and_until_select_rows_by_start_time(spend_db):
    whole = scan([spend_db])
    october = scan([spend_db], since="2026-10-01", until="2026-10-16")
    days = {k.day for k in october.volume}
    assert days and max(days) <= "2026-10-15" and min(days) >= "2026-10-01"
    assert 0 < october.stats.records < whole.stats.records
    with pytest.raises(InputError, match="--since soon"):
        scan([spend_db], since="soon")
    with pytest.raises(InputError, match="no LiteLLM_SpendLogs table"):
        scan([spend_db.rsplit("/", 1)[0] + "/postgres"])


def test_an_audit_of_the_table_decides_what_the_file_decides(spendlogs_db, tmp_path, synth, server_factory, env_key,
                                                           monkeypatch):
    import psycopg

    from tests.conftest import small_answerer, write_config
    from tests.enginekit import audit_decisions

    rows, small = synth(900, seed=11)
    with psycopg.connect(spendlogs_db) as conn:
        insert_spend_rows(conn, [{k: r[k] for k in COLUMNS} for r in rows])
    server = server_factory(small_answerer(small))
    write_config(tmp_path / "tiertool.yaml", server.api_base)
    monkeypatch.chdir(tmp_path)
    from_file = audit_decisions([str(export(spendlogs_db, tmp_path / "export.jsonl"))], tmp_path / "file")
    from_db = audit_decisions([spendlogs_db], tmp_path / "db")
    assert from_db == from_file
    assert any(tier == "small" for _, _, _, tier, _ in from_db[0])  # something moved: the test can tell


def test_postgres_reads_the_proxys_rows_itself(spend_db):
    """Pushed down: the proxy's own rows and the synthetic ones are mapped in SQL; only the odd shapes (jsonb
    strings, bad figures, prompts the SQL cannot read exactly) come back to the parser, and the sample's rows."""
    from tiertool.ingest.engines.postgres import SpendLogs

    (chunk,) = SpendLogs(spend_db, "auto", 2, 6, False, None, None).chunks()
    read = sum(g[4] for g in chunk.groups) + sum(v[2] for _, v in chunk.held)
    odd = {r for r in chunk.python if r.startswith("odd-")}
    assert read > 300 and len(chunk.python) < 20 and odd, (read, chunk.python)
    assert all(len(v) <= 6 for v in chunk.sample.values()) and chunk.held and chunk.held_sample


def _fits(row: dict, types: dict[str, str]) -> bool:
    """Whether the table can hold the row as it is (the engines' odd rows include a numeric model, a text spend)."""
    from datetime import datetime

    for key, value in row.items():
        kind = types[key]
        if kind == "text" and not isinstance(value, (str, type(None))) or kind in ("integer", "double precision") \
                and (isinstance(value, bool) or not isinstance(value, (int, float)) or kind == "integer"
                     and not (isinstance(value, int) and abs(value) < 2**31)):
            return False
        if kind.startswith("timestamp"):
            try:
                datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                return False
    return True


def _jsonb(value: object) -> str | None:
    """JSON text for a jsonb column: the text a row holds when it is JSON (as the proxy's rows hold it), else the
    value as JSON (a string that is no JSON becomes a jsonb string)."""
    if isinstance(value, str):
        try:
            json.loads(value)
            return value
        except ValueError:
            pass
    return None if value is None else json.dumps(value)


def test_postgres_reads_every_shape_the_duckdb_tests_read_as_the_parser(spendlogs_db, tmp_path):
    """The engines' odd and out-of-range rows and agent steps, as far as the table's types hold them, with the
    carry check and agent steps on and off: the table and its export give the same traffic."""
    import psycopg

    from tests.enginekit import spend_rows
    from tests.test_engines_duckdb import _agent_rows
    from tiertool.config import Tier
    from tiertool.replay import carry_check

    with psycopg.connect(spendlogs_db) as conn:
        types = dict(conn.execute("SELECT column_name, data_type FROM information_schema.columns "
                                  "WHERE table_name = 'LiteLLM_SpendLogs'").fetchall())
        rows = [{k: v for k, v in r.items() if k in types}
                for r in spend_rows() + _agent_rows(producer_rows()[0])]
        rows = [{k: _jsonb(v) if types[k] == "jsonb" else v for k, v in r.items()} for r in rows if _fits(r, types)]
        assert len(rows) > 600
        insert_spend_rows(conn, rows)
    log = export(spendlogs_db, tmp_path / "export.jsonl")
    check = carry_check([Tier(name="o3", model="openai/o3"),
                         Tier(name="claude", model="anthropic/claude-3-7-sonnet-20250219")])
    for options in ({}, {"sample_if": "answered"}, {"check": check}, {"steps": True}, {"check": check, "steps": True}):
        stream = scan([log], sample=7, seed=5, **options)
        db = scan([spendlogs_db], sample=7, seed=5, **options)
        assert traffic_facts(db, sources=False) == traffic_facts(stream, sources=False), options
        assert same_cost(db, stream)
