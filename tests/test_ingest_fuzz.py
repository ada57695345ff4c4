"""Every format's parser, fed its own records with values swapped for arbitrary JSON: never a crash, and
every line accounted for. The records are the hand-made samples and every producer-written fixture (LiteLLM
spend rows, payloads, llm logs, OpenAI and Anthropic objects and batch lines, chat-format JSONL) and one of each
trace and hosted fixture, the JSON columns of spend rows both as text and as objects; an llm logs.db, a Postgres
spend CSV, the hosted CSV exports and the Parquet fixtures are damaged cell by cell. A log that gives nothing
ends in one InputError (exit 2), never a traceback."""

from __future__ import annotations

import contextlib
import csv
import json
import shutil
import sqlite3
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import ingest_samples as S
from tests.readkit import FIXTURES, jsonl
from tiertool import inspect, render_inspection
from tiertool.errors import InputError
from tiertool.ingest import read_logs

PRODUCERS = Path(__file__).parent / "fixtures" / "producers"
JSONL = ("litellm_spend_logs.jsonl", "litellm_standard_logging.jsonl", "openai_chat_completions.jsonl",
         "openai_responses.jsonl", "openai_batch_chat_input.jsonl", "openai_batch_chat_output.jsonl",
         "openai_batch_chat_errors.jsonl", "openai_batch_responses_input.jsonl",
         "openai_batch_responses_output.jsonl", "anthropic_messages.jsonl", "anthropic_batch_requests.jsonl",
         "anthropic_batch_results.jsonl", "openai_finetune_chat.jsonl")
ARRAYS = ("llm031_logs.json", "llm036_logs.json")

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
    return rows + PRODUCER_ROWS + TRACE_ROWS


def _producer_rows() -> list[dict]:
    rows = [json.loads(line) for name in JSONL for line in (PRODUCERS / name).read_text().splitlines()]
    rows += [e for name in ARRAYS for e in json.loads((PRODUCERS / name).read_text())]
    spend = [r for r in rows if "proxy_server_request" in r]  # JSON columns as objects, as an API returns them
    columns = ("metadata", "request_tags", "messages", "response", "proxy_server_request")
    return rows + [{k: json.loads(v) if k in columns else v for k, v in r.items()} for r in spend]


PRODUCER_ROWS = _producer_rows()


def _trace_rows() -> list[dict]:
    """One record (or export line) of each trace and hosted fixture read by a stream or a format."""
    p, h = FIXTURES / "producers", FIXTURES / "hosted"
    otlp = ["otel_openai_v2_spans", "otel_openai_v2_events", "otel_openai_v2_nocontent",
            "otel_openai_v2_legacy_events", "openllmetry_spans", "openllmetry_events", "openllmetry_legacy_spans",
            "openinference_spans", "openinference_genai_semconv"]
    rows = [line for name in otlp for line in jsonl(p / f"{name}.otlp.jsonl")[:2]]
    rows.append(json.JSONDecoder().raw_decode((p / "otel_openai_v2_console.txt").read_text(encoding="utf-8"))[0])
    rows += jsonl(p / "langsmith_runs.jsonl")[:2] + jsonl(p / "mlflow_traces.jsonl")[:1]
    for path in (h / "langfuse" / "ui_export_observations.jsonl", BLOB / "observations" / "2026-11-30T10-00-00.jsonl",
                 BLOB / "traces" / "2026-11-30T10-00-00.jsonl", h / "helicone" / "export.jsonl",
                 h / "weave" / "calls_stream_query.jsonl", h / "openrouter" / "generation_stats.jsonl",
                 h / "openrouter" / "generation_content.jsonl"):
        rows += jsonl(path)[:2]
    rows += json.loads((h / "braintrust" / "project_logs_fetch.json").read_text(encoding="utf-8"))["events"][:2]
    rows += json.loads((h / "langsmith" / "runs_query.json").read_text(encoding="utf-8"))["runs"][2:4]
    return rows


BLOB = FIXTURES / "hosted" / "langfuse" / "blob" / "cm4acmeprj0001lf"
TRACE_ROWS = _trace_rows()


def _read(path: Path) -> tuple[list, object]:
    """Read a log; one that gives no record raises InputError naming it (after accounting for every line)."""
    reader = read_logs([path])
    try:
        reqs = list(reader)
    except InputError as e:
        assert reader.stats.records == 0 and str(path) in str(e), e
        reqs = []
    s = reader.stats
    assert s.records == len(reqs) and s.records + s.skipped == s.lines >= 1
    assert sum(s.reasons.values()) == s.skipped
    assert sum(s.not_replayable.values()) == s.records - sum(r.replayable for r in reqs)
    return reqs, s


def _mutate(obj, path: list[int], value):
    """Replace the value at a position chosen by `path` (indexes into keys/items, depth-first)."""
    if not path or not isinstance(obj, (dict, list)) or not obj:
        return value
    keys = list(obj) if isinstance(obj, dict) else list(range(len(obj)))
    k = keys[path[0] % len(keys)]
    obj = dict(obj) if isinstance(obj, dict) else list(obj)
    obj[k] = _mutate(obj[k], path[1:], value)
    return obj


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
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
    reqs, s = _read(log)
    for r in reqs:
        json.dumps([r.messages, r.params, r.output_tool_calls])  # what a replay sends is plain JSON
    if s.records:
        summary = inspect([log])  # and the summary of whatever was read renders
        assert summary["records"] == s.records and render_inspection(summary)
        json.dumps(summary)


CELL = st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=12), st.binary(max_size=8),
                 st.sampled_from(["{}", "[]", "{\"a\": 1}", "[1, 2]", "null", "b2:nope"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_damaged_llm_logs_db_never_crashes(tmp_path_factory, data):
    name = data.draw(st.sampled_from(["llm031_logs.db", "llm036_logs.db", "llm031_upgraded_to_036_logs.db"]))
    path = tmp_path_factory.mktemp("db") / "logs.db"
    shutil.copy(PRODUCERS / name, path)
    with sqlite3.connect(path) as con:
        present = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        tables = [t for t in ("responses", "turns", "messages", "parts", "attachments", "tools", "tool_calls",
                              "schemas", "threads")
                  if t in present and con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]]
        for _ in range(data.draw(st.integers(1, 4))):
            table = data.draw(st.sampled_from(tables))
            cols = [c[1] for c in con.execute(f"PRAGMA table_info({table})")]
            col = data.draw(st.sampled_from(cols))
            n = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            rowid = con.execute(f"SELECT rowid FROM {table} LIMIT 1 OFFSET ?", (data.draw(st.integers(0, n - 1)),)
                                ).fetchone()[0]
            value = data.draw(CELL)
            with contextlib.suppress(sqlite3.IntegrityError):  # a unique key the damage would duplicate
                con.execute(f'UPDATE {table} SET "{col}" = ? WHERE rowid = ?', (value, rowid))
    _read(path)


def test_an_attachment_whose_content_is_a_number_is_not_replayable_and_allocates_nothing(tmp_path):
    """Found by the test above: `bytes(21_651_850_198)` would have allocated 21 GB (MemoryError)."""
    path = tmp_path / "logs.db"
    shutil.copy(PRODUCERS / "llm036_logs.db", path)
    with sqlite3.connect(path) as con:
        assert con.execute("UPDATE attachments SET content = ?",
                           (21_651_850_198,)).rowcount >= 1
    reqs, s = _read(path)
    assert any("neither bytes nor text (a damaged row)" in why for why in s.not_replayable), s.not_replayable


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_damaged_spend_csv_cells_never_crash(tmp_path_factory, data):
    csv.field_size_limit(1 << 30)
    with (PRODUCERS / "litellm_spend_logs.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    for _ in range(data.draw(st.integers(1, 5))):
        i, j = data.draw(st.integers(1, len(rows) - 1)), data.draw(st.integers(0, len(rows[0]) - 1))
        rows[i][j] = data.draw(st.one_of(st.text(max_size=20), st.sampled_from(["{}", "[", "{\"x\": [1]}", ""])))
    path = tmp_path_factory.mktemp("csv") / "spend.csv"
    with path.open("w", newline="", encoding="utf-8", errors="surrogatepass") as fh:
        csv.writer(fh).writerows(rows)
    reqs, s = _read(path)
    assert s.lines == len(rows) - 1


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


PARQUET = [FIXTURES / "producers" / "mlflow_traces.parquet", BLOB / "observations" / "2026-11-30T10-00-00.parquet",
           BLOB / "traces" / "2026-11-30T10-00-00.parquet"]
HOSTED_CSV = [FIXTURES / "hosted" / "langfuse" / "ui_export_observations.csv",
              FIXTURES / "hosted" / "helicone" / "export.csv"]


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
    _read(log)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_hosted_csv_rows_never_crash(tmp_path_factory, data):
    """A row of each hosted CSV export with cells swapped (JSON cells too), written back as CSV."""
    with data.draw(st.sampled_from(HOSTED_CSV)).open(encoding="utf-8", newline="") as fh:
        header, *rows = list(csv.reader(fh))
    row = list(data.draw(st.sampled_from(rows)))
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(row) - 1))
        row[at] = _cell(data, row[at])
    log = tmp_path_factory.mktemp("fuzz") / "mutated.csv"
    with log.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, quoting=csv.QUOTE_ALL).writerows([header, row])
    _read(log)
