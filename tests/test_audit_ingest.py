"""The audit on logs whose prompts were not all captured: counted for volume, never replayed."""

from __future__ import annotations

from typer.testing import CliRunner

from tests.conftest import small_answerer, write_config, write_jsonl
from tiertool.cli import app
from tiertool.store import load_audit

runner = CliRunner()


def test_non_replayable_records_count_but_are_never_replayed(tmp_path, synth, server_factory, env_key, monkeypatch):
    rows, small = synth(400, seed=5)
    for i, row in enumerate(rows):
        if i % 4 == 0:  # LiteLLM without store_prompts_in_spend_logs: no messages, no response
            row["messages"], row["response"] = {}, {}
    hidden = {r["messages"][-1]["content"] for i, r in enumerate(synth(400, seed=5)[0]) if i % 4 == 0}
    log = write_jsonl(tmp_path / "spend.jsonl", rows)
    server = server_factory(small_answerer(small))
    write_config(tmp_path / "tiertool.yaml", server.api_base, sample="{sequential: false, per_task: 500}")
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["audit", str(log)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "100 records are not replayable" in r.output
    meta = load_audit(tmp_path / ".tiertool").meta
    assert meta.non_replayable == 100 and meta.records == 400
    assert sum(meta.typing.values()) == 400
    sent = {msgs[-1]["content"] for _, msgs in server.calls}
    assert sent and not (sent & hidden)
    assert len(server.calls) == 300


def test_audit_types_untagged_requests_by_template_with_final_names(tmp_path, synth, server_factory, env_key,
                                                                      monkeypatch):
    import json
    rows, small = synth(300, seed=8)
    chat = [{"model": "gpt-4o", "messages": r["messages"], "response": r["response"]} for r in rows]
    log = write_jsonl(tmp_path / "chat.jsonl", chat)
    server = server_factory(small_answerer(small))
    write_config(tmp_path / "tiertool.yaml", server.api_base, sample="{sequential: false, per_task: 10}")
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["audit", str(log)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    data = json.loads(runner.invoke(app, ["report", "--format", "json"]).output)
    names = {t["task"] for t in data["tasks"]}
    assert len(names) == 4 and all(n.startswith("auto:") and "#" not in n for n in names), names
    assert sum(t["requests"] for t in data["tasks"]) == 300
    assert all(t["sampled"] == 10 for t in data["tasks"])
    assert load_audit(tmp_path / ".tiertool").meta.typing == {"template": 300}
