"""The first hour with one's own logs (issue 14): one test (or a few) per numbered finding of the issue, each run
as a user runs it: real commands on real files, asserting on output, files and exit codes."""

from __future__ import annotations

import json
import math
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml

from tests import test_report_formats
from tests.conftest import ROOT, small_answerer, write_config, write_jsonl
from tests.loopback import Fail
from tests.reportkit import cli
from tiertool.records import INFERRED_SOURCES

TODAY = "2026-10-01"  # gpt-4o's deprecation date in litellm's map (2027-01-14) is then 105 days away
ANSI = re.compile(r"\x1b\[[0-9;]*m")
bundled = test_report_formats.bundled  # the bundled audit, built once per module, and a cwd in it
in_bundled = test_report_formats.in_bundled


@pytest.fixture
def sample(tmp_path, monkeypatch) -> Path:
    """A fresh copy of samples/ to work in, not yet audited."""
    folder = shutil.copytree(ROOT / "samples", tmp_path / "samples")
    monkeypatch.chdir(folder)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return folder


# 1. A log it cannot read never gets a green run -------------------------------------------------------------------

def test_1_a_log_nothing_can_read_exits_2_and_writes_nothing(sample):
    write_jsonl(sample / "weird.jsonl", [{"q": f"question {i}", "a": "yes", "llm": "gpt-4o"} for i in range(30)])
    for args in (["--dry-run"], ["--offline"]):
        r = cli("audit", "weird.jsonl", *args)
        assert r.exit_code == 2, (args, r.output)
        assert "weird.jsonl" in r.stderr and "no record could be read" in r.stderr
        assert not (sample / ".tiertool").exists()
    r = cli("recommend")
    assert r.exit_code == 2 and not (sample / "tiers.yaml").exists()
    r = cli("report", "--check")
    assert r.exit_code == 2 and "all gates passed" not in r.output


def test_1_an_audit_that_read_nothing_gets_no_tiers_file_and_fails_the_gate(sample):
    """An audit folder with no records (written by an older tiertool, or by hand) is refused as well."""
    assert cli("audit", "logs.jsonl", "--offline", "-q").exit_code == 0
    db = sqlite3.connect(sample / ".tiertool" / "audit.sqlite")
    with db:
        db.execute("UPDATE meta SET value = '0' WHERE key = 'records'")
        db.execute("DELETE FROM volume")
    db.close()
    r = cli("recommend")
    assert r.exit_code == 2 and "nothing to decide: the audit read no records from logs.jsonl" in r.stderr
    assert not (sample / "tiers.yaml").exists()
    r = cli("report", "--check", "--allow-incomplete", "--today", TODAY)
    assert r.exit_code == 1 and "gate failed: audit: the audit read no records from logs.jsonl" in r.stderr


def test_1_dry_run_on_a_readable_log_writes_no_audit_folder(sample):
    r = cli("audit", "logs.jsonl", "--dry-run")
    assert r.exit_code == 0, r.output
    assert "plan:" in r.stderr and "--dry-run: nothing sent, nothing written" in r.stderr
    assert not (sample / ".tiertool").exists()  # not even the answer cache
    assert cli("audit", "logs.jsonl", "--offline", "--dry-run").exit_code == 0
    assert not (sample / ".tiertool").exists()


# 2. recommend and report --check refuse an incomplete audit ------------------------------------------------------

def test_2_recommend_and_check_refuse_an_audit_whose_key_was_missing(sample):
    cfg = (sample / "tiertool.yaml").read_text().replace("replay:\n  recorded: recorded.jsonl\n", "")
    (sample / "tiertool.yaml").write_text(cfg)  # nothing recorded: the small tier must be called, with no key
    r = cli("audit", "logs.jsonl", "--yes")
    assert r.exit_code == 1 and "OPENAI_API_KEY is not set" in r.stderr

    r = cli("recommend")
    assert r.exit_code == 1, r.output
    assert "the audit is incomplete: tier 'small' (openai/gpt-4o-mini): environment variable OPENAI_API_KEY" in r.stderr
    assert "re-run `tiertool audit logs.jsonl`" in r.stderr and "--allow-incomplete" in r.stderr
    assert not (sample / "tiers.yaml").exists()
    r = cli("report", "--check", "--today", TODAY)
    assert r.exit_code == 1 and "gate failed: audit: the audit is incomplete" in r.stderr

    r = cli("recommend", "--allow-incomplete")
    assert r.exit_code == 0 and "warning: --allow-incomplete: tier 'small'" in r.stderr
    assert (sample / "tiers.yaml").exists()
    r = cli("report", "--check", "--allow-incomplete", "--today", TODAY)
    assert r.exit_code == 0, r.stderr
    assert "audit incomplete:" in r.stdout  # the report still says so


def test_2_offline_answers_missing_is_incomplete_too(sample):
    (sample / "recorded.jsonl").write_text("")
    assert cli("audit", "logs.jsonl", "--offline", "-q").exit_code == 1
    r = cli("recommend")
    assert r.exit_code == 1
    assert "answers were neither cached nor recorded (--offline); re-run `tiertool audit logs.jsonl` without " \
           "--offline" in r.stderr


# 3. Full model names at 80 columns --------------------------------------------------------------------------------

def _no_cut(text: str) -> None:
    lines = ANSI.sub("", text).splitlines()
    assert max(map(len, lines)) <= 80, max(lines, key=len)
    assert "…" not in text
    assert "small = openai/gpt-4o-mini; large = openai/gpt-4o (reference)" in ANSI.sub("", text)
    assert "math-word-problems" in ANSI.sub("", text)  # a long task name is not cut either


def test_3_piped_terminal_report_keeps_full_model_names_at_80_columns(in_bundled):
    r = cli("report", "--today", TODAY)
    assert r.exit_code == 0
    _no_cut(r.stdout)


def test_3_an_80_column_terminal_keeps_them_too(in_bundled, monkeypatch):
    from tiertool import build_report, load_audit, render_report

    monkeypatch.setenv("COLUMNS", "80")
    report = build_report(load_audit(in_bundled / ".tiertool"), today=TODAY)
    _no_cut(render_report(report, "term", color=True))


# 4. A kept task shows the cheaper tier's evidence and why it failed ----------------------------------------------

def test_4_a_kept_task_shows_the_best_cheaper_tiers_evidence(in_bundled):
    term = cli("report", "--today", TODAY).stdout
    row = next(line for line in term.splitlines() if line.startswith("math-word-problems"))
    assert row.split() == ["math-word-problems", "179", "large", "small", "16/20", "80.0%", "49.9%", "<", "95%"]
    md = cli("report", "--format", "md", "--today", TODAY).stdout
    assert ("| math-word-problems | 179 | 17.9% | large | `openai/gpt-4o` | small | 16/20 | 80.0% | 49.9% &lt; 95% |"
            in md)
    assert "| support-reply | 145 | 14.5% | large | `openai/gpt-4o` | small | 0/20 | 0.0% | 0.0% &lt; 95% |" in md
    html = cli("report", "--format", "html", "--today", TODAY).stdout
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", html.split("math-word-problems</td>", 1)[1].split("</tr>", 1)[0])
    assert cells[3:7] == ["small", "16/20", "80.0%", "49.9% &lt; 95%"]
    data = json.loads(cli("report", "--format", "json", "--today", TODAY).stdout)
    kept = {t["task"]: t for t in data["tasks"]}["math-word-problems"]
    assert kept["evidence_tier"] == "small" and kept["pass_rate"] == 1.0  # json keeps the chosen tier's figures


# 5. A task named in `tasks:` that no request has is a warning naming the closest task type -----------------------

def test_5_a_misspelled_task_name_is_a_warning_naming_the_closest_one(sample):
    cfg = (sample / "tiertool.yaml").read_text().replace("ticket-triage: {scorer: exact}",
                                                         "ticket-triag: {scorer: exact}")
    (sample / "tiertool.yaml").write_text(cfg)
    r = cli("audit", "logs.jsonl", "--offline")
    assert r.exit_code == 0, r.output
    expected = ("tasks.ticket-triag: no request of the log has this task type, so this setting is not applied; "
                "the closest task type is 'ticket-triage'")
    assert f"warning: {expected}" in r.stderr
    data = json.loads(cli("report", "--format", "json", "--today", TODAY).stdout)
    assert {"kind": "unknown_task", "task": "ticket-triag", "message": expected} in data["warnings"]


# 6. YAML errors name the file, line and column --------------------------------------------------------------------

def test_6_a_yaml_syntax_error_names_file_line_and_column(sample):
    (sample / "tiertool.yaml").write_text("tiers:\n  - {name: small, model: openai/gpt-4o-mini\n"
                                          "  - {name: large, model: openai/gpt-4o}\n")
    r = cli("audit", "logs.jsonl", "--offline")
    assert r.exit_code == 2
    assert r.stderr.strip() == ("Error: tiertool.yaml:3:5: not valid YAML: while parsing a flow mapping, expected ',' "
                                "or '}', but got '{'")


# 7. From one's own log to a first config: `tiertool init` ---------------------------------------------------------

def test_7_init_writes_a_starter_config_the_audit_accepts_and_prints_the_next_commands(sample):
    (sample / "tiertool.yaml").unlink()
    r = cli("init", "logs.jsonl")
    assert r.exit_code == 0, r.output
    text = (sample / "tiertool.yaml").read_text()
    config = yaml.safe_load(text)
    assert [t["model"] for t in config["tiers"]] == ["gpt-4o-mini", "gpt-4o"]  # the log's model is the reference
    assert "gpt-4o: 1,000 requests in the log" in text and "TODO endpoint and key" in text
    for task, scorer in (("ticket-triage", "exact"), ("order-extract", "json"), ("math-word-problems", "numeric"),
                         ("support-reply", "needs a judge or labels")):  # open-ended, no judge
        assert config["tasks"][task] == {"scorer": "auto"}
        assert re.search(rf"# {task}: [\d,]+ requests \([\d.]+%\), [\d,]+ replayable, typed by tag\n"
                         rf"  #   `auto` on \d+ logged answers: .* -> {scorer}", text), task
    commands = [line.strip() for line in r.stdout.splitlines() if line.startswith("  tiertool")]
    assert commands == ["tiertool audit logs.jsonl --dry-run", "tiertool audit logs.jsonl",
                        "tiertool recommend && tiertool report"]
    r = cli("audit", "logs.jsonl", "--dry-run")
    assert r.exit_code == 0 and "plan: up to" in r.stderr and "warning" not in r.stderr
    assert cli("init", "logs.jsonl").exit_code == 2  # never overwrites without --force
    assert cli("init", "logs.jsonl", "--force").exit_code == 0


def test_7_the_sample_config_sets_nothing_the_audit_ignores(sample):
    r = cli("audit", "logs.jsonl", "--offline")
    assert r.exit_code == 0 and "warning" not in r.stderr
    cfg = (sample / "tiertool.yaml").read_text()
    (sample / "tiertool.yaml").write_text(re.sub(r"sample: .*\n", "sample: {per_task: 100}\n", cfg))
    r = cli("audit", "logs.jsonl", "--offline")
    assert "warning: sample.per_task (100) applies only with sample.sequential: false; this audit samples in " \
           "rounds from 20 as far as the money at stake repays (sample.payback_months: 3)" in r.stderr


# 8. One set of figures everywhere ---------------------------------------------------------------------------------

def test_8_inspect_and_report_price_a_batch_log_alike(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    logs = [str(ROOT / "tests/fixtures/producers" / f"openai_batch_chat_{part}.jsonl") for part in ("input", "output")]
    write_config(tmp_path / "tiertool.yaml", None, None)
    inspected = json.loads(cli("inspect", *logs, "--json").stdout)
    assert cli("audit", *logs, "--offline", "-q").exit_code == 0
    report = json.loads(cli("report", "--format", "json").stdout)
    assert inspected["spend"]["total_usd"] > 0 and inspected["spend"]["unpriced_models"] == []
    assert report["savings"]["current_usd"] == pytest.approx(inspected["spend"]["total_usd"], abs=1e-6)


def test_8_progress_and_summary_count_the_same_failures(tmp_path, synth, server_factory, env_key, monkeypatch):
    rows, small = synth(600, seed=3)
    log = write_jsonl(tmp_path / "spend.jsonl", rows)
    calls = []

    def reject_after_ten(model, messages):  # the key is revoked mid-audit: the tier stops, the rest is not sent
        calls.append(model)
        if len(calls) > 10:
            raise Fail(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")
        return small_answerer(small)(model, messages)

    server = server_factory(reject_after_ten)
    path = write_config(tmp_path / "tiertool.yaml", server.api_base, sample="{sequential: false, per_task: 100}")
    path.write_text(path.read_text().replace("replay: {max_attempts: 3,", "replay: {concurrency: 2, max_attempts: 1,"))
    monkeypatch.chdir(tmp_path)
    r = cli("audit", str(log))
    assert r.exit_code == 1
    summary = int(re.search(r"(\d+) failed", r.stdout).group(1))
    progress = [line for line in r.stderr.splitlines() if line.startswith("small: ")][-1]
    failed, unsent = (int(x) for x in re.search(r"(\d+) failed, (\d+) not sent", progress).groups())
    assert failed == summary == len(calls) - 10 and unsent > 0
    assert json.loads(cli("report", "--format", "json", "--allow-incomplete").stdout)["audit"]["failed"] == summary


def test_8_the_plan_says_up_to_beside_the_expected_figure_and_counts_the_cache(project):
    tmp, log, server, _ = project
    r = cli("audit", str(log), "--yes")
    assert r.exit_code == 0, r.output
    head = next(line for line in r.stderr.splitlines() if line.startswith("plan: "))
    most, likely = (int(x.replace(",", "")) for x in re.search(
        r"plan: up to ([\d,]+) model calls to send; ~([\d,]+) if each test proves the bar at its first chance", head
    ).groups())
    assert head.endswith(", 0 answers cached")
    # two task types pass at their first chance, two fail their first round and stop sooner
    assert len(server.calls) <= likely < most
    sent = len(server.calls)
    r = cli("audit", str(log), "--yes")  # a re-run: the cache shows where each test stopped
    head = next(line for line in r.stderr.splitlines() if line.startswith("plan: "))
    assert "; ~0 if each test" in head and f", {sent:,} answers cached" in head and len(server.calls) == sent


def test_8_a_fixed_plan_counts_exactly_what_is_sent(project):
    tmp, log, server, _ = project
    write_config(tmp / "tiertool.yaml", server.api_base, sample="{sequential: false, per_task: 50}")
    r = cli("audit", str(log), "--yes")
    head = next(line for line in r.stderr.splitlines() if line.startswith("plan: "))
    assert head == f"plan: {len(server.calls)} model calls to send, 0 answers cached"


def test_8_a_log_under_7_days_says_its_monthly_figures_are_scaled(sample):
    rows = [json.loads(line) for line in (sample / "logs.jsonl").read_text().splitlines()]
    for i, row in enumerate(rows):  # squeeze the 30 days into 21 hours
        row["startTime"] = row["endTime"] = f"2026-03-02T{i * 21 // len(rows):02d}:{i % 60:02d}:00Z"
    write_jsonl(sample / "logs.jsonl", rows)
    assert cli("audit", "logs.jsonl", "--offline", "-q").exit_code == 0
    r = cli("recommend")
    assert "per 30 days, scaled up from 21 hours of log)" in r.stdout
    data = json.loads(cli("report", "--format", "json", "--today", TODAY).stdout)
    short = [w["message"] for w in data["warnings"] if w["kind"] == "short_span"]
    assert len(short) == 1 and short[0].startswith("the log spans only 21 hours") and "7+ days" in short[0]
    assert "(scaled up from 21 hours of log: rough)" in " ".join(cli("report", "--today", TODAY).stdout.split())


def test_8_the_drift_gate_names_inferred_tasks_as_inspect_does(sample):
    rows = [json.loads(line) for line in (sample / "logs.jsonl").read_text().splitlines()]
    for row in rows:
        if row["request_tags"] == ["task:support-reply"]:
            row["request_tags"] = []  # typed by template inference: an `auto:` name
    write_jsonl(sample / "logs.jsonl", rows)
    assert cli("audit", "logs.jsonl", "--offline", "-q").exit_code == 0
    inferred = {t["task"] for t in json.loads(cli("inspect", "logs.jsonl", "--json").stdout)["tasks"]
                if t["typed_by"] in INFERRED_SOURCES}
    write_jsonl(sample / "new.jsonl", [r for r in rows if not r["request_tags"]])  # only that task: a drift
    r = cli("report", "--check", "--log", "new.jsonl", "--today", TODAY)
    named = {line.split(":")[0].strip() + ":" + line.split(":")[1] for line in r.stderr.splitlines()
             if line.startswith("    auto:")}
    assert inferred and named == inferred


# 9. CLI conventions and output polish ----------------------------------------------------------------------------

COMMANDS = ["inspect", "init", "audit", "recommend", "report", "monitor"]


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_9_help_fits_80_columns_with_readable_option_types(command):
    args = [command] if command else []
    short, long = cli(*args, "-h", env={"COLUMNS": "80"}), cli(*args, "--help", env={"COLUMNS": "80"})
    assert short.exit_code == long.exit_code == 0 and short.stdout == long.stdout
    assert max(map(len, short.stdout.splitlines())) <= 80
    assert not re.search(r"<(bool|str|int|float|path|list)", short.stdout) and "…" not in short.stdout
    words = " ".join(short.stdout.split())
    if command in ("audit", "inspect", "init"):  # every format is named (a wrapped name keeps its hyphen)
        from tiertool.defaults import LOG_FORMATS

        assert ", ".join(LOG_FORMATS) in words.replace("- ", "-")
    if command == "report":
        assert "term, md, html, json" in words


def test_9_version_and_the_format_names_are_the_registries():
    import tiertool
    from tiertool.defaults import LOG_FORMATS, REPORT_FORMATS
    from tiertool.ingest.formats import FORMAT_NAMES
    from tiertool.report.render import RENDERERS

    r = cli("--version")
    assert r.exit_code == 0 and r.stdout == f"tiertool {tiertool.__version__}\n"
    assert FORMAT_NAMES == LOG_FORMATS and tuple(RENDERERS) == REPORT_FORMATS


def test_9_deprecations_only_within_90_days_unless_asked(in_bundled):
    def kinds(*args):
        data = json.loads(cli("report", "--format", "json", *args).stdout)
        return [w["message"] for w in data["warnings"] if w["kind"] == "deprecated_model"]

    assert kinds("--today", TODAY) == []  # 105 days away
    assert len(kinds("--today", "2026-10-20")) == 2  # 86 days away
    assert len(kinds("--today", "2026-01-01", "--all-deprecations")) == 2


def test_9_monitor_says_not_scored_when_the_reference_cannot_be_called(tmp_path, synth, monkeypatch):
    rows, small = synth(600, seed=21)
    for r in rows:
        if r["request_tags"] == ["task:ticket-triage"]:
            r["model"] = "openai/gpt-4o-mini"
            r["response"]["choices"][0]["message"]["content"] = small[r["messages"][-1]["content"]]
    log = write_jsonl(tmp_path / "live.jsonl", rows)
    write_config(tmp_path / "tiertool.yaml", "http://127.0.0.1:9", key_env="TIERTOOL_UNSET_KEY")
    (tmp_path / "tiers.yaml").write_text(yaml.safe_dump({"tasks": {"ticket-triage": {"tier": "small"}}}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TIERTOOL_UNSET_KEY", raising=False)
    r = cli("monitor", str(log), "--format", "json")
    assert r.exit_code == 1 and "TIERTOOL_UNSET_KEY" in r.stderr
    t = json.loads(r.stdout)["tasks"][0]
    assert t["on_tier"] > 0 and t["status"] == "not scored"


LONG_MODEL = "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0"
MEASURE = """<pre id="measure"></pre><script>
const box = e => { const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
const charts = [...document.querySelectorAll('svg.chart')].map(svg => ({
  texts: [...svg.querySelectorAll('text')].map(t => [t.textContent, ...box(t)]),
  axes: [...svg.querySelectorAll('line.axis')].map(box),
  points: [...svg.querySelectorAll('circle')].map(box)}));
const models = [...document.querySelectorAll('code.model')].map(c => [c.textContent, c.getClientRects().length]);
document.getElementById('measure').textContent = JSON.stringify({charts, models});
</script>"""


def _crowded(bundled: Path):
    """The bundled report with four tiers whose cheaper two sit almost on top of each other, one point at $0 and
    100%, an odd maximum cost and a long model name: what made labels overlap and names break."""
    from tiertool import build_report, load_audit
    from tiertool.report.model import Report

    data = build_report(load_audit(bundled / ".tiertool"), today=TODAY).dump()
    data["tier_models"] = {"tiny": "openai/gpt-4.1-nano", "small": "openai/gpt-4o-mini", "medium": LONG_MODEL,
                           "large": "openai/gpt-4o"}
    for t in data["tasks"]:
        t["cost_by_tier"] = {"tiny": 0.0, "small": 0.00211, "medium": 0.00226, "large": 0.0379}
        t["tiers"] = [{"tier": tier, "model": data["tier_models"][tier], "scored": 120, "passed": passed,
                       "errors": 0, "pass_rate": passed / 120, "lower_bound": lb, "meets_bar": lb >= 0.95}
                      for tier, passed, lb in (("tiny", 120, 0.956), ("small", 118, 0.93), ("medium", 117, 0.92))]
    return Report.model_validate(data)


def test_9_the_html_chart_is_readable_in_chromium(bundled, tmp_path):
    from tests.test_report_formats import _browser, _chromium
    from tiertool import render_report

    _chromium()
    html = render_report(_crowded(bundled), "html")
    page = tmp_path / "report.html"
    page.write_text(html)
    shot = tmp_path / "chart.png"  # kept for a person to look at: pytest --basetemp=DIR keeps it
    _browser([f"--screenshot={shot}", "--window-size=1200,1400", page.as_uri()], tmp_path / "profile1")
    assert shot.stat().st_size > 10_000
    probe = tmp_path / "probe.html"  # the same page, measured by a script (the report's own CSP forbids one)
    probe.write_text(re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
                     .replace("</body>", MEASURE + "</body>"))
    dom = _browser(["--dump-dom", probe.as_uri()], tmp_path / "profile2").stdout
    import html as html_lib

    measured = json.loads(html_lib.unescape(re.search(r'<pre id="measure">(.*?)</pre>', dom, re.S).group(1)))
    assert len(measured["charts"]) == 4
    for chart in measured["charts"]:
        texts = chart["texts"]
        for i, (a, *ba) in enumerate(texts):  # no two labels' boxes intersect
            for b, *bb in texts[i + 1:]:
                assert not (ba[0] < bb[2] and bb[0] < ba[2] and ba[1] < bb[3] and bb[1] < ba[3]), (a, b)
        left, bottom = chart["axes"]  # points stay inside the frame, off its lines
        assert all(p[0] > left[2] and p[3] < bottom[1] and p[1] > left[1] and p[2] < bottom[2]
                   for p in chart["points"])
        dollars = [float(t[0][1:]) for t in texts if t[0].startswith("$")]
        percents = [int(t[0][:-1]) for t in texts if re.fullmatch(r"\d+%", t[0])]
        for ticks, steps in ((dollars, (1, 2, 2.5, 5)), (percents, (1, 2, 2.5, 5))):
            step = ticks[1] - ticks[0]
            assert all(abs(b - a - step) < 1e-9 for a, b in zip(ticks[:-1], ticks[1:], strict=True)), ticks
            mantissa = step / 10 ** math.floor(math.log10(step))
            assert any(abs(mantissa - m) < 1e-6 for m in steps), ticks  # round values
        assert dollars[0] == 0 and dollars[-1] >= 0.0379 and percents[-1] == 100
    lines = dict(measured["models"])
    assert lines[LONG_MODEL] == 1 and set(lines.values()) == {1}  # model names never break


def test_9_the_chart_places_labels_clear_of_each_other_and_the_bar():
    from tiertool.report.render.html import _overlaps, _place

    taken = [(300.0, 40.0, 360.0, 53.0)]  # the bar label
    spots = [_place(name, 200.0, 60.0, taken, (66.0, 2.0, 438.0, 204.0)) for name in ("small", "medium", "tiny")]
    assert len(set(spots)) == 3
    assert not any(_overlaps(a, b) for i, a in enumerate(taken) for b in taken[i + 1:])
