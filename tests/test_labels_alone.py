"""Imported labels alone are enough evidence (issue 16): a labels file grades the cheaper tier's answers whether
or not their text exists, no call is sent for a labelled answer (nor for a reference nobody needs), and the
report names "imported labels" as the scorer where they decided."""

from __future__ import annotations

import csv
import json
import random

from typer.testing import CliRunner

from tests.conftest import LABELS_ONLY_CONFIG, write_jsonl
from tiertool.cli import app
from tiertool.store import load_audit

runner = CliRunner()

CONFIG = LABELS_ONLY_CONFIG


def _row(rid: str, task: str, prompt: str, answer: str | None) -> dict:
    row = {"id": rid, "model": "gpt-4o", "tags": [f"task:{task}"], "messages": [{"role": "user", "content": prompt}],
           "response": {"choices": [{"message": {"role": "assistant", "content": answer}}],
                        "usage": {"prompt_tokens": 800, "completion_tokens": 200}}}
    if answer is None:  # a log line with the prompt only: the reference answer is not in the log either
        row["usage"] = row.pop("response")["usage"]
    return row


def test_labels_alone_decide_without_any_answer_or_call(tmp_path, monkeypatch):
    """'easy' (always passes) and 'prompt-only' (no answer logged at all, always passes) move on labels alone,
    'hard' (60%) stays; nothing is sent (the endpoints are closed ports), nothing is missing."""
    rng = random.Random(3)
    rows, labels = [], []
    for i in range(900):
        task = ("easy", "hard", "prompt-only")[i % 3]
        rows.append(_row(f"r{i}", task, f"{task} question number {i}?", None if task == "prompt-only" else f"a{i}"))
        labels.append({"request_id": f"r{i}", "tier": "small",
                       "passed": task != "hard" or rng.random() < 0.6})
    log = write_jsonl(tmp_path / "log.jsonl", rows)
    write_jsonl(tmp_path / "labels.jsonl", labels)
    (tmp_path / "tiertool.yaml").write_text(CONFIG, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["audit", str(log), "--labels", "labels.jsonl", "--offline"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "neither cached nor recorded" not in r.output and "0 model calls sent" in r.output, r.output
    results = load_audit(".tiertool").results
    assert results and all(x.origin == "label" and x.answer is None for x in results if x.tier == "small")
    data = json.loads(runner.invoke(app, ["report", "--format", "json"]).output)
    tasks = {t["task"]: t for t in data["tasks"]}
    for name in ("easy", "prompt-only"):
        assert tasks[name]["tier"] == "small" and tasks[name]["status"] == "moved", tasks[name]["reason"]
        assert tasks[name]["scorer"] == "imported labels" and "imported label" in tasks[name]["scorer_reason"]
    assert tasks["hard"]["tier"] == "large" and tasks["hard"]["scorer"] == "imported labels"
    assert data["audit"]["calls"] == 0 and not data["audit"].get("incomplete")


def test_labels_for_some_samples_name_both_scorers(tmp_path, monkeypatch):
    """Labels for a third of a task's samples: the rest are scored against the logged reference answer (the
    recorded small answers), and the scorer shown says both."""
    rows, recorded, labels = [], [], []
    for i in range(300):
        rows.append(_row(f"r{i}", "qa", f"question {i}?", f"a{i}"))
        recorded.append({"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": f"question {i}?"}],
                         "output": f"a{i}"})
        if i % 3 == 0:
            labels.append({"request_id": f"r{i}", "passed": True})
    log = write_jsonl(tmp_path / "log.jsonl", rows)
    write_jsonl(tmp_path / "labels.jsonl", labels)
    write_jsonl(tmp_path / "recorded.jsonl", recorded)
    extra = "tasks: {qa: {scorer: exact}}\nreplay: {recorded: recorded.jsonl}\n"
    (tmp_path / "tiertool.yaml").write_text(CONFIG + extra, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["audit", str(log), "--labels", "labels.jsonl", "--offline"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    (task,) = json.loads(runner.invoke(app, ["report", "--format", "json"]).output)["tasks"]
    assert task["scorer"] == "imported labels + exact", task
    small = [x for x in load_audit(".tiertool").results if x.tier == "small"]
    ids = {x["request_id"] for x in labels}
    by_label = [x for x in small if x.request_id in ids]
    assert 0 < len(by_label) < len(small)
    assert task["scorer_reason"].startswith(f"{len(by_label)} of {len(small)} graded")
    # the recorded answers were at hand for free (cached from replay.recorded): read, so the scorer's own
    # verdict is kept beside the label's
    assert all(x.origin == "cache" and x.passed and x.scorer_passed is True for x in by_label)


def test_real_gsm8k_correctness_labels_grade_the_small_model_without_its_answers(tmp_path, shared_data, monkeypatch):
    """RouteLLM's GSM8K: GPT-4's answers form the log, Mixtral's correctness the labels file; Mixtral's answers
    are nowhere. The audit grades on the labels alone, sends nothing, and its pass counts are the labels'."""
    with (shared_data / "gsm8k_responses.csv").open(encoding="utf-8", newline="") as f:
        data = list(csv.DictReader(f))
    small = "mistralai/Mixtral-8x7B-Instruct-v0.1"
    rows = [_row(f"g{i}", "gsm8k", d["prompt"], d["gpt-4-1106-preview_response"]) for i, d in enumerate(data)]
    truth = {f"g{i}": d[small] == "True" for i, d in enumerate(data)}
    log = write_jsonl(tmp_path / "log.jsonl", rows)
    write_jsonl(tmp_path / "labels.jsonl", [{"request_id": rid, "passed": ok} for rid, ok in truth.items()])
    (tmp_path / "tiertool.yaml").write_text(CONFIG, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["audit", str(log), "--labels", "labels.jsonl", "--offline"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "0 model calls sent" in r.output and "neither cached nor recorded" not in r.output, r.output
    small_results = [x for x in load_audit(".tiertool").results if x.tier == "small"]
    assert small_results and all(x.passed == truth[x.request_id] for x in small_results)
    (task,) = json.loads(runner.invoke(app, ["report", "--format", "json"]).output)["tasks"]
    assert task["scorer"] == "imported labels" and task["tier"] == "large"  # Mixtral: ~0.6 on GSM8K, bar 0.8
    assert task["tiers"][0]["scored"] == len(small_results)
