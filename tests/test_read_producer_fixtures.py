"""tiertool reads each producer-written fixture (tests/fixtures/producers/) right: every count (records,
skipped, replayable, task types, models, tokens, cost) and every request's prompt, answer, tool calls and
parameters equal what the fixture holds, computed here from the raw files with json, csv and sqlite3 alone.

LiteLLM proxy 1.110.2 (spend rows as JSON lines, Postgres CSV in both column orders, /spend/logs pages;
StandardLoggingPayload), simonw/llm 0.31 / 0.36 / upgraded (logs.db and `llm logs --json`), the OpenAI SDK
(chat completions, Responses objects, Batch files for both endpoints, chat-format JSONL) and the Anthropic SDK
(Messages, Message Batches).
"""

from __future__ import annotations

import csv
import json
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tiertool.cli import app
from tiertool.ingest import read_logs
from tiertool.records import INFERRED_SOURCES

HERE = Path(__file__).parent / "fixtures" / "producers"
runner = CliRunner()
UNTYPED = (*INFERRED_SOURCES, "none")  # typed from the prompt, or not at all


def read(*names: str | Path, **kw: Any) -> tuple[dict[str, Any], Any]:
    reader = read_logs([n if isinstance(n, Path) else HERE / n for n in names], **kw)
    reqs = list(reader)
    st = reader.stats
    assert st.records == len(reqs) and st.records + st.skipped == st.lines
    by_id = {r.id: r for r in reqs}
    assert len(by_id) == len(reqs), "request ids are unique in these fixtures"
    return by_id, st


def lines(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (HERE / name).read_text(encoding="utf-8").splitlines()]


def j(value: Any) -> Any:
    """A JSON column as an object, whether the producer wrote it as JSON text or as an object."""
    return json.loads(value) if isinstance(value, str) and value[:1] in "[{" else value


def csv_rows(name: str) -> list[dict[str, str]]:
    csv.field_size_limit(1 << 30)
    with (HERE / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def inspect_json(*paths: Path | str, args: tuple[str, ...] = ()) -> dict[str, Any]:
    r = runner.invoke(app, ["inspect", *map(str, paths), *args, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def chat_calls(message: dict[str, Any] | None) -> list[tuple[str, Any]]:
    """(name, arguments as JSON) of a chat message's tool calls."""
    return [(c["function"]["name"], json.loads(c["function"]["arguments"]))
            for c in (message or {}).get("tool_calls") or ()]


def req_calls(req: Any) -> list[tuple[str, Any]]:
    return [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in req.output_tool_calls]


def assert_tasks(reqs: dict[str, Any], expected: dict[str, str | None]) -> None:
    """Each request typed by the task key the fixture logged, and those without one left to inference."""
    for rid, task in expected.items():
        r = reqs[rid]
        if task is None:
            assert r.task_source in UNTYPED, (rid, r.task, r.task_source)
        else:
            assert (r.task, r.task_source) == (task, "metadata"), rid


# --- LiteLLM proxy spend rows (LiteLLM_SpendLogs) -----------------------------------------------------------

SPEND_JSON_COLUMNS = ("metadata", "request_tags", "messages", "response", "proxy_server_request")


def spend_expected(rows: list[dict[str, Any]], body_logged: bool = True) -> dict[str, dict[str, Any]]:
    out = {}
    for r in rows:
        psr = j(r.get("proxy_server_request")) or {}
        md = psr.get("metadata") or {}
        usage = (j(r["metadata"]) or {}).get("usage_object") or {}
        resp = j(r.get("response")) or {}
        msg = resp["choices"][0]["message"] if resp.get("choices") else None
        tags = [t for t in j(r["request_tags"]) if not t.startswith("User-Agent:")]
        out[r["request_id"]] = {
            "model": r["model"], "requested": r["model_group"] or psr.get("model"),
            "task": (md.get("requester_metadata") or {}).get("task"),
            "tags": tuple(md["caller_tags"]) if body_logged else tuple(tags),
            "replayable": r["status"] == "success" and bool(psr.get("messages")),
            "messages": tuple(psr.get("messages") or ()),
            "params": {k: psr[k] for k in ("tools", "tool_choice", "parallel_tool_calls", "response_format",
                                           "reasoning_effort", "max_completion_tokens", "max_tokens", "temperature",
                                           "user") if k in psr},
            "output": msg["content"] if msg else None, "calls": chat_calls(msg),
            "tokens": (int(r["prompt_tokens"]), int(r["completion_tokens"]),
                       (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0,
                       (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0),
            "cost": float(r["spend"]), "status": r["status"],
        }
    return out


def check_spend(reqs: dict[str, Any], st: Any, expected: dict[str, dict[str, Any]]) -> None:
    assert (st.records, st.skipped) == (len(expected), 0)
    assert set(reqs) == set(expected)
    for rid, e in expected.items():
        r = reqs[rid]
        assert (r.model, r.requested_model, r.tags, r.status) == (e["model"], e["requested"], e["tags"], e["status"])
        assert r.replayable == e["replayable"] and r.messages == e["messages"], rid
        assert {k: v for k, v in r.params.items()} == e["params"], rid
        assert (r.output, req_calls(r)) == (e["output"], e["calls"]), rid
        assert (r.input_tokens, r.output_tokens, r.cached_tokens, r.reasoning_tokens) == e["tokens"], rid
        assert r.cost == pytest.approx(e["cost"]) and r.cost_source == "logged"
    assert_tasks(reqs, {rid: e["task"] for rid, e in expected.items()})
    assert sum(r.replayable for r in reqs.values()) == sum(e["replayable"] for e in expected.values())


def test_litellm_spend_rows_jsonl():
    rows = lines("litellm_spend_logs.jsonl")
    expected = spend_expected(rows)
    reqs, st = read("litellm_spend_logs.jsonl")
    check_spend(reqs, st, expected)
    # what the fixture holds, in words: 20 answered, the prompt in proxy_server_request, tags from the client
    assert sum(e["replayable"] for e in expected.values()) == 20 and all(r["messages"] == "{}" for r in rows)
    parallel = next(r for r in reqs.values() if r.params.get("parallel_tool_calls"))
    assert req_calls(parallel) == [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})]
    assert parallel.params["tool_choice"] == "required"
    pdf = next(r for r in reqs.values() if "invoice" in str(r.messages))
    assert pdf.messages[0]["content"][0]["file"]["file_data"].startswith("data:application/pdf;base64,JVBER")
    assert reqs["chatcmpl-2"].metadata["deployment_tags"] == ["default"]  # the router's tag, not a task key
    summary = inspect_json(HERE / "litellm_spend_logs.jsonl")
    assert (summary["records"], summary["skipped"], summary["replayable"]) == (22, 0, 20)
    assert summary["tokens"]["input"] == sum(r["prompt_tokens"] for r in rows)
    assert summary["tokens"]["cached"] == sum(e["tokens"][2] for e in expected.values())
    assert summary["tokens"]["reasoning"] == sum(e["tokens"][3] for e in expected.values())
    assert summary["spend"]["logged_usd"] == pytest.approx(sum(r["spend"] for r in rows))
    assert {m["model"]: m["requests"] for m in summary["models"]} == Counter(r["model"] for r in rows)
    logged = Counter(e["task"] for e in expected.values() if e["task"])
    assert {t["task"]: t["requests"] for t in summary["tasks"] if t["typed_by"] == "metadata"} == logged


@pytest.mark.parametrize("name", ["litellm_spend_logs.csv", "litellm_spend_logs_prisma_order.csv"])
def test_litellm_spend_rows_postgres_csv(name):
    """`\\copy "LiteLLM_SpendLogs" TO ... CSV HEADER` is read as spend rows, detected by its columns, JSON cells
    and all, in the migrated table's column order and in schema.prisma's."""
    rows = csv_rows(name)
    reqs, st = read(name)
    assert st.formats == {str(HERE / name): "litellm-spend"}
    check_spend(reqs, st, spend_expected(rows))
    start = {r["request_id"]: r["startTime"] for r in rows}  # timestamp(3) without a zone is UTC
    from datetime import datetime, timezone
    for rid, r in reqs.items():
        assert r.time == pytest.approx(datetime.fromisoformat(start[rid]).replace(tzinfo=timezone.utc).timestamp())


@pytest.mark.parametrize("indent, as_objects", [(None, False), (None, True), (2, False), (2, True)])
def test_litellm_spend_logs_api_page(tmp_path, indent, as_objects):
    """A /spend/logs page `{"data": [...], "total", "page", "page_size", "total_pages"}` (litellm 1.110.2
    proxy/spend_tracking/spend_management_endpoints.py, ui_view_spend_logs), on one line or indented, with the
    JSON columns as text (as stored) or as objects (as Prisma returns Json fields)."""
    rows = lines("litellm_spend_logs.jsonl")
    data = [{k: (j(v) if as_objects and k in SPEND_JSON_COLUMNS else v) for k, v in r.items()} for r in rows]
    page = tmp_path / "spend_page.json"
    page.write_text(json.dumps({"data": data, "total": len(rows), "page": 1, "page_size": 50, "total_pages": 1},
                               indent=indent), encoding="utf-8")
    reqs, st = read(page)
    check_spend(reqs, st, spend_expected(rows))


def test_litellm_spend_logs_list_page_without_bodies(tmp_path):
    """The /spend/logs/ui list omits messages, response and proxy_server_request (_SPEND_LOG_LIST_COLUMNS in
    litellm 1.110.2): its rows count for volume and cost but are not replayable, and say why."""
    rows = lines("litellm_spend_logs.jsonl")
    heavy = ("messages", "response", "proxy_server_request")
    data = [{k: (j(v) if k == "metadata" else v) for k, v in r.items() if k not in heavy} for r in rows]
    page = tmp_path / "list.json"
    page.write_text(json.dumps({"data": data, "total": 22, "page": 1, "page_size": 50, "total_pages": 1}))
    reqs, st = read(page)
    expected = spend_expected(data, body_logged=False)
    assert st.records == 22 and not any(r.replayable for r in reqs.values())
    assert st.not_replayable["the call failed (failure)"] == 2
    assert sum(n for why, n in st.not_replayable.items() if "store_prompts_in_spend_logs" in why) == 20
    for rid, e in expected.items():
        assert reqs[rid].tags == e["tags"] and reqs[rid].cost == pytest.approx(e["cost"])
        assert (reqs[rid].input_tokens, reqs[rid].output_tokens) == e["tokens"][:2]


def test_litellm_spend_csv_read_through_a_map_of_json_cells():
    """--map with dotted paths into JSON cells and a message-list prompt column, on the Postgres export."""
    rows = csv_rows("litellm_spend_logs.csv")
    mapping = ("prompt=proxy_server_request.messages,model=model,response=response.choices.0.message.content,"
               "task=proxy_server_request.metadata.task,cost=spend,input_tokens=prompt_tokens,"
               "output_tokens=completion_tokens,time=startTime,id=request_id,status=status")
    reqs, st = read("litellm_spend_logs.csv", mapping=mapping)
    assert (st.records, st.skipped) == (len(rows), 0) == (22, 0)
    for row in rows:
        r, psr, resp = reqs[row["request_id"]], json.loads(row["proxy_server_request"]), json.loads(row["response"])
        assert r.messages == tuple(psr["messages"])
        assert r.output == (resp["choices"][0]["message"]["content"] if resp else None)
        assert r.cost == pytest.approx(float(row["spend"])) and r.input_tokens == int(row["prompt_tokens"])
        task = psr["metadata"].get("task")
        assert (r.task, r.task_source) == (task, "column") if task else r.task_source in UNTYPED
    assert sum(r.replayable for r in reqs.values()) == sum(r["status"] == "success" for r in rows)


# --- LiteLLM StandardLoggingPayload ---------------------------------------------------------------------------

def test_litellm_standard_logging_payload():
    rows = lines("litellm_standard_logging.jsonl")
    reqs, st = read("litellm_standard_logging.jsonl")
    assert (st.records, st.skipped) == (len(rows), 0)
    for p in rows:
        r = p_req = reqs[p["id"]]
        requester = p["metadata"].get("requester_metadata") or {}
        usage = p["metadata"].get("usage_object") or {}
        msg = p["response"]["choices"][0]["message"] if p["response"] else None
        assert r.model == p["model"] != p["response"].get("model")  # the deployment, not the alias
        assert r.requested_model == (p["model_group"] or p["model"])
        assert r.messages == tuple(p["messages"]) and r.replayable == (p["status"] == "success")
        assert (r.output, req_calls(r)) == ((msg or {}).get("content"), chat_calls(msg))
        want = {k: v for k, v in p["model_parameters"].items() if k not in ("stream", "stream_options")}
        assert p_req.params == want
        assert (r.input_tokens, r.output_tokens) == (p["prompt_tokens"], p["completion_tokens"])
        assert r.cached_tokens == ((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
        assert r.reasoning_tokens == ((usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0)
        assert r.cost == pytest.approx(p["response_cost"]) and r.time == pytest.approx(p["startTime"])
        tags = requester.get("tags") or [t for t in p["request_tags"] if not t.startswith("User-Agent:")]
        assert list(r.tags) == tags
    assert_tasks(reqs, {p["id"]: (p["metadata"].get("requester_metadata") or {}).get("task") for p in rows})
    assert Counter(r.model for r in reqs.values()) == Counter(p["model"] for p in rows)
    # the streamed call has no litellm_model_name; it is still counted as the model that answered it
    streamed = next(p for p in rows if p["stream"])
    assert streamed["hidden_params"]["litellm_model_name"] is None and reqs[streamed["id"]].model == "openai/gpt-4o"


# --- simonw/llm -------------------------------------------------------------------------------------------------

def db(name: str) -> sqlite3.Connection:
    con = sqlite3.connect(f"file:{HERE / name}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    return con


def llm_response_rows(con: sqlite3.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in con.execute("SELECT * FROM responses ORDER BY rowid")]


def chain(con: sqlite3.Connection, tip: str) -> list[dict[str, Any]]:
    """The store's messages from the root to `tip`, walked here by parent_hash with their parts."""
    msgs = {r["hash"]: dict(r) for r in con.execute("SELECT * FROM messages")}
    out = []
    while tip:
        out.insert(0, msgs[tip])
        tip = msgs[tip]["parent_hash"]
    for m in out:
        m["parts"] = [dict(p) for p in con.execute("SELECT * FROM parts WHERE message_hash = ? ORDER BY position",
                                                   (m["hash"],))]
    return out


def texts(messages: Any) -> list[tuple[str, str]]:
    """(role, text) of each message, images and tool turns as markers: what a replay sends, in short."""
    out = []
    for m in messages:
        c = m.get("content")
        text = c if isinstance(c, str) else "".join(p.get("text", "[image]") for p in c or ())
        out.append((m["role"], text + "".join(f"[call {n}]" for n, _ in chat_calls(m))))
    return out


def check_llm_counts(reqs: dict[str, Any], st: Any, entries: list[dict[str, Any]]) -> None:
    """records, models (the answering snapshot), requested ids, tokens of llm entries."""
    assert (st.records, st.skipped) == (len(entries), 0)
    assert Counter(r.model for r in reqs.values()) == Counter(j(e["response_json"])["model"] for e in entries)
    assert Counter(r.requested_model for r in reqs.values()) == Counter(e["model"] for e in entries)
    for e in entries:
        r = reqs[e["id"]]
        cached = ((j(e["token_details"]) or {}).get("prompt_tokens_details") or {}).get("cached_tokens") or 0
        assert (r.input_tokens, r.output_tokens, r.cached_tokens) == (e["input_tokens"], e["output_tokens"], cached)
        assert r.task_source in UNTYPED and r.cost is None  # llm logs no task key and no cost


def test_llm_031_logs_db_replays_follow_ups_with_the_messages_llm_sent():
    with db("llm031_logs.db") as con:
        rows = llm_response_rows(con)
        no_content = {r["response_id"] for r in con.execute(
            "SELECT pa.response_id FROM prompt_attachments pa JOIN attachments a ON a.id = pa.attachment_id "
            "WHERE a.content IS NULL AND a.url IS NULL")}
        calls = {r["response_id"]: (r["name"], json.loads(r["arguments"]))
                 for r in con.execute("SELECT * FROM tool_calls")}
        schemas = {r["id"]: json.loads(r["content"]) for r in con.execute("SELECT * FROM schemas")}
    reqs, st = read("llm031_logs.db")
    check_llm_counts(reqs, st, rows)
    for row in rows:
        r = reqs[row["id"]]
        assert r.messages == tuple(json.loads(row["prompt_json"])["messages"])  # history included
        assert r.replayable == (row["id"] not in no_content)
        assert req_calls(r) == ([calls[row["id"]]] if row["id"] in calls else [])
        assert r.output == (None if row["id"] in calls and not row["response"] else row["response"])
        if row["schema_id"]:
            assert r.params["response_format"]["json_schema"]["schema"] == schemas[row["schema_id"]]
        options = json.loads(row["options_json"] or "{}")
        assert {k: r.params[k] for k in options} == options
    first = {}
    for row in rows:
        first.setdefault(row["conversation_id"], row["id"])
    follow_ups = [row for row in rows if first[row["conversation_id"]] != row["id"]]
    assert len(follow_ups) == 3 and all(len(reqs[row["id"]].messages) > 2 for row in follow_ups)


def test_llm_036_turns_are_read_from_the_message_store():
    with db("llm036_logs.db") as con:
        assert con.execute("SELECT count(*) FROM responses").fetchone()[0] == 0
        turns = [dict(t) for t in con.execute("SELECT * FROM turns ORDER BY rowid")]
        chains = {t["id"]: chain(con, t["tip_message_hash"]) for t in turns}
        tools = {t["turn_id"] for t in con.execute("SELECT turn_id FROM turn_tools")}
    reqs, st = read("llm036_logs.db")
    check_llm_counts(reqs, st, turns)
    for t in turns:
        r, msgs = reqs[t["id"]], chains[t["id"]]
        cut = [m["hash"] for m in msgs].index(t["parent_message_hash"]) + 1
        sent = [m for m in msgs[:cut] if m["role"] != "tool"]
        # every earlier turn of the thread is in the request: roles and texts as the chain holds them
        assert [(m["role"], "".join(p["text"] or "" for p in m["parts"])) for m in sent] == \
            [(m["role"], m["content"] if isinstance(m["content"], str) else "".join(
                p.get("text", "") for p in m["content"] or ())) for m in r.messages if m["role"] != "tool"]
        answer = [p for m in msgs[cut:] for p in m["parts"]]
        assert req_calls(r) == [(json.loads(p["payload"])["name"], json.loads(p["payload"])["arguments"])
                                for p in answer if p["type"] == "tool_call"]
        assert ("tools" in r.params) == (t["id"] in tools)
        has_image = any(p["type"] == "attachment" for m in msgs[:cut] for p in m["parts"])
        assert r.replayable == (not has_image)  # llm stored the image's path only
    assert sum(len(reqs[t["id"]].messages) > 2 for t in turns) >= 2  # the -c follow-ups carry their history


def test_llm_036_store_rebuilds_the_messages_llm_031_logged_as_sent():
    """The same ten prompts, run by llm 0.31 (which logged the messages sent) and by 0.36 (which logs the
    message store): the requests tiertool rebuilds from the store are the ones 0.31 says were sent."""
    old, _ = read("llm031_logs.db")
    new, _ = read("llm036_logs.db")
    for a, b in zip(old.values(), new.values(), strict=True):
        if a.replayable:
            assert texts(a.messages) == texts(b.messages)
            assert a.params == b.params and req_calls(a) == req_calls(b)


def test_llm_upgraded_database_reads_both_stores():
    with db("llm031_upgraded_to_036_logs.db") as con:
        rows = llm_response_rows(con)
        turns = [dict(t) for t in con.execute("SELECT * FROM turns ORDER BY rowid")]
        old_ids = {r["conversation_id"] for r in rows}
        lost = {t["id"] for t in turns if t["thread_id"] in old_ids and any(
            r["conversation_id"] == t["thread_id"] for r in con.execute(
                "SELECT r.conversation_id FROM responses r JOIN prompt_attachments pa ON pa.response_id = r.id"))}
    reqs, st = read("llm031_upgraded_to_036_logs.db")
    check_llm_counts(reqs, st, rows + turns)
    assert (len(rows), len(turns)) == (5, 6)
    continued = [t for t in turns if t["thread_id"] in old_ids]
    assert continued and all(len(reqs[t["id"]].messages) > 1 for t in continued)
    assert lost and all(not reqs[t].replayable and "upgrade" in reqs[t].unreplayable for t in lost)


@pytest.mark.parametrize("name", ["llm031_logs.json", "llm036_logs.json", "llm031_upgraded_to_036_logs.json"])
def test_llm_logs_json_rebuilds_conversations(name):
    """`llm logs --json`: 0.36 writes no prompt_json, so a follow-up's history comes from the earlier entries
    of its conversation (oldest first, as llm writes them); 0.31's entries carry the messages sent."""
    entries = json.loads((HERE / name).read_text())
    reqs, st = read(name)
    check_llm_counts(reqs, st, entries)
    seen: dict[str, list[tuple[str, str]]] = {}
    for e in entries:
        r = reqs[e["id"]]
        history = seen.setdefault(e["conversation_id"], [])
        own = ([("system", e["system"])] if e["system"] and ("system", e["system"]) not in history else []) + (
            [("tool", t["output"]) for t in e["tool_results"]]) + ([("user", e["prompt"])] if e["prompt"] else [])
        def pairs(msgs: Any) -> list[tuple[str, str]]:
            return [(m["role"], m.get("content") if isinstance(m.get("content"), str) else "".join(
                p.get("text", "") for p in m.get("content") or ())) for m in msgs if m["role"] != "assistant"]

        if e["prompt_json"]:  # llm 0.31 logged the messages it sent
            assert r.messages == tuple(e["prompt_json"]["messages"])
        else:
            assert pairs(r.messages) == [(role, text) for role, text in history + own if role != "assistant"], e["id"]
        history += own + [("assistant", e["response"])]
        assert req_calls(r) == [(c["name"], j(c["arguments"])) for c in e["tool_calls"]]
    images = {e["id"] for e in entries if e["attachments"]}
    after_image = {e["id"] for e in entries if e["conversation_id"] in {x["conversation_id"] for x in entries
                                                                        if x["id"] in images}}
    assert {rid for rid, r in reqs.items() if not r.replayable} == after_image


# --- OpenAI SDK ------------------------------------------------------------------------------------------------

def test_openai_chat_completion_objects_count_for_volume():
    rows = lines("openai_chat_completions.jsonl")
    reqs, st = read("openai_chat_completions.jsonl")
    assert (st.records, st.skipped) == (len(rows), 0) and not any(r.replayable for r in reqs.values())
    assert st.not_replayable.total() == len(rows) == 15
    for c in rows:
        r, u, msg = reqs[c["id"]], c["usage"], c["choices"][0]["message"]
        assert r.model == c["model"] and (r.output, req_calls(r)) == (msg["content"], chat_calls(msg))
        assert (r.input_tokens, r.output_tokens, r.cached_tokens, r.reasoning_tokens) == (
            u["prompt_tokens"], u["completion_tokens"], u["prompt_tokens_details"]["cached_tokens"],
            u["completion_tokens_details"]["reasoning_tokens"])
        assert r.time == c["created"] and r.finish_reason == c["choices"][0]["finish_reason"]


def test_openai_response_objects():
    rows = lines("openai_responses.jsonl")
    reqs, st = read("openai_responses.jsonl")
    assert (st.records, st.skipped) == (10, 0) and not any(r.replayable for r in reqs.values())
    assert_tasks(reqs, {r["id"]: r["metadata"]["task"] for r in rows})
    for o in rows:
        r, u = reqs[o["id"]], o["usage"]
        calls = [(x["name"], json.loads(x["arguments"])) for x in o["output"] if x["type"] == "function_call"]
        text = "".join(p["text"] for x in o["output"] if x["type"] == "message" for p in x["content"])
        assert r.model == o["model"] and req_calls(r) == calls and (r.output or "") == text
        assert (r.input_tokens, r.output_tokens, r.cached_tokens, r.reasoning_tokens) == (
            u["input_tokens"], u["output_tokens"], u["input_tokens_details"]["cached_tokens"],
            u["output_tokens_details"]["reasoning_tokens"])
        if o["text"]["format"]["type"] == "json_schema":  # the SDK dumps the schema as `schema_`
            assert r.params["response_format"]["json_schema"]["schema"] == o["text"]["format"]["schema_"]
        if (o["reasoning"] or {}).get("effort"):
            assert r.params["reasoning_effort"] == o["reasoning"]["effort"]
        if o["previous_response_id"]:
            assert o["previous_response_id"] in r.unreplayable


def test_openai_incomplete_responses_are_answers_cut_short(tmp_path):
    """A Response stopped by `max_output_tokens` (openai 3.57.0 `Response.status` "incomplete" with
    `incomplete_details.reason`) answered: success, finish_reason the reason; a "failed" one did not. The
    fixture rows are rewritten here, alone and as Batch output lines, since the loopback always completes."""
    objs = lines("openai_responses.jsonl")[:3]
    batch = lines("openai_batch_responses_output.jsonl")[:3]
    for o in (objs[0], batch[0]["response"]["body"]):
        o.update(status="incomplete", incomplete_details={"reason": "max_output_tokens"})
    for o in (objs[1], batch[1]["response"]["body"]):
        o.update(status="failed", error={"code": "server_error", "message": "boom"})
    for name, rows, key in (("obj.jsonl", objs, "id"), ("batch.jsonl", batch, "custom_id")):
        (tmp_path / name).write_text("".join(json.dumps(o) + "\n" for o in rows), encoding="utf-8")
        reqs, st = read(tmp_path / name)
        assert st.records == 3
        cut, failed, done = (reqs[o[key]] for o in rows)
        assert (cut.status, cut.finish_reason) == ("success", "max_output_tokens")
        assert failed.status != "success" and done.status == "success"


@pytest.mark.parametrize("endpoint", ["chat", "responses"])
def test_openai_batch_files_joined(endpoint):
    inputs = lines(f"openai_batch_{endpoint}_input.jsonl")
    results = {o["custom_id"]: o for f in ("output", "errors") for o in lines(f"openai_batch_{endpoint}_{f}.jsonl")}
    reqs, st = read(*(f"openai_batch_{endpoint}_{f}.jsonl" for f in ("input", "output", "errors")))
    assert (st.records, st.skipped, st.joined) == (len(inputs), 0, len(results))
    ok = {cid for cid, o in results.items() if o["response"]["status_code"] == 200}
    assert {rid for rid, r in reqs.items() if r.replayable} == ok
    for line in inputs:
        r, body, res = reqs[line["custom_id"]], line["body"], results[line["custom_id"]]
        out = res["response"]["body"]
        assert r.is_batch and r.requested_model == body["model"]
        assert r.model == (out["model"] if line["custom_id"] in ok else body["model"])
        if endpoint == "chat":
            assert r.messages == tuple(body["messages"])
            want = {k: body[k] for k in body if k not in ("model", "messages")}
            assert r.params == want
            msg = out["choices"][0]["message"] if "choices" in out else None
            assert (r.output, req_calls(r)) == ((msg or {}).get("content"), chat_calls(msg))
            usage = out.get("usage") or {}
            assert (r.input_tokens, r.output_tokens) == (usage.get("prompt_tokens", 0),
                                                         usage.get("completion_tokens", 0))
        else:
            system = [("system", body["instructions"])] if body.get("instructions") else []
            user = [("user", body["input"])] if isinstance(body["input"], str) else [
                (m["role"], m["content"] if isinstance(m["content"], str) else "".join(
                    p.get("text", "[image]") for p in m["content"])) for m in body["input"]]
            assert texts(r.messages) == system + user
            assert (r.task, r.task_source) == (body["metadata"]["task"], "metadata")
            calls = [(x["name"], json.loads(x["arguments"])) for x in out.get("output", ())
                     if x["type"] == "function_call"]
            assert req_calls(r) == calls
            usage = out.get("usage") or {}
            assert (r.input_tokens, r.output_tokens) == (usage.get("input_tokens", 0), usage.get("output_tokens", 0))
            if "tools" in body:
                assert [t["function"]["name"] for t in r.params["tools"]] == [t["name"] for t in body["tools"]]
            if "text" in body:
                assert r.params["response_format"]["json_schema"]["schema"] == body["text"]["format"]["schema"]
            if "reasoning" in body:
                assert r.params["reasoning_effort"] == body["reasoning"]["effort"]
            if "max_output_tokens" in body:
                assert r.params["max_completion_tokens"] == body["max_output_tokens"]
    if endpoint == "chat":  # chat bodies carry no task key (only the custom_id says it)
        assert all(r.task_source in UNTYPED for r in reqs.values())


@pytest.mark.parametrize("endpoint", ["chat", "responses"])
def test_openai_batch_output_alone_is_volume(endpoint):
    outputs = lines(f"openai_batch_{endpoint}_output.jsonl")
    reqs, st = read(f"openai_batch_{endpoint}_output.jsonl")
    assert st.records == len(outputs) and not any(r.replayable for r in reqs.values())
    key = "prompt_tokens" if endpoint == "chat" else "input_tokens"
    assert sum(r.input_tokens for r in reqs.values()) == sum(o["response"]["body"]["usage"][key] for o in outputs)


def test_chat_format_jsonl_last_assistant_turn_is_the_answer():
    rows = lines("openai_finetune_chat.jsonl")
    reqs, st = read("openai_finetune_chat.jsonl")
    assert (st.records, st.skipped) == (len(rows), 0) == (15, 0)
    assert st.formats == {str(HERE / "openai_finetune_chat.jsonl"): "chat-jsonl"}
    for row, r in zip(rows, reqs.values(), strict=True):
        last = row["messages"][-1]
        answered = last["role"] == "assistant"
        assert r.messages == tuple(row["messages"][:-1] if answered else row["messages"])
        assert (r.output, req_calls(r)) == ((last.get("content"), chat_calls(last)) if answered else (None, []))
        assert r.params == {k: row[k] for k in ("tools", "parallel_tool_calls") if k in row}
    assert sum(r.output is None and not r.output_tool_calls for r in reqs.values()) == 1  # the refused one
    # the format names no model, task, tokens or cost: each line is a prompt to replay on every tier
    assert sum(r.replayable for r in reqs.values()) == sum(
        any(m["role"] == "user" for m in row["messages"]) for row in rows)
    assert Counter(r.model for r in reqs.values()) == Counter(row.get("model", "unknown") for row in rows)
    assert all(r.task_source in UNTYPED and r.cost is None and not r.input_tokens for r in reqs.values())


# --- Anthropic SDK ----------------------------------------------------------------------------------------------

def anthropic_tokens(usage: dict[str, Any]) -> tuple[int, int, int, int, int]:
    read_, write = usage["cache_read_input_tokens"], usage["cache_creation_input_tokens"]
    return (usage["input_tokens"] + read_ + write, usage["output_tokens"], read_, write,
            (usage.get("output_tokens_details") or {}).get("thinking_tokens") or 0)


def anthropic_calls(content: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    return [(b["name"], b["input"]) for b in content if b["type"] == "tool_use"]


def test_anthropic_message_objects():
    rows = lines("anthropic_messages.jsonl")
    reqs, st = read("anthropic_messages.jsonl")
    assert (st.records, st.skipped) == (len(rows), 0) == (13, 0) and not any(r.replayable for r in reqs.values())
    for m in rows:
        r = reqs[m["id"]]
        assert r.model == m["model"] and req_calls(r) == anthropic_calls(m["content"])
        assert (r.output or "") == "".join(b["text"] for b in m["content"] if b["type"] == "text")
        assert (r.input_tokens, r.output_tokens, r.cached_tokens, r.cache_write_tokens, r.reasoning_tokens) == \
            anthropic_tokens(m["usage"])


def test_anthropic_message_batches_joined():
    requests = lines("anthropic_batch_requests.jsonl")
    results = {x["custom_id"]: x["result"] for x in lines("anthropic_batch_results.jsonl")}
    reqs, st = read("anthropic_batch_requests.jsonl", "anthropic_batch_results.jsonl")
    assert (st.records, st.skipped, st.joined) == (len(requests), 0, len(results)) == (16, 0, 16)
    succeeded = {k for k, v in results.items() if v["type"] == "succeeded"}
    assert {rid for rid, r in reqs.items() if r.replayable} == succeeded
    assert Counter(r.status for r in reqs.values() if not r.replayable) == Counter(
        v["type"] for v in results.values() if v["type"] != "succeeded")
    for line in requests:
        r, p, res = reqs[line["custom_id"]], line["params"], results[line["custom_id"]]
        system = p.get("system")
        sys_text = system if isinstance(system, str) else "".join(b["text"] for b in system or ())
        assert (r.system or None) == (sys_text or None)
        if isinstance(system, list) and any("cache_control" in b for b in system):  # kept for the replay
            assert r.messages[0]["content"][0]["cache_control"] == system[0]["cache_control"]
        turns = [(m["role"], m["content"]) for m in r.messages if m["role"] != "system"]
        assert len([t for t in turns if t[0] != "tool"]) == len(p["messages"]) - sum(
            all(b.get("type") == "tool_result" for b in m["content"]) for m in p["messages"]
            if isinstance(m["content"], list))
        assert r.params["max_tokens"] == p["max_tokens"] and r.params.get("thinking") == p.get("thinking")
        assert r.params.get("stop") == p.get("stop_sequences")
        assert [t["function"]["name"] for t in r.params.get("tools", ())] == [t["name"] for t in p.get("tools", ())]
        images = [b for m in p["messages"] if isinstance(m["content"], list) for b in m["content"]
                  if b["type"] == "image"]
        got = [c["image_url"]["url"] for m in r.messages if isinstance(m["content"], list) for c in m["content"]
               if c.get("type") == "image_url"]
        assert got == [f"data:{b['source']['media_type']};base64,{b['source']['data']}" for b in images]
        if res["type"] == "succeeded":
            msg = res["message"]
            assert r.model == msg["model"] and req_calls(r) == anthropic_calls(msg["content"])
            assert (r.input_tokens, r.output_tokens, r.cached_tokens, r.cache_write_tokens,
                    r.reasoning_tokens) == anthropic_tokens(msg["usage"])
        else:
            assert r.model == p["model"] and r.status == res["type"]
    tool_turn = reqs["tools-2"].messages
    assert [m["role"] for m in tool_turn] == ["user", "assistant", "tool"]
    assert tool_turn[1]["tool_calls"][0]["id"] == tool_turn[2]["tool_call_id"] == "toolu_01weatherparis"


def test_litellm_group_by_metadata_task_finds_the_clients_metadata():
    """`--group-by metadata.task` on spend rows: the row's own `metadata` has no task; the client's request
    body does, and that is what the user means."""
    rows = lines("litellm_spend_logs.jsonl")
    reqs, _ = read("litellm_spend_logs.jsonl", group_by="metadata.task")
    for row in rows:
        task, r = json.loads(row["proxy_server_request"])["metadata"].get("task"), reqs[row["request_id"]]
        assert (r.task, r.task_source) == (task, "group_by") if task else r.task_source in UNTYPED
