"""The Postgres kit: a real server, LiteLLM's spend-log table as the installed litellm's schema.prisma defines it."""

from __future__ import annotations

import re
from importlib.metadata import distribution
from pathlib import Path

import psycopg
import pytest

from tests.kit.postgres import SPENDLOGS_TABLE, insert_spend_rows

# Prisma's PostgreSQL connector, scalar type -> information_schema data_type.
PRISMA_TO_PG = {"String": "text", "Int": "integer", "BigInt": "bigint", "Float": "double precision",
                "DateTime": "timestamp without time zone", "Json": "jsonb", "Boolean": "boolean"}


def prisma_model(name: str) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(column, data_type, is_nullable) per field and the @@index names of a model in litellm's schema.prisma."""
    schema = Path(str(distribution("litellm").locate_file("litellm/proxy/schema.prisma"))).read_text(encoding="utf-8")
    match = re.search(rf"^model {name} \{{(.*?)^\}}", schema, re.S | re.M)
    assert match, f"model {name} not in litellm's schema.prisma"
    fields, indexes = [], []
    for line in (raw.split("//")[0].strip() for raw in match.group(1).splitlines()):
        if line.startswith("@@index("):
            cols = re.findall(r"\w+", line[len("@@index("):].split("]")[0])
            indexes.append(f"{name}_{'_'.join(cols)}_idx")
        elif line and not line.startswith("@@"):
            field, kind = line.split()[:2]
            mapped = re.search(r'@map\("(\w+)"\)', line)
            fields.append((mapped.group(1) if mapped else field, PRISMA_TO_PG[kind.rstrip("?")],
                           "YES" if kind.endswith("?") else "NO"))
    return fields, indexes


def test_spendlogs_table_matches_installed_litellm_schema(spendlogs_db):
    fields, indexes = prisma_model(SPENDLOGS_TABLE)
    with psycopg.connect(spendlogs_db) as conn:
        columns = conn.execute(
            "SELECT column_name, data_type, is_nullable, datetime_precision FROM information_schema.columns "
            "WHERE table_name = %s ORDER BY ordinal_position", (SPENDLOGS_TABLE,)).fetchall()
        names = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s",
                                            (SPENDLOGS_TABLE,))}
    assert [c[:3] for c in columns] == fields
    assert {c[3] for c in columns if c[1].startswith("timestamp")} == {3}  # Prisma's DateTime is TIMESTAMP(3)
    assert names == {*indexes, f"{SPENDLOGS_TABLE}_pkey"}


def test_spend_rows_round_trip(spendlogs_db, synth):
    rows, _ = synth(50, seed=3)
    rows[0]["proxy_server_request"] = {"messages": rows[0]["messages"], "model": "app-llm"}
    with psycopg.connect(spendlogs_db) as conn:
        assert insert_spend_rows(conn, rows) == 50
        back = conn.execute(f'SELECT request_id, request_tags, messages, proxy_server_request, "startTime", '
                            f'created_at FROM "{SPENDLOGS_TABLE}" ORDER BY request_id').fetchall()
    assert [r[0] for r in back] == sorted(r["request_id"] for r in rows)
    first = back[0]
    assert first[1] == rows[0]["request_tags"] and first[2] == rows[0]["messages"]
    assert first[3]["model"] == "app-llm"
    assert first[4].isoformat() == rows[0]["startTime"].removesuffix("+00:00")
    assert first[5] is not None  # the column default LiteLLM's schema gives


def test_unknown_field_is_an_error(spendlogs_db):
    with psycopg.connect(spendlogs_db) as conn, pytest.raises(KeyError, match="prompt"):
        insert_spend_rows(conn, [{"request_id": "r1", "call_type": "acompletion", "prompt": "hi"}])
