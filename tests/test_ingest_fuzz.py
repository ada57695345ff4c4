"""Every format's parser, fed its own records (and one of each producer-written and hosted fixture) with values
swapped for arbitrary JSON: never a crash, and every line accounted for."""

from __future__ import annotations

import json

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
    otlp = ["otel_openai_v2_spans", "otel_openai_v2_events", "otel_openai_v2_legacy_events", "openllmetry_events",
            "openllmetry_legacy_spans", "openinference_spans"]
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
    reader = read_logs([log])
    reqs = list(reader)
    s = reader.stats
    assert s.records == len(reqs) and s.records + s.skipped == s.lines >= 1
    summary = inspect([log])  # and the summary of whatever was read renders
    assert summary["records"] == s.records and render_inspection(summary)
    json.dumps(summary)
