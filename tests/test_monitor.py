"""`tiertool monitor`: re-score cheaper tiers on live traffic against a replayed reference (loopback server)."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import write_config, write_jsonl
from tests.test_gate import make_gate
from tiertool.cli import app

runner = CliRunner()
CHEAP = "openai/gpt-4o-mini"


@pytest.fixture
def live(tmp_path, synth, server_factory, env_key, monkeypatch):
    """A newer log in which ticket-triage, order-extract and math-word-problems already run on the small tier."""
    rows, small = synth(1500, seed=21)
    large = {r["messages"][-1]["content"]: r["response"]["choices"][0]["message"]["content"] for r in rows}
    moved = {"ticket-triage", "order-extract", "math-word-problems"}
    for r in rows:
        if r["request_tags"][0][5:] in moved:
            r["model"] = CHEAP
            r["response"]["choices"][0]["message"]["content"] = small[r["messages"][-1]["content"]]
    log = write_jsonl(tmp_path / "live.jsonl", rows)
    server = server_factory(lambda model, messages: large[messages[-1]["content"]] if model == "gpt-4o"
                            else small[messages[-1]["content"]])
    write_config(tmp_path / "tiertool.yaml", server.api_base)
    monkeypatch.chdir(tmp_path)
    return tmp_path, log, server


def _tiers(path, assignment: dict[str, str]):
    path.write_text(yaml.safe_dump({"reference": {"tier": "large", "model": "openai/gpt-4o"},
                                    "tasks": {t: {"tier": v} for t, v in assignment.items()}}))
    return path


def test_flags_the_task_whose_cheap_tier_fell_below_the_bar(live):
    tmp, log, server = live
    tiers = _tiers(tmp / "tiers.yaml", {"ticket-triage": "small", "order-extract": "small",
                                        "math-word-problems": "small", "support-reply": "large"})
    r = runner.invoke(app, ["monitor", str(log), "--tiers", str(tiers), "--format", "json"])
    assert r.exit_code == 1, r.output
    data = json.loads(r.stdout)
    by = {t["task"]: t for t in data["tasks"]}
    assert set(by) == {"ticket-triage", "order-extract", "math-word-problems"}  # the reference is not watched
    assert by["math-word-problems"]["status"] == "below" and by["math-word-problems"]["flagged"]
    assert by["ticket-triage"]["status"] == by["order-extract"]["status"] == "ok"
    assert all(t["scored"] == 100 and t["on_tier"] == t["requests"] for t in by.values())
    # only the reference is called, once per sampled request
    assert {m for m, _ in server.calls} == {"gpt-4o"} and len(server.calls) == 300 == data["calls"]
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("below the bar")]
    assert len(lines) == 1 and lines[0].startswith("below the bar: math-word-problems: tier small passed ")

    # a second run replays nothing: the reference answers are cached
    r = runner.invoke(app, ["monitor", str(log), "--tiers", str(tiers), "--format", "json"])
    assert r.exit_code == 1 and json.loads(r.stdout)["calls"] == 0 and len(server.calls) == 300


def test_healthy_assignment_exits_0(live):
    tmp, log, server = live
    tiers = _tiers(tmp / "tiers.yaml", {"ticket-triage": "small", "order-extract": "small",
                                        "math-word-problems": "large", "support-reply": "large"})
    r = runner.invoke(app, ["monitor", str(log), "--tiers", str(tiers), "--per-task", "100"])
    assert r.exit_code == 0, r.output
    assert "ticket-triage" in r.stdout and "BELOW" not in r.stdout


def test_traffic_not_on_the_assigned_tier_is_not_scored(live):
    tmp, log, server = live
    tiers = _tiers(tmp / "tiers.yaml", {"support-reply": "small"})  # the log still sends it to gpt-4o
    r = runner.invoke(app, ["monitor", str(log), "--tiers", str(tiers), "--format", "json"])
    assert r.exit_code == 0, r.output
    t = json.loads(r.stdout)["tasks"][0]
    assert t["status"] == "no traffic" and t["on_tier"] == 0 and t["requests"] > 0
    assert server.calls == []


def test_unknown_tier_and_missing_files_exit_2(live):
    tmp, log, _ = live
    bad = _tiers(tmp / "bad.yaml", {"ticket-triage": "medium"})
    r = runner.invoke(app, ["monitor", str(log), "--tiers", str(bad)])
    assert r.exit_code == 2 and "medium" in r.stderr and "--config" in r.stderr
    assert runner.invoke(app, ["monitor", str(log), "--tiers", "nope.yaml"]).exit_code == 2
    assert runner.invoke(app, ["monitor", "nope.jsonl", "--tiers", str(bad)]).exit_code == 2


def test_router_audit_reports_each_models_share_and_checks_the_cheaper_routed_traffic(tmp_path, synth,
                                                                                      server_factory, env_key,
                                                                                      monkeypatch):
    """A log routed by some other router (every other request of every task to the small model): `--router`
    needs no tiers file, shows the split, and checks the small model's share of each task against the bar."""
    rows, small = synth(1600, seed=5)
    large = {r["messages"][-1]["content"]: r["response"]["choices"][0]["message"]["content"] for r in rows}
    for i, r in enumerate(rows):
        if i % 2:
            r["model"] = CHEAP
            r["response"]["choices"][0]["message"]["content"] = small[r["messages"][-1]["content"]]
    log = write_jsonl(tmp_path / "routed.jsonl", rows)
    server = server_factory(lambda model, messages: large[messages[-1]["content"]])
    write_config(tmp_path / "tiertool.yaml", server.api_base)
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["monitor", str(log), "--router", "--format", "json", "--per-task", "100"])
    assert r.exit_code == 1, r.output  # math-word-problems' cheap half is below the bar
    by = {t["task"]: t for t in json.loads(r.stdout)["tasks"]}
    assert set(by) == {"ticket-triage", "order-extract", "math-word-problems", "support-reply"}
    for task, t in by.items():
        served = sum(1 for i, row in enumerate(rows) if i % 2 and row["request_tags"][0][5:] == task)
        assert t["tier"] == "small" and t["on_tier"] == served
        assert t["share"] == pytest.approx(served / t["requests"])
    assert by["ticket-triage"]["status"] == "ok" and by["math-word-problems"]["status"] == "below"
    assert {m for m, _ in server.calls} == {"gpt-4o"}  # only the reference is replayed
    text = runner.invoke(app, ["monitor", str(log), "--router", "--per-task", "100"]).stdout
    assert "served" in text and "BELOW THE BAR" in text


def test_the_gates_routed_traffic_is_checked_like_a_cheaper_tier(live):
    """math-word-problems stays on the reference by the assignment; its requests answered by the small model are
    the gate's routed traffic, and they fail."""
    tmp, log, _ = live
    make_gate(tmp / "gate.json", "math-word-problems")
    tiers = _tiers(tmp / "tiers.yaml", {"ticket-triage": "small", "order-extract": "small",
                                        "math-word-problems": "large", "support-reply": "large"})
    r = runner.invoke(app, ["monitor", str(log), "--tiers", str(tiers), "--format", "json"])
    assert r.exit_code == 0 and "math-word-problems" not in {t["task"] for t in json.loads(r.stdout)["tasks"]}
    r = runner.invoke(app, ["monitor", str(log), "--tiers", str(tiers), "--gate", "gate.json", "--format", "json"])
    assert r.exit_code == 1, r.output
    by = {t["task"]: t for t in json.loads(r.stdout)["tasks"]}
    assert (by["math-word-problems"]["tier"], by["math-word-problems"]["gate"]) == ("small", True)
    assert by["math-word-problems"]["status"] == "below" and not by["ticket-triage"]["gate"]
    r = runner.invoke(app, ["monitor", str(log), "--tiers", str(tiers), "--gate", "tiers.yaml"])
    assert r.exit_code == 2 and "cannot read a gate file" in r.output


def test_requests_the_reference_cannot_be_sent_as_logged_are_not_replayed(live):
    """`thinking` is an Anthropic parameter litellm drops on the way to the OpenAI reference: such a request's
    reference answer would be to another request, so monitor leaves it out, as the audit does (replay.carry)."""
    tmp, log, server = live
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    thinking = {"type": "enabled", "budget_tokens": 1024}
    for r in rows:
        if r["request_tags"][0] == "task:ticket-triage":
            r["proxy_server_request"] = {"model": "gpt-4o", "messages": r["messages"], "thinking": thinking,
                                         "tags": r["request_tags"]}  # the client's body: tags at its top level
    write_jsonl(log, rows)
    tiers = _tiers(tmp / "tiers.yaml", {"ticket-triage": "small", "order-extract": "small"})
    r = runner.invoke(app, ["monitor", str(log), "--tiers", str(tiers), "--format", "json"])
    by = {t["task"]: t for t in json.loads(r.stdout)["tasks"]}
    assert by["ticket-triage"]["status"] == "not replayable" and by["ticket-triage"]["scored"] == 0, by
    assert "warning: ticket-triage: tier small served it, but none of those requests can be sent" in r.stderr
    assert by["order-extract"]["scored"] == 100, by
    assert not any("thinking" in body for _, body in server.requests)
    assert all("ticket" not in json.dumps(messages).lower() for _, messages in server.calls)
