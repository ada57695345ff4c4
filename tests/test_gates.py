"""`tiertool report --check`: each gate's exit code, and each failure named in one line."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from tests.conftest import make_sample, write_jsonl
from tests.reportkit import bundled_audit, cli
from tiertool.report.gates import psi

TODAY = "2026-11-01"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return bundled_audit(tmp_path_factory.mktemp("gates") / "samples")


@pytest.fixture
def proj(built, tmp_path, monkeypatch):
    work = tmp_path / "w"
    shutil.copytree(built, work)
    monkeypatch.chdir(work)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return work


def _failed(r) -> list[str]:
    return [ln for ln in r.stderr.splitlines() if ln.startswith("gate failed: ")]


def _edit_tiers(path, **tiers):
    doc = yaml.safe_load(path.read_text())
    for task, tier in tiers.items():
        doc["tasks"][task.replace("_", "-")]["tier"] = tier
    out = path.with_name("committed.yaml")
    out.write_text(yaml.safe_dump(doc))
    return out


def test_all_gates_pass_on_the_committed_recommendation(proj):
    r = cli("report", "--check", "--today", TODAY, "--fail-under-savings", "40%")
    assert r.exit_code == 0, r.output
    assert _failed(r) == []
    assert "all gates passed: audit, bar, diff, savings, deprecation" in r.stderr


def test_bar_gate_fails_when_a_committed_tier_no_longer_meets_the_bar(proj):
    committed = _edit_tiers(proj / "tiers.yaml", math_word_problems="small")
    r = cli("report", "--baseline", str(committed), "--today", TODAY)
    assert r.exit_code == 1
    failed = _failed(r)
    # the policy's own bound: its exact test to the task's 179 requests, at its final Holm level 0.0253 (the two
    # proven tasks' shares recycled); below the fixed-n Clopper-Pearson bound at that level (0.564)
    assert failed[0] == ("gate failed: bar: 1 task(s) on a tier that no longer meets the bar: math-word-problems: "
                         "tier small 16/20 passed, lower bound 0.499 < target 0.95")
    assert failed[1].startswith("gate failed: diff: the recommendation differs from")
    assert len(failed) == 2


def test_diff_gate_shows_the_diff(proj):
    committed = _edit_tiers(proj / "tiers.yaml", ticket_triage="large")  # the reference: bar holds, diff fails
    r = cli("report", "--check", "--baseline", str(committed), "--format", "md", "--today", TODAY)
    assert r.exit_code == 1
    assert [ln.split(":")[1] for ln in _failed(r)] == [" diff"]
    assert "    - ticket-triage: large" in r.stderr and "    + ticket-triage: small" in r.stderr
    assert "```diff\n- ticket-triage: large\n+ ticket-triage: small\n```" in r.stdout  # also in the PR comment


def test_savings_floor(proj):
    r = cli("report", "--fail-under-savings", "0.9", "--today", TODAY, "--format", "json")
    assert r.exit_code == 1
    assert _failed(r) == ["gate failed: savings: projected savings 43.4% < floor 90.0%"]
    gates = {g["gate"]: g for g in json.loads(r.stdout)["gates"]}
    assert not gates["savings"]["passed"] and gates["deprecation"]["passed"] and gates["audit"]["passed"]
    assert cli("report", "--fail-under-savings", "0.43", "--today", TODAY).exit_code == 0


@pytest.mark.parametrize("value", ["lots", "150%", "-0.1"])
def test_bad_floor_is_a_usage_error(proj, value):
    r = cli("report", "--fail-under-savings", value)
    assert r.exit_code == 2 and "--fail-under-savings" in r.stderr


def test_deprecation_gate_uses_the_price_map_date(proj):
    # litellm's price map dates openai/gpt-4o and gpt-4o-mini 2027-01-14
    r = cli("report", "--check", "--today", "2027-02-01")
    assert r.exit_code == 1
    failed = _failed(r)
    assert len(failed) == 1 and failed[0].startswith("gate failed: deprecation: 2 assigned model(s) past their "
                                                     "deprecation date: openai/gpt-4o (tasks")
    assert cli("report", "--check", "--today", TODAY).exit_code == 0


def test_drift_gate(proj):
    same, _ = make_sample.synth_log(600, seed=99)
    shifted, _ = make_sample.synth_log(600, seed=99, weights={"ticket-triage": 0.05, "order-extract": 0.05,
                                                              "math-word-problems": 0.6, "support-reply": 0.3})
    write_jsonl(proj / "same.jsonl", same)
    write_jsonl(proj / "shifted.jsonl", shifted)
    r = cli("report", "--log", "same.jsonl", "--today", TODAY)
    assert r.exit_code == 0, r.stderr
    r = cli("report", "--log", "shifted.jsonl", "--today", TODAY, "--drift-threshold", "0.25")
    assert r.exit_code == 1
    failed = _failed(r)
    assert len(failed) == 1 and failed[0].startswith("gate failed: drift: task mix PSI ")
    assert "math-word-problems: 17.9% -> " in r.stderr
    write_jsonl(proj / "own.jsonl", [{"question": "2 + 2?", "answer": "4"}] * 3)  # no known format, no --map
    r = cli("report", "--check", "--log", "own.jsonl", "--today", TODAY)
    assert r.exit_code == 2 and "own.jsonl: no record could be read from 3 line(s)" in r.stderr


def test_usage_and_input_errors_exit_2(proj):
    assert cli("report", "--log", "missing.jsonl").exit_code == 2
    assert cli("report", "--baseline", "nope.yaml").exit_code == 2
    assert cli("report", "--format", "pdf").exit_code == 2
    assert cli("report", "--today", "yesterday").exit_code == 2
    (proj / "bad.yaml").write_text("tasks: [1, 2]")
    r = cli("report", "--baseline", "bad.yaml")
    assert r.exit_code == 2 and "bad.yaml: not a tiers file" in r.stderr
    assert cli("report", "--check", "--audit", "elsewhere").exit_code == 2


def test_incomplete_audit_fails_the_audit_gate(proj):
    import json
    import sqlite3

    db = sqlite3.connect(proj / ".tiertool" / "audit.sqlite")
    db.execute("UPDATE meta SET value = ? WHERE key = 'error'", (json.dumps("tier 'small': cannot reach it"),))
    db.commit()
    db.close()
    r = cli("report", "--check", "--today", TODAY)
    assert r.exit_code == 1
    assert _failed(r)[0].startswith("gate failed: audit: the audit is incomplete: tier 'small': cannot reach it; "
                                    "fix that and re-run `tiertool audit logs.jsonl`")


def test_psi_properties():
    assert psi({"a": 10, "b": 10}, {"a": 50, "b": 50}) == pytest.approx(0.0, abs=1e-12)
    small = psi({"a": 50, "b": 50}, {"a": 55, "b": 45})
    big = psi({"a": 50, "b": 50}, {"a": 90, "b": 10})
    assert 0 < small < 0.1 < 0.25 < big
    assert psi({"a": 1}, {"a": 1, "new": 1}) > 0.25  # unaudited traffic counts as drift
