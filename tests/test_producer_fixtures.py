"""Smoke test of the producer-written fixtures (tests/fixtures/producers/): each exists, parses as its container
format, holds the record count its `.producer.json` states, and names the producer's exact version.

Whether tiertool reads them right is tested with the parsers; this only guards the files themselves.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "fixtures" / "producers"
FIXTURES = [
    "litellm_spend_logs.jsonl", "litellm_standard_logging.jsonl", "litellm_spend_logs.csv",
    "litellm_spend_logs_prisma_order.csv",
    "llm031_logs.db", "llm031_logs.json", "llm036_logs.db", "llm036_logs.json",
    "llm031_upgraded_to_036_logs.db", "llm031_upgraded_to_036_logs.json",
    "openai_chat_completions.jsonl", "openai_responses.jsonl",
    "openai_batch_chat_input.jsonl", "openai_batch_chat_output.jsonl", "openai_batch_chat_errors.jsonl",
    "openai_batch_responses_input.jsonl", "openai_batch_responses_output.jsonl",
    "openai_batch_responses_errors.jsonl", "openai_finetune_chat.jsonl",
    "anthropic_messages.jsonl", "anthropic_batch_requests.jsonl", "anthropic_batch_results.jsonl",
]
PREFIXES = ("litellm_", "llm0", "openai_", "anthropic_")  # what make_<producer>.py scripts here write
VERSION = re.compile(r"\d+\.\d+")


def records(path: Path) -> int:
    """Parse the file as its container format and count its records; raises on anything malformed."""
    if path.suffix == ".jsonl":
        lines = path.read_text(encoding="utf-8").splitlines()
        assert all(isinstance(json.loads(line), dict) for line in lines), f"{path.name}: a line is not an object"
        return len(lines)
    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        assert isinstance(data, list) and all(isinstance(r, dict) for r in data), f"{path.name}: not a list"
        return len(data)
    if path.suffix == ".csv":
        csv.field_size_limit(1 << 30)
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
        assert reader.fieldnames and all(len(r) == len(reader.fieldnames) for r in rows), f"{path.name}: ragged"
        return len(rows)
    raise AssertionError(f"no container format known for {path.name}")


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_parses_and_names_its_producer(name: str) -> None:
    path = HERE / name
    provenance = json.loads((HERE / f"{name}.producer.json").read_text())
    assert provenance["producer"] and all(VERSION.search(v) for v in provenance["producer"].values()), provenance
    assert provenance["command"] and provenance["date"]
    if path.suffix == ".db":
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            assert conn.execute("pragma integrity_check").fetchone() == ("ok",)
            for table, count in provenance["tables"].items():
                assert conn.execute(f'select count(*) from "{table}"').fetchone()[0] == count, table
        assert sum(provenance["tables"].get(t, 0) for t in ("responses", "turns")) > 0, "no call logged"
    else:
        assert records(path) == provenance["records"] > 0


def test_every_fixture_of_these_producers_is_listed() -> None:
    """A fixture make_litellm/llm/openai/anthropic.py writes but this test does not know would go unchecked.

    (Other producers' fixtures share the folder and have their own smoke tests.)
    """
    written = {p.name.removesuffix(".producer.json") for p in HERE.glob("*.producer.json")}
    assert {name for name in written if name.startswith(PREFIXES)} == set(FIXTURES)
