"""The OpenTelemetry, OpenLLMetry, OpenInference, LangSmith and MLflow fixtures their producers wrote
(tests/fixtures/producers/README-otel.md) are read whole and right: every count tiertool reads equals what the
test computes from the raw fixture, call by call, and a request the producer logged only in part is counted
but never replayed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.readkit import FIXTURES, Call, expected, jsonl, read, requests

HERE = FIXTURES / "producers"
APP = "tiertool.fixture.app"


def _value(v: dict[str, Any]) -> Any:
    for kind in ("stringValue", "boolValue", "doubleValue"):
        if kind in v:
            return v[kind]
    if "intValue" in v:
        return int(v["intValue"])
    if "arrayValue" in v:
        return [_value(x) for x in v["arrayValue"].get("values", [])]
    if "kvlistValue" in v:
        return {a["key"]: _value(a["value"]) for a in v["kvlistValue"].get("values", [])}
    return None


def _attrs(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {a["key"]: _value(a["value"]) for a in items}


def otlp(name: str) -> tuple[list[tuple[dict, dict]], dict[str, dict], dict[str, list[dict]]]:
    """(LLM spans with their attributes, app spans' attributes by id, log records by span id) of a raw file."""
    lines = jsonl(HERE / name)
    spans = [(sc["scope"]["name"], s) for r in lines for rs in r.get("resourceSpans", []) for sc in rs["scopeSpans"]
             for s in sc["spans"]]
    logs: dict[str, list[dict]] = {}
    for r in lines:
        for rl in r.get("resourceLogs", []):
            for sl in rl["scopeLogs"]:
                for rec in sl["logRecords"]:
                    logs.setdefault(rec["spanId"], []).append(rec)
    app = {s["spanId"]: _attrs(s["attributes"]) for scope, s in spans if scope == APP}
    return [(s, _attrs(s["attributes"])) for scope, s in spans if scope != APP], app, logs


def _semconv_ok(messages: list[dict], outputs: list[dict]) -> bool:
    """openai-v2 2.4b0 records no tool definitions and drops image parts: such requests are not whole."""
    parts = [p for m in messages + outputs for p in m["parts"]]
    return all(m["parts"] for m in messages) and not any(p["type"] == "tool_call" for p in parts)


def otel_calls(name: str) -> list[Call]:
    spans, app, logs = otlp(name)
    calls = []
    for span, a in spans:
        ok = span.get("status", {}).get("code") != 2
        oi = "openinference.span.kind" in a
        invocation = json.loads(a.get("llm.invocation_parameters", "{}"))
        model = a.get("llm.model_name") or invocation.get("model") if oi else (
            a.get("gen_ai.response.model") or a["gen_ai.request.model"])
        mine = logs.get(span["spanId"], [])
        details = [_attrs(r["attributes"]) for r in mine if r.get("eventName", "").endswith("operation.details")]
        if oi:  # the whole request is in input.value
            whole = True
        elif "gen_ai.input.messages" in a or details:  # parts: spans JSON text, the details log structured
            src = details[0] if details else {k: json.loads(a[k]) for k in ("gen_ai.input.messages",
                                                                              "gen_ai.output.messages") if k in a}
            tools_ok = "gen_ai.tool.definitions" in a or not any(
                p["type"] == "tool_call" for m in src["gen_ai.input.messages"] + src.get("gen_ai.output.messages", [])
                for p in m["parts"])
            whole = (tools_ok and all(m["parts"] for m in src["gen_ai.input.messages"])
                     if "gen_ai.tool.definitions" in a or "openllmetry" in name else
                     _semconv_ok(src["gen_ai.input.messages"], src.get("gen_ai.output.messages", [])))
        elif "gen_ai.prompt.0.role" in a:  # OpenLLMetry <= 0.54: every prompt message needs its content
            n = 1 + max(int(k.split(".")[2]) for k in a if k.startswith("gen_ai.prompt."))
            whole = all(f"gen_ai.prompt.{i}.content" in a or f"gen_ai.prompt.{i}.tool_calls.0.id" in a
                        for i in range(n))
        elif mine:  # v1.30 events: one log per message; no tool definitions anywhere
            whole = not any("tool_calls" in json.dumps(_value(r["body"])) for r in mine)
        else:  # no content captured
            whole = False
        fmt = a.get("gen_ai.output.type") or a.get("gen_ai.openai.request.response_format")
        partial = "gen_ai.request.structured_output_schema" in a or fmt not in (None, "text", "json_object")
        whole = whole and (oi or not partial)  # gen_ai.* keep only part of a response_format
        cached = (a.get("gen_ai.usage.cache_read.input_tokens") or a.get("gen_ai.usage.cache_read_input_tokens")
                  or a.get("llm.token_count.prompt_details.cache_read") or 0)
        reasoning = (a.get("gen_ai.usage.reasoning_tokens") or a.get("llm.usage.reasoning_tokens")
                     or a.get("llm.token_count.completion_details.reasoning") or 0)
        calls.append(Call(app[span["parentSpanId"]]["app.task"], model, ok, whole,
                          a.get("gen_ai.usage.input_tokens", a.get("llm.token_count.prompt", 0)),
                          a.get("gen_ai.usage.output_tokens", a.get("llm.token_count.completion", 0)),
                          cached, reasoning, a.get("llm.cost.total", 0.0)))  # cost: OpenInference's only
    return calls


OTLP = ["otel_openai_v2_spans", "otel_openai_v2_events", "otel_openai_v2_nocontent", "otel_openai_v2_legacy_events",
        "openllmetry_spans", "openllmetry_events", "openllmetry_legacy_spans", "openinference_spans",
        "openinference_genai_semconv"]


@pytest.mark.parametrize("name", OTLP)
def test_otlp_fixture_counts_equal_the_raw_file(name: str) -> None:
    spans, app, logs = otlp(f"{name}.otlp.jsonl")
    want = expected(otel_calls(f"{name}.otlp.jsonl"), skipped=len(app), joined=sum(map(len, logs.values())))
    assert read(HERE / f"{name}.otlp.jsonl") == want


@pytest.mark.parametrize("name", OTLP)
def test_every_answer_is_text_even_when_it_is_json(name: str) -> None:
    """An extraction's answer is JSON text; read as an object it crashed `init` and no scorer could compare it."""
    outputs = [r.output for r in requests(HERE / f"{name}.otlp.jsonl")]
    assert all(o is None or isinstance(o, str) for o in outputs), outputs


def test_the_producers_lossy_requests_are_counted_with_their_reason() -> None:
    """What each producer did not keep (README-otel 'Surprises') is named, and the request is not replayed."""
    def reasons(name: str) -> dict[str, str]:
        return {r.task: r.unreplayable for r in requests(HERE / name) if r.unreplayable}

    v2 = reasons("otel_openai_v2_spans.otlp.jsonl")
    assert "no parts" in v2["describe_image"] and "no tool definitions" in v2["weather_agent"]
    assert "gen_ai.output.type" in v2["extract"]
    assert "JSON schema but not its name" in reasons("openllmetry_spans.otlp.jsonl")["extract"]
    assert "without its content" in reasons("openllmetry_legacy_spans.otlp.jsonl")["describe_image"]
    assert "'json_schema', without its schema" in reasons("otel_openai_v2_legacy_events.otlp.jsonl")["extract"]
    assert set(reasons("openinference_spans.otlp.jsonl")) == set()
    assert "mlflow-attachment" in reasons("mlflow_traces.jsonl")["describe_image"]


def test_a_replayable_request_keeps_what_was_sent() -> None:
    """The tools, tool choice, response format, image part, tool-call history and reasoning parameters of the
    scenario (genai_scenario.py) are on the request, and an answer that is a tool call keeps its calls."""
    by = {}
    for r in requests(HERE / "openinference_spans.otlp.jsonl"):
        by.setdefault(r.task, []).append(r)
    first, second = by["weather_agent"]
    assert first.params["tools"][0]["function"]["name"] == "get_weather"
    assert (first.params["tool_choice"], first.params["parallel_tool_calls"]) == ("auto", True)
    assert [c["function"]["arguments"] for c in first.output_tool_calls] == ['{"city": "Paris"}', '{"city": "Rome"}']
    assert [m["role"] for m in second.messages] == ["user", "assistant", "tool", "tool"]
    assert second.messages[2]["tool_call_id"] == "call_paris" and second.session_id == "agent-7"
    (image,) = by["describe_image"]
    assert image.messages[0]["content"][1]["image_url"]["detail"] == "low"
    assert by["extract"][0].params["response_format"]["json_schema"]["strict"] is True
    (plan,) = by["plan"]
    assert plan.params == {"max_completion_tokens": 256, "reasoning_effort": "low"} and plan.reasoning_tokens == 192
    assert (plan.model, plan.requested_model) == ("o4-mini-2025-04-16", "o4-mini")
    legacy = [r for r in requests(HERE / "openllmetry_legacy_spans.otlp.jsonl") if r.task == "weather_agent"]
    assert legacy[1].messages[1]["tool_calls"][1]["id"] == "call_rome" and legacy[1].params["tools"]


def test_console_dump_reads_as_the_otlp_spans() -> None:
    spans, app, _ = otlp("otel_openai_v2_spans.otlp.jsonl")
    want = expected(otel_calls("otel_openai_v2_spans.otlp.jsonl"), skipped=len(app))
    text = (HERE / "otel_openai_v2_console.txt").read_text(encoding="utf-8")
    decoder, console, at = json.JSONDecoder(), [], 0
    while at < len(text.rstrip()):
        span, at = decoder.raw_decode(text, at)
        console.append(span)
        at += len(text[at:]) - len(text[at:].lstrip())
    assert len(console) == len(spans) + len(app)  # the same run printed: the same counts
    assert read(HERE / "otel_openai_v2_console.txt") == want


def langsmith_calls(runs: list[dict]) -> list[Call]:
    calls = []
    for r in (r for r in runs if r["run_type"] == "llm"):
        gen = r["outputs"]["generations"][0][0]["message"]["kwargs"]
        usage = gen.get("usage_metadata") or {}
        model = gen["response_metadata"].get("model_name") or r["extra"]["invocation_params"]["model"]
        calls.append(Call(r["extra"]["metadata"]["task"], model, r["error"] is None, True, usage.get("input_tokens", 0),
                          usage.get("output_tokens", 0), usage.get("input_token_details", {}).get("cache_read", 0),
                          usage.get("output_token_details", {}).get("reasoning", 0)))
    return calls


def test_langsmith_runs_from_the_langchain_tracer() -> None:
    runs = jsonl(HERE / "langsmith_runs.jsonl")
    want = expected(langsmith_calls(runs), skipped=sum(r["run_type"] != "llm" for r in runs))
    assert read(HERE / "langsmith_runs.jsonl") == want


def mlflow_calls(traces: list[dict]) -> tuple[list[Call], int]:
    calls, other = [], 0
    for t in traces:
        for s in t["data"]["spans"]:
            a = {k: json.loads(v) for k, v in s["attributes"].items()}
            if a.get("mlflow.spanType") != "CHAT_MODEL":
                other += 1
                continue
            ok = s["status"]["code"] != "STATUS_CODE_ERROR"
            out = a.get("mlflow.spanOutputs") if ok else None
            usage = out["usage"] if out else {}
            image = "mlflow-attachment://" in json.dumps(a["mlflow.spanInputs"])
            calls.append(Call(t["info"]["tags"]["task"], out["model"] if out else a["model"], ok, not image,
                              usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0),
                              (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0),
                              (usage.get("completion_tokens_details") or {}).get("reasoning_tokens", 0),
                              a.get("mlflow.llm.cost", {}).get("total_cost", 0.0)))
    return calls, other


def test_mlflow_traces_as_json_lines_and_parquet() -> None:
    import pyarrow.parquet as pq

    calls, other = mlflow_calls(jsonl(HERE / "mlflow_traces.jsonl"))
    assert read(HERE / "mlflow_traces.jsonl") == expected(calls, skipped=other)
    rows = pq.read_table(HERE / "mlflow_traces.parquet").to_pylist()
    calls, other = mlflow_calls([json.loads(row["trace"]) for row in rows])
    assert read(HERE / "mlflow_traces.parquet") == expected(calls, skipped=other)


@pytest.mark.parametrize("name", ["otel_openai_v2_events", "otel_openai_v2_legacy_events", "openllmetry_events"])
def test_logs_in_a_file_of_their_own_join_their_spans(tmp_path, name: str) -> None:
    """A Collector with one file exporter per pipeline: traces and logs in separate files, given in any order."""
    lines = jsonl(HERE / f"{name}.otlp.jsonl")
    traces, logs = tmp_path / "traces.jsonl", tmp_path / "logs.jsonl"
    traces.write_text("".join(json.dumps(r) + "\n" for r in lines if "resourceSpans" in r), encoding="utf-8")
    logs.write_text("".join(json.dumps(r) + "\n" for r in lines if "resourceLogs" in r), encoding="utf-8")
    whole = read(HERE / f"{name}.otlp.jsonl")
    assert read(traces, logs) == whole == read(logs, traces)
