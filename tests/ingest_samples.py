"""Small logs in each supported format, written from the formats' published schemas (OpenAI Batch API,
Anthropic Message Batches, LiteLLM SpendLogs / StandardLoggingPayload, Langfuse exports, Helicone exports,
OTLP JSON with the GenAI semantic conventions, simonw/llm logs). Each returns what a test should find."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

SYSTEM = "Classify the support ticket into one of: billing, bug, shipping. Answer with the label only."


def jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def chat_completion(text: str, model: str = "gpt-4o-2024-08-06", prompt: int = 50, completion: int = 3,
                    cached: int = 0) -> dict:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1767225600, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                      "prompt_tokens_details": {"cached_tokens": cached},
                      "completion_tokens_details": {"reasoning_tokens": 0}}}


def openai_batch(tmp: Path) -> tuple[Path, Path]:
    inputs = [{"custom_id": f"req-{i}", "method": "POST", "url": "/v1/chat/completions",
               "body": {"model": "gpt-4o", "temperature": 0,
                        "messages": [{"role": "system", "content": SYSTEM},
                                     {"role": "user", "content": f"Order {i} never arrived"}]}} for i in range(3)]
    outputs = [{"id": f"batch_req_{i}", "custom_id": f"req-{i}",
                "response": {"status_code": 200, "request_id": f"r{i}", "body": chat_completion("shipping", cached=16)},
                "error": None} for i in (2, 0)]
    outputs.append({"id": "batch_req_1", "custom_id": "req-1", "response": None,
                    "error": {"code": "server_error", "message": "boom"}})
    return jsonl(tmp / "batch_input.jsonl", inputs), jsonl(tmp / "batch_output.jsonl", outputs)


def anthropic_message(text: str = "bug") -> dict:
    return {"id": "msg_01", "type": "message", "role": "assistant", "model": "claude-3-5-haiku-20241022",
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 20, "output_tokens": 4, "cache_creation_input_tokens": 100,
                      "cache_read_input_tokens": 1000}}


def anthropic_batch(tmp: Path) -> tuple[Path, Path]:
    requests = [{"custom_id": f"t-{i}", "params": {"model": "claude-3-5-haiku-20241022", "max_tokens": 16,
                                                   "system": SYSTEM, "metadata": {"task": "triage"},
                                                   "messages": [{"role": "user", "content": f"App crash #{i}"}]}}
                for i in range(2)]
    results = [{"custom_id": "t-0", "result": {"type": "succeeded", "message": anthropic_message()}},
               {"custom_id": "t-1", "result": {"type": "errored",
                                               "error": {"type": "error", "error": {"type": "overloaded_error"}}}},
               {"custom_id": "t-9", "result": {"type": "expired"}}]
    return jsonl(tmp / "anthropic_requests.jsonl", requests), jsonl(tmp / "anthropic_results.jsonl", results)


def litellm_payload(tmp: Path) -> Path:
    base = {"id": "chatcmpl-abc", "trace_id": "tr-1", "call_type": "acompletion", "response_cost": 0.00042,
            "response_cost_failure_debug_info": None, "status": "success", "total_tokens": 60,
            "prompt_tokens": 50, "completion_tokens": 10, "startTime": 1767225600.0, "endTime": 1767225601.5,
            "completionStartTime": 1767225600.9, "model_map_information": {"model_map_key": "gpt-4o-mini"},
            "model": "gpt-4o-mini", "model_id": "dep-1", "model_group": "small", "api_base": "https://api.openai.com",
            "metadata": {"user_api_key_hash": "h", "requester_metadata": {"task": "triage"}},
            "cache_hit": False, "cache_key": None, "saved_cache_cost": 0.0, "request_tags": [],
            "end_user": None, "requester_ip_address": None,
            "messages": [{"role": "user", "content": "Where is my parcel 42?"}],
            "response": chat_completion("shipping", model="gpt-4o-mini-2024-07-18", prompt=50, completion=10),
            "error_str": None, "model_parameters": {"temperature": 0.2},
            "hidden_params": {"model_id": "dep-1", "cache_key": None, "api_base": "https://api.openai.com",
                              "response_cost": "0.00042", "additional_headers": {}},
            "custom_llm_provider": "openai"}
    redacted = {**base, "id": "chatcmpl-def", "request_tags": ["feature:search"],
                "messages": [{"role": "user", "content": "redacted-by-litellm"}], "response": {}}
    embedding = {**base, "id": "emb-1", "call_type": "aembedding"}
    return jsonl(tmp / "payload.jsonl", [base, redacted, embedding])


def langfuse_bucket(tmp: Path) -> Path:
    gen = {"id": "obs-1", "trace_id": "trace-1", "project_id": "p", "type": "GENERATION", "name": "chat",
           "start_time": "2026-01-01 00:00:00.000000", "end_time": "2026-01-01 00:00:02.000000",
           "level": "DEFAULT", "status_message": None, "version": None,
           "input": json.dumps([{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Refund 12"}]),
           "output": json.dumps({"role": "assistant", "content": "billing"}),
           "provided_model_name": "gpt-4o", "internal_model_id": "m1",
           "model_parameters": {"temperature": "0", "max_tokens": "5"},
           "usage_details": {"input": 40, "output": 2, "total": 42, "input_cached_tokens": 8},
           "cost_details": {"input": 0.0001, "output": 0.00002, "total": 0.00012}, "total_cost": 0.00012,
           "tags": ["prod"], "trace_name": "ticket-triage", "user_id": "u", "session_id": "s", "metadata": "{}"}
    span = {**gen, "id": "obs-2", "type": "SPAN", "provided_model_name": None}
    return jsonl(tmp / "langfuse_observations.jsonl", [gen, span])


def langfuse_api(tmp: Path) -> Path:
    obs = {"id": "obs-9", "traceId": "trace-9", "type": "GENERATION", "name": "summarize",
           "startTime": "2026-01-02T10:00:00.000Z", "endTime": "2026-01-02T10:00:01.000Z",
           "input": {"messages": [{"role": "user", "content": "Summarize: the cat sat."}]},
           "output": {"role": "assistant", "content": "A cat sat."}, "providedModelName": "gpt-4o-mini",
           "modelParameters": {"temperature": "0.3"}, "usageDetails": {"input": 12, "output": 4},
           "costDetails": {"total": 0.00001}, "calculatedTotalCost": 0.00001, "level": "DEFAULT",
           "metadata": {"task": "summarize"}}
    path = tmp / "langfuse_api.json"
    path.write_text(json.dumps({"data": [obs], "meta": {"page": 1, "totalItems": 1}}, indent=2), encoding="utf-8")
    return path


def helicone(tmp: Path) -> Path:
    full = {"request_id": "h-1", "request_created_at": "2026-01-03T08:00:00.000Z",
            "request_path": "/v1/chat/completions",
            "request_body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi there"}],
                             "temperature": 0.5},
            "response_body": chat_completion("Hello!", model="gpt-4o-mini"), "response_status": 200,
            "request_properties": {"Task": "greeting", "App": "web"}, "provider": "OPENAI", "model": "gpt-4o-mini",
            "prompt_tokens": 9, "completion_tokens": 2, "prompt_cache_read_tokens": 0, "cost": 0.000003,
            "delay_ms": 350}
    no_body = {k: v for k, v in full.items() if k not in ("request_body", "response_body")} | {"request_id": "h-2"}
    return jsonl(tmp / "helicone.jsonl", [full, no_body])


def _attr(key: str, value) -> dict:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    if isinstance(value, list):
        return {"key": key, "value": {"arrayValue": {"values": [{"stringValue": v} for v in value]}}}
    return {"key": key, "value": {"stringValue": value}}


def otel_document(tmp: Path) -> Path:
    captured = {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": "chat gpt-4o",
                "kind": 3, "startTimeUnixNano": "1767225600000000000", "endTimeUnixNano": "1767225601000000000",
                "attributes": [_attr(k, v) for k, v in {
                    "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06",
                    "gen_ai.request.temperature": 0.0, "gen_ai.usage.input_tokens": 30,
                    "gen_ai.usage.output_tokens": 3, "gen_ai.usage.cache_read.input_tokens": 10,
                    "gen_ai.response.finish_reasons": ["stop"], "app.task": "triage",
                    "gen_ai.system_instructions": json.dumps([{"type": "text", "content": SYSTEM}]),
                    "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text",
                                                                                      "content": "Charged twice"}]}]),
                    "gen_ai.output.messages": json.dumps([{"role": "assistant", "finish_reason": "stop",
                                                           "parts": [{"type": "text", "content": "billing"}]}]),
                }.items()], "status": {"code": 1}}
    no_content = {**captured, "spanId": "aaa", "attributes": [_attr(k, v) for k, v in {
        "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 5,
        "gen_ai.usage.output_tokens": 1}.items()]}
    http = {**captured, "spanId": "bbb", "name": "GET /", "attributes": [_attr("http.method", "GET")]}
    doc = {"resourceSpans": [{"resource": {"attributes": [_attr("service.name", "support-bot")]},
                              "scopeSpans": [{"scope": {"name": "opentelemetry.instrumentation.openai"},
                                              "spans": [captured, no_content, http]}]}]}
    path = tmp / "traces.json"
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


LLM_ROW = {"id": "01j0000000000000000000000", "model": "gpt-4o-mini", "resolved_model": None,
           "prompt": "Ten names for a pet pelican", "system": "Be brief", "prompt_json": None,
           "options_json": json.dumps({"temperature": 0.7}), "response": "Pelly, Gulp, ...",
           "response_json": None, "conversation_id": "01jconv", "duration_ms": 1200,
           "datetime_utc": "2026-01-04T12:00:00.000000", "input_tokens": 12, "output_tokens": 20,
           "token_details": None}


def llm_json(tmp: Path) -> Path:
    rows = [LLM_ROW | {"conversation_name": "Ten names", "conversation_model": "gpt-4o-mini", "attachments": []},
            LLM_ROW | {"id": "01j2", "prompt": "Five names for a pet crab", "conversation_name": "Five"}]
    path = tmp / "llm-logs.json"
    path.write_text(json.dumps(rows, indent=2), encoding="utf-8")  # `llm logs --json` prints one array
    return path


def llm_db(tmp: Path) -> Path:
    path = tmp / "logs.db"
    con = sqlite3.connect(path)
    cols = ", ".join(f"[{k}]" for k in LLM_ROW)
    con.execute(f"CREATE TABLE responses ({cols})")
    for i in range(3):
        row = LLM_ROW | {"id": f"r{i}", "prompt": f"Name number {i} for a pelican"}
        con.execute(f"INSERT INTO responses VALUES ({', '.join('?' * len(row))})", list(row.values()))
    con.commit()
    con.close()
    return path
