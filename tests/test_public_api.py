"""The public API (tiertool/__init__.py), as a notebook or a script uses it: `import tiertool` alone, a whole
audit -> recommend -> report on the loopback server, the audit as DataFrames, and an audit that is refused."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections import Counter

import pytest

import tiertool
from tests.conftest import small_answerer, write_config, write_jsonl
from tests.reportkit import bundled_audit, cli
from tiertool.errors import InputError

TODAY = "2026-11-01"
EXPECTED = {"ticket-triage": "small", "order-extract": "small", "math-word-problems": "large",
            "support-reply": "large"}


def test_audit_recommend_report_through_import_tiertool_alone(tmp_path, synth, server_factory, env_key):
    rows, small = synth(1000, seed=3)
    log = write_jsonl(tmp_path / "spend.jsonl", rows)
    server = server_factory(small_answerer(small))
    path = write_config(tmp_path / "tiertool.yaml", server.api_base, sample="{sequential: false, per_task: 100}")
    config = tiertool.load_config(path)

    summary = tiertool.run_audit([log], config, tmp_path / "audit")
    assert summary.records == 1000 and summary.calls_sent == len(server.calls) == 4 * 100
    audit = tiertool.load_audit(tmp_path / "audit")
    assert audit.config.model_dump() == config.model_dump()  # the audit owns the config it ran with

    rec = tiertool.recommend(audit)
    assert {d.task: d.tier for d in rec.decisions} == EXPECTED
    assert 0 < rec.savings.saved_fraction < 1
    tiers = tiertool.write_tiers(rec, tmp_path / "tiers.yaml")
    assert tiertool.load_tiers(tiers) == EXPECTED

    report = tiertool.build_report(audit, tiers=tiers, check=True, today=TODAY, examples=1)
    assert not report.failed and tiertool.gate_lines(report)[0].startswith("all gates passed: audit, bar, diff")
    data = json.loads(tiertool.render_report(report, "json"))
    assert {t["task"]: t["tier"] for t in data["tasks"]} == EXPECTED
    assert {t["task"]: t["requests"] for t in data["tasks"]} == dict(Counter(r["request_tags"][0][5:] for r in rows))
    assert data["audit"]["calls"] == 400 and len(data["examples"]) == 4
    for fmt in ("term", "md", "html"):
        assert "ticket-triage" in tiertool.render_report(report, fmt)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return bundled_audit(tmp_path_factory.mktemp("api") / "samples")


@pytest.fixture
def folder(built, tmp_path, monkeypatch):
    work = tmp_path / "w"
    shutil.copytree(built, work)
    monkeypatch.chdir(work)
    return work / ".tiertool"


def test_the_audit_as_dataframes(folder):
    audit = tiertool.load_audit(folder)
    results = audit.results_frame()
    assert len(results) == len(audit.results) and results.passed.dtype == "boolean"
    by_hand = {d.task: d.evidence[0] for d in tiertool.recommend(audit).decisions}
    rates = results[results.tier == "small"].groupby("task").passed.mean()
    assert {t: round(float(r), 6) for t, r in rates.items()} == {
        t: round(e.passed / e.scored, 6) for t, e in by_hand.items()}
    volume = audit.volume_frame()
    assert volume.groupby("task").requests.sum().to_dict() == {t: audit.requests(t) for t in audit.tasks}
    assert volume.requests.sum() == audit.meta.records == 1000


def test_decisions_read_the_test_states_the_audit_stored(folder):
    """A tier moves because its test ended proven in the audit, not because decide recomputed it."""
    assert {d.task: d.tier for d in tiertool.recommend(tiertool.load_audit(folder)).decisions} == EXPECTED
    with sqlite3.connect(folder / "audit.sqlite") as db:
        db.execute("UPDATE tests SET state = 'futile' WHERE task = 'ticket-triage'")
    decisions = {d.task: d for d in tiertool.recommend(tiertool.load_audit(folder)).decisions}
    assert decisions["ticket-triage"].tier == "large" and decisions["order-extract"].tier == "small"


@pytest.mark.parametrize("sql, expect", [
    ("UPDATE meta SET value = '1' WHERE key = 'format'", "an audit of format 1 (written by tiertool 0.1.0); "
     "this tiertool reads format 4: re-run `tiertool audit`"),  # 4: results keep the scorer's own verdict
    ("DELETE FROM meta WHERE key = 'format'", "an audit of format 1 (written by tiertool 0.1.0)"),
    ("UPDATE meta SET value = '\"lots\"' WHERE key = 'records'", "a damaged audit (meta records: Input should be a "
     "valid integer"),
    ("DELETE FROM meta WHERE key = 'family'", "a damaged audit (meta family: Field required); re-run"),
    ("DROP TABLE tests", "a damaged audit (no such table: tests); re-run `tiertool audit`"),
])
def test_an_audit_of_another_format_or_a_damaged_one_is_refused(folder, sql, expect):
    with sqlite3.connect(folder / "audit.sqlite") as db:
        db.execute(sql)
    with pytest.raises(InputError, match="re-run `tiertool audit`") as e:
        tiertool.load_audit(folder)
    assert expect in str(e.value) and "\n" not in str(e.value)
    r = cli("report", "--audit", str(folder))
    assert r.exit_code == 2 and r.stderr.startswith("Error: ") and expect in r.stderr
