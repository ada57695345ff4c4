"""The quality bar end to end: judge through the loopback server, imported labels, ground truth, auto,
worst examples, and scorers that cannot run failing before any replay call."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from typer.testing import CliRunner

from tests.conftest import small_answerer, write_jsonl
from tests.test_end_to_end import _closed_port
from tiertool.cli import app
from tiertool.scorers.judge import judge_text
from tiertool.scorers.structured import final_number
from tiertool.store import load_audit

runner = CliRunner()
TASKS_MATH = "math-word-problems"


def write_cfg(path, api_base: str, tasks: str, judge_base: str | None = None, per_task: int = 15):
    path.write_text(f"""
tiers:
  - {{name: small, model: openai/gpt-4o-mini, api_base: {api_base}, api_key_env: TIERTOOL_TEST_KEY}}
  - {{name: large, model: openai/gpt-4o, api_base: {api_base}, api_key_env: TIERTOOL_TEST_KEY}}
tasks:
{tasks}
sample: {{sequential: false, per_task: {per_task}}}
replay: {{max_attempts: 2, timeout: 10}}
""".replace("JUDGE_BASE", judge_base or api_base), encoding="utf-8")


JUDGE = ("  {task}: {{scorer: judge, model: openai/judge-model, api_base: JUDGE_BASE, "
         "api_key_env: TIERTOOL_TEST_KEY, rubric: 'The final number decides.'}}")


def _answers(messages) -> tuple[str, str]:
    m = re.search(r"\[Answer A\]\n<<<(DATA-\w+)\n(.*)\n\1>>>\n\n\[Answer B\]\n<<<\1\n(.*)\n\1>>>\Z",
                  messages[-1]["content"], re.S)
    return m.group(2), m.group(3)


def routed(small: dict[str, str], judge, judge_model: str = "judge-model"):
    """Loopback answerer: the judge model answers as a judge, the others as the small model."""
    base = small_answerer(small)

    def answer(model, messages):
        return judge(*_answers(messages)) if model == judge_model else base(model, messages)

    return answer


def fair_judge(a: str, b: str) -> str:
    """Tie when both final numbers agree, else prefers the answer that shows its working ('The answer is')."""
    if final_number(a) == final_number(b):
        return judge_text("tie", "same result")
    return judge_text("A" if "The answer is" in a else "B", "the other result is wrong")


@pytest.fixture
def math_log(tmp_path, synth, env_key, monkeypatch):
    rows, small = synth(300, seed=5, weights={TASKS_MATH: 1.0})
    monkeypatch.chdir(tmp_path)
    return write_jsonl(tmp_path / "spend.jsonl", rows), rows, small


def audit(*args: str):
    return runner.invoke(app, ["audit", *args], catch_exceptions=False)


@pytest.mark.parametrize("judge_model, spec", [
    ("judge-model", JUDGE.format(task=TASKS_MATH)),
    ("gpt-4o", f"  {TASKS_MATH}: {{scorer: judge, tier: large, rubric: 'The final number decides.'}}"),
])
def test_judge_pairwise_both_orders_agrees_with_the_numeric_truth_and_is_cached(tmp_path, math_log, server_factory,
                                                                                judge_model, spec):
    log, _, small = math_log
    server = server_factory(routed(small, fair_judge, judge_model))
    write_cfg(tmp_path / "tiertool.yaml", server.api_base, spec)
    r = audit(str(log))
    assert r.exit_code == 0, r.output
    judged = [msgs for model, msgs in server.calls if model == judge_model]
    assert len(judged) == 2 * 15
    assert all("The final number decides." in m[0]["content"] and m[0]["role"] == "system" for m in judged)
    # each pair is the same two answers with the order swapped
    pairs = Counter(frozenset(_answers(m)) for m in judged)
    assert set(pairs.values()) == {2}
    results = [x for x in load_audit(".tiertool").results if x.tier == "small"]
    assert len(results) == 15
    for x in results:
        same = final_number(x.answer) == final_number(x.reference)
        assert x.passed is same, x.reason
        assert x.value == (0.5 if same else 0.0)
    assert any(not x.passed for x in results)  # the small model slips on some
    data = json.loads(runner.invoke(app, ["report", "--format", "json"]).output)
    assert data["audit"]["calls"] == len(server.calls) == 15 + 30  # judge calls are counted like replay calls
    assert data["tasks"][0]["judge_position"] == {"judged": 15, "disagreed": 0, "rate": 0.0}  # a consistent judge
    before = len(server.calls)
    assert audit(str(log)).exit_code == 0
    assert len(server.calls) == before  # judge answers come from the cache


def test_judge_that_flips_with_the_order_is_inconsistent_and_does_not_pass(tmp_path, math_log, server_factory):
    log, _, small = math_log
    server = server_factory(routed(small, lambda a, b: judge_text("A", "first is best")))
    write_cfg(tmp_path / "tiertool.yaml", server.api_base, JUDGE.format(task=TASKS_MATH))
    assert audit(str(log)).exit_code == 0
    results = [x for x in load_audit(".tiertool").results if x.tier == "small"]
    assert results and all(x.value == 0.0 and x.passed is False and "inconsistent" in x.reason for x in results)
    data = json.loads(runner.invoke(app, ["report", "--format", "json"]).output)
    task = next(t for t in data["tasks"] if t["task"] == TASKS_MATH)
    assert task["judge_position"] == {"judged": len(results), "disagreed": len(results), "rate": 1.0}
    assert any(w["kind"] == "judge_position" and "100% of 15 answers" in w["message"] for w in data["warnings"])
    assert "judge position disagreement 100% (15/15" in runner.invoke(app, ["report"]).output


@pytest.mark.parametrize("reply", ["I think A is better.", '{"winner": "A", "reason": "x", "confidence": 0.9}',
                                   '{"winner": "left"}'])
def test_judge_output_that_breaks_the_format_is_unscored_not_passed(tmp_path, math_log, server_factory, reply):
    log, _, small = math_log
    server = server_factory(routed(small, lambda a, b: reply))
    write_cfg(tmp_path / "tiertool.yaml", server.api_base, JUDGE.format(task=TASKS_MATH))
    r = runner.invoke(app, ["audit", str(log)])
    assert r.exit_code == 1 and "could not be audited" in r.output and "samples have no score" in r.output
    results = [x for x in load_audit(".tiertool").results if x.tier == "small"]
    assert results and all(x.passed is None and "not the expected JSON" in x.reason for x in results)


def test_unreachable_judge_fails_before_any_replay_call(tmp_path, math_log, server_factory):
    log, _, small = math_log
    server = server_factory(small_answerer(small))
    dead = f"http://127.0.0.1:{_closed_port()}/v1"
    write_cfg(tmp_path / "tiertool.yaml", server.api_base, JUDGE.format(task=TASKS_MATH), judge_base=dead)
    r = runner.invoke(app, ["audit", str(log)])
    assert r.exit_code == 1
    assert "judge" in r.output and dead in r.output and "unreachable" in r.output
    assert server.attempts == 0


def test_judge_without_its_key_fails_before_any_replay_call(tmp_path, math_log, server_factory, monkeypatch):
    log, _, small = math_log
    server = server_factory(small_answerer(small))
    write_cfg(tmp_path / "tiertool.yaml", server.api_base,
              f"  {TASKS_MATH}: {{scorer: judge, model: openai/judge-model, api_base: {server.api_base}, "
              "api_key_env: JUDGE_KEY_NOT_SET}")
    monkeypatch.delenv("JUDGE_KEY_NOT_SET", raising=False)
    r = runner.invoke(app, ["audit", str(log)])
    assert r.exit_code == 1 and "JUDGE_KEY_NOT_SET" in r.output
    assert server.attempts == 0


def test_missing_embedding_extra_is_an_error_before_any_call(tmp_path, math_log, server_factory):
    import importlib.util

    if importlib.util.find_spec("sentence_transformers") is not None:
        pytest.skip("sentence-transformers is installed here")
    log, _, small = math_log
    server = server_factory(small_answerer(small))
    write_cfg(tmp_path / "tiertool.yaml", server.api_base, f"  {TASKS_MATH}: {{scorer: embedding}}")
    r = runner.invoke(app, ["audit", str(log)])
    assert r.exit_code == 2
    error = [line for line in r.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and "tasks.math-word-problems: scorer 'embedding'" in error[0]
    assert "pip install 'tiertool[embedding]'" in error[0]
    assert server.attempts == 0


def test_labels_override_scores_and_expected_answers_grade_every_tier(tmp_path, math_log, server_factory):
    log, rows, small = math_log
    server = server_factory(small_answerer(small))
    write_cfg(tmp_path / "tiertool.yaml", server.api_base, f"  {TASKS_MATH}: {{scorer: numeric}}")
    assert audit(str(log)).exit_code == 0
    first = {x.request_id: x for x in load_audit(".tiertool").results}
    ids = sorted(first)
    failing = next(i for i in ids if not first[i].passed)
    passing = next(i for i in ids if first[i].passed)
    truth_id = next(i for i in ids if i not in (failing, passing))
    write_jsonl(tmp_path / "labels.jsonl", [
        {"request_id": failing, "passed": True, "reason": "checked by hand"},
        {"request_id": passing, "tier": "small", "score": 0.2},
        {"request_id": truth_id, "expected": "The answer is 999999."},
        {"request_id": "not-sampled", "passed": False},
    ])
    r = audit(str(log), "--labels", "labels.jsonl")
    assert r.exit_code == 0, r.output
    assert "labels labels.jsonl: applied to 3 of 4 labelled requests; 1 not in the sample" in r.output
    res = {(x.request_id, x.tier): x for x in load_audit(".tiertool").results}
    assert res[(failing, "small")].passed and "imported label (labels.jsonl:1): checked by hand" in \
        res[(failing, "small")].reason
    assert res[(passing, "small")].passed is False and res[(passing, "small")].value == 0.2
    assert res[(truth_id, "small")].passed is False and res[(truth_id, "small")].reference.endswith("999999.")
    assert res[(truth_id, "small")].reason.startswith("vs expected: ")
    assert (failing, "large") not in res  # no ground truth: the reference tier is not graded
    assert res[(truth_id, "large")].passed is False  # the reference tier graded against the ground truth
    data = json.loads(runner.invoke(app, ["report", "--format", "json"]).output)
    assert data["reference_accuracy"][TASKS_MATH] == {"tier": "large", "scored": 1, "passed": 0, "accuracy": 0.0}
    assert "reference tier accuracy" in runner.invoke(app, ["report", "--format", "md"]).output


@pytest.mark.parametrize("content, expect", [
    ('{"request_id": "a", "passed": true}\n{"request_id": "b", "passed": "maybe"}\n', "labels.jsonl:2: passed"),
    ('{"request_id": "a", "score": 3}\n', "labels.jsonl:1: score must be in 0..1"),
    ('{"passed": true}\n', "labels.jsonl:1: missing request_id"),
    ('{"request_id": "a", "grade": 5}\n', "labels.jsonl:1: unknown column 'grade'"),
    ("not json\n", "labels.jsonl:1: "),
])
def test_bad_labels_file_names_file_line_and_what_was_expected(tmp_path, math_log, content, expect):
    log, _, _ = math_log
    (tmp_path / "tiertool.yaml").write_text("tiers: [{name: a, model: m}, {name: b, model: n}]\n")
    (tmp_path / "labels.jsonl").write_text(content)
    r = runner.invoke(app, ["audit", str(log), "--labels", "labels.jsonl"])
    assert r.exit_code == 2 and expect in r.output and "request_id" in r.output and r.output.count("\n") == 1


def test_labels_csv_is_read(tmp_path, math_log, server_factory):
    log, _, small = math_log
    server = server_factory(small_answerer(small))
    write_cfg(tmp_path / "tiertool.yaml", server.api_base, f"  {TASKS_MATH}: {{scorer: numeric}}")
    assert audit(str(log)).exit_code == 0
    ids = sorted({x.request_id for x in load_audit(".tiertool").results})
    (tmp_path / "labels.csv").write_text("request_id,tier,passed\n" + "".join(f"{i},small,fail\n" for i in ids))
    assert audit(str(log), "--labels", "labels.csv").exit_code == 0
    small_rows = [x for x in load_audit(".tiertool").results if x.tier == "small"]
    assert small_rows and all(x.passed is False and "labels.csv:" in x.reason for x in small_rows)


def test_auto_is_the_default_and_report_shows_choice_and_worst_examples(tmp_path, synth, server_factory, env_key,
                                                                       monkeypatch):
    rows, small = synth(600, seed=2)
    monkeypatch.chdir(tmp_path)
    log = write_jsonl(tmp_path / "spend.jsonl", rows)
    server = server_factory(small_answerer(small))
    cfg = (tmp_path / "tiertool.yaml")
    write_cfg(cfg, server.api_base, "  {}")
    cfg.write_text(cfg.read_text().replace("tasks:\n  {}\n", ""))
    assert audit(str(log)).exit_code == 0
    data = json.loads(runner.invoke(app, ["report", "--format", "json", "--examples", "2"]).output)
    by = {t["task"]: t for t in data["tasks"]}
    assert {t: by[t]["scorer"] for t in by} == {"ticket-triage": "exact", "order-extract": "json",
                                                TASKS_MATH: "numeric", "support-reply": "fuzzy"}
    assert "labels" in by["ticket-triage"]["scorer_reason"] and "override" in by["ticket-triage"]["scorer_reason"]
    ex = data["examples"]
    # every task but the open-ended one, on which no sample is spent ("needs a judge or labels")
    assert set(ex) == set(by) - {"support-reply"} and all(len(v) == 2 for v in ex.values())
    worst = ex[TASKS_MATH][0]
    assert worst["passed"] is False and worst["answer"] and worst["reference"] and " != " in worst["reason"]
    scores = [e["value"] for e in ex["order-extract"]]
    assert scores == sorted(scores)
    md = runner.invoke(app, ["report", "--format", "md", "--examples", "1"]).output
    assert "### math-word-problems" in md and "  reference:" in md and "  answer:" in md
    term = runner.invoke(app, ["report", "--examples", "1"]).output
    assert f"Worst examples: {TASKS_MATH}" in term
    assert "support-reply: scorer auto: open-ended free text" in term and "tasks.support-reply.scorer" in term
    assert by["support-reply"]["status"] == "undecided"  # open-ended, no judge: "needs a judge or labels"
    assert by["support-reply"]["reason"].startswith("needs a judge or labels")
    assert "Worst examples" not in runner.invoke(app, ["report"]).output


def test_judge_rejecting_the_key_keeps_other_results_and_reports_the_judge(tmp_path, synth, server_factory, env_key,
                                                                            monkeypatch):
    from tests.loopback import Faults

    rows, small = synth(300, seed=5, weights={TASKS_MATH: 0.5, "ticket-triage": 0.5})
    monkeypatch.chdir(tmp_path)
    log = write_jsonl(tmp_path / "spend.jsonl", rows)
    server = server_factory(small_answerer(small))
    judge = server_factory(lambda m, msgs: judge_text("tie"), Faults(status=401))
    write_cfg(tmp_path / "tiertool.yaml", server.api_base,
              JUDGE.format(task=TASKS_MATH) + "\n  ticket-triage: {scorer: exact}", judge_base=judge.api_base)
    r = runner.invoke(app, ["audit", str(log)])
    assert r.exit_code == 1 and "judge" in r.output and "judge-model" in r.output
    res = load_audit(".tiertool").results
    triage = [x for x in res if x.task == "ticket-triage"]
    math = [x for x in res if x.task == TASKS_MATH]
    assert len(triage) == len(math) == 15
    assert all(x.passed is not None for x in triage)
    assert all(x.passed is None and "unscored: judge" in x.reason for x in math)
