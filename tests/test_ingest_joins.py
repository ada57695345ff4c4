"""Joins keep every unit accounted for: whichever export lines, trace rows or paired lines are given, in any
order, `lines + joined` is every unit given, each LLM call is one record, and no unit is counted twice. And a
trace join holds only the traces still in flight, not the log."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.readkit import FIXTURES, jsonl
from tiertool.errors import InputError
from tiertool.ingest import read_logs
from tiertool.ingest.traces import TraceJoin

P, H = FIXTURES / "producers", FIXTURES / "hosted"
OTLP = jsonl(P / "otel_openai_v2_events.otlp.jsonl") + jsonl(P / "openllmetry_events.otlp.jsonl")
BLOB = H / "langfuse" / "blob" / "cm4acmeprj0001lf"
OBSERVATIONS = jsonl(BLOB / "observations" / "2026-11-30T10-00-00.jsonl")
TRACES = jsonl(BLOB / "traces" / "2026-11-30T10-00-00.jsonl")
STATS = jsonl(H / "openrouter" / "generation_stats.jsonl")
CONTENT = jsonl(H / "openrouter" / "generation_content.jsonl")
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _read(*paths: Path):
    """Read the files; a subset that gives no record is an InputError, after every unit is accounted for."""
    reader = read_logs(list(paths), infer_tasks=False)
    try:
        reqs = list(reader)
    except InputError:
        assert reader.stats.records == 0
        reqs = []
    st = reader.stats
    assert st.records == len(reqs) and st.records + st.skipped == st.lines
    return reqs, st


def _units(line: dict) -> tuple[int, int, int]:
    """(spans, of which LLM spans, log records) of an OTLP export line."""
    spans = [(sc["scope"]["name"], s) for rs in line.get("resourceSpans", []) for sc in rs["scopeSpans"]
             for s in sc["spans"]]
    logs = sum(len(sl["logRecords"]) for rl in line.get("resourceLogs", []) for sl in rl["scopeLogs"])
    return len(spans), sum(scope != "tiertool.fixture.app" for scope, _ in spans), logs


@SETTINGS
@given(st.lists(st.sampled_from(range(len(OTLP))), max_size=12, unique=True))
def test_otlp_spans_and_logs_in_any_subset_and_order(tmp_path_factory, picked):
    lines = [OTLP[i] for i in picked]
    path = _write(tmp_path_factory.mktemp("otlp") / "export.jsonl", lines)
    if not lines:
        return
    reqs, st = _read(path)
    spans, llm, logs = map(sum, zip(*map(_units, lines), strict=True))
    assert st.lines + st.joined == spans + logs and st.records == llm and st.joined <= logs
    assert sum(r.replayable for r in reqs) <= st.joined  # content comes only from the logs joined


@SETTINGS
@given(st.integers(0, len(STATS)), st.integers(0, len(CONTENT)), st.booleans())
def test_openrouter_files_of_any_length_pair_line_by_line(tmp_path_factory, a, b, content_first):
    tmp = tmp_path_factory.mktemp("or")
    stats, content = _write(tmp / "stats.jsonl", STATS[:a]), _write(tmp / "content.jsonl", CONTENT[:b])
    given_paths = [p for p, n in ((stats, a), (content, b)) if n]
    if not given_paths:
        return
    reqs, st = _read(*(reversed(given_paths) if content_first else given_paths))
    paired = min(a, b) if a and b else 0
    assert st.lines + st.joined == a + b and st.joined == paired and st.records == a
    assert sum(r.replayable for r in reqs) <= paired


@SETTINGS
@given(st.sets(st.sampled_from(range(len(OBSERVATIONS)))), st.sets(st.sampled_from(range(len(TRACES)))))
def test_langfuse_observations_join_whichever_trace_rows_are_given(tmp_path_factory, obs, traces):
    tmp = tmp_path_factory.mktemp("lf")
    rows = [OBSERVATIONS[i] for i in sorted(obs)]
    given_traces = [TRACES[i] for i in sorted(traces)]
    paths = ([_write(tmp / "observations.jsonl", rows)] if rows else []) + (
        [_write(tmp / "traces.jsonl", given_traces)] if given_traces else [])
    if not paths:
        return
    reqs, st = _read(*paths)
    known = {t["id"] for t in given_traces}
    joined = {r["trace_id"] for r in rows} & known
    assert st.lines + st.joined == len(rows) + len(given_traces) and st.joined == len(joined)
    assert st.records == sum(r["type"] == "GENERATION" for r in rows)
    assert all(r.tags for r in reqs if r.trace_id in known)


def test_a_trace_join_holds_only_the_traces_in_flight():
    """10,000 traces a minute apart: a trace is given out once the log's time is 5 minutes past it, so the join
    never holds more than a few of them, and every span is given out in order."""
    join, out, most = TraceJoin(window=300.0), [], 0
    for n in range(10_000):
        t, now = f"t{n}", 60.0 * n
        out += join.span("f", f"f:{n}", t, "llm", "app", {}, {"n": n}, now + 1)
        out += join.span("f", f"f:{n}a", t, "app", None, {"app.task": "x"}, None, now + 2)
        most = max(most, len(join.traces))
    out += join.finish()
    assert most <= 7 and [item[2]["n"] for item in out] == list(range(10_000))
    assert all(item[2]["_context"] == {"app.task": "x"} for item in out)
