"""Tool-calling traffic: the `tool_call` scorer, `auto` choosing it, the judge seeing calls, and whole audits of
tool-calling tasks on the loopback server that must decide right in both directions."""

from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.conftest import write_jsonl
from tests.loopback import Answer, ToolCall
from tiertool.cli import app
from tiertool.config import Tier, parse_config
from tiertool.errors import ConfigError
from tiertool.records import Answer as Reply
from tiertool.records import Call, Request
from tiertool.scorers import ScoringContext, make_scorer
from tiertool.scorers.auto import choose_for
from tiertool.scorers.base import Reference
from tiertool.scorers.judge import Judge

runner = CliRunner()
REQ = Request(id="r", source="log:1", model="gpt-4o", messages=({"role": "user", "content": "weather?"},),
              params={"tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]})


def call(name: str, args: dict | str, cid: str = "c1") -> dict:
    return {"id": cid, "type": "function",
            "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}


def score(got: tuple[dict, ...], want: tuple[dict, ...], answer: str = "", ref_text: str = "", **options):
    scorer = make_scorer(parse_config({"tiers": [{"name": "a", "model": "m"}, {"name": "b", "model": "n"}],
                                       "tasks": {"t": {"scorer": "tool_call", **options}}}).tasks["t"])
    scorer.prepare([Reference(ref_text, want)])
    return scorer.score(ScoringContext(REQ, answer, ref_text, candidate_calls=got, reference_calls=want))


def test_same_calls_in_another_order_with_other_ids_and_formatting_pass():
    want = (call("get_weather", {"city": "Paris", "days": 3}), call("get_time", {"tz": "Europe/Paris"}, "c2"))
    got = (call("get_time", '{ "tz" :"Europe/Paris" }', "x9"), call("get_weather", '{"days": 3.0, "city": "Paris"}'))
    s = score(got, want, answer="Let me look that up.")
    assert (s.passed, s.value) == (True, 1.0) and s.reason == "same calls: get_weather, get_time"


@pytest.mark.parametrize("got, why", [
    ((call("get_weather", {"city": "Lyon", "days": 3}),), "get_weather: argument city: 'Lyon' != 'Paris'"),
    ((call("get_weather", {"city": "Paris", "days": "3"}),), "get_weather: argument days: '3' != 3"),
    ((call("get_weather", {"city": "Paris"}),), "get_weather: argument days missing"),
    ((call("get_weather", {"city": "Paris", "days": 3, "x": 1}),), "get_weather: argument x not expected"),
    ((call("get_forecast", {"city": "Paris", "days": 3}),), "missing call get_weather; extra call get_forecast"),
    ((call("get_weather", {"city": "Paris", "days": 3}),) * 2, "extra call get_weather"),
    ((call("get_weather", '{"city": "Paris", "days": 3'),), "answer's call get_weather: arguments are not JSON"),
])
def test_wrong_tools_or_arguments_fail_saying_what_differs(got, why):
    s = score(got, (call("get_weather", {"city": "Paris", "days": 3}),))
    assert not s.passed and why in s.reason, s.reason


def test_parallel_calls_are_a_multiset():
    want = (call("get", {"id": 1}), call("get", {"id": 2}), call("get", {"id": 2}))
    assert score((call("get", {"id": 2}), call("get", {"id": 1}), call("get", {"id": 2})), want).passed
    s = score((call("get", {"id": 1}), call("get", {"id": 1}), call("get", {"id": 2})), want)
    assert not s.passed and s.value == pytest.approx(2 / 3) and "get: argument id: 1 != 2" in s.reason


def test_tolerance_normalise_and_ignore_apply_per_argument_path():
    want = (call("locate", {"lat": 48.8566, "name": "Tour  Eiffel", "trace": "abc", "tags": [{"w": 1.0}]}),)
    got = (call("locate", {"lat": 48.86, "name": "tour eiffel", "trace": "zzz", "tags": [{"w": 1.04}]}),)
    assert not score(got, want).passed
    s = score(got, want, tolerance={"locate.lat": 0.01, "*.tags.*.w": 0.05},
              normalise={"*.name": ["case", "whitespace"]}, ignore=["locate.trace"])
    assert s.passed, s.reason
    s = score(got, want, tolerance={"locate.lat": 0.001, "*.tags.*.w": 0.05},
              normalise={"*.name": ["case", "whitespace"]}, ignore=["locate.trace"])
    assert not s.passed and "argument lat" in s.reason


def test_text_answers_pass_only_against_text_references():
    ref = (call("get_weather", {"city": "Paris"}),)
    s = score((), ref, answer="It is sunny in Paris.")
    assert not s.passed and "answered text where the reference called get_weather" in s.reason
    s = score(ref, (), ref_text="It is sunny.")
    assert not s.passed and "called get_weather where the reference answered text" in s.reason
    for answer, passed in (("It is sunny!", True), ("It is raining.", False)):
        s = score((), (), answer=answer, ref_text="it is sunny", text={"scorer": "exact", "ignore_punctuation": True})
        assert s.passed is passed and s.reason.startswith("text as the reference: exact: ")


def test_default_text_scorer_is_what_auto_picks_from_the_text_references():
    scorer = make_scorer(parse_config({"tiers": [{"name": "a", "model": "m"}, {"name": "b", "model": "n"}],
                                       "tasks": {"t": {"scorer": "tool_call"}}}).tasks["t"])
    refs = [Reference(lab) for lab in ["billing", "bug", "bug", "billing"]] + [Reference("", (call("f", {}),))]
    scorer.prepare(refs)
    assert scorer.text.describe()[0] == "exact"
    assert scorer.score(ScoringContext(REQ, "Billing.", "billing")).passed


def test_auto_picks_tool_call_when_reference_answers_call_tools():
    spec, why = choose_for(parse_config({"tiers": [{"name": "a", "model": "m"}, {"name": "b", "model": "n"}]}
                                        ).spec_for("t"),
                           [Reference("", (call("f", {}),)), Reference("done"), Reference("", (call("g", {}),))])
    assert spec.scorer == "tool_call" and why.startswith("auto: 2/3 reference answers call tools -> tool_call")
    spec, _ = choose_for(spec.text, [Reference("A long letter."), Reference("Another one.")])
    assert spec.scorer == "fuzzy"


def test_judge_sees_tool_calls_rendered_not_an_empty_answer():
    judge = Judge(Tier(name="j", model="openai/judge"), "rubric")
    ctx = ScoringContext(REQ, "", "", candidate_calls=(call("get_weather", {"city": "Paris", "days": 3}),),
                         reference_calls=(call("get_weather", '{"city": "Lyon"}'),))
    prompt = judge.calls(ctx)[0].messages[1]["content"]
    assert 'get_weather({\n  "city": "Paris",\n  "days": 3\n})' in prompt
    assert 'get_weather({\n  "city": "Lyon"\n})' in prompt and "tools offered: get_weather" in prompt


ARGS = st.dictionaries(st.text(min_size=1, max_size=5),
                       st.one_of(st.integers(), st.text(max_size=5), st.booleans(), st.none()), max_size=4)


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), ARGS), min_size=1, max_size=5), st.randoms())
def test_any_reordering_and_reserialisation_of_the_same_calls_passes(calls, rnd):
    want = tuple(call(n, a, f"r{i}") for i, (n, a) in enumerate(calls))
    shuffled = rnd.sample(calls, len(calls))
    got = tuple(call(n, json.dumps(dict(reversed(list(a.items()))), indent=1), f"g{i}")
                for i, (n, a) in enumerate(shuffled))
    assert score(got, want).passed
    changed = (call(shuffled[0][0], {**shuffled[0][1], "added": 1}),) + got[1:]
    assert not score(changed, want).passed


# --- whole audits on the loopback server ----------------------------------------------------------------

TOOLS = [{"type": "function", "function": {"name": n, "description": d, "parameters": {"type": "object"}}}
         for n, d in (("get_weather", "Weather for a city"), ("get_time", "Local time"),
                      ("book_flight", "Book a flight"), ("search_docs", "Search the manual"))]
CITIES = ["Paris", "Lyon", "Oslo", "Lima", "Pune", "Kyiv", "Rome", "Baku"]


def _reference(task: str, i: int) -> list[tuple[str, dict]]:
    city = CITIES[i % len(CITIES)]
    if task == "weather":
        out = [("get_weather", {"city": city, "unit": "celsius"})]
        return out + [("get_time", {"city": city})] if i % 2 else out  # half of them two parallel calls
    if task == "flights":
        return [("book_flight", {"from": "AMS", "to": city, "date": f"2026-03-{1 + i % 28:02d}"})]
    return [("search_docs", {"query": f"reset password {i}"})]


def _prompt(task: str, i: int) -> str:
    return f"[{task} #{i}] please help with {CITIES[i % len(CITIES)]}"


def _log(n: int) -> list[dict]:
    rows = []
    for task in ("weather", "flights", "search"):
        for i in range(n):
            calls = [{"id": f"call_{task}_{i}_{k}", "type": "function",
                      "function": {"name": name, "arguments": json.dumps(args)}}
                     for k, (name, args) in enumerate(_reference(task, i))]
            rows.append({"model": "gpt-4o", "messages": [{"role": "user", "content": _prompt(task, i)}],
                         "tools": TOOLS, "tool_choice": "auto", "metadata": {"task": task},
                         "response": {"id": f"chatcmpl-{task}-{i}", "object": "chat.completion", "model": "gpt-4o",
                                      "choices": [{"index": 0, "finish_reason": "tool_calls",
                                                   "message": {"role": "assistant", "content": None,
                                                               "tool_calls": calls}}],
                                      "usage": {"prompt_tokens": 200, "completion_tokens": 40}}})
    return rows


def _mid(task: str, i: int) -> Answer:
    """The middle tier: right calls for weather (in another order, other ids), a wrong date for every flight,
    the wrong tool for search."""
    calls = _reference(task, i)
    if task == "weather":
        calls = calls[::-1]
    elif task == "flights":
        calls = [(n, {**a, "date": "2026-01-01"}) for n, a in calls]
    else:
        calls = [("get_time", {"city": "Paris"})]
    return Answer(tool_calls=tuple(ToolCall(n, a, f"mid_{i}_{k}") for k, (n, a) in enumerate(calls)))


def _answerer(model: str, messages: list[dict]) -> str | Answer:
    task, i = messages[-1]["content"][1:].split("]")[0].split(" #")
    if model == "gpt-4o-mini":  # the cheapest tier answers in words where it should call a tool
        return "I think it is sunny there."
    return _mid(task, int(i))


@pytest.fixture
def tool_project(tmp_path, server_factory, env_key, monkeypatch):
    log = write_jsonl(tmp_path / "agent.jsonl", _log(70))
    server = server_factory(_answerer)
    key = f"api_base: {server.api_base}, api_key_env: {env_key}"
    (tmp_path / "tiertool.yaml").write_text(f"""
tiers:
  - {{name: small, model: openai/gpt-4o-mini, {key}}}
  - {{name: mid, model: openai/gpt-4.1-mini, {key}}}
  - {{name: large, model: openai/gpt-4o, {key}}}
quality: {{target: 0.9, confidence: 0.95}}
sample: {{round: 20, max_per_task: 70}}
replay: {{max_attempts: 2, timeout: 10}}
""", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path, log, server


def test_tool_calling_audit_moves_right_calls_and_keeps_wrong_ones(tool_project):
    tmp, log, server = tool_project
    r = runner.invoke(app, ["audit", str(log)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    sent = [body for path, body in server.requests]
    assert sent and all(b["tools"] == TOOLS and b["tool_choice"] == "auto" for b in sent)
    assert {b["model"] for b in sent} == {"gpt-4o-mini", "gpt-4.1-mini"}  # the log holds the reference's

    r = runner.invoke(app, ["recommend"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    tiers = yaml.safe_load((tmp / "tiers.yaml").read_text())["tasks"]
    assert {t: v["tier"] for t, v in tiers.items()} == {"weather": "mid", "flights": "large", "search": "large"}

    r = runner.invoke(app, ["report", "--format", "json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    by_task = {t["task"]: t for t in json.loads(r.output)["tasks"]}
    assert {t["scorer"] for t in by_task.values()} == {"tool_call"}
    assert "reference answers call tools -> tool_call" in by_task["weather"]["scorer_reason"]
    md = runner.invoke(app, ["report", "--format", "md", "--examples", "1"], catch_exceptions=False).output
    assert "tier mid: score 0.00, book_flight: argument date: '2026-01-01' != '2026-03-" in md
    assert '[tool call] book_flight({\n    "date": "2026-01-01",' in md  # the answer, readable

    from tiertool.store import load_audit

    results = load_audit(tmp / ".tiertool").results
    why = {(r.task, r.tier): r.reason for r in results if not r.passed}
    assert why[("flights", "mid")].startswith("book_flight: argument date: '2026-01-01' != '2026-03-")
    assert why[("search", "mid")] == "missing call search_docs; extra call get_time"
    assert why[("weather", "small")].startswith("answered text where the reference called get_weather")
    assert all(r.passed for r in results if (r.task, r.tier) == ("weather", "mid"))
    weather = next(r for r in results if (r.task, r.tier) == ("weather", "mid"))
    assert weather.answer.startswith("[tool call] get") and '"city":' in weather.reference

    r = runner.invoke(app, ["audit", str(log)], catch_exceptions=False)  # all cached, tool calls included
    assert r.exit_code == 0 and len(server.requests) == len(sent)
    runner.invoke(app, ["recommend"], catch_exceptions=False)
    again = yaml.safe_load((tmp / "tiers.yaml").read_text())["tasks"]
    assert {t: v["tier"] for t, v in again.items()} == {"weather": "mid", "flights": "large", "search": "large"}


def test_logged_answer_with_tool_calls_is_the_reference_answer():
    req = Request(id="r", source="x:1", model="gpt-4o", output=None,
                  output_tool_calls=(call("get_weather", {"city": "Paris"}),))
    assert req.logged_answer() == Reply("", "log", tool_calls=req.output_tool_calls)
    assert Request(id="r", source="x:1", model="gpt-4o").logged_answer() is None


# --- parameter variants as tiers ------------------------------------------------------------------------

def test_tier_params_are_merged_over_the_logged_ones_and_keyed_apart():
    low, high = (Tier(name=n, model="openai/o4-mini", params={"reasoning_effort": n}) for n in ("low", "high"))
    plain = Tier(name="plain", model="openai/o4-mini")
    msgs, logged = ({"role": "user", "content": "hi"},), {"reasoning_effort": "medium", "temperature": 1}
    calls = [Call.to(t, msgs, logged) for t in (low, high, plain)]
    assert [c.params["reasoning_effort"] for c in calls] == ["low", "high", "medium"]
    assert all(c.params["temperature"] == 1 for c in calls) and len({c.key for c in calls}) == 3
    with pytest.raises(ConfigError, match="tiertool.yaml: tiers.0.params: model cannot be set per tier"):
        parse_config({"tiers": [{"name": "a", "model": "m", "params": {"model": "x"}}, {"name": "b", "model": "n"}]})


def test_reasoning_effort_tier_is_audited_and_priced_with_its_own_reasoning_tokens(tmp_path, server_factory,
                                                                                   env_key, monkeypatch):
    labels = ["positive", "negative"]
    rows = [{"model": "o4-mini", "messages": [{"role": "user", "content": f"Review {i}: sentiment?"}],
             "response": labels[i % 2], "reasoning_effort": "medium", "metadata": {"task": "sentiment"},
             "usage": {"prompt_tokens": 100, "completion_tokens": 600,
                       "completion_tokens_details": {"reasoning_tokens": 580}}} for i in range(60)]
    log = write_jsonl(tmp_path / "chat.jsonl", rows)

    def answer(model: str, messages: list[dict]) -> Answer:
        i = int(messages[-1]["content"].split()[1].rstrip(":"))
        return Answer(text=labels[i % 2], input_tokens=100, output_tokens=120, reasoning_tokens=110)

    server = server_factory(answer)
    key = f"api_base: {server.api_base}, api_key_env: {env_key}"
    (tmp_path / "tiertool.yaml").write_text(f"""
tiers:
  - {{name: mini-low, model: openai/o4-mini, params: {{reasoning_effort: low}}, {key}}}
  - {{name: mini, model: openai/o4-mini, {key}}}
quality: {{target: 0.9, confidence: 0.95}}
tasks: {{sentiment: {{scorer: exact}}}}
prices: {{o4-mini: {{input: 1.0, output: 4.0}}}}
""", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["audit", str(log)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    bodies = [body for _, body in server.requests]
    assert bodies and all(b["reasoning_effort"] == "low" and b["model"] == "o4-mini" for b in bodies)
    n = len(bodies)  # the reference's answers are the log's: only the variant is called

    from tiertool.store import load_audit

    audit = load_audit(tmp_path / ".tiertool")
    # 120 output tokens (110 of them reasoning) at the output price, 100 input tokens at the input price
    assert audit.meta.spend_usd == pytest.approx(n * (100 * 1.0 + 120 * 4.0) / 1e6)
    assert audit.meta.output_scale == {"sentiment": {"mini-low": pytest.approx(120 / 600)}}

    r = runner.invoke(app, ["recommend"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    tiers = yaml.safe_load((tmp_path / "tiers.yaml").read_text())
    assert tiers["tasks"]["sentiment"]["tier"] == "mini-low"
    data = json.loads(runner.invoke(app, ["report", "--format", "json"], catch_exceptions=False).output)
    s = data["savings"]
    assert s["current_usd"] == pytest.approx(60 * (100 + 600 * 4.0) / 1e6)
    assert s["projected_usd"] == pytest.approx(60 * (100 + 120 * 4.0) / 1e6)  # the log's output x 120/600
    row = data["tasks"][0]
    assert row["cost_by_tier"] == {"mini-low": pytest.approx(s["projected_usd"]), "mini": pytest.approx(0.150)}

    assert runner.invoke(app, ["audit", str(log)], catch_exceptions=False).exit_code == 0
    assert len(server.requests) == n  # cached under the variant's own key


# --- agent steps ----------------------------------------------------------------------------------------

def _trace(i: int) -> list[dict]:
    """One agent run of two steps: choose the tool, then answer from its result (as two logged requests)."""
    city = CITIES[i % len(CITIES)]
    ask = [{"role": "system", "content": "You are a weather agent."},
           {"role": "user", "content": f"Weather in {city} today? (#{i})"}]
    tool_call = {"id": f"call_{i}", "type": "function",
                 "function": {"name": "get_weather", "arguments": json.dumps({"city": city})}}
    result = [{"role": "assistant", "content": None, "tool_calls": [tool_call]},
              {"role": "tool", "tool_call_id": f"call_{i}", "content": json.dumps({"temp_c": 10 + i % 15})}]

    def row(messages: list[dict], message: dict) -> dict:
        return {"model": "gpt-4o", "messages": messages, "tools": TOOLS[:1], "metadata": {"task": "weather-agent"},
                "response": {"object": "chat.completion", "model": "gpt-4o",
                             "choices": [{"index": 0, "message": {"role": "assistant", **message}}]}}

    return [row(ask, {"content": None, "tool_calls": [tool_call]}),
            row(ask + result, {"content": f"It is {10 + i % 15} C in {city}."})]


def _agent_answer(model: str, messages: list[dict]) -> Answer:
    """The small model picks the right tool but misreads its result."""
    if messages[-1]["role"] == "user":
        city = messages[-1]["content"].split(" in ")[1].split(" today")[0]
        return Answer(tool_calls=(ToolCall("get_weather", {"city": city}, "x"),))
    return Answer(text=f"It is {json.loads(messages[-1]['content'])['temp_c'] + 3} C.")


@pytest.mark.parametrize("steps", [True, False])
def test_agent_steps_are_audited_per_step_type(tmp_path, server_factory, env_key, monkeypatch, steps):
    log = write_jsonl(tmp_path / "agent.jsonl", [r for i in range(60) for r in _trace(i)])
    server = server_factory(_agent_answer)
    key = f"api_base: {server.api_base}, api_key_env: {env_key}"
    (tmp_path / "tiertool.yaml").write_text(f"""
tiers:
  - {{name: small, model: openai/gpt-4o-mini, {key}}}
  - {{name: large, model: openai/gpt-4o, {key}}}
quality: {{target: 0.9, confidence: 0.95}}
agent_steps: {str(steps).lower()}
""", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["audit", str(log)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert runner.invoke(app, ["recommend"], catch_exceptions=False).exit_code == 0
    tiers = {t: v["tier"] for t, v in yaml.safe_load((tmp_path / "tiers.yaml").read_text())["tasks"].items()}
    if not steps:  # one task type: the step it does well hides in the one it does not
        assert tiers == {"weather-agent": "large"}
        return
    assert tiers == {"weather-agent › first": "small", "weather-agent › after get_weather": "large"}
    def turns(messages: list[dict]) -> tuple[str, ...]:  # litellm leaves out `"content": null`
        return tuple(json.dumps({k: v for k, v in m.items() if v is not None}, sort_keys=True) for m in messages)

    later = [b for _, b in server.requests if b["messages"][-1]["role"] == "tool"]
    logged = {turns(json.loads(line)["messages"]) for line in log.read_text().splitlines()}
    assert later and all(turns(b["messages"]) in logged for b in later)  # each step with its own history
    data = json.loads(runner.invoke(app, ["report", "--format", "json"], catch_exceptions=False).output)
    by_task = {t["task"]: t for t in data["tasks"]}
    assert by_task["weather-agent › first"]["scorer"] == "tool_call"
    assert by_task["weather-agent › after get_weather"]["requests"] == 60
    out = runner.invoke(app, ["inspect", "--steps", str(log)], catch_exceptions=False).output
    assert "weather-agent › after get_weather" in out


def test_cache_keeps_tool_calls_and_opens_a_cache_written_before_them(tmp_path):
    import sqlite3

    from tiertool.replay import Cache

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # the answers table as the first release wrote it
        db.execute("CREATE TABLE answers (key TEXT PRIMARY KEY, model TEXT NOT NULL, output TEXT NOT NULL, "
                   "input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0, "
                   "cost REAL NOT NULL DEFAULT 0, origin TEXT NOT NULL, created REAL NOT NULL)")
        db.execute("INSERT INTO answers VALUES ('old', 'm', 'text', 1, 2, 0, 'call', 0)")
    assert Cache(path, readonly=True).get("old") == Reply("text", "cache", input_tokens=1, output_tokens=2)
    cache = Cache(path)
    calls = (call("get_weather", {"city": "Paris"}),)
    cache.put("new", "m", Reply("", "call", output_tokens=9, tool_calls=calls, reasoning_tokens=7))
    assert cache.get("new") == Reply("", "cache", output_tokens=9, tool_calls=calls, reasoning_tokens=7)
    assert cache.get("old") == Reply("text", "cache", input_tokens=1, output_tokens=2)
    cache.close()


def test_recorded_answers_may_be_tool_calls(tmp_path):
    from tiertool.errors import InputError
    from tiertool.records import call_key
    from tiertool.replay import Cache

    calls = [call("get_weather", {"city": "Paris"})]
    msgs = [{"role": "user", "content": "weather?"}]
    good = write_jsonl(tmp_path / "rec.jsonl", [{"model": "m", "messages": msgs, "output": None, "tool_calls": calls}])
    cache = Cache(tmp_path / "c.sqlite")
    assert cache.load_recorded(good) == 1
    assert cache.get(call_key("m", msgs, {})).tool_calls == tuple(calls)
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"model": "m", "messages": msgs, "output": None}])
    with pytest.raises(InputError, match=r"bad.jsonl:1: expected .*output must be text"):
        cache.load_recorded(bad)
    cache.close()
