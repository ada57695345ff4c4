"""The fault-injection matrix (issue 12, cases 4, 5 and 6): each kind of endpoint fault x the audit's exit code
x its decisions x the calls the provider made (its ledger) against the calls the audit needed.

A fault the retries absorb changes nothing: exit 0, the clean run's decisions, each needed call paid once. A
fault that persists is its own outcome: exit 1 and "could not be audited", every task type left on the reference
as *unaudited* (never "no cheaper tier meets the bar"), nothing unusable cached (so once the provider recovers, a
re-run pays for the calls again and decides as the clean run did), a slow-drip body ended by replay.timeout,
403 stopping the tier at once, and a SIGKILLed audit leaving no worker that keeps paying.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from tests.adversarial.kit import KEY, KEY_ENV, audit, audit_args, config, decisions, no_traceback, small_log, spawn
from tests.conftest import kill_when, small_answerer
from tests.loopback import Faults, LoopbackLLM

NEEDED = 40  # 4 task types x 10 sampled requests on the one cheaper tier (the log holds the reference's answers)
TRANSIENT = {
    "429": Faults(rate_limit=0.3, retry_after=0.01, seed=1),
    "500-now-and-then": Faults(server_error=0.3, seed=2),
    "dropped-connection": Faults(drop=0.2, seed=3),
    "garbage-body": Faults(garbage=0.2, seed=4),
}
PERSISTENT = {  # fault -> how many answers the provider made at most (its bill), per needed call
    "403": (Faults(status=403), 0),
    "400": (Faults(status=400), 0),
    "500-always": (Faults(status=500), 0),
    "content-null": (Faults(null_content=1.0), 2),
    "empty-choices": (Faults(empty_choices=1.0), 2),
    "html-page": (Faults(html=1.0), 2),
    "body-cut-short": (Faults(truncate=1.0), 2),
    "slow-drip": (Faults(drip=1.0, drip_s=8), 2),
}


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """The clean run every row is compared with: its log, the small model's answers and its decisions."""
    folder = tmp_path_factory.mktemp("clean")
    log, small = small_log(folder)
    with LoopbackLLM(small_answerer(small)) as server, pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEY_ENV, KEY)
        config(folder, server.api_base)
        r = audit(folder, log)
        assert r.exit_code == 0, r.output
        want = decisions(folder)
    assert {tier for tier, _ in want.values()} == {"small", "large"}  # the clean run moves some, keeps some
    return log, small, want


@pytest.mark.parametrize("kind", TRANSIENT)
def test_transient_faults_change_nothing(kind, clean, tmp_path, server_factory, key):
    log, small, want = clean
    server = server_factory(small_answerer(small), TRANSIENT[kind])
    config(tmp_path, server.api_base, replay=", max_attempts: 8")
    r = audit(tmp_path, log)
    assert r.exit_code == 0, r.output
    assert decisions(tmp_path) == want
    assert len(server.ledger) == NEEDED and server.attempts > NEEDED  # each paid once; the faults happened


@pytest.mark.parametrize("kind", PERSISTENT)
def test_persistent_faults_are_their_own_outcome(kind, clean, tmp_path, server_factory, key):
    log, small, want = clean
    faults, per_call = PERSISTENT[kind]
    server = server_factory(small_answerer(small), faults)
    config(tmp_path, server.api_base, replay=", timeout: 1")
    started = time.monotonic()
    r = audit(tmp_path, log)
    took = time.monotonic() - started
    no_traceback(r)
    assert r.exit_code == 1 and "could not be audited" in r.output, r.output
    got = decisions(tmp_path)
    assert got == {task: ("large", "unaudited") for task in want}, got
    assert len(server.ledger) <= per_call * NEEDED
    if kind == "403":  # stops the tier at once: the calls in flight (concurrency 8), no retries, no others
        assert server.attempts <= 8 and "check TIERTOOL_TEST_KEY" in r.output
    if kind == "slow-drip":  # each attempt ends at replay.timeout (1 s), not when the body finally arrives
        assert took < 8 * 2, took
    server.settle()  # the attempts the audit gave up on are still made (and billed) by the provider
    server.faults = Faults()  # the provider recovers: nothing unusable was cached, so the re-run pays again
    paid = len(server.ledger)
    r = audit(tmp_path, log)
    assert r.exit_code == 0, r.output
    assert decisions(tmp_path) == want and len(server.ledger) - paid == NEEDED


def test_an_endpoint_that_goes_down_mid_audit(clean, tmp_path, server_factory, key):
    log, small, want = clean
    answer = small_answerer(small)
    holder: dict = {}

    def then_die(model, messages):
        if len(holder["server"].ledger) == 10:
            holder["server"].kill()
        return answer(model, messages)

    server = holder["server"] = server_factory(then_die)
    config(tmp_path, server.api_base)
    r = audit(tmp_path, log)
    no_traceback(r)
    assert r.exit_code == 1 and "could not be audited" in r.output and "cannot reach" in r.output, r.output
    assert set(decisions(tmp_path).values()) <= {("large", "unaudited"), *want.values()}
    assert ("large", "unaudited") in decisions(tmp_path).values()
    assert 10 <= len(server.ledger) < NEEDED


def _pids_marked(mark: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if mark.encode() in (proc / "environ").read_bytes():
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


@pytest.mark.slow
def test_sigkill_of_an_audit_with_workers_leaves_nothing_paying(clean, tmp_path, server_factory, key):
    """kill -9 of `audit --workers 2`: its workers die with it (no call is made after the kill but those in
    flight), and the re-run pays only for what is missing."""
    log, small, want = clean
    answer = small_answerer(small)

    def slow(model, messages):
        time.sleep(0.1)
        return answer(model, messages)

    server = server_factory(slow)
    config(tmp_path, server.api_base, replay=", concurrency: 4")
    mark = f"TIERTOOL_ADVERSARIAL_{uuid.uuid4().hex}"
    kill_when(spawn(audit_args(tmp_path, log, "--workers", "2"), env={mark: "1"}), lambda: len(server.ledger) >= 8,
              timeout=240)
    time.sleep(0.5)  # the calls in flight land (0.1 s each)
    after_kill = len(server.ledger)
    time.sleep(1.0)
    assert len(server.ledger) == after_kill < NEEDED  # nothing paid for after that
    assert _pids_marked(mark) == []  # and no worker is left
    r = audit(tmp_path, log)
    assert r.exit_code == 0, r.output
    assert decisions(tmp_path) == want
    assert len(server.ledger) <= NEEDED + 4  # at most the calls that were in flight are paid twice
