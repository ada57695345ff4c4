"""Contract tests for issue 10: every command reads traffic through ingest's one pass and grades through the
audit's Grader, so what the audit saw is what the drift gate, `monitor` and `--examples` see."""

from __future__ import annotations

import gzip
import json
import shutil

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.conftest import ROOT, make_sample, write_config, write_jsonl
from tests.reportkit import _chdir, cli
from tiertool.cli import app
from tiertool.ingest.sample import Sampler, merge, sample_key
from tiertool.records import Request
from tiertool.scorers.judge import judge_text

TODAY = "2026-11-01"
CHEAP = "openai/gpt-4o-mini"
runner = CliRunner()


def _offline_project(folder, rows, small, log_name="logs.jsonl"):
    """A folder with the log, the small tier's recorded answers and the bundled sample's config."""
    folder.mkdir()
    recorded = [{"model": make_sample.SMALL, "messages": r["messages"],
                 "output": small[r["messages"][-1]["content"]]} for r in rows]
    write_jsonl(folder / "recorded.jsonl", recorded)
    shutil.copy(ROOT / "samples" / "tiertool.yaml", folder / "tiertool.yaml")
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if log_name.endswith(".gz"):
        (folder / log_name).write_bytes(gzip.compress(text.encode()))
    else:
        (folder / log_name).write_text(text, encoding="utf-8")
    return folder


def test_drift_gate_passes_on_the_audited_log_when_task_types_were_inferred(tmp_path):
    rows, small = make_sample.synth_log(600, seed=4, tag_style="none")  # no task key: types are inferred
    work = _offline_project(tmp_path / "w", rows, small)
    with _chdir(work):
        assert cli("audit", "logs.jsonl", "--offline").exit_code == 0
        r = cli("report", "--format", "json", "--log", "logs.jsonl", "--today", TODAY)
    gates = {g["gate"]: g for g in json.loads(r.stdout)["gates"]}
    assert gates["drift"]["passed"], gates["drift"]["message"]
    assert gates["drift"]["message"].startswith("task mix PSI 0.000 <=")
    assert r.exit_code == 0, r.stderr


def _inferred_names(log) -> dict[str, str]:
    """Final inferred task name -> the tag the synthetic log would have had, via `tiertool inspect`."""
    out = json.loads(runner.invoke(app, ["inspect", str(log), "--json"]).output)
    names = [t["task"] for t in out["tasks"]]
    words = {"ticket-triage": "classify", "order-extract": "extract", "math-word-problems": "solve",
             "support-reply": "courteous"}
    return {tag: next(n for n in names if w in n) for tag, w in words.items()}


def test_monitor_watches_inferred_task_types(tmp_path, synth, server_factory, env_key, monkeypatch):
    rows, small = synth(800, seed=21, tag_style="none")
    large = {r["messages"][-1]["content"]: r["response"]["choices"][0]["message"]["content"] for r in rows}
    for r in rows:  # ticket triage already runs on the small tier
        if r["messages"][0]["content"].startswith("Classify"):
            r["model"] = CHEAP
            r["response"]["choices"][0]["message"]["content"] = small[r["messages"][-1]["content"]]
    log = write_jsonl(tmp_path / "live.jsonl", rows)
    server = server_factory(lambda model, messages: large[messages[-1]["content"]])
    write_config(tmp_path / "tiertool.yaml", server.api_base)
    monkeypatch.chdir(tmp_path)
    triage = _inferred_names(log)["ticket-triage"]
    (tmp_path / "tiers.yaml").write_text(yaml.safe_dump({"tasks": {triage: {"tier": "small"}}}))
    r = runner.invoke(app, ["monitor", str(log), "--tiers", "tiers.yaml", "--format", "json"])
    assert r.exit_code == 0, r.output
    (task,) = json.loads(r.stdout)["tasks"]
    assert task["task"] == triage and task["status"] == "ok", task
    assert task["on_tier"] == task["requests"] > 100 and task["scored"] == 100


def test_monitor_grades_auto_and_judge_tasks_like_the_audit(tmp_path, synth, server_factory, env_key, monkeypatch):
    rows, small = synth(800, seed=21)
    large = {r["messages"][-1]["content"]: r["response"]["choices"][0]["message"]["content"] for r in rows}
    for r in rows:
        if r["request_tags"][0][5:] in ("ticket-triage", "support-reply"):
            r["model"] = CHEAP
            r["response"]["choices"][0]["message"]["content"] = small[r["messages"][-1]["content"]]
    log = write_jsonl(tmp_path / "live.jsonl", rows)

    def answer(model, messages):
        return judge_text("tie", "both fine") if model == "judge-model" else large[messages[-1]["content"]]

    server = server_factory(answer)
    judge = (f"tasks:\n  support-reply: {{scorer: judge, model: openai/judge-model, api_base: {server.api_base}, "
             "api_key_env: TIERTOOL_TEST_KEY}\n")  # ticket-triage has no entry: `auto`, the default
    write_config(tmp_path / "tiertool.yaml", server.api_base)
    text = (tmp_path / "tiertool.yaml").read_text()
    (tmp_path / "tiertool.yaml").write_text(text[:text.index("tasks:")] + judge + text[text.index("sample:"):])
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiers.yaml").write_text(yaml.safe_dump({"tasks": {"ticket-triage": {"tier": "small"},
                                                                   "support-reply": {"tier": "small"}}}))
    r = runner.invoke(app, ["monitor", str(log), "--tiers", "tiers.yaml", "--format", "json"])
    assert r.exit_code == 0, r.output
    by = {t["task"]: t for t in json.loads(r.stdout)["tasks"]}
    assert by["ticket-triage"]["status"] == by["support-reply"]["status"] == "ok", by
    assert by["ticket-triage"]["scored"] == by["support-reply"]["scored"] == 100
    judged = [m for m, _ in server.calls if m == "judge-model"]
    assert len(judged) == 2 * 100  # both orders, as in the audit


def test_examples_show_prompts_from_a_gzip_log(tmp_path):
    rows, small = make_sample.synth_log(400, seed=6)
    work = _offline_project(tmp_path / "w", rows, small, "logs.jsonl.gz")
    with _chdir(work):
        assert cli("audit", "logs.jsonl.gz", "--offline").exit_code == 0
        data = json.loads(cli("report", "--format", "json", "--examples", "2").output)
    prompts = {r["request_id"]: r["messages"] for r in rows}
    examples = [e for recs in data["examples"].values() for e in recs]
    assert examples and all(e["prompt"] is not None for e in examples), examples[0]
    for e in examples:
        assert prompts[e["request_id"]][-1]["content"] in e["prompt"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "auto:#0", "auto:#1"]), st.sampled_from(["m1", "m2", "m3"])),
                max_size=80), st.integers(1, 12), st.integers(0, 3))
def test_per_model_strata_merge_into_exactly_the_per_task_sample(rows, size, seed):
    """Sampling per (task, logged model) and merging gives the sample a per-task sampler would, also after
    inferred groups are renamed (merged) once the stream ends."""
    reqs = [Request(id=f"r{i}", source=f"log:{i}", model=m, task=t) for i, (t, m) in enumerate(rows)]
    sampler = Sampler(size, seed)
    for r in reqs:
        sampler.add(r)
    renames = {"auto:#0": "auto:x", "auto:#1": "auto:x"}
    sampler.rename(renames)
    strata = sampler.samples()
    for task in {renames.get(r.task, r.task) for r in reqs}:
        want = sorted((r.id for r in reqs if renames.get(r.task, r.task) == task),
                      key=lambda i: sample_key(seed, i))[:size]
        got = merge([v for (t, _), v in strata.items() if t == task], seed, size)
        assert [r.id for r in got] == want and all(r.task == task for r in got)
