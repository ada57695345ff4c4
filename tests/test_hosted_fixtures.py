"""The hosted-producer fixtures parse as their container formats, cite their sources, and keep the shape facts
their README promises (the Helicone JSON export's trailing comma, the Langfuse one-line JSON array)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

HOSTED = Path(__file__).parent / "fixtures" / "hosted"
PRODUCERS = ["langfuse", "helicone", "braintrust", "weave", "langsmith", "openrouter"]
FILES = sorted(p for name in PRODUCERS for p in (HOSTED / name).rglob("*") if p.is_file())


def records(path: Path) -> int:
    """How many records the file holds, read as its container format."""
    text = path.read_text(encoding="utf-8") if path.suffix != ".parquet" else ""
    if path.suffix == ".jsonl":
        return sum(1 for line in text.splitlines() if json.loads(line) is not None)
    if path.suffix == ".csv":
        return len(list(csv.DictReader(text.splitlines(keepends=True))))
    if path.suffix == ".parquet":
        pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow reads the Parquet fixtures")
        return pq.read_table(path).num_rows
    if path.name == "export.json":  # Helicone's export tool: indented, trailing comma before "]"
        with pytest.raises(json.JSONDecodeError):
            json.loads(text)
        assert text.endswith("},\n]\n")
        text = text[: -len(",\n]\n")] + "\n]"
    value = json.loads(text)
    for key in ("data", "events", "runs"):
        if isinstance(value, dict) and key in value:
            return len(value[key])
    assert isinstance(value, list), path
    return len(value)


def test_every_producer_has_fixtures_and_a_source_file():
    for name in PRODUCERS:
        assert any((HOSTED / name).rglob("*.*")), name
        source = (HOSTED / f"{name}.source.md").read_text(encoding="utf-8")
        assert "commit" in source or "PyPI" in source or "npm" in source, name


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(HOSTED)))
def test_fixture_parses_and_is_small(path):
    assert path.stat().st_size < 1_000_000
    assert 1 <= records(path) <= 60  # API pages may be short; whole exports hold 17-39


def test_langfuse_ui_json_export_is_one_line_and_keeps_tags_under_trace_tags():
    text = (HOSTED / "langfuse" / "ui_export_observations.json").read_text(encoding="utf-8")
    assert "\n" not in text
    rows = json.loads(text)
    assert {t for r in rows for t in r["traceTags"]} >= {"triage", "summarize", "extract", "translate"}
    assert {r["traceName"] for r in rows} == {"acme-support"}


def test_langfuse_blob_observations_carry_no_trace_name_or_tags():
    (obs,) = (HOSTED / "langfuse" / "blob").rglob("observations/*.jsonl")
    (traces,) = (HOSTED / "langfuse" / "blob").rglob("traces/*.jsonl")
    rows = [json.loads(line) for line in obs.read_text(encoding="utf-8").splitlines()]
    assert not {"tags", "traceTags", "trace_name", "traceName"} & set(rows[0])
    trace_ids = {json.loads(line)["id"] for line in traces.read_text(encoding="utf-8").splitlines()}
    assert {r["trace_id"] for r in rows} <= trace_ids
