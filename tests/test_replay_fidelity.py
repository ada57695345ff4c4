"""A replay sends the request production sent: for each producer-written fixture, a real `tiertool audit`
against the loopback server, and every request body the server received compared with the logged request,
computed here from the raw fixture: messages (history with tool calls and tool results, image parts, system
blocks with cache_control), tools, tool_choice, parallel_tool_calls, response_format and the provider
parameters. Anthropic-logged requests go to an OpenAI tier (chat route) and to an Anthropic tier (/v1/messages)
and come back equal, through litellm's translation; what litellm cannot carry to a tier makes the request not
replayable, with the reason, in `inspect --config` and in the audit (replay/carry.py)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.fixtures.hosted import calls
from tests.fixtures.producers import genai_scenario
from tests.loopback import LoopbackLLM
from tiertool.cli import app

FIXTURES = Path(__file__).parent / "fixtures"
PRODUCERS, HOSTED = FIXTURES / "producers", FIXTURES / "hosted"
runner = CliRunner()
OPENAI = {"small": "openai/gpt-4.1-mini", "large": "openai/gpt-4.1"}  # no reasoning_effort
# Claude models litellm's table gives extended thinking, so `thinking` is carried to both.
ANTHROPIC = {"small": "anthropic/claude-3-7-sonnet-20250219", "large": "anthropic/claude-opus-4-1-20250805"}
# What a chat request sends that is not the model's input: routing, logging and transport.
EFFORT = "tier small: reasoning_effort cannot be sent to openai/gpt-4.1-mini through litellm (dropped)"
NOT_INPUT = {"model", "metadata", "litellm_call_id", "tags", "stream", "stream_options"}


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackLLM]:
    with LoopbackLLM(lambda model, messages: "ok") as s:
        yield s


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_config(folder: Path, server: LoopbackLLM, tiers: dict[str, str]) -> Path:
    rows = "\n".join(
        f"  - {{name: {name}, model: {model}, api_key_env: TIERTOOL_TEST_KEY, api_base: "
        f"{server.api_base.removesuffix('/v1') if model.startswith('anthropic/') else server.api_base}}}"
        for name, model in tiers.items())
    path = folder / "tiertool.yaml"
    path.write_text(f"tiers:\n{rows}\nquality: {{target: 0.9, confidence: 0.9}}\ntasks: {{default: {{scorer: exact}}}}"
                    "\nsample: {sequential: false, per_task: 100}\n", encoding="utf-8")
    return path


def replayed(tmp_path: Path, server: LoopbackLLM, monkeypatch: pytest.MonkeyPatch, files: list[Path],
             tiers: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Run `tiertool audit` on the files; the request bodies the server got, by the model they named."""
    monkeypatch.setenv("TIERTOOL_TEST_KEY", "sk-test-not-a-real-key")
    config = write_config(tmp_path, server, tiers)
    server.requests.clear()
    r = runner.invoke(app, ["audit", *map(str, files), "--config", str(config), "--out", str(tmp_path / "audit")])
    assert r.exit_code == 0, r.output
    out: dict[str, list[dict[str, Any]]] = {}
    for path, body in server.requests:
        model = next(m for m in tiers.values() if m.split("/", 1)[1] == body["model"])
        assert path.endswith("/messages" if model.startswith("anthropic/") else "/chat/completions"), path
        out.setdefault(model, []).append({k: v for k, v in body.items() if k != "model"})
    return out


def not_replayable(tmp_path: Path, server: LoopbackLLM, files: list[Path], tiers: dict[str, str]) -> dict[str, int]:
    r = runner.invoke(app, ["inspect", *map(str, files), "--config", str(write_config(tmp_path, server, tiers)),
                            "--json"])
    assert r.exit_code == 0, r.output
    return {x["reason"]: x["count"] for x in json.loads(r.output)["not_replayable"]}


def chat_body(body: dict[str, Any]) -> dict[str, Any]:
    """A chat request's model input; an assistant turn's `content: null` beside its tool calls is the same as
    none (litellm leaves it out)."""
    out = {k: v for k, v in body.items() if k not in NOT_INPUT}
    out["messages"] = [{k: v for k, v in m.items() if not (k == "content" and v is None)} for m in out["messages"]]
    return out


def unique(bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each distinct body once (the same request logged twice is one call)."""
    return [json.loads(b) for b in dict.fromkeys(json.dumps(b, sort_keys=True) for b in bodies)]


def assert_each_sent(expected: list[dict[str, Any]], bodies: dict[str, list[dict[str, Any]]],
                     models: list[str]) -> None:
    """Every expected body reached every tier exactly as expected, and nothing else was sent to them."""
    for model in models:
        got = [chat_body(b) if "messages" in b and not model.startswith("anthropic/") else b
               for b in bodies.get(model, [])]
        for want in expected:
            assert want in got, (model, want, got)
        assert len(got) == len(expected), (model, [b for b in got if b not in expected])


# --- OpenAI chat: Batch API request bodies (sent through openai 3.57.0) ---------------------------------------

def test_openai_batch_chat_bodies_are_replayed_unchanged(tmp_path, server, monkeypatch):
    inputs = jsonl(PRODUCERS / "openai_batch_chat_input.jsonl")
    failed = {o["custom_id"] for o in jsonl(PRODUCERS / "openai_batch_chat_errors.jsonl")}
    expected = [chat_body(line["body"]) for line in inputs if line["custom_id"] not in failed]
    assert any("tools" in b for b in expected) and any("response_format" in b for b in expected)
    assert any(m.get("role") == "tool" for b in expected for m in b["messages"])  # a tool-result turn
    assert any(isinstance(m.get("content"), list) for b in expected for m in b["messages"])  # an image part
    files = [PRODUCERS / f"openai_batch_chat_{k}.jsonl" for k in ("input", "output", "errors")]
    # o4-mini's reasoning_effort is not a gpt-4.1-mini parameter: that request is not replayable on these tiers
    effort = [b for b in expected if "reasoning_effort" in b]
    assert not_replayable(tmp_path, server, files, OPENAI) == {"the call failed (error)": 1, EFFORT: len(effort)}
    bodies = replayed(tmp_path, server, monkeypatch, files, OPENAI)
    assert_each_sent([b for b in expected if b not in effort], bodies, list(OPENAI.values()))


def test_chat_jsonl_history_and_tools_are_replayed_unchanged(tmp_path, server, monkeypatch):
    """OpenAI's chat-format JSONL: the turns before the last assistant turn, with the line's tools."""
    lines = jsonl(PRODUCERS / "openai_finetune_chat.jsonl")
    expected = []
    for line in lines:
        if line["messages"][-1]["role"] != "assistant":
            continue  # the refused request: no answer, not replayed
        params = {k: line[k] for k in ("tools", "parallel_tool_calls") if k in line}
        expected.append({"messages": line["messages"][:-1], **params})
    bodies = replayed(tmp_path, server, monkeypatch, [PRODUCERS / "openai_finetune_chat.jsonl"], OPENAI)
    assert_each_sent([chat_body(b) for b in expected], bodies, list(OPENAI.values()))


# --- LiteLLM proxy: spend rows and StandardLoggingPayload ------------------------------------------------------

def test_litellm_spend_rows_replay_the_proxy_request(tmp_path, server, monkeypatch):
    rows = jsonl(PRODUCERS / "litellm_spend_logs.jsonl")
    expected = [chat_body(json.loads(r["proxy_server_request"])) for r in rows if r["status"] == "success"]
    assert {"tools", "tool_choice", "parallel_tool_calls", "response_format", "user"} <= {k for b in expected
                                                                                           for k in b}
    path = PRODUCERS / "litellm_spend_logs.jsonl"
    effort = [b for b in expected if "reasoning_effort" in b]
    assert not_replayable(tmp_path, server, [path], OPENAI) == {"the call failed (failure)": 2, EFFORT: len(effort)}
    bodies = replayed(tmp_path, server, monkeypatch, [path], OPENAI)
    assert_each_sent(unique([b for b in expected if b not in effort]), bodies, [OPENAI["small"]])


def test_litellm_standard_logging_payload_replays_messages_and_model_parameters(tmp_path, server, monkeypatch):
    rows = jsonl(PRODUCERS / "litellm_standard_logging.jsonl")
    expected = [chat_body({"messages": r["messages"], **r["model_parameters"]}) for r in rows
                if r["status"] == "success"]
    effort = [b for b in expected if "reasoning_effort" in b]
    bodies = replayed(tmp_path, server, monkeypatch, [PRODUCERS / "litellm_standard_logging.jsonl"], OPENAI)
    assert_each_sent(unique([b for b in expected if b not in effort]), bodies, [OPENAI["small"]])


# --- Langfuse (hosted; laid out from langfuse@6275144) ---------------------------------------------------------

def test_langfuse_generations_replay_input_tools_and_model_parameters(tmp_path, server, monkeypatch):
    rows = [r for r in jsonl(HOSTED / "langfuse" / "ui_export_observations.jsonl") if r["type"] == "GENERATION"]
    expected = []
    for r in rows:
        if r["level"] == "ERROR":
            continue
        given = r["input"] if isinstance(r["input"], dict) else {"messages": r["input"]}
        params = {k: v for k, v in r["modelParameters"].items() if v != "Infinity"}  # "Infinity": not given
        expected.append({**params, **given})
    assert any("tools" in b for b in expected)
    assert any(m["role"] == "tool" for b in expected for m in b["messages"])
    bodies = replayed(tmp_path, server, monkeypatch, [HOSTED / "langfuse" / "ui_export_observations.jsonl"], OPENAI)
    assert_each_sent(unique([chat_body(b) for b in expected]), bodies, [OPENAI["small"]])


# --- The other hosted producers (laid out from their source; calls.py is what the app sent) ---------------------

BLOB = HOSTED / "langfuse" / "blob" / "cm4acmeprj0001lf"
ALL_HOSTED = {"tools", "tool_choice", "response_format", "temperature", "max_tokens"}
# (files, the request fields the layout keeps, whether Anthropic calls are in it): tests/fixtures/hosted/README.md
HOSTED_LOGS = {
    "langfuse-ui-csv": ([HOSTED / "langfuse" / "ui_export_observations.csv"], {"tools", "temperature", "max_tokens"},
                        True),
    "langfuse-blob": ([BLOB / part / "2026-11-30T10-00-00.jsonl" for part in ("observations", "traces")],
                      {"tools", "temperature", "max_tokens"}, True),
    "langfuse-api": ([HOSTED / "langfuse" / f"api_v2_observations.page{n}.json" for n in (1, 2)],
                     {"tools", "temperature", "max_tokens"}, True),
    "helicone": ([HOSTED / "helicone" / "export.jsonl"], ALL_HOSTED, True),
    "weave": ([HOSTED / "weave" / "calls_stream_query.jsonl"], ALL_HOSTED, True),
    "braintrust": ([HOSTED / "braintrust" / "project_logs_fetch.json"], ALL_HOSTED, False),
    "langsmith": ([HOSTED / "langsmith" / "runs_query.json"], ALL_HOSTED, False),
}


@pytest.mark.parametrize("name", list(HOSTED_LOGS))
def test_hosted_exports_replay_messages_tools_and_parameters(tmp_path, server, monkeypatch, name):
    """Each answered call of the app is replayed with its messages (system, history, the agent's tool call and
    result) and, where the layout keeps them, its tools, tool_choice, response_format and decoding parameters;
    Helicone's and Weave's Anthropic bodies come through in chat form."""
    files, kept, anthropic = HOSTED_LOGS[name]
    assert not_replayable(tmp_path, server, files, OPENAI) == {"the call failed (error)": 1}
    got = [chat_body(b) for b in replayed(tmp_path, server, monkeypatch, files, OPENAI)[OPENAI["small"]]]
    answered = [c for c in calls.calls() if not c.error and (anthropic or not c.model.startswith("claude"))]
    assert len(got) == len(answered)
    for c in answered:
        want = {**c.params, **({"tools": c.tools} if c.tools else {})}
        body = next(b for b in got if b["messages"] == chat_body({"messages": c.messages})["messages"])
        assert {k: body.get(k) for k in kept} == {k: want.get(k) for k in kept}, c.n


# --- OTel GenAI, OpenInference, LangSmith, MLflow (genai_scenario.py is what the app sent) ------------------------

ALL_PARAMS = {"temperature", "max_tokens", "seed", "response_format", "tools", "tool_choice", "parallel_tool_calls",
              "reasoning_effort", "max_completion_tokens"}


def _lost(call: genai_scenario.Call, lost: set[str]) -> bool:
    image = any(isinstance(m["content"], list) for m in call.messages)
    return bool(lost & set(call.params)) or ("image" in lost and image)


# (fixture, the parameters its producer records, what it loses so that the call is not replayable): README-otel.md
TRACES = [
    ("otel_openai_v2_spans.otlp.jsonl", {"temperature", "max_tokens"}, {"tools", "response_format", "image"}),
    ("otel_openai_v2_events.otlp.jsonl", {"temperature", "max_tokens"}, {"tools", "response_format", "image"}),
    ("otel_openai_v2_legacy_events.otlp.jsonl", {"temperature", "max_tokens"}, {"tools", "response_format"}),
    ("openllmetry_spans.otlp.jsonl", {"temperature", "max_tokens", "tools", "reasoning_effort"},
     {"response_format", "image"}),
    ("openllmetry_events.otlp.jsonl", {"temperature", "max_tokens", "reasoning_effort"}, {"tools", "response_format"}),
    ("openinference_spans.otlp.jsonl", ALL_PARAMS, set()),
    ("openinference_genai_semconv.otlp.jsonl", ALL_PARAMS, set()),
    ("langsmith_runs.jsonl", ALL_PARAMS, set()),
    ("mlflow_traces.jsonl", ALL_PARAMS, {"image"}),
]


@pytest.mark.parametrize(("name", "kept", "lost"), TRACES, ids=[o[0].split(".")[0] for o in TRACES])
def test_traces_replay_what_the_producer_kept_and_count_what_it_lost(tmp_path, server, monkeypatch, name,
                                                                          kept, lost):
    """A call whose tools, response format or image part the instrumentation did not record is not replayable
    (with the reason); the others are replayed as the app sent them, bar the parameters the instrumentation never
    records (openai-v2: tool_choice, parallel_tool_calls, reasoning_effort, max_completion_tokens; OpenLLMetry:
    seed, tool_choice, parallel_tool_calls, max_completion_tokens), which the replay leaves at the API's default.
    OpenInference, LangSmith and MLflow keep the whole request (MLflow replaces the image by an attachment id)."""
    path = PRODUCERS / name
    answered = [c for c in genai_scenario.calls() if not c.fails]
    sent = [chat_body({"messages": c.messages, **{k: v for k, v in c.params.items() if k in kept}})
            for c in answered if not _lost(c, lost)]
    effort = [b for b in sent if "reasoning_effort" in b]
    reasons = not_replayable(tmp_path, server, [path], OPENAI)
    assert reasons.pop("the call failed (error)") == 1 and reasons.pop(EFFORT, 0) == len(effort)
    assert sum(reasons.values()) == sum(_lost(c, lost) for c in answered), reasons
    bodies = replayed(tmp_path, server, monkeypatch, [path], OPENAI)
    assert_each_sent(unique([b for b in sent if b not in effort]), bodies, [OPENAI["small"]])


# --- Anthropic SDK: Message Batches requests (anthropic 2.15.0 types) ------------------------------------------

def _blocks(content: Any) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def anthropic_form(params: dict[str, Any]) -> dict[str, Any]:
    """A Messages request with the defaults spelled out (a string is one text block, a tool is `custom`)."""
    out = {k: v for k, v in params.items() if k != "model"}
    if "system" in out:
        out["system"] = _blocks(out["system"])
    out["messages"] = [{**m, "content": _blocks(m["content"])} for m in out["messages"]]
    if "tools" in out:
        out["tools"] = [{"type": "custom", **t} for t in out["tools"]]
    return out


def as_anthropic(body: dict[str, Any]) -> dict[str, Any]:
    """A chat request put back in Anthropic's shape (the test's own inverse of the translation), to hold the
    chat body an OpenAI tier got against the Anthropic request that was logged."""
    out: dict[str, Any] = {k: body[k] for k in ("max_tokens", "thinking") if k in body}
    if body.get("stop"):
        out["stop_sequences"] = body["stop"]
    if body.get("user"):
        out["metadata"] = {"user_id": body["user"]}
    if body.get("tools"):
        out["tools"] = [{"type": "custom", "name": t["function"]["name"], "description": t["function"]["description"],
                         "input_schema": t["function"]["parameters"]} for t in body["tools"]]
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        out["tool_choice"] = {"type": "tool", "name": choice["function"]["name"]}
    elif choice:
        out["tool_choice"] = {"type": {"required": "any"}.get(choice, choice)}
    if body.get("parallel_tool_calls") is False:
        out["tool_choice"]["disable_parallel_tool_use"] = True
    messages: list[dict[str, Any]] = []
    for m in body["messages"]:
        if m["role"] == "system":
            out["system"] = _blocks(m["content"])
            continue
        blocks = []
        for part in _blocks(m.get("content") or []):
            if part["type"] in ("image_url", "file"):
                url = part["image_url"]["url"] if part["type"] == "image_url" else part["file"]["file_data"]
                head, data = url.split(",", 1)
                blocks.append({"type": "image" if part["type"] == "image_url" else "document", "source": {
                    "type": "base64", "media_type": head.split(":")[1].split(";")[0], "data": data}})
            else:
                blocks.append(part)
        blocks += [{"type": "tool_use", "id": c["id"], "name": c["function"]["name"],
                    "input": json.loads(c["function"]["arguments"])} for c in m.get("tool_calls") or ()]
        if m["role"] == "tool":
            m, blocks = {"role": "user"}, [{"type": "tool_result", "tool_use_id": m["tool_call_id"],
                                            "content": m["content"]}]
        messages.append({"role": m["role"], "content": blocks})
    return {**out, "messages": messages}


def anthropic_requests() -> tuple[list[Path], list[dict[str, Any]]]:
    files = [PRODUCERS / "anthropic_batch_requests.jsonl", PRODUCERS / "anthropic_batch_results.jsonl"]
    ok = {r["custom_id"] for r in jsonl(files[1]) if r["result"]["type"] == "succeeded"}
    return files, [r["params"] for r in jsonl(files[0]) if r["custom_id"] in ok]


def test_anthropic_requests_go_to_anthropic_unchanged(tmp_path, server, monkeypatch):
    """Logged for Anthropic, put in chat form, sent by litellm to /v1/messages: the logged request again (system
    blocks with cache_control, base64 image, tool_use / tool_result turns, tools, tool_choice, thinking, the
    user id), except the whitespace-only stop sequence litellm drops, which is counted instead."""
    files, params = anthropic_requests()
    assert any(p.get("thinking") for p in params) and any(isinstance(p.get("system"), list) for p in params)
    whitespace = [p for p in params if any(s.isspace() for s in p.get("stop_sequences", []))]
    assert not_replayable(tmp_path, server, files, ANTHROPIC) == {
        "the call failed (errored)": 1, "the call failed (canceled)": 1, "the call failed (expired)": 1,
        "tier small: a whitespace-only stop sequence cannot be sent to anthropic/claude-3-7-sonnet-20250219 "
        "(litellm drops it for Anthropic)": len(whitespace)}
    bodies = replayed(tmp_path, server, monkeypatch, files, ANTHROPIC)
    assert_each_sent(unique([anthropic_form(p) for p in params if p not in whitespace]), bodies, [ANTHROPIC["small"]])


def test_anthropic_requests_on_openai_tiers_carry_all_but_thinking(tmp_path, server, monkeypatch):
    """On an OpenAI tier the chat body holds the same request (put back in Anthropic's shape here, it is the
    logged one); `thinking` cannot be sent to an OpenAI model, so that request is not replayable there."""
    files, params = anthropic_requests()
    thinking = [p for p in params if p.get("thinking")]
    reasons = not_replayable(tmp_path, server, files, OPENAI)
    assert reasons["tier small: thinking cannot be sent to openai/gpt-4.1-mini through litellm (dropped)"] == len(
        thinking)
    bodies = replayed(tmp_path, server, monkeypatch, files, OPENAI)
    got = [as_anthropic(b) for b in bodies[OPENAI["small"]]]
    expected = [anthropic_form(p) for p in params if p not in thinking]
    for want in expected:
        assert want in got, (want, got)
    assert len(got) == len(expected)


# --- What litellm cannot carry, per provider -------------------------------------------------------------------

def test_what_litellm_cannot_carry_is_counted_not_dropped(tmp_path, server, monkeypatch):
    """A chat log whose requests litellm would change on the way to an Anthropic tier: each is counted as not
    replayable with its reason (in inspect and the audit), and only the others are sent."""
    audio = base64.b64encode(b"RIFF....WAVEfmt ").decode()
    lines = [
        {"model": "gpt-4o", "messages": [{"role": "user", "content": "Pick one."}], "seed": 7, "response": "A"},
        {"model": "gpt-4o", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "Transcribe."}, {"type": "input_audio", "input_audio": {
                "data": audio, "format": "wav"}}]}], "response": "Hello."},
        {"model": "gpt-4o", "messages": [{"role": "user", "content": "Say hi."}], "stop": ["\n"], "response": "hi"},
        {"model": "gpt-4o", "messages": [{"role": "user", "content": "Say yes."}], "response": "yes",
         "response_format": {"type": "json_object"}},
    ]
    log = tmp_path / "chat.jsonl"
    log.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    model = ANTHROPIC["small"]
    assert not_replayable(tmp_path, server, [log], {"small": model, "large": "openai/gpt-4.1"}) == {
        f"tier small: seed cannot be sent to {model} through litellm (dropped)": 1,
        f"tier small: a input_audio part cannot be sent to {model} (litellm drops the message)": 1,
        f"tier small: a whitespace-only stop sequence cannot be sent to {model} (litellm drops it for Anthropic)": 1}
    bodies = replayed(tmp_path, server, monkeypatch, [log], {"small": model, "large": "openai/gpt-4.1"})
    assert [b["messages"] for b in bodies[model]] == [[{"role": "user", "content": [
        {"type": "text", "text": "Say yes."}]}]]
    # on OpenAI tiers all four are sent as logged, the audio part included
    (tmp_path / "openai").mkdir()
    bodies = replayed(tmp_path / "openai", server, monkeypatch, [log], OPENAI)
    assert_each_sent([{k: v for k, v in line.items() if k not in ("model", "response")} for line in lines], bodies,
                     list(OPENAI.values()))


def test_system_prompts_for_o_series_and_thinking_history_for_openai_are_counted(tmp_path, server):
    """litellm 1.110 sends a system message to o4-mini as a user message, and an Anthropic turn's thinking blocks
    to OpenAI as a field OpenAI does not define: both are counted, naming the tier."""
    chat = tmp_path / "chat.jsonl"
    chat.write_text(json.dumps({"model": "gpt-4o", "response": "ok", "messages": [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi."}]}) + "\n", encoding="utf-8")
    assert not_replayable(tmp_path, server, [chat], {"small": "openai/o4-mini", "large": "openai/gpt-4.1"}) == {
        "tier small: a system message would reach openai/o4-mini as a user message (litellm's o-series "
        "translation)": 1}
    batch = tmp_path / "batch.jsonl"
    batch.write_text(json.dumps({"custom_id": "t-1", "params": {
        "model": "claude-sonnet-4-5", "max_tokens": 512, "thinking": {"type": "enabled", "budget_tokens": 256},
        "messages": [{"role": "user", "content": "Paris?"}, {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "look it up", "signature": "s1"},
            {"type": "tool_use", "id": "t1", "name": "weather", "input": {"city": "Paris"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "18C"}]}],
        "tools": [{"name": "weather", "input_schema": {"type": "object"}}]}}) + "\n", encoding="utf-8")
    mixed = {"small": "openai/gpt-4.1-mini", "large": ANTHROPIC["large"]}
    assert not_replayable(tmp_path, server, [batch], mixed) == {
        "tier small: thinking cannot be sent to openai/gpt-4.1-mini through litellm (dropped)": 1}
    assert not_replayable(tmp_path, server, [batch], ANTHROPIC) == {}
    no_thinking = batch.read_text(encoding="utf-8").replace('"thinking": {"type": "enabled", "budget_tokens": 256}, ',
                                                            "")
    batch.write_text(no_thinking, encoding="utf-8")
    assert not_replayable(tmp_path, server, [batch], mixed) == {
        "tier small: an earlier turn's thinking_blocks cannot be sent to openai/gpt-4.1-mini (only anthropic takes "
        "them)": 1}


def test_a_tiers_own_params_are_checked_as_they_will_be_sent():
    """A tier's `params` go over the logged ones (Call.to): one litellm would drop for the tier's model makes the
    request not replayable there, naming the parameter, though the logged request alone could be carried."""
    from tiertool.config import Tier
    from tiertool.records import Request
    from tiertool.replay import carry_check

    req = Request(id="r1", source="log:1", model="gpt-4.1", messages=({"role": "user", "content": "Hi."},))
    plain = Tier(name="small", model=ANTHROPIC["small"])
    seeded = Tier(name="small", model=ANTHROPIC["small"], params={"seed": 7})
    assert carry_check([plain])(req) is None
    assert carry_check([seeded])(req) == \
        f"tier small: seed cannot be sent to {ANTHROPIC['small']} through litellm (dropped)"
