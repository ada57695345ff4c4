"""The replay engine against a misbehaving loopback provider: faults, limits, budgets, crashes, secrets."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.conftest import kill_when, small_answerer, spawn_cli, write_config, write_jsonl
from tests.loopback import Faults
from tiertool import cli
from tiertool.commands.audit import run_audit
from tiertool.config import Replay, Tier, load_config
from tiertool.pricing.prices import lookup
from tiertool.records import Call
from tiertool.replay.cache import Cache
from tiertool.replay.engine import Replayer
from tiertool.replay.progress import PlainProgress, RichProgress, make_progress

runner = CliRunner()
KEY = "sk-test-SECRET-0123456789abcdef"


def config(folder: Path, api_base: str, replay: str = "", tier: str = "", per_task: int = 50,
           small_model: str = "openai/gpt-4o-mini") -> Path:
    return write_config(folder / "tiertool.yaml", api_base, small_model=small_model, small_tier=tier,
                        sample=f"{{sequential: false, per_task: {per_task}}}",
                        replay=f"{{max_attempts: 8, timeout: 5, backoff: 0.01{replay}}}")


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("TIERTOOL_TEST_KEY", KEY)
    return KEY


@pytest.fixture
def logfile(tmp_path, synth):
    rows, small = synth(1200, seed=5)
    return write_jsonl(tmp_path / "spend.jsonl", rows), rows, small


def audit(folder: Path, log: Path, *args: str, input: str | None = None):
    return runner.invoke(cli.app, ["audit", str(log), "--config", str(folder / "tiertool.yaml"),
                                   "--out", str(folder / ".tiertool"), *args], input=input)


def decisions(folder: Path) -> dict:
    r = runner.invoke(cli.app, ["report", "--format", "json", "--audit", str(folder / ".tiertool")])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    return {t["task"]: (t["tier"], t["sampled"], [(e["scored"], e["passed"]) for e in t["tiers"]])
            for t in data["tasks"]}, data


def test_faults_do_not_change_the_decisions(tmp_path, logfile, server_factory, key):
    log, _, small = logfile
    clean = server_factory(small_answerer(small))
    (tmp_path / "a").mkdir()
    config(tmp_path / "a", clean.api_base)
    assert audit(tmp_path / "a", log, "--yes").exit_code == 0
    faults = Faults(rate_limit=0.1, server_error=0.1, garbage=0.05, drop=0.05, slow=0.05, slow_s=0.3,
                    retry_after=0.05, seed=3)
    faulty = server_factory(small_answerer(small), faults)
    (tmp_path / "b").mkdir()
    config(tmp_path / "b", faulty.api_base, replay=", concurrency: 16")
    r = audit(tmp_path / "b", log, "--yes")
    assert r.exit_code == 0, r.output
    want, _ = decisions(tmp_path / "a")
    got, data = decisions(tmp_path / "b")
    assert got == want
    assert data["audit"]["failed"] == 0 and data["audit"]["calls"] == len(clean.calls) == 200
    assert faulty.attempts > len(faulty.calls) + 40  # the faults really happened and were retried


def _calls(tier: Tier, n: int, **kw) -> list[Call]:
    out = []
    for i in range(n):
        messages = ({"role": "user", "content": f"question {i}"},)
        params = kw.get("params", {})
        out.append(Call.to(tier, messages, params, kw.get("input_tokens", 0), kw.get("output_tokens", 0)))
    return out


def _tier(server, **kw) -> Tier:
    return Tier(name="small", model="openai/gpt-4o-mini", api_base=server.api_base, api_key_env="TIERTOOL_TEST_KEY",
                **kw)


def test_retry_after_is_honoured(tmp_path, server_factory, key):
    server = server_factory(lambda m, msgs: "ok", Faults(rate_limit=0.5, retry_after=0.6, seed=1))
    replayer = Replayer(Cache(tmp_path / "c.sqlite"), Replay(max_attempts=10, backoff=0.001))
    t0 = time.monotonic()
    answers = replayer.run(_calls(_tier(server), 6))
    assert server.attempts > 6 and replayer.stats.retried == server.attempts - 6
    assert time.monotonic() - t0 >= 0.6  # backoff alone would have waited milliseconds
    assert all(a.text == "ok" for a in answers.values())


@pytest.mark.parametrize("status, fix", [(401, "check TIERTOOL_TEST_KEY"), (404, "check the model name")])
def test_permanent_error_stops_the_tier_at_once(tmp_path, logfile, server_factory, key, status, fix):
    log, _, small = logfile
    server = server_factory(small_answerer(small), Faults(status=status))
    config(tmp_path, server.api_base, replay=", concurrency: 4")
    r = audit(tmp_path, log, "--yes")
    assert r.exit_code == 1
    assert fix in r.output and "tier 'small'" in r.output and "gpt-4o-mini" in r.output
    assert server.attempts <= 4  # the calls already in flight, no retries, no others
    assert KEY not in r.output and "Give Feedback" not in r.output and "LiteLLM.Info" not in r.output
    _, data = decisions(tmp_path)
    assert data["audit"]["error"] and fix in data["audit"]["error"]


def test_unknown_model_name_stops_the_tier(tmp_path, logfile, server_factory, key):
    log, _, small = logfile
    server = server_factory(small_answerer(small))
    config(tmp_path, server.api_base, small_model="no-such-model-xyz")
    r = audit(tmp_path, log, "--yes")
    assert r.exit_code == 1
    assert "check the model name 'no-such-model-xyz'" in r.output
    assert server.attempts == 0


@pytest.mark.parametrize("cap", [0.0, 1e-4, 3e-4, 1e-3])
def test_spend_never_exceeds_the_budget(tmp_path, server_factory, key, cap):
    server = server_factory(lambda m, msgs: "ok")
    tier = _tier(server, concurrency=8)
    calls = _calls(tier, 60, params={"max_tokens": 100}, input_tokens=10, output_tokens=5)
    replayer = Replayer(Cache(tmp_path / "c.sqlite"), Replay(), budget=cap)
    answers = replayer.run(calls[:30])
    answers = replayer.run(calls[30:])  # a second round shares the same budget
    per_call = lookup("openai/gpt-4o-mini").cost(10, 5)  # what the loopback's usage costs
    s = replayer.stats
    assert s.spend <= cap
    assert s.sent == len(server.calls) and s.sent + s.over_budget == 60
    assert s.spend == pytest.approx(s.sent * per_call)
    if cap >= 1e-3:
        assert s.over_budget == 0
    elif cap > 0:
        assert 0 < s.sent < 60  # it spent what it could, then stopped sending
    unsent = [a for a in answers.values() if a.origin == "unsent"]
    assert len(unsent) == s.over_budget and all("--budget" in a.error for a in unsent)


def test_budget_ends_the_audit_cleanly_with_what_it_has(tmp_path, logfile, server_factory, key):
    log, _, small = logfile
    server = server_factory(small_answerer(small))
    config(tmp_path, server.api_base)
    r = audit(tmp_path, log, "--budget", "0.0102")  # one worst case (16k tokens out) and a little
    assert r.exit_code == 1
    assert "--budget $0.0102 reached" in r.output and "not answered:" in r.output
    _, data = decisions(tmp_path)
    assert 0 < data["audit"]["calls"] == len(server.calls) < 200
    assert data["audit"]["spend_usd"] <= 0.0102
    assert data["audit"]["failed"] == 0  # unsent samples are unscored, not failures


def test_dry_run_prints_the_plan_from_the_log_and_sends_nothing(tmp_path, logfile, server_factory, key):
    log, rows, small = logfile
    server = server_factory(small_answerer(small))
    config(tmp_path, server.api_base)
    r = audit(tmp_path, log, "--dry-run")
    assert r.exit_code == 0, r.output
    assert server.attempts == 0 and not (tmp_path / ".tiertool" / "audit.sqlite").exists()
    line = next(x for x in r.output.splitlines() if x.strip().startswith("small (openai/gpt-4o-mini)"))
    assert "200 calls, 0 cached" in line
    assert audit(tmp_path, log, "--yes", "-q").exit_code == 0
    # the plan's token estimate is the log's own token counts of the sampled requests
    ids = {r.request_id for r in __import__("tiertool.store").store.load_audit(tmp_path / ".tiertool").results}
    by_id = {row["request_id"]: row for row in rows}
    tokens_in = sum(by_id[i]["prompt_tokens"] for i in ids)
    tokens_out = sum(by_id[i]["completion_tokens"] for i in ids)
    assert f"~{tokens_in:,} input + ~{tokens_out:,} output tokens" in line
    usd = lookup("openai/gpt-4o-mini").cost(tokens_in, tokens_out)
    assert f"~${usd:,.4f}" in line


@pytest.mark.parametrize("reply, code, sent", [("n\n", 1, 0), ("y\n", 0, 200)])
def test_interactive_prompt_asks_before_sending(tmp_path, logfile, server_factory, key, monkeypatch, reply, code,
                                                sent):
    log, _, small = logfile
    server = server_factory(small_answerer(small))
    config(tmp_path, server.api_base)
    monkeypatch.setattr(cli, "_interactive", lambda: True)
    r = audit(tmp_path, log, input=reply)
    assert r.exit_code == code, r.output
    assert "send these calls?" in r.output and "estimated total" in r.output
    assert len(server.calls) == sent


def test_offline_lists_what_is_missing(tmp_path, logfile, server_factory, key):
    log, _, small = logfile
    server = server_factory(small_answerer(small))
    config(tmp_path, server.api_base)
    r = audit(tmp_path, log, "--offline")
    assert r.exit_code == 1 and server.attempts == 0
    listed = [x for x in r.output.splitlines() if x.startswith("  not answered: ")]
    assert len(listed) == 20 and "on tier small" in listed[0] and "and 180 more" in r.output


def _audit_process(folder: Path, log: Path) -> subprocess.Popen:
    """`tiertool audit` in its own process, with the loopback-only network guard installed."""
    return spawn_cli(["audit", str(log), "--config", str(folder / "tiertool.yaml"), "--out",
                      str(folder / ".tiertool"), "--yes", "-q"], env={"TIERTOOL_TEST_KEY": KEY})


@pytest.mark.slow
def test_sigkill_midway_then_rerun_sends_only_the_missing_calls(tmp_path, logfile, server_factory, key):
    log, _, small = logfile
    answer = small_answerer(small)

    def slow(model, messages):
        time.sleep(0.02)
        return answer(model, messages)

    server = server_factory(slow)
    config(tmp_path, server.api_base, replay=", concurrency: 4")
    kill_when(_audit_process(tmp_path, log), lambda: len(server.calls) >= 60)
    time.sleep(0.3)  # let the server's handlers of the killed client's last requests finish
    answered_before = len(server.calls)
    cache = Cache(tmp_path / ".tiertool" / "cache.sqlite")
    kept = cache.db.execute("SELECT count(*) FROM answers").fetchone()[0]
    cache.close()
    assert answered_before - 4 <= kept <= answered_before < 200  # at most the calls in flight are lost
    sent_before = {m[-1]["content"] for _, m in server.calls}
    r = audit(tmp_path, log, "--yes")
    assert r.exit_code == 0, r.output
    resent = [m[-1]["content"] for _, m in server.calls[answered_before:]]
    assert len(resent) == 200 - kept
    assert len(set(resent) & sent_before) <= answered_before - kept  # only the lost in-flight ones again


@pytest.mark.slow
def test_two_audits_sharing_one_cache_do_not_corrupt_it(tmp_path, synth, server_factory, key):
    answers: dict[str, str] = {}
    when: dict[str, float] = {}  # prompt -> when the server answered it
    answer = small_answerer(answers)
    prompts: list[set[str]] = []
    started: set[int] = set()  # which audits have sent a call
    both = threading.Condition()

    def slow(model, messages):
        # The first calls wait (up to 60 s) until both audits are calling, so their writes overlap even when one
        # process starts much later on a busy machine.
        q = messages[-1]["content"]
        with both:
            started.update(i for i, ps in enumerate(prompts) if q in ps and q not in prompts[1 - i])
            both.notify_all()
            both.wait_for(lambda: len(started) == 2, timeout=60)
        time.sleep(0.01)
        when[q] = time.monotonic()
        return answer(model, messages)

    server = server_factory(slow)
    folders = []
    for seed in (1, 2):
        rows, small = synth(600, seed=seed)
        folder = tmp_path / f"a{seed}"
        folder.mkdir()
        answers.update(small)
        prompts.append({r["messages"][-1]["content"] for r in rows})
        write_jsonl(folder / "spend.jsonl", rows)
        config(folder, server.api_base, replay=f", cache: {tmp_path / 'shared' / 'cache.sqlite'}", per_task=40)
        folders.append(folder)

    procs = [_audit_process(f, f / "spend.jsonl") for f in folders]  # two processes, one cache file
    # each audit is a 10-40 s process alone; on a 2-core machine running the suite on both cores beside other work
    # it took over 120 s: the limit only catches a hang
    assert [p.wait(timeout=600) for p in procs] == [0, 0]
    spans = [[t for q, t in when.items() if q in ps and q not in prompts[1 - i]] for i, ps in enumerate(prompts)]
    assert max(min(x) for x in spans) < min(max(x) for x in spans)  # the two audits really wrote at once
    cache = Cache(tmp_path / "shared" / "cache.sqlite")
    assert cache.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = cache.db.execute("SELECT count(*) FROM answers").fetchone()[0]
    assert rows == len({(m, msgs[-1]["content"]) for m, msgs in server.calls}) >= 300  # the samples overlap
    cache.close()
    for folder in folders:  # a re-run of either is now free
        assert run_audit([folder / "spend.jsonl"], load_config(folder / "tiertool.yaml"),
                         folder / ".tiertool").calls_sent == 0


def test_cache_and_audit_folder_are_owner_only_and_hold_no_key(tmp_path, logfile, server_factory, key):
    log, _, small = logfile
    server = server_factory(small_answerer(small), Faults(server_error=0.05, seed=2))
    config(tmp_path, server.api_base, replay=f", cache: {tmp_path / 'cachedir' / 'cache.sqlite'}")
    r = audit(tmp_path, log, "--yes")
    assert r.exit_code == 0, r.output
    outputs = [r.output]
    for fmt in ("json", "md", "term"):
        outputs.append(runner.invoke(cli.app, ["report", "-f", fmt, "--audit", str(tmp_path / ".tiertool")]).output)
    rec = runner.invoke(cli.app, ["recommend", "--audit", str(tmp_path / ".tiertool"), "-o",
                                  str(tmp_path / "tiers.yaml"), "--litellm-config", str(tmp_path / "proxy.yaml")])
    assert rec.exit_code == 0, rec.output
    for folder in (tmp_path / ".tiertool", tmp_path / "cachedir"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        for f in folder.iterdir():
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    files = [f for f in tmp_path.rglob("*") if f.is_file()]
    assert any(f.name.endswith("-wal") or f.name == "cache.sqlite" for f in files)
    for f in files:
        assert KEY.encode() not in f.read_bytes(), f
    assert all(KEY not in o for o in outputs + [rec.output])


def test_no_connection_leaves_loopback(tmp_path, logfile, server_factory, key, monkeypatch):
    log, _, small = logfile
    server = server_factory(small_answerer(small))
    config(tmp_path, server.api_base)
    seen = []
    real = socket.socket.connect

    def record(sock, address):
        seen.append(address)
        return real(sock, address)

    monkeypatch.setattr(socket.socket, "connect", record)
    assert audit(tmp_path, log, "--yes").exit_code == 0
    assert seen and all(a[0] == "127.0.0.1" for a in seen if isinstance(a, tuple)), seen


def test_progress_plain_lines_rich_bar_and_quiet(tmp_path, logfile, server_factory, key):
    log, _, small = logfile
    server = server_factory(small_answerer(small))
    config(tmp_path, server.api_base)
    r = audit(tmp_path, log, "--yes")
    lines = [x for x in r.output.splitlines() if x.startswith("small: ")]
    assert len(lines) == 10 and lines[-1].startswith("small: 200/200 (200 done, 0 failed, 0 retried), $")
    (tmp_path / ".tiertool" / "cache.sqlite").unlink()
    r = audit(tmp_path, log, "--yes", "--quiet")
    assert r.exit_code == 0 and r.output == ""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    term = Terminal()
    bar = make_progress(False, term)
    assert isinstance(bar, RichProgress) and isinstance(make_progress(False, io.StringIO()), PlainProgress)
    replayer = Replayer(Cache(tmp_path / "c.sqlite"), Replay(), progress=bar)
    replayer.run(_calls(_tier(server), 5))
    assert "5/5" in term.getvalue() and "0 failed, 0 retried" in term.getvalue()


def test_rpm_limit_spaces_the_requests(tmp_path, server_factory, key):
    stamps = []

    def answer(model, messages):
        stamps.append(time.monotonic())
        return "ok"

    server = server_factory(answer)
    Replayer(Cache(tmp_path / "warm.sqlite"), Replay()).run(_calls(_tier(server), 1))  # litellm's first-call setup
    stamps.clear()
    replayer = Replayer(Cache(tmp_path / "c.sqlite"), Replay(concurrency=32))
    t0 = time.monotonic()
    replayer.run(_calls(_tier(server, rpm=600), 25))
    assert time.monotonic() - t0 >= 1.4  # 10 at once (one second's worth), then 590 a minute
    stamps.sort()
    assert stamps[-1] - t0 >= 0.9 * 15 / (590 / 60)


def test_tpm_limit_counts_expected_tokens(tmp_path, server_factory, key):
    server = server_factory(lambda m, msgs: "ok")
    replayer = Replayer(Cache(tmp_path / "c.sqlite"), Replay(concurrency=8))
    t0 = time.monotonic()
    replayer.run(_calls(_tier(server, tpm=6000), 3, input_tokens=90, output_tokens=10))  # 100 a second
    assert time.monotonic() - t0 >= 1.8 and len(server.calls) == 3


def test_rate_limit_config_keys_are_validated(tmp_path):
    (tmp_path / "tiertool.yaml").write_text(yaml.safe_dump({"tiers": [
        {"name": "a", "model": "m", "rpm": 0}, {"name": "b", "model": "n"}]}))
    (tmp_path / "log.jsonl").write_text("")
    r = runner.invoke(cli.app, ["audit", str(tmp_path / "log.jsonl"), "--config", str(tmp_path / "tiertool.yaml")])
    assert r.exit_code == 2 and "tiers.0.rpm" in r.output


def test_bucket_is_first_come_first_served():
    from tiertool.replay.ratelimit import Bucket

    async def main() -> list[int]:
        bucket, order = Bucket(120), []

        async def take(i: int) -> None:
            await bucket.take()
            order.append(i)

        await asyncio.gather(*(take(i) for i in range(5)))
        return order

    assert asyncio.run(main()) == [0, 1, 2, 3, 4]


def test_bucket_never_lets_a_window_take_more_than_the_limit():
    from tiertool.replay.ratelimit import Bucket

    async def main() -> list[float]:
        bucket, times = Bucket(1200), []  # 20 at once, then 19.7 a second

        async def take() -> None:
            await bucket.take()
            times.append(time.monotonic())

        await asyncio.gather(*(take() for _ in range(50)))
        return times

    times = sorted(asyncio.run(main()))
    assert times[-1] - times[0] >= 0.95 * 30 / (1180 / 60)
    # no one-second window holds more than the burst plus a second's refill
    assert max(sum(a <= t < a + 1 for t in times) for a in times) <= 20 + 1180 / 60 + 1


def test_errors_left_after_retries_are_recorded_per_request_and_reported(tmp_path, logfile, server_factory, key):
    log, _, small = logfile
    server = server_factory(small_answerer(small), Faults(server_error=0.3, seed=4))
    config(tmp_path, server.api_base, replay=", max_attempts: 1")
    r = audit(tmp_path, log, "--yes")
    assert r.exit_code == 1 and "could not be audited: " in r.output and "calls failed after their retries" in r.output
    _, data = decisions(tmp_path)
    failed = data["audit"]["failed"]
    failures = data["audit"]["failures"]
    assert 30 < failed == len(failures) == server.attempts - len(server.calls) < 100
    assert all(f["tier"] == "small" and f["source"].startswith(str(log)) and f["error"] for f in failures)
    listed = [w["message"] for w in data["warnings"] if w["kind"] == "replay_failure"]
    assert len(listed) == 11 and all(" on tier small: " in m for m in listed[:10])
    md = runner.invoke(cli.app, ["report", "-f", "md", "--audit", str(tmp_path / ".tiertool")]).output
    assert f"{failed} replay calls failed after retries" in md
    assert listed[0] in md.replace("\\", "") and f"and {failed - 10} more failed requests" in md


def test_dry_run_needs_no_key(tmp_path, logfile, server_factory, monkeypatch):
    monkeypatch.delenv("TIERTOOL_TEST_KEY", raising=False)
    log, _, small = logfile
    server = server_factory(small_answerer(small))
    config(tmp_path, server.api_base)
    r = audit(tmp_path, log, "--dry-run")
    assert r.exit_code == 0 and "200 calls" in r.output and server.attempts == 0
    r = audit(tmp_path, log, "--yes")
    assert r.exit_code == 1 and "TIERTOOL_TEST_KEY" in r.output and server.attempts == 0


def test_a_key_echoed_in_an_error_is_masked(monkeypatch):
    from tiertool.replay.engine import secrets
    from tiertool.text import mask

    monkeypatch.setenv("OPENAI_API_KEY", "sk-provider-key-987654321")
    tier = Tier(name="t", model="m", api_key_env="TIERTOOL_TEST_KEY")
    monkeypatch.setenv("TIERTOOL_TEST_KEY", KEY)
    assert mask(f"bad key {KEY} / sk-provider-key-987654321", secrets(tier)) == "bad key *** / ***"


@settings(max_examples=60, deadline=None)
@given(cap=st.floats(0, 1), calls=st.lists(st.tuples(st.floats(0.001, 0.5), st.floats(0, 1)), max_size=40),
       concurrency=st.integers(1, 8))
def test_budget_property_spend_never_passes_the_cap(cap, calls, concurrency):
    """Whatever the worst cases, actual costs (at most the worst case) and concurrency: spend <= cap."""
    from tiertool.replay.plan import Budget

    async def main() -> tuple[float, int]:
        budget, limit, sent = Budget(cap), asyncio.Semaphore(concurrency), 0

        async def one(worst: float, share: float) -> None:
            nonlocal sent
            async with limit:
                if await budget.reserve(worst):
                    sent += 1
                    await asyncio.sleep(0)
                    await budget.settle(worst, worst * share)

        budget.bind()
        await asyncio.gather(*(one(w, s) for w, s in calls))
        return budget.spent, sent

    spent, sent = asyncio.run(main())
    assert spent <= cap + 1e-9
    assert sent == len(calls) or any(w > cap - spent for w, _ in calls)  # nothing refused that would have fit


def test_sequential_audit_asks_once_for_the_most_it_could_send(tmp_path, logfile, server_factory, key, monkeypatch):
    log, _, small = logfile
    server = server_factory(small_answerer(small))
    path = config(tmp_path, server.api_base)
    path.write_text(path.read_text().replace("sequential: false, per_task: 50", "round: 20, max_per_task: 100"))
    monkeypatch.setattr(cli, "_interactive", lambda: True)
    r = audit(tmp_path, log, input="y\n")
    assert r.exit_code == 0, r.output
    assert r.output.count("send these calls?") == 1  # one question for all the rounds
    planned = int(r.output.split("plan: up to ")[1].split()[0].replace(",", ""))
    # the plan is the most the rounds could send; a task type too small to test is not in it
    data = json.loads(runner.invoke(cli.app, ["report", "--audit", str(tmp_path / ".tiertool"),
                                              "--format", "json"]).output)
    untested = [t for t in data["tasks"] if t["status"] == "not-enough-traffic"]
    assert planned == 100 * (4 - len(untested)) and 0 < len(server.calls) <= planned


def test_plain_progress_shows_every_round():
    lines: list[str] = []
    bar = PlainProgress(lines.append)
    for _ in range(2):
        bar.start({"small": 4})
        for _ in range(4):
            bar.update("small", done=1)
        bar.stop()
    assert [x.split(" (")[0] for x in lines] == ["small: 1/4", "small: 2/4", "small: 3/4", "small: 4/4"] * 2

