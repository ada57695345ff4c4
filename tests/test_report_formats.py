"""What a reader sees: md and json snapshots on a fixed audit, html in headless Chromium, examples, redaction."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.reportkit import HOSTILE, bundled_audit, cli, hostile_audit

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("TIERTOOL_UPDATE_SNAPSHOTS") == "1"
TODAY = "2026-10-01"  # deprecation warnings are judged as of a fixed day (2027-01-14 is 105 days away)
VOLATILE = {"generated_at", "created"}


@pytest.fixture(scope="module")
def bundled(tmp_path_factory) -> Path:
    return bundled_audit(tmp_path_factory.mktemp("bundled") / "samples")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    return hostile_audit(tmp_path_factory.mktemp("hostile") / "work")


@pytest.fixture
def in_bundled(bundled, monkeypatch):
    monkeypatch.chdir(bundled)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return bundled


@pytest.fixture
def in_hostile(hostile, monkeypatch):
    monkeypatch.chdir(hostile)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return hostile


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if UPDATE or not path.exists():
        path.write_text(text, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"snapshot {name} was missing and has been written; check it in and re-run")
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} changed; if intended, re-run with TIERTOOL_UPDATE_SNAPSHOTS=1 and review the diff")


def test_md_snapshot(in_bundled):
    r = cli("report", "--format", "md", "--today", TODAY)
    assert r.exit_code == 0, r.output
    _snapshot("report.md", r.output)


def test_json_snapshot_and_stable_keys(in_bundled):
    r = cli("report", "--format", "json", "--today", TODAY)
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    _snapshot("report.json", json.dumps(_strip(data), indent=2, ensure_ascii=False) + "\n")
    assert list(data) == ["tasks", "savings", "cascade", "quality", "reference", "tier_models", "audit", "warnings"]
    for t in data["tasks"]:
        assert t["replayable"] <= t["requests"] and set(t["cost_by_tier"]) == {"small", "large"}
        assert t["task_sources"] == {"tag": t["requests"]}
    assert "examples" not in data  # customer data only when asked for


def test_term_shows_tables_savings_and_warnings(in_bundled):
    r = cli("report", "--today", TODAY)
    assert r.exit_code == 0, r.output
    for text in ("tested", "passed", "lower bound", "current", "projected", "Savings over the log's period",
                 "110/110", "95.8% ≥ 95%", "total", "tiers: small = openai/gpt-4o-mini; large = openai/gpt-4o"):
        assert text in r.output
    assert "stays on the reference" not in r.output  # support-reply fails outright: not a traffic problem


def test_deprecation_soon_is_a_warning(in_bundled):
    data = json.loads(cli("report", "--format", "json", "--today", "2026-12-20").output)
    kinds = {w["kind"] for w in data["warnings"]}
    assert "deprecated_model" in kinds
    term = cli("report", "--today", "2026-12-20").output  # a warning longer than a line wraps as words
    assert "\\x0a" not in term and "is deprecated\n  on 2027-01-14 per litellm's price map" in term, term


def test_step_summary_gets_markdown(in_bundled, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    r = cli("report", "--format", "json", "--today", TODAY)
    assert r.exit_code == 0
    text = summary.read_text()
    assert text.startswith("earlier step\n# tiertool report") and "| ticket-triage |" in text


def test_examples_only_when_asked_and_prompts_are_shown(in_hostile):
    plain = cli("report", "--format", "md").output
    assert "ada.lovelace" not in plain and "Worst examples" not in plain
    r = cli("report", "--format", "json", "--examples", "2")
    data = json.loads(r.output)
    reply = data["examples"]["support-reply"]
    assert len(reply) == 2 and all(HOSTILE in e["prompt"] for e in reply)
    assert all(set(e) >= {"request_id", "source", "tier", "model", "reference", "answer", "value", "reason"}
               for recs in data["examples"].values() for e in recs)
    # failures first, lowest score first
    values = [e["value"] for e in reply]
    assert values == sorted(values)


@pytest.mark.parametrize("fmt", ["term", "md", "html", "json"])
def test_redact_masks_customer_data_in_every_format(in_hostile, fmt):
    r = cli("report", "--format", fmt, "--examples", "3", "--redact")
    assert r.exit_code == 0, r.output
    out = r.output
    for secret in ("ada.lovelace@example.com", "555", "4111", "sk-proj-AbCdEf0123456789XyZ"):
        assert secret not in out, (fmt, secret)
    for mask in ("[email]", "[phone]", "[card]", "[key]"):
        assert mask in out, (fmt, mask)
    unredacted = cli("report", "--format", fmt, "--examples", "3").output
    assert "ada.lovelace@example.com" in unredacted


def test_md_keeps_log_content_literal(in_hostile):
    out = cli("report", "--format", "md", "--examples", "1").output
    fence, raw_html = None, []
    for line in out.splitlines():
        stripped = line.strip()
        if fence is None and stripped.startswith("```"):
            fence = stripped.split("text")[0]
        elif fence is not None and stripped == fence:
            fence = None
        elif fence is None and "<" in line:
            raw_html.append(line)
    assert "<script>" in out and raw_html == []  # log content only inside code blocks, never as markdown HTML


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.skip("chromium is not installed (apt-get install chromium chromium-driver; .ci/run does this)")
    return path


def _browser(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=90)


def test_html_renders_in_chromium_draws_charts_and_never_runs_log_script(in_hostile, tmp_path):
    _chromium()
    page = tmp_path / "report.html"
    r = cli("report", "--format", "html", "--examples", "2", "--out", str(page))
    assert r.exit_code == 0, r.output
    html = page.read_text()
    assert "<script" not in html.replace("&lt;script", "")  # no script element of any origin
    assert not re.search(r"""(src|href)=["']?https?:""", html)  # self-contained: nothing to fetch
    dom = _browser(["--dump-dom", page.as_uri()], tmp_path / "profile").stdout
    assert "<title>tiertool report</title>" in dom  # the script would have changed it
    assert 'id="pwned"' not in dom and "<script" not in dom.replace("&lt;script", "")
    assert "&lt;script&gt;document.title='pwned'" in dom  # shown as text
    assert "&lt;img src=x onerror=" in dom
    tasks = 4
    assert dom.count('<svg class="chart"') == tasks
    assert dom.count('class="bar"') == tasks  # the quality bar, once per chart
    assert dom.count("<circle") == 2 * tasks  # one point per tier
    shot = tmp_path / "shot.png"
    _browser([f"--screenshot={shot}", "--window-size=1200,1800", page.as_uri()], tmp_path / "profile2")
    assert shot.stat().st_size > 10_000


def test_warnings_for_low_traffic_inferred_types_and_non_replayable_share(tmp_path, monkeypatch):
    import shutil as sh

    from tests.conftest import ROOT, make_sample, write_jsonl

    rows, small = make_sample.synth_log(1000, seed=8)
    recorded = []
    for i, r in enumerate(rows):
        user = r["messages"][-1]["content"]
        answer = small[user]
        if i < 20:  # a rare task the small tier always gets right: too little traffic to prove it
            r["request_tags"] = ["task:rare-task"]
            answer = r["response"]["choices"][0]["message"]["content"]
        elif i < 50:  # no task key at all
            r["request_tags"] = []
        elif r["request_tags"] == ["task:order-extract"] and i % 2:  # prompt not captured
            r["messages"] = []
        recorded.append({"model": make_sample.SMALL, "messages": r["messages"], "output": answer})
    write_jsonl(tmp_path / "logs.jsonl", rows)
    write_jsonl(tmp_path / "recorded.jsonl", recorded)
    sh.copy(ROOT / "samples" / "tiertool.yaml", tmp_path / "tiertool.yaml")
    monkeypatch.chdir(tmp_path)
    assert cli("audit", "logs.jsonl", "--offline").exit_code == 0
    data = json.loads(cli("report", "--format", "json", "--today", TODAY).output)
    by_kind = {}
    for w in data["warnings"]:
        by_kind.setdefault(w["kind"], []).append(w)
    # the 30 requests with no task key are typed by their prompt template into small `auto:` groups
    inferred = [t["task"] for t in data["tasks"] if t["task"].startswith("auto:")]
    assert inferred and sum(t["requests"] for t in data["tasks"] if t["task"] in inferred) == 30
    assert set(w["task"] for w in by_kind["low_traffic"]) == {"rare-task", *inferred}
    assert [w["task"] for w in by_kind["inferred_task_type"]] == inferred
    assert all("were not typed by a task key in the log (inferred from template: " in w["message"]
               for w in by_kind["inferred_task_type"])
    non = {w["task"] for w in by_kind["non_replayable"]}
    assert None in non and "order-extract" in non  # overall share, and the task that lost half its prompts
    term = cli("report", "--today", TODAY).output
    assert "warning: rare-task: only 20 replayable requests" in term


def test_examples_say_when_the_log_line_is_gone(hostile, tmp_path, monkeypatch):
    work = tmp_path / "moved"
    shutil.copytree(hostile, work)
    (work / "logs.jsonl").unlink()
    monkeypatch.chdir(work)
    data = json.loads(cli("report", "--format", "json", "--examples", "1").output)
    assert all(e["prompt"] is None and e["answer"] is not None for recs in data["examples"].values() for e in recs)
    assert "(not available" in cli("report", "--format", "html", "--examples", "1").output
