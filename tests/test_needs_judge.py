"""`auto` on open-ended answers with no judge: the task is undecided, "needs a judge or labels", decided from the
log's own reference answers before any sample is spent on it; naming a scorer, or labels for the sample, decide
it again. Real commands on a real log."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import write_jsonl
from tests.test_quality_bar import write_cfg
from tiertool.cli import app
from tiertool.config.scorers import AutoSpec
from tiertool.scorers.auto import choose, is_open_ended
from tiertool.store import load_audit

runner = CliRunner()
TASK = "support-reply"


@pytest.fixture
def replies(tmp_path, synth, server_factory, env_key, monkeypatch):
    """A log of support replies whose small tier repeats the reference answer word for word: any similarity bar
    passes it, so only the rule keeps the task from moving on fuzzy evidence."""
    rows, _ = synth(240, seed=3, weights={TASK: 0.5, "math-word-problems": 0.5})
    monkeypatch.chdir(tmp_path)
    log = write_jsonl(tmp_path / "spend.jsonl", rows)
    echo = {r["messages"][-1]["content"]: r["response"]["choices"][0]["message"]["content"] for r in rows}
    server = server_factory(lambda model, messages: echo[messages[-1]["content"]])

    def configure(tasks: str) -> None:
        write_cfg(tmp_path / "tiertool.yaml", server.api_base, tasks, per_task=100)

    configure.server = server  # type: ignore[attr-defined]
    return log, configure


def _cli(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def _tasks() -> dict[str, dict]:
    r = _cli("report", "--format", "json")
    assert r.exit_code == 0, r.output
    return {t["task"]: t for t in json.loads(r.stdout)["tasks"]}


def test_auto_without_a_judge_leaves_open_ended_answers_undecided_and_spends_nothing_on_them(replies, tmp_path):
    log, configure = replies
    configure("  default: {scorer: auto}")
    r = _cli("audit", str(log))
    assert r.exit_code == 0, r.output
    assert f"{TASK}: needs a judge or labels" in r.output and "no sample is spent on them" in r.output
    asked = [m[-1]["content"] for _, m in configure.server.calls]
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    replies_asked = {r["messages"][-1]["content"] for r in rows if r["request_tags"] == [f"task:{TASK}"]}
    assert asked and replies_asked and not replies_asked & set(asked)  # the math task replayed, the replies never
    rec = _cli("recommend")
    assert rec.exit_code == 0 and rec.output.startswith("1 of 2 task types move"), rec.output
    tiers = yaml.safe_load((tmp_path / "tiers.yaml").read_text())["tasks"]
    assert {t: v["tier"] for t, v in tiers.items()} == {TASK: "large", "math-word-problems": "small"}
    by = _tasks()
    reply = by[TASK]
    assert reply["status"] == "undecided" and reply["tier"] == "large"
    assert reply["reason"].startswith("needs a judge or labels: open-ended answers")
    assert "auto: open-ended free text" in reply["scorer_reason"]
    small = reply["tiers"][0]
    assert small["scored"] == 0 and small["meets_bar"] is False
    assert not [x for x in load_audit(".tiertool").results if x.task == TASK]
    assert by["math-word-problems"]["scorer"] == "numeric" and by["math-word-problems"]["status"] != "undecided"
    term = _cli("report")
    assert term.exit_code == 0 and "needs a judge or labels" in term.output
    md = _cli("report", "--format", "md")
    assert md.exit_code == 0 and "needs a judge or labels" in md.output
    tiers = load_audit(".tiertool").meta.scorers[TASK]
    assert tiers.needs_judge and tiers.scorer == "fuzzy"


def test_a_named_scorer_or_labels_for_the_whole_sample_decide_it_again(replies, tmp_path):
    log, configure = replies
    configure(f"  {TASK}: {{scorer: fuzzy, method: token_set}}\n  default: {{scorer: auto}}")
    assert _cli("audit", str(log)).exit_code == 0
    named = _tasks()[TASK]
    assert named["status"] == "moved" and named["tier"] == "small" and "needs a judge" not in named["reason"]
    ids = sorted({x.request_id for x in load_audit(".tiertool").results if x.task == TASK})

    configure("  default: {scorer: auto}")
    (tmp_path / "labels.jsonl").write_text("".join(json.dumps({"request_id": i, "tier": "small", "passed": False})
                                                   + "\n" for i in ids))
    r = _cli("audit", str(log), "--labels", "labels.jsonl")
    assert r.exit_code == 0 and f"applied to {len(ids)} of {len(ids)}" in r.output
    labelled = _tasks()[TASK]
    assert labelled["status"] == "kept" and "needs a judge" not in labelled["reason"]
    assert labelled["tiers"][0]["passed"] == 0


@pytest.mark.parametrize("refs, open_ended", [
    (["Dear Jun, I'm so sorry your monitor arm arrived damaged. We've sent a replacement today at no cost, and "
      "you'll receive a tracking number by email shortly."] * 3, True),
    (["Paris", "The capital is Rome.", "Berlin, Germany"], False),  # short free text: a similarity bar fits
    (["```python\ndef unique_words(text):\n    words = text.lower().split()\n"
      "    return sorted(set(words), key=len)\n```"] * 3, False),
])
def test_the_open_ended_rule(refs, open_ended):
    assert is_open_ended(refs) is open_ended
    spec, reason = choose(AutoSpec(scorer="auto"), refs)
    assert spec.scorer == "fuzzy" and ("needs a judge or labels" in reason) is open_ended
