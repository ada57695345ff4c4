"""Replay across worker processes gives the same answers, calls and decisions as one process."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from tiertool.cli import app

runner = CliRunner()


def _tiers(tmp) -> dict[str, str]:
    return {t: v["tier"] for t, v in yaml.safe_load((tmp / "tiers.yaml").read_text())["tasks"].items()}


def test_workers_send_each_call_once_and_decide_the_same(project):
    tmp, log, server, _ = project
    r = runner.invoke(app, ["audit", str(log), "--workers", "2"])
    assert r.exit_code == 0, r.output
    calls = list(server.calls)
    assert len(calls) == len({json.dumps(m) for _, m in calls})  # no call sent twice
    assert runner.invoke(app, ["recommend"]).exit_code == 0
    parallel = _tiers(tmp)
    data = json.loads(runner.invoke(app, ["report", "--format", "json"]).output)
    assert data["audit"]["calls"] == len(calls) == sum(t["sampled"] for t in data["tasks"])
    # the same audit in one process: everything comes from the cache the workers filled
    r = runner.invoke(app, ["audit", str(log), "--workers", "1"])
    assert r.exit_code == 0 and len(server.calls) == len(calls)
    assert runner.invoke(app, ["recommend"]).exit_code == 0
    assert _tiers(tmp) == parallel == {"ticket-triage": "small", "order-extract": "small",
                                       "math-word-problems": "large", "support-reply": "large"}


def _calls(server, n: int):
    from tiertool.config import Tier
    from tiertool.records import Call

    tier = Tier(name="small", model="openai/gpt-4o-mini", api_base=server.api_base, api_key_env="TIERTOOL_TEST_KEY")
    msgs = [((({"role": "user", "content": f"question {i}"}),)) for i in range(n)]
    return [Call.to(tier, m, {}) for m in msgs]


def test_replayer_splits_over_processes_only_when_nothing_needs_one_ledger(tmp_path, server_factory, env_key):
    from tiertool.config import Replay
    from tiertool.replay.cache import Cache
    from tiertool.replay.engine import Replayer

    server = server_factory(lambda model, messages: "answer to " + messages[-1]["content"])
    calls = _calls(server, 40)
    split = Replayer(Cache(tmp_path / "a.sqlite"), Replay(workers=2))
    answers = split.run(calls[:20])
    assert split._pool is not None  # the calls went to worker processes
    assert all(answers[c.key].text == "answer to " + c.messages[-1]["content"] for c in calls[:20])
    assert split.stats.sent == 20 and split.ok["small"] == 20
    split.close()
    capped = Replayer(Cache(tmp_path / "b.sqlite"), Replay(workers=2), budget=1.0)
    capped.run(calls[20:])
    assert capped._pool is None and capped.stats.sent == 20  # a budget keeps one ledger, in this process
    assert len(server.calls) == 40
