"""Every format's parser, fed its own records (and one of each producer-written and hosted fixture) with values
swapped for arbitrary JSON: never a crash, and every line accounted for. The Parquet and CSV exports likewise,
with a cell (or a value inside a cell's JSON) swapped."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import ingest_samples as S
from tests.readkit import FIXTURES, jsonl
from tiertool import inspect, render_inspection
from tiertool.ingest import read_logs

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3),
                    max_leaves=6)


def _rows(tmp) -> list[dict]:
    inp, out = S.openai_batch(tmp)
    req, res = S.anthropic_batch(tmp)
    files = [inp, out, req, res, S.litellm_payload(tmp), S.langfuse_bucket(tmp), S.helicone(tmp)]
    rows = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    rows += json.loads(S.llm_json(tmp).read_text())
    rows += json.loads(S.langfuse_api(tmp).read_text())["data"]
    rows.append(json.loads(S.otel_document(tmp).read_text()))
    rows.append(S.anthropic_message())
    return rows + PRODUCED


def _produced() -> list[dict]:
    """One record (or export line) of each producer-written and hosted fixture read by a stream or a format."""
    p, h = FIXTURES / "producers", FIXTURES / "hosted"
    otlp = ["otel_openai_v2_spans", "otel_openai_v2_events", "otel_openai_v2_nocontent",
            "otel_openai_v2_legacy_events", "openllmetry_spans", "openllmetry_events", "openllmetry_legacy_spans",
            "openinference_spans", "openinference_genai_semconv"]
    rows = [line for name in otlp for line in jsonl(p / f"{name}.otlp.jsonl")[:2]]
    rows.append(json.JSONDecoder().raw_decode((p / "otel_openai_v2_console.txt").read_text(encoding="utf-8"))[0])
    rows += jsonl(p / "langsmith_runs.jsonl")[:2] + jsonl(p / "mlflow_traces.jsonl")[:1]
    blob = h / "langfuse" / "blob" / "cm4acmeprj0001lf"
    for path in (h / "langfuse" / "ui_export_observations.jsonl", blob / "observations" / "2026-11-30T10-00-00.jsonl",
                 blob / "traces" / "2026-11-30T10-00-00.jsonl", h / "helicone" / "export.jsonl",
                 h / "weave" / "calls_stream_query.jsonl", h / "openrouter" / "generation_stats.jsonl",
                 h / "openrouter" / "generation_content.jsonl"):
        rows += jsonl(path)[:2]
    rows += json.loads((h / "braintrust" / "project_logs_fetch.json").read_text(encoding="utf-8"))["events"][:2]
    rows += json.loads((h / "langsmith" / "runs_query.json").read_text(encoding="utf-8"))["runs"][2:4]
    return rows


PRODUCED = _produced()


def _mutate(obj, path: list[int], value):
    """Replace the value at a position chosen by `path` (indexes into keys/items, depth-first)."""
    if not path or not isinstance(obj, (dict, list)) or not obj:
        return value
    keys = list(obj) if isinstance(obj, dict) else list(range(len(obj)))
    k = keys[path[0] % len(keys)]
    obj = dict(obj) if isinstance(obj, dict) else list(obj)
    obj[k] = _mutate(obj[k], path[1:], value)
    return obj


def _check(log: Path) -> None:
    """Every line accounted for, and the summary renders."""
    reader = read_logs([log])
    reqs = list(reader)
    s = reader.stats
    assert s.records == len(reqs) and s.records + s.skipped == s.lines >= 1
    summary = inspect([log])  # and the summary of whatever was read renders
    assert summary["records"] == s.records and render_inspection(summary)
    json.dumps(summary)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_records_never_crash(tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("fuzz")
    rows = _rows(tmp)
    row = data.draw(st.sampled_from(rows))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.lists(st.integers(0, 50), min_size=1, max_size=5))
        row = _mutate(row, path, data.draw(JSON))
    log = tmp / "mutated.jsonl"
    log.write_text(json.dumps(row) + "\n", encoding="utf-8")
    _check(log)


def _cell(data, value):
    """A cell's value swapped: for arbitrary text, or (JSON text) for its JSON with one value inside swapped."""
    try:
        parsed = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if isinstance(parsed, (dict, list)) and data.draw(st.booleans()):
        path = data.draw(st.lists(st.integers(0, 50), min_size=1, max_size=5))
        return json.dumps(_mutate(parsed, path, data.draw(JSON)))
    return data.draw(st.text(max_size=12))


BLOB = FIXTURES / "hosted" / "langfuse" / "blob" / "cm4acmeprj0001lf"
PARQUET = [FIXTURES / "producers" / "mlflow_traces.parquet", BLOB / "observations" / "2026-11-30T10-00-00.parquet",
           BLOB / "traces" / "2026-11-30T10-00-00.parquet"]
CSV = [FIXTURES / "hosted" / "langfuse" / "ui_export_observations.csv", FIXTURES / "hosted" / "helicone" / "export.csv",
       FIXTURES / "producers" / "litellm_spend_logs.csv"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_parquet_rows_never_crash(tmp_path_factory, data):
    """A row of each Parquet fixture with a text cell swapped, or a nullable cell emptied, in the file's schema."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(data.draw(st.sampled_from(PARQUET)))
    row = table.slice(data.draw(st.integers(0, table.num_rows - 1)), 1).to_pylist()[0]
    fields = [f for f in table.schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type) or f.nullable]
    for _ in range(data.draw(st.integers(1, 3))):
        field = data.draw(st.sampled_from(fields))
        emptied = field.nullable and data.draw(st.booleans())
        row[field.name] = None if emptied or not pa.types.is_string(field.type) and not pa.types.is_large_string(
            field.type) else _cell(data, row[field.name])
    log = tmp_path_factory.mktemp("fuzz") / "mutated.parquet"
    pq.write_table(pa.Table.from_pylist([row], schema=table.schema), log)
    _check(log)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_csv_rows_never_crash(tmp_path_factory, data):
    """A row of each CSV export with cells swapped (JSON cells too), written back as CSV."""
    with data.draw(st.sampled_from(CSV)).open(encoding="utf-8", newline="") as fh:
        header, *rows = list(csv.reader(fh))
    row = list(data.draw(st.sampled_from(rows)))
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(row) - 1))
        row[at] = _cell(data, row[at])
    log = tmp_path_factory.mktemp("fuzz") / "mutated.csv"
    with log.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, quoting=csv.QUOTE_ALL).writerows([header, row])
    _check(log)
