"""The hosted producers' exports, laid out from their source (tests/fixtures/hosted/README.md), are read whole
and right: every count tiertool reads equals what the test computes from the raw fixture, call by call."""

from __future__ import annotations

import csv
import json
from collections import Counter
from typing import Any

import pytest

from tests.readkit import FIXTURES, Call, expected, jsonl, read, requests
from tiertool.ingest import read_logs

HERE = FIXTURES / "hosted"
LANGFUSE = HERE / "langfuse"
BLOB = LANGFUSE / "blob" / "cm4acmeprj0001lf"


def _json(value: Any) -> Any:
    """A CSV cell or blob column: JSON text (dates too, in the UI CSV) or the value itself."""
    if isinstance(value, str) and value[:1] in '[{"':
        return json.loads(value)
    return value


def _tools_whole(request: Any, output: Any) -> bool:
    """Tool calls in the answer or history need the tool definitions beside the messages."""
    messages = request["messages"] if isinstance(request, dict) else request
    used = bool((output or {}).get("tool_calls")) or any(m.get("tool_calls") or m["role"] == "tool" for m in messages)
    return not used or bool(isinstance(request, dict) and request.get("tools"))


def langfuse_calls(rows: list[dict[str, Any]], traces: dict[str, dict[str, Any]] | None = None) -> list[Call]:
    calls = []
    for row in (r for r in rows if r["type"] == "GENERATION"):
        camel = "traceId" in row
        trace = traces[row["trace_id"]] if traces is not None else {}
        name = trace.get("name") or row.get("traceName")
        tags = sorted(_json(trace.get("tags") or row.get("traceTags") or row.get("tags")))
        usage = _json(row["usageDetails" if camel else "usage_details"])
        cost = _json(row["totalCost" if camel else "total_cost"])
        calls.append(Call(f"{name} [{', '.join(tags)}]", row["model" if camel else "provided_model_name"],
                          row["level"] != "ERROR", _tools_whole(_json(row["input"]), _json(row["output"])),
                          sum(v for k, v in usage.items() if k.startswith("input")),
                          sum(v for k, v in usage.items() if k.startswith("output")),
                          usage.get("input_cached_tokens", 0), usage.get("output_reasoning_tokens", 0),
                          float(cost or 0)))
    return calls


def _csv(path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [{k: (None if v == "" else v) for k, v in row.items()} for row in csv.DictReader(fh)]


@pytest.mark.parametrize("name", ["ui_export_observations.json", "ui_export_observations.jsonl",
                                  "ui_export_observations.csv"])
def test_langfuse_ui_export_keeps_the_task_in_trace_tags(name: str) -> None:
    path = LANGFUSE / name
    rows = (json.loads(path.read_text(encoding="utf-8")) if name.endswith(".json") else
            jsonl(path) if name.endswith(".jsonl") else _csv(path))
    got = read(path)
    assert got == expected(langfuse_calls(rows), skipped=sum(r["type"] != "GENERATION" for r in rows))
    assert len(got["tasks"]) == len({tuple(_json(r["traceTags"])) for r in rows})  # not merged under one name


def test_langfuse_api_pages_one_line_and_indented() -> None:
    pages = sorted(LANGFUSE.glob("api_v2_observations.page*.json"))
    one_line, indented = [p for p in pages if "indented" not in p.name], [p for p in pages if "indented" in p.name]
    rows = [r for p in one_line for r in json.loads(p.read_text(encoding="utf-8"))["data"]]
    want = expected(langfuse_calls(rows), skipped=sum(r["type"] != "GENERATION" for r in rows))
    assert read(*one_line) == want == read(*indented)


@pytest.mark.parametrize("ext", ["jsonl", "parquet"])
def test_langfuse_blob_observations_are_joined_to_their_traces(ext: str) -> None:
    import pyarrow.parquet as pq

    def rows(table: str) -> list[dict[str, Any]]:
        path = BLOB / table / f"2026-11-30T10-00-00.{ext}"
        return jsonl(path) if ext == "jsonl" else pq.read_table(path).to_pylist(maps_as_pydicts="lossy")

    observations, traces = rows("observations"), {t["id"]: t for t in rows("traces")}
    calls = langfuse_calls(observations, traces)
    skipped = sum(r["type"] != "GENERATION" for r in observations)
    obs = BLOB / "observations" / f"2026-11-30T10-00-00.{ext}"
    assert read(obs) == expected(calls, skipped)  # the traces file beside it is found
    given = read(obs, BLOB / "traces" / f"2026-11-30T10-00-00.{ext}")  # given: each trace row is joined once
    assert given == expected(calls, skipped, joined=len({r["trace_id"] for r in observations}))


def helicone_calls(rows: list[dict[str, Any]]) -> list[Call]:
    calls = []
    for row in rows:
        req, resp = (_json(row.get(k)) for k in ("request_body", "response_body"))
        body = isinstance(req, dict) and "messages" in req
        anthropic = row.get("provider") == "ANTHROPIC"
        cache = row.get("prompt_cache_read_tokens") or 0
        calls.append(Call(_json(row["request_properties"])["task"],
                          (resp or {}).get("model") or row.get("request_model") or req["model"],
                          int(row["response_status"]) == 200, body,
                          int(row.get("prompt_tokens") or 0) + (cache if anthropic else 0),
                          int(row.get("completion_tokens") or 0), cache, 0, float(row.get("cost") or 0)))
    return calls


def _helicone_csv(path) -> list[dict[str, Any]]:
    """The export tool's CSV: object cells have their quotes doubled once more than CSV needs."""
    return [{k: v.replace('""', '"') if v.startswith('{""') else v for k, v in row.items() if v is not None}
            for row in _csv(path)]


@pytest.mark.parametrize("name", ["request_query_page.json", "export.jsonl", "export.json", "export.csv"])
def test_helicone_api_page_and_every_export_format(name: str) -> None:
    path = HERE / "helicone" / name
    text = path.read_text(encoding="utf-8")
    rows = (json.loads(text)["data"] if name == "request_query_page.json" else jsonl(path) if name.endswith("l") else
            json.loads(text[: -len(",\n]\n")] + "\n]") if name == "export.json" else _helicone_csv(path))
    assert read(path) == expected(helicone_calls(rows), skipped=0)


def test_braintrust_llm_spans_take_the_task_from_their_root_span() -> None:
    events = json.loads((HERE / "braintrust" / "project_logs_fetch.json").read_text(encoding="utf-8"))["events"]
    roots = {e["span_id"]: e for e in events if e["span_attributes"]["type"] != "llm"}
    calls = []
    for e in (e for e in events if e["span_attributes"]["type"] == "llm"):
        root, m = roots[e["root_span_id"]], e["metrics"]
        name, tags = root["span_attributes"]["name"], ", ".join(sorted(root["tags"]))
        calls.append(Call(f"{name} [{tags}]", e["metadata"]["model"], e["output"] is not None, True,
                          m.get("prompt_tokens", 0), m.get("completion_tokens", 0), m.get("prompt_cached_tokens", 0),
                          m.get("completion_reasoning_tokens", 0)))
    assert read(HERE / "braintrust" / "project_logs_fetch.json") == expected(calls, skipped=len(roots))


def test_weave_calls_of_openai_and_anthropic_ops() -> None:
    rows = jsonl(HERE / "weave" / "calls_stream_query.jsonl")
    calls = []
    for r in (r for r in rows if "/op/openai." in r["op_name"] or "/op/anthropic." in r["op_name"]):
        out, usage = r["output"] or {}, (r["output"] or {}).get("usage") or {}
        cache = usage.get("cache_read_input_tokens", 0) + usage.get("cache_creation_input_tokens", 0)
        details = usage.get("prompt_tokens_details") or {}
        cached = details.get("cached_tokens", usage.get("cache_read_input_tokens", 0))
        calls.append(Call(r["attributes"]["task"], out.get("model") or r["inputs"]["model"], r["exception"] is None,
                          True, usage.get("prompt_tokens", usage.get("input_tokens", 0) + cache),
                          usage.get("completion_tokens", usage.get("output_tokens", 0)), cached or 0))
    assert read(HERE / "weave" / "calls_stream_query.jsonl") == expected(calls, skipped=len(rows) - len(calls))


def test_langsmith_runs_query_page() -> None:
    runs = json.loads((HERE / "langsmith" / "runs_query.json").read_text(encoding="utf-8"))["runs"]
    calls = []
    for r in (r for r in runs if r["run_type"] == "llm"):
        usage = (r.get("outputs") or {}).get("usage_metadata") or {}
        calls.append(Call(r["extra"]["metadata"]["task"], (r.get("outputs") or {}).get("model") or r["inputs"]["model"],
                          r["status"] != "error", True, usage.get("input_tokens", 0), usage.get("output_tokens", 0),
                          usage.get("input_token_details", {}).get("cache_read", 0),
                          usage.get("output_token_details", {}).get("reasoning", 0), float(r.get("total_cost") or 0)))
    assert read(HERE / "langsmith" / "runs_query.json") == expected(calls, skipped=len(runs) - len(calls))


def openrouter_calls(with_content: bool) -> list[Call]:
    stats = [line["data"] for line in jsonl(HERE / "openrouter" / "generation_stats.jsonl")]
    content = [line["data"] for line in jsonl(HERE / "openrouter" / "generation_content.jsonl")]
    calls = []
    for s, c in zip(stats, content, strict=True):  # line N of one file is line N of the other
        tools = s["finish_reason"] == "tool_calls" or any(m["role"] == "tool" for m in c["input"]["messages"])
        calls.append(Call("untagged", s["provider_responses"][-1]["model_permaslug"],
                          s["provider_responses"][-1]["status"] == 200 and not c["error"], with_content and not tools,
                          s["native_tokens_prompt"], s["native_tokens_completion"], s["native_tokens_cached"],
                          s["native_tokens_reasoning"], s["total_cost"]))
    return calls


def test_openrouter_stats_and_content_read_in_step() -> None:
    stats, content = HERE / "openrouter" / "generation_stats.jsonl", HERE / "openrouter" / "generation_content.jsonl"
    assert read(stats) == expected(openrouter_calls(False), skipped=0)
    both = expected(openrouter_calls(True), skipped=0, joined=len(jsonl(content)))
    assert read(stats, content) == both == read(content, stats)
    reader = read_logs([content, stats])  # the task types are the system prompts' templates
    sizes = Counter(r.task for r in reader)
    prompts = Counter(line["data"]["input"]["messages"][0]["content"] for line in jsonl(content))
    # a prompt sent fewer than 3 times (TaskTyper.min_requests) is no task type: untagged
    assert sizes.pop("untagged", 0) == sum(n for n in prompts.values() if n < 3)
    assert sorted(sizes.values()) == sorted(n for n in prompts.values() if n >= 3)


def test_the_requests_keep_tools_and_answers_as_tool_calls() -> None:
    agent = [r for r in requests(LANGFUSE / "ui_export_observations.jsonl") if "order-agent" in r.task]
    first, second = sorted(agent, key=lambda r: r.time or 0)
    assert first.params["tools"][0]["function"]["name"] == "get_order_status" and first.output is None
    assert first.output_tool_calls[0]["function"] == {"name": "get_order_status", "arguments": '{"order_id": "5120"}'}
    assert [m["role"] for m in second.messages][-2:] == ["assistant", "tool"] and second.replayable
    helicone = [r for r in requests(HERE / "helicone" / "export.jsonl") if r.provider == "anthropic"]
    assert helicone and all(r.messages[0]["role"] == "system" and r.params["max_tokens"] == 256 for r in helicone)
    assert not [r for r in requests(HERE / "helicone" / "request_query_page.json") if r.replayable]
