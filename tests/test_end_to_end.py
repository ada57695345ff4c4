"""The whole path a user runs: audit -> recommend -> report, against a loopback endpoint."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter

import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import ROOT, small_answerer, write_config, write_jsonl
from tiertool.cli import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_audit_recommend_report_moves_exactly_the_tasks_that_pass(project):
    tmp, log, server, rows = project
    r = run("audit", str(log))
    assert r.exit_code == 0, r.output
    # the log holds the reference (gpt-4o) answers: only the small tier is called
    assert {m for m, _ in server.calls} == {"gpt-4o-mini"}

    r = run("recommend", "--litellm-config", "proxy.yaml")
    assert r.exit_code == 0, r.output
    tiers = yaml.safe_load((tmp / "tiers.yaml").read_text())
    assigned = {t: v["tier"] for t, v in tiers["tasks"].items()}
    assert assigned == {"ticket-triage": "small", "order-extract": "small",
                        "math-word-problems": "large", "support-reply": "large"}
    assert tiers["savings"]["monthly_saved_usd"] > 0

    r = run("report", "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    counts = Counter(row["request_tags"][0].split(":", 1)[1] for row in rows)
    by_task = {t["task"]: t for t in data["tasks"]}
    assert {t: v["requests"] for t, v in by_task.items()} == dict(counts)
    assert by_task["ticket-triage"]["lower_bound"] >= 0.95 > by_task["math-word-problems"]["tiers"][0]["lower_bound"]
    assert by_task["math-word-problems"]["pass_rate"] == 1.0  # the reference's own
    # sequential sampling: every scored sample is one call, and settled task types stopped early
    assert data["audit"]["calls"] == len(server.calls) == sum(t["sampled"] for t in data["tasks"])
    assert by_task["support-reply"]["sampled"] < by_task["ticket-triage"]["sampled"] <= 400
    s = data["savings"]
    assert s["projected_usd"] < s["current_usd"]
    assert s["saved_fraction"] == pytest.approx(1 - s["projected_usd"] / s["current_usd"], abs=1e-3)


def test_fixed_sample_mode_scores_exactly_per_task(project):
    tmp, log, server, _ = project
    write_config(tmp / "tiertool.yaml", server.api_base, sample="{sequential: false, per_task: 100}")
    assert run("audit", str(log)).exit_code == 0
    assert len(server.calls) == 4 * 100
    assert run("recommend").exit_code == 0
    tiers = yaml.safe_load((tmp / "tiers.yaml").read_text())["tasks"]
    assert {t: v["tier"] for t, v in tiers.items()} == {
        "ticket-triage": "small", "order-extract": "small", "math-word-problems": "large", "support-reply": "large"}


def test_second_audit_sends_no_calls(project):
    tmp, log, server, _ = project
    assert run("audit", str(log)).exit_code == 0
    first = len(server.calls)
    r = run("audit", str(log))
    assert r.exit_code == 0, r.output
    assert len(server.calls) == first
    data = json.loads(run("report", "--format", "json").output)
    assert data["audit"]["calls"] == 0
    assert data["audit"]["cache_hits"] == first


def test_reference_is_replayed_when_the_log_has_no_answers(tmp_path, synth, server_factory, env_key, monkeypatch):
    rows, small = synth(300, seed=3)
    chat = [{"model": "gpt-4o", "messages": r["messages"], "metadata": {"task": r["request_tags"][0][5:]}}
            for r in rows]
    log = write_jsonl(tmp_path / "chat.jsonl", chat)
    server = server_factory(small_answerer(small))
    write_config(tmp_path / "tiertool.yaml", server.api_base, sample="{sequential: false, per_task: 20}")
    monkeypatch.chdir(tmp_path)
    r = run("audit", str(log))
    assert r.exit_code == 0, r.output
    models = Counter(m for m, _ in server.calls)
    sampled = json.loads(run("report", "--format", "json").output)["tasks"]
    assert models["gpt-4o"] == models["gpt-4o-mini"] == sum(t["sampled"] for t in sampled)


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_unreachable_endpoint_fails_fast_naming_model_and_api_base(tmp_path, synth, env_key, monkeypatch):
    rows, _ = synth(1000)
    log = write_jsonl(tmp_path / "spend.jsonl", rows)
    base = f"http://127.0.0.1:{_closed_port()}/v1"
    write_config(tmp_path / "tiertool.yaml", base)
    monkeypatch.chdir(tmp_path)
    t0 = time.monotonic()
    r = runner.invoke(app, ["audit", str(log)])
    elapsed = time.monotonic() - t0
    assert r.exit_code == 1
    assert "gpt-4o-mini" in r.output and base in r.output and "api_base" in r.output
    assert elapsed < 20


def test_missing_key_fails_before_any_call_naming_the_variable(tmp_path, synth, server_factory, monkeypatch):
    monkeypatch.delenv("TIERTOOL_TEST_KEY", raising=False)
    rows, small = synth(1000)
    log = write_jsonl(tmp_path / "spend.jsonl", rows)
    server = server_factory(small_answerer(small))
    write_config(tmp_path / "tiertool.yaml", server.api_base)
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["audit", str(log)])
    assert r.exit_code == 1
    assert "TIERTOOL_TEST_KEY" in r.output and "small" in r.output
    assert server.attempts == 0


def test_provider_default_endpoint_without_key_names_the_provider_variable(tmp_path, synth, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    rows, _ = synth(1000)
    log = write_jsonl(tmp_path / "spend.jsonl", rows)
    write_config(tmp_path / "tiertool.yaml", None, key_env=None)
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["audit", str(log)])
    assert r.exit_code == 1
    assert "OPENAI_API_KEY" in r.output and "api_key_env" in r.output


def test_bundled_sample_runs_offline_with_no_key(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    work = tmp_path / "samples"
    shutil.copytree(ROOT / "samples", work)
    monkeypatch.chdir(work)
    r = run("audit", "logs.jsonl", "--offline")
    assert r.exit_code == 0, r.output
    assert "0 model calls sent" in r.output
    assert run("recommend").exit_code == 0
    tiers = yaml.safe_load((work / "tiers.yaml").read_text())["tasks"]
    assert tiers["ticket-triage"]["tier"] == "small" and tiers["math-word-problems"]["tier"] == "large"
    r = run("report")
    assert r.exit_code == 0 and "ticket-triage" in r.output and "Savings" in r.output


def test_offline_with_nothing_recorded_lists_missing_and_exits_1(project):
    tmp, log, server, _ = project
    r = runner.invoke(app, ["audit", str(log), "--offline"])
    assert r.exit_code == 1
    assert "neither cached nor recorded" in r.output
    assert server.attempts == 0


@pytest.mark.parametrize("body, expect", [
    ("tiers: [{name: a, model: m}]", "tiers: needs at least 2 entries"),
    ("tiers: [{name: a, model: m}, {name: b, model: n}]\nqualty: {target: 0.9}", "qualty: unknown key; allowed:"),
    ("tiers: [{name: a, model: m}, {name: b, model: n}]\nquality: {target: 2}", "quality.target"),
    ("tiers: [{name: a, model: m}, {name: b, model: n}]\ntasks: {x: {scorer: magic}}", "tasks.x: scorer must be"),
    ("tiers: [{name: a, model: m, colour: red}, {name: b, model: n}]", "tiers.0.colour: unknown key; allowed: "
     "api_base, api_key_env, concurrency, model, name, params, rpm, tpm"),
    ("tiers: [oops", "not valid YAML"),
])
def test_bad_config_is_one_line_naming_the_key_and_exit_2(tmp_path, monkeypatch, body, expect):
    (tmp_path / "tiertool.yaml").write_text(body)
    (tmp_path / "log.jsonl").write_text("")
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["audit", "log.jsonl"])
    assert r.exit_code == 2
    assert expect in r.output
    assert r.output.count("\n") == 1 and r.output.startswith("Error: tiertool.yaml:")


def test_missing_config_and_missing_audit_say_what_to_do(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["audit", "log.jsonl"])
    assert r.exit_code == 2 and "config file not found" in r.output
    r = runner.invoke(app, ["report"])
    assert r.exit_code == 2 and "run `tiertool audit LOG` first" in r.output
    r = runner.invoke(app, ["recommend"])
    assert r.exit_code == 2


def test_help_is_fast_and_imports_no_heavy_library():
    code = ("import sys, time; t = time.perf_counter(); from tiertool.cli import app\n"
            "try: app(['--help'])\nexcept SystemExit: pass\n"
            "heavy = [m for m in ('litellm', 'pandas', 'scipy', 'pydantic', 'openai') if m in sys.modules]\n"
            "print(heavy, time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    heavy, seconds = out.strip().splitlines()[-1].rsplit(" ", 1)
    assert heavy == "[]"
    assert float(seconds) < 1.0


def test_ci_runs_the_readme_commands():
    """CI installs and tests exactly as the README says (its two opening commands)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0].strip() for b in readme.split("```bash\n")[1:3]]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert blocks[0] in ci.splitlines() and blocks[1] in ci.splitlines()
