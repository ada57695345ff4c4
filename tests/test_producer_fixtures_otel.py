"""The OTel / OpenInference / OpenLLMetry / LangSmith / MLflow fixtures that the producers wrote are there, whole,
in their container formats, with their provenance; and the loopback `Answer` they were made with answers as sent.

Counts come from each fixture's `.producer.json` (what the generating script sent) and are checked against the raw
fixture, so a fixture that lost calls, or a log whose events lost their spans, fails here.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.loopback import Answer, Fail, LoopbackLLM, ToolCall

HERE = Path(__file__).resolve().parent / "fixtures" / "producers"
APP_SCOPE = "tiertool.fixture.app"  # the scripts' own parent spans; every other span is the producer's LLM span
OTLP = ["otel_openai_v2_spans", "otel_openai_v2_events", "otel_openai_v2_nocontent", "otel_openai_v2_legacy_events",
        "openllmetry_spans", "openllmetry_events", "openllmetry_legacy_spans", "openinference_spans",
        "openinference_genai_semconv"]
WITH_LOGS = {"otel_openai_v2_events", "otel_openai_v2_legacy_events", "openllmetry_events"}
FIXTURES = [f"{name}.otlp.jsonl" for name in OTLP] + [
    "otel_openai_v2_console.txt", "langsmith_runs.jsonl", "langsmith_ingest.jsonl", "mlflow_traces.parquet",
    "mlflow_traces.jsonl"]
VERSION = re.compile(r"^\d+(\.\d+)+([ab]|rc|\.post|\.dev)?\d*$")


def provenance(name: str) -> dict[str, Any]:
    return json.loads((HERE / f"{name}.producer.json").read_text())


def jsonl(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (HERE / name).read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_is_small_and_names_its_producer(name: str) -> None:
    path = HERE / name
    assert 0 < path.stat().st_size < 1_000_000
    record = provenance(name)
    assert record["fixture"] == name
    assert record["producer_packages"]
    assert all(VERSION.match(v) for v in record["producer_packages"].values()), record["producer_packages"]
    script = record["command"].split()[-1]
    assert (HERE.parents[2] / script).is_file()
    date.fromisoformat(record["date"])
    assert record["llm_calls_served"] == record["llm_calls"] and record["failed_calls_seen"] == record["failed_calls"]


def _spans(requests: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(scope["scope"]["name"], span) for r in requests for resource in r.get("resourceSpans", [])
            for scope in resource["scopeSpans"] for span in scope["spans"]]


@pytest.mark.parametrize("name", OTLP)
def test_otlp_fixture_is_collector_file_exporter_json(name: str) -> None:
    """One OTLP JSON export request a line, hex ids, every LLM call a child span of its app span; event logs, where
    written, each belong to one LLM span of the same file."""
    requests = jsonl(f"{name}.otlp.jsonl")
    record = provenance(f"{name}.otlp.jsonl")
    assert len(requests) == record["lines"]
    assert all(set(r) <= {"resourceSpans", "resourceLogs"} and r for r in requests)
    spans = _spans(requests)
    app = {s["spanId"]: s for scope, s in spans if scope == APP_SCOPE}
    llm = [s for scope, s in spans if scope != APP_SCOPE]
    assert len(llm) == record["llm_calls"]
    assert all(re.fullmatch("[0-9a-f]{32}", s["traceId"]) and re.fullmatch("[0-9a-f]{16}", s["spanId"]) for s in llm)
    assert all(app[s["parentSpanId"]]["traceId"] == s["traceId"] for s in llm)
    assert {a["key"] for s in app.values() for a in s["attributes"]} >= {"app.task"}
    assert sum(s.get("status", {}).get("code") == 2 for s in llm) == record["failed_calls"]
    logs = [log for r in requests for resource in r.get("resourceLogs", []) for scope in resource["scopeLogs"]
            for log in scope["logRecords"]]
    assert bool(logs) == (name in WITH_LOGS)
    llm_ids = {(s["traceId"], s["spanId"]) for s in llm}
    assert all((log["traceId"], log["spanId"]) in llm_ids for log in logs)


def test_console_dump_is_concatenated_span_json() -> None:
    """ConsoleSpanExporter prints each span as an indented JSON object, one after another, not JSON lines."""
    text = (HERE / "otel_openai_v2_console.txt").read_text(encoding="utf-8")
    decoder, spans, at = json.JSONDecoder(), [], 0
    while at < len(text):
        span, at = decoder.raw_decode(text, at)
        spans.append(span)
        at += len(text[at:]) - len(text[at:].lstrip())
    record = provenance("otel_openai_v2_console.txt")
    assert len(text.splitlines()) == record["lines"]
    llm = [s for s in spans if s["kind"] == "SpanKind.CLIENT"]
    assert len(llm) == record["llm_calls"]
    assert {s["context"]["span_id"] for s in spans} >= {s["parent_id"] for s in llm}


def test_langsmith_runs_are_chains_with_llm_children() -> None:
    runs = jsonl("langsmith_runs.jsonl")
    record = provenance("langsmith_runs.jsonl")
    assert len(runs) == record["runs"]
    chains = {r["id"]: r for r in runs if r["run_type"] == "chain"}
    llm = [r for r in runs if r["run_type"] == "llm"]
    assert len(llm) == record["llm_calls"]
    assert all(chains[r["parent_run_id"]]["trace_id"] == r["trace_id"] for r in llm)
    assert all(r["tags"] and r["extra"]["metadata"]["task"] == r["tags"][0] for r in runs)
    assert sum(r["error"] is not None for r in llm) == record["failed_calls"]
    ingest = jsonl("langsmith_ingest.jsonl")
    assert len(ingest) == record["requests"]
    posted = {p["name"].split(".")[1] for r in ingest for p in r.get("parts", []) if p["name"].startswith("post.")}
    assert posted == {r["id"] for r in runs}


def test_mlflow_parquet_and_json_hold_the_same_traces() -> None:
    import pyarrow.parquet as pq

    table = pq.read_table(HERE / "mlflow_traces.parquet")
    traces = jsonl("mlflow_traces.jsonl")
    record = provenance("mlflow_traces.parquet")
    assert table.num_rows == len(traces) == record["traces"]
    assert table.column_names == record["columns"]
    assert table.column("trace_id").to_pylist() == [t["info"]["trace_id"] for t in traces]
    chat = [s for t in traces for s in t["data"]["spans"] if s["parent_span_id"]]
    assert len(chat) == record["llm_calls"]
    assert sum(s["status"]["code"] == "STATUS_CODE_ERROR" for s in chat) == record["failed_calls"]
    assert [t["info"]["tags"]["task"] for t in traces] == [tags["task"] for tags in table.column("tags").to_pylist()]


def test_loopback_reply_answers_with_tool_calls_dated_model_usage_and_errors() -> None:
    """The fixture scripts' answers: a tool call under a dated model name with detailed usage, or an HTTP error."""
    import openai

    def answer(model: str, messages: list[dict[str, Any]]) -> Answer | str:
        if messages[-1]["content"] == "fail":
            raise Fail(400, "too long")
        if messages[-1]["content"] == "tool":
            return Answer(tool_calls=(ToolCall("f", {}, "call_1"),), model=f"{model}-2024-08-06",
                          input_tokens=7, output_tokens=3, cached_tokens=4)
        return "plain"

    with LoopbackLLM(answer) as server:
        client = openai.OpenAI(base_url=server.api_base, api_key="sk-test", max_retries=0)
        got = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "tool"}])
        assert got.model == "gpt-4o-2024-08-06" and got.choices[0].finish_reason == "tool_calls"
        assert got.choices[0].message.tool_calls[0].id == "call_1"
        assert got.usage.prompt_tokens_details.cached_tokens == 4
        plain = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        assert plain.choices[0].message.content == "plain" and plain.usage.total_tokens == 15
        with pytest.raises(openai.BadRequestError, match="too long"):
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "fail"}])
        assert len(server.requests) == 3 and len(server.calls) == 2  # a refused call is a request, not a call
