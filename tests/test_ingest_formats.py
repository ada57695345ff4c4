"""Each supported log format, read from files written to its published schema."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests import ingest_samples as S
from tiertool.cli import app
from tiertool.ingest import read_logs

runner = CliRunner()


def read(*paths, **kw):
    reader = read_logs(list(paths), **kw)
    reqs = list(reader)
    st = reader.stats
    assert st.records + st.skipped == st.lines
    return reqs, st


def test_openai_batch_input_joined_with_output(tmp_path):
    inp, out = S.openai_batch(tmp_path)
    reqs, st = read(inp, out)
    assert st.formats == {str(inp): "openai-batch-input", str(out): "openai-batch-output"}
    assert (st.lines, st.records, st.skipped, st.joined) == (3, 3, 0, 3)
    by = {r.id: r for r in reqs}
    ok = by["req-0"]
    assert ok.is_batch and ok.replayable and ok.output == "shipping"
    assert ok.model == "gpt-4o-2024-08-06" and ok.requested_model == "gpt-4o"
    assert (ok.input_tokens, ok.output_tokens, ok.cached_tokens) == (50, 3, 16)
    assert ok.params == {"temperature": 0} and ok.system == S.SYSTEM
    assert by["req-1"].status == "error" and not by["req-1"].replayable and by["req-1"].model == "gpt-4o"


def test_openai_batch_output_alone_counts_for_volume_only(tmp_path):
    _, out = S.openai_batch(tmp_path)
    reqs, st = read(out)
    assert st.records == 3 and st.joined == 0
    assert not any(r.replayable for r in reqs)
    assert sum(r.input_tokens for r in reqs) == 100


def test_anthropic_batch_results_normalise_input_tokens(tmp_path):
    requests, results = S.anthropic_batch(tmp_path)
    reqs, st = read(requests, results)
    assert (st.records, st.joined, st.lines) == (3, 2, 3)  # t-9 has no request line: volume only
    by = {r.id: r for r in reqs}
    ok = by["t-0"]
    # input_tokens 20 + cache read 1000 + cache write 100, in OpenAI's convention (cached included)
    assert (ok.input_tokens, ok.cached_tokens, ok.cache_write_tokens, ok.output_tokens) == (1120, 1000, 100, 4)
    assert ok.output == "bug" and ok.finish_reason == "end_turn" and ok.replayable
    assert ok.messages[0] == {"role": "system", "content": S.SYSTEM}
    assert (ok.task, ok.task_source) == ("triage", "metadata")
    assert by["t-1"].status == "errored" and not by["t-1"].replayable
    assert by["t-9"].status == "expired"


def test_anthropic_message_objects(tmp_path):
    path = S.jsonl(tmp_path / "msgs.jsonl", [
        S.anthropic_message(),
        {"request": {"model": "claude-3-5-haiku-latest", "system": [{"type": "text", "text": "Be terse"}],
                     "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10},
         "response": S.anthropic_message("hello"), "tags": ["task:greet"]},
    ])
    reqs, st = read(path)
    assert st.formats[str(path)] == "anthropic-message"
    bare, wrapped = reqs
    assert not bare.replayable and bare.input_tokens == 1120
    assert wrapped.replayable and wrapped.system == "Be terse" and wrapped.task == "greet"
    assert wrapped.params == {"max_tokens": 10} and wrapped.requested_model == "claude-3-5-haiku-latest"


def test_litellm_standard_logging_payload(tmp_path):
    reqs, st = read(S.litellm_payload(tmp_path))
    assert st.records == 2 and st.skipped == 1
    assert "call_type 'aembedding' is not a chat/text completion" in st.reasons
    ok, redacted = reqs
    assert ok.model == "gpt-4o-mini" and ok.requested_model == "small"  # the deployment, not response.model
    assert ok.cost == pytest.approx(0.00042) and ok.cost_source == "logged"
    assert (ok.task, ok.task_source) == ("triage", "metadata") and ok.latency_s == pytest.approx(1.5)
    assert ok.params == {"temperature": 0.2} and ok.trace_id == "tr-1" and ok.provider == "openai"
    assert not redacted.replayable and (redacted.task, redacted.task_source) == ("search", "tag")


def test_langfuse_bucket_export(tmp_path):
    reqs, st = read(S.langfuse_bucket(tmp_path))
    assert st.skipped == 1 and "observation of type 'SPAN', not a GENERATION" in st.reasons
    (r,) = reqs
    assert r.model == "gpt-4o" and r.output == "billing" and r.messages[1]["content"] == "Refund 12"
    assert (r.task, r.task_source) == ("ticket-triage [prod]", "tag")  # trace name with the trace's tags
    assert (r.input_tokens, r.output_tokens, r.cached_tokens) == (48, 2, 8)  # Langfuse's input excludes cached
    assert r.cost == pytest.approx(0.00012) and r.params == {"temperature": 0, "max_tokens": 5}
    assert r.latency_s == pytest.approx(2.0) and r.time == 1767225600.0


def test_langfuse_api_export_page(tmp_path):
    reqs, st = read(S.langfuse_api(tmp_path))
    assert st.formats == {str(tmp_path / "langfuse_api.json"): "langfuse-api"}
    (r,) = reqs
    assert r.output == "A cat sat." and (r.task, r.task_source) == ("summarize", "metadata")
    assert r.source.endswith("langfuse_api.json:item 1")


def test_helicone_with_and_without_bodies(tmp_path):
    reqs, st = read(S.helicone(tmp_path))
    full, bare = reqs
    assert full.replayable and full.output == "Hello!" and (full.task, full.task_source) == ("greeting", "tag")
    assert full.latency_s == pytest.approx(0.35) and full.provider == "openai" and full.cost == pytest.approx(3e-6)
    assert not bare.replayable and bare.input_tokens == 9


def test_otel_genai_spans_from_one_document(tmp_path):
    path = S.otel_document(tmp_path)
    reqs, st = read(path)
    assert (st.lines, st.records, st.skipped) == (3, 2, 1)
    assert any("span that is not an LLM call" in r for r in st.reasons)
    captured, bare = reqs
    assert captured.model == "gpt-4o-2024-08-06" and captured.requested_model == "gpt-4o"
    assert [m["role"] for m in captured.messages] == ["system", "user"] and captured.output == "billing"
    assert (captured.input_tokens, captured.cached_tokens, captured.output_tokens) == (30, 10, 3)
    assert (captured.task, captured.task_source) == ("triage", "tag") and captured.finish_reason == "stop"
    assert captured.latency_s == pytest.approx(1.0) and captured.params == {"temperature": 0.0}
    assert not bare.replayable and bare.model == "gpt-4o-mini"
    assert captured.source.endswith("traces.json:1 span 1")


def test_otel_export_requests_as_json_lines(tmp_path):
    doc = json.loads(S.otel_document(tmp_path).read_text())
    path = tmp_path / "otlp.jsonl"
    path.write_text(json.dumps(doc) + "\n" + json.dumps(doc) + "\n", encoding="utf-8")
    reqs, st = read(path)
    assert (st.lines, st.records) == (6, 4)
    assert reqs[2].source.endswith("otlp.jsonl:2 span 1")


def test_llm_logs_json_and_logs_db(tmp_path):
    reqs, st = read(S.llm_json(tmp_path))
    assert st.records == 2 and reqs[0].system == "Be brief" and reqs[0].output.startswith("Pelly")
    assert reqs[0].params == {"temperature": 0.7} and reqs[0].latency_s == pytest.approx(1.2)
    reqs, st = read(S.llm_db(tmp_path))
    assert st.formats == {str(tmp_path / "logs.db"): "llm-logs"} and st.records == 3
    assert reqs[2].messages[-1]["content"] == "Name number 2 for a pelican"
    assert reqs[0].source.endswith("logs.db:responses row 1")


def test_csv_with_column_map(tmp_path):
    path = tmp_path / "evals.csv"
    path.write_text('question,answer,model_name,category\n"What is 2+2,\nexactly?",4,gpt-4o,math\n'
                    "Capital of France?,Paris,gpt-4o,geo\n", encoding="utf-8")
    reqs, st = read(path, mapping="prompt=question,response=answer,model=model_name,task=category")
    assert [(r.task, r.output) for r in reqs] == [("math", "4"), ("geo", "Paris")]
    assert reqs[0].messages == ({"role": "user", "content": "What is 2+2,\nexactly?"},)
    assert reqs[1].source.endswith("evals.csv:4")  # a quoted newline spans two lines
    assert reqs[0].task_source == "column"


def test_plain_jsonl_with_dotted_map(tmp_path):
    path = S.jsonl(tmp_path / "app.jsonl", [{"in": {"text": "hello"}, "out": "hi", "llm": "gpt-4o-mini"}])
    (r,), _ = read(path, mapping="prompt=in.text,response=out,model=llm")
    assert r.messages[0]["content"] == "hello" and r.output == "hi" and r.model == "gpt-4o-mini"


def test_inspect_lists_every_format_it_read(tmp_path):
    inp, out = S.openai_batch(tmp_path)
    paths = [inp, out, S.litellm_payload(tmp_path), S.helicone(tmp_path), S.otel_document(tmp_path),
             S.llm_db(tmp_path)]
    r = runner.invoke(app, ["inspect", *map(str, paths), "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert {f["format"] for f in data["files"]} == {"openai-batch-input", "openai-batch-output", "litellm-payload",
                                                    "helicone", "otel-genai", "llm-logs"}
    assert data["records"] + data["skipped"] == data["lines"]
    assert data["joined"] == 3
    assert sum(t["requests"] for t in data["tasks"]) == data["records"]


def test_real_paired_outputs_csv_reads_every_row(shared_data):
    import pandas

    path = shared_data / "gsm8k_responses.csv"
    mapping = "prompt=prompt,response=gpt-4-1106-preview_response,model='gpt-4-1106-preview'"
    r = runner.invoke(app, ["inspect", str(path), "--map", mapping, "--json", "--strict"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["records"] == len(pandas.read_csv(path)) and data["skipped"] == 0
    assert data["replayable"] == data["records"]
    assert sum(t["requests"] for t in data["typing"]) == data["records"]


def test_otel_older_indexed_attributes_and_message_events(tmp_path):
    attrs = {"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini", "gen_ai.prompt.0.role": "system",
             "gen_ai.prompt.0.content": "Be kind", "gen_ai.prompt.1.role": "user", "gen_ai.prompt.1.content": "Hi",
             "gen_ai.completion.0.content": "Hello", "gen_ai.completion.0.finish_reason": "stop",
             "gen_ai.usage.prompt_tokens": 7, "gen_ai.usage.completion_tokens": 2,
             "gen_ai.usage.cache_read_input_tokens": 4, "traceloop.workflow.name": "greeter"}
    span = {"traceId": "t", "spanId": "s", "name": "openai.chat", "startTimeUnixNano": "1767225600000000000",
            "attributes": [S._attr(k, v) for k, v in attrs.items()], "status": {"code": 2}}
    evented = {**span, "spanId": "e", "attributes": [S._attr("gen_ai.request.model", "gpt-4o")],
               "events": [{"name": "gen_ai.user.message", "attributes": [S._attr("content", "Ping")]},
                          {"name": "gen_ai.choice", "attributes": [S._attr("content", "Pong")]}]}
    path = S.jsonl(tmp_path / "spans.jsonl", [{"resourceSpans": [{"scopeSpans": [{"spans": [span, evented]}]}]}])
    (a, b), _ = read(path)
    assert a.messages == ({"role": "system", "content": "Be kind"}, {"role": "user", "content": "Hi"})
    assert (a.output, a.finish_reason, a.input_tokens, a.output_tokens, a.cached_tokens) == ("Hello", "stop", 7, 2, 4)
    assert (a.task, a.task_source, a.status, a.provider) == ("greeter", "name", "error", "openai")
    assert b.messages == ({"role": "user", "content": "Ping"},) and b.output == "Pong"


def test_a_plain_string_answer_that_is_json_stays_the_answer(tmp_path):
    from tiertool.ingest import read_logs

    row = {"model": "gpt-4o", "messages": [{"role": "user", "content": "extract"}],
           "response": '{"customer": "Ada", "quantity": 2}'}
    (tmp_path / "chat.jsonl").write_text(json.dumps(row) + "\n")
    (req,) = list(read_logs([tmp_path / "chat.jsonl"]))
    assert req.output == '{"customer": "Ada", "quantity": 2}'
