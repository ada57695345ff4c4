"""Issue 15: a guarantee per real sub-population. A part of a task type whose pass rate is below the rest's is
tested apart, and the task moves only when that part proves the bar on its own later samples."""

from __future__ import annotations

import json
import random

from typer.testing import CliRunner

from tests.conftest import write_jsonl
from tiertool.cli import app
from tiertool.decide.rounds import Rounds
from tiertool.decide.subpop import SubPopulations, candidates
from tiertool.records import Family, Request

runner = CliRunner()


def _req(rid: str, user: str, task: str = "qa", source: str = "tag", tokens: int = 50,
         tags: tuple[str, ...] = ()) -> Request:
    return Request(rid, f"log:{rid}", "gpt-4o", ({"role": "user", "content": user},), task=task, task_source=source,
                   input_tokens=tokens, tags=("task:" + task, *tags))


def test_candidate_parts_are_templates_tags_and_length_bands_fixed_before_any_outcome():
    rng = random.Random(1)
    sample = [_req(f"a{i}", f"Translate into French, formally: {rng.random():.6f} apples", tokens=20 + i)
              for i in range(60)]
    sample += [_req(f"b{i}", f"Summarise the ticket in one word:\nticket {rng.random():.6f}", tokens=200 + i,
                    tags=("beta",)) for i in range(40)]
    parts = candidates(sample)
    by = {}
    for p in parts:
        by.setdefault(p.feature, []).append(p)
    assert [len(p.members) for p in by["template"]] == [60, 40]
    assert by["template"][0].label.startswith("Translate into French")
    assert {p.label for p in by["tags"]} == {"(no other tag)", "beta"}
    assert [len(p.members) for p in by["length"]] == [33, 33, 34]
    inferred = [_req(r.id, r.messages[0]["content"], "auto:x", "template", r.input_tokens) for r in sample[:60]]
    assert {p.feature for p in candidates(inferred)} == {"length"}  # one template already


def _simulate(seed: int, rates: dict[str, float], shares: dict[str, float], n: int = 400, target: float = 0.8,
              alpha: float = 0.05) -> tuple[str, bool]:
    """One audit of one task on one tier, with parts A/B at these true pass rates: (test state, B separated)."""
    rng = random.Random(seed)
    names = [p for p, s in shares.items() for _ in range(round(s * n))]
    rng.shuffle(names)
    sample = [_req(f"{p}{i}", f"{p} prompt {i}", tokens=10, tags=(p,)) for i, p in enumerate(names)]
    parts = SubPopulations({"qa": sample}, target)
    fam = Family(("qa",), 1, alpha, 10, 10)
    rounds = Rounds(["small"], {"qa": n}, fam, target, True, 20, n, parts)
    while plan := rounds.next():
        first, stop, _ = plan["qa"]
        batch = sample[first:stop]
        outcomes = [rng.random() < rates[r.id[0]] for r in batch]
        rounds.record("qa", stop, {"small": outcomes}, {"small": [r.id for r in batch]})
        rounds.finish_round()
    state = rounds.states()[0].state
    return state, any(p.part == "B" for p in parts.all_tests(alpha))


def test_a_weak_part_holds_its_task_back_and_a_uniform_task_still_moves():
    weak = [_simulate(s, {"A": 0.97, "B": 0.70}, {"A": 0.7, "B": 0.3}) for s in range(40)]
    assert sum(state == "proven" for state, _ in weak) <= 2  # pooled 0.889 clears 0.8; the weak part does not
    assert sum(sep for _, sep in weak) >= 25  # the others stopped before the screen separated it
    uniform = [_simulate(s, {"A": 0.95, "B": 0.95}, {"A": 0.7, "B": 0.3}) for s in range(40)]
    assert sum(state == "proven" for state, _ in uniform) >= 36


def test_a_part_at_the_boundary_is_proven_apart_at_most_at_the_task_s_level():
    """The intersection-union argument: once separated, the part's own test on later samples is valid, so a part
    whose pass rate is exactly the target is proven (and its task moved) at most alpha of the time."""
    alpha = 0.1
    runs = [_simulate(s, {"A": 1.0, "B": 0.8}, {"A": 0.6, "B": 0.4}, alpha=alpha) for s in range(200)]
    wrong = sum(state == "proven" and sep for state, sep in runs)
    assert wrong <= alpha * len(runs), wrong


def _qa_log(tmp_path, rng: random.Random) -> tuple[list[dict], dict[str, str]]:
    """Task qa in two prompt templates; the small model is always right on one and right half of the time on the
    other (pooled about 0.83, above the 0.75 bar). Task greet: always right. Token counts put money at stake, so
    the sampling policy samples qa on (without them a sample costs a share of an unknown saving)."""
    rows, small = [], {}
    for i in range(800):
        if i % 4 == 3:
            task, user, answer = "greet", f"Say hello to customer number {i}", f"hello {i}"
            small[user] = answer
        elif i % 4 == 2:
            task, user, answer = "qa", f"Give the capital city of country code {i}, one word:", f"city{i}"
            small[user] = answer if rng.random() < 0.5 else "unsure"
        else:
            task, user, answer = "qa", f"Repeat this order number back exactly: {i}", str(i)
            small[user] = answer
        rows.append({"id": f"r{i}", "model": "gpt-4o", "tags": [f"task:{task}"],
                     "messages": [{"role": "user", "content": user}],
                     "response": {"choices": [{"message": {"role": "assistant", "content": answer}}],
                                  "usage": {"prompt_tokens": 1000, "completion_tokens": 200}}})
    return rows, small


def test_the_audit_tests_a_differing_template_apart_and_the_report_says_why(tmp_path, server_factory, env_key,
                                                                            monkeypatch):
    rows, small = _qa_log(tmp_path, random.Random(5))
    log = write_jsonl(tmp_path / "chat.jsonl", rows)
    server = server_factory(lambda model, messages: small[messages[-1]["content"]])
    tier = f"api_base: {server.api_base}, api_key_env: TIERTOOL_TEST_KEY"
    (tmp_path / "tiertool.yaml").write_text(f"""
tiers:
  - {{name: small, model: openai/gpt-4o-mini, {tier}}}
  - {{name: large, model: openai/gpt-4o, {tier}}}
quality: {{target: 0.75, confidence: 0.95}}
tasks: {{qa: {{scorer: exact}}, greet: {{scorer: exact}}}}
sample: {{round: 20, max_per_task: 400}}
""", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["audit", str(log)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    data = json.loads(runner.invoke(app, ["report", "--format", "json"]).output)
    tasks = {t["task"]: t for t in data["tasks"]}
    assert tasks["greet"]["tier"] == "small" and "subpopulations" not in tasks["greet"]
    qa = tasks["qa"]
    assert qa["tier"] == "large" and qa["status"] == "kept", qa["reason"]
    assert qa["tiers"][0]["pass_rate"] > 0.75  # the whole task was on course to clear the bar
    (part,) = [p for p in qa["subpopulations"] if p["feature"] == "template"]
    assert part["part"].startswith("Give the capital city") and part["state"] in ("futile", "capped")
    assert "one-sided Fisher exact p = " in part["separated_because"]
    assert qa["reason"].startswith("a sub-population holds it back on small: template 'Give the capital city")
    md = runner.invoke(app, ["report", "--format", "md"]).output
    assert "## Sub-populations tested apart" in md and "qa on small: template 'Give the capital city" in md
