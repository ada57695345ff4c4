"""Issue 12, cases 6 and 12 (processes): two audits sharing one cache never pay for the same call twice, and
Ctrl-C ends an audit with one line and exit code 130, and a prompt that meets a closed stdin is one line, not a
bare `Aborted!`. (SIGKILL with workers is a row of test_fault_matrix.)"""

from __future__ import annotations

import os
import pty
import signal
import sqlite3
import time
from collections import Counter
from contextlib import closing

import pytest

from tests.adversarial.kit import audit_args, config, decisions, no_traceback, small_log, spawn
from tests.conftest import small_answerer


def _slow(small: dict[str, str], seconds: float):
    answer = small_answerer(small)

    def slow(model, messages):
        time.sleep(seconds)
        return answer(model, messages)

    return slow


@pytest.mark.slow
def test_two_audits_on_one_cache_pay_for_each_call_once(tmp_path, server_factory, key):
    """Two audits of the same log started together on one `replay.cache`: whether or not they overlap (that
    depends on how fast each process starts), each call is claimed by one of them and the other waits for its
    answer or finds it cached; the provider answers every prompt exactly once and the cache stays whole."""
    log, small = small_log(tmp_path)
    server = server_factory(_slow(small, 0.1))
    shared = tmp_path / "shared" / "cache.sqlite"
    procs, folders = [], []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        config(folder, server.api_base, replay=f", cache: {shared}, concurrency: 2")
        procs.append(spawn(audit_args(folder, log)))
        folders.append(folder)
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    twice = {k: n for k, n in Counter((m, msgs[-1]["content"]) for m, msgs in server.calls).items() if n > 1}
    assert twice == {} and len(server.calls) == 40
    sent = [int(out.split(" model calls sent")[0].rsplit(" ", 1)[-1]) for out, _ in outs]
    assert sum(sent) == 40  # every call was paid by exactly one of the two
    with closing(sqlite3.connect(shared)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM answers").fetchone()[0] == 40
        assert db.execute("SELECT count(*) FROM claims").fetchone()[0] == 0  # none left behind
    assert decisions(folders[0]) == decisions(folders[1])


@pytest.mark.slow
def test_ctrl_c_is_one_line_and_exit_code_130(tmp_path, server_factory, key):
    log, small = small_log(tmp_path)
    server = server_factory(_slow(small, 0.2))
    config(tmp_path, server.api_base, replay=", concurrency: 2")
    proc = spawn(audit_args(tmp_path, log))
    deadline = time.monotonic() + 240
    while len(server.calls) < 4 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    no_traceback(err)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("Error: interrupted: answers received so far are cached"), err


def test_a_prompt_that_meets_the_end_of_its_input_is_one_line(tmp_path, server_factory, key):
    """On a terminal the plan asks `send these calls?`; Ctrl-D (end of input) there sends nothing and says how
    to go on without the prompt, exit 1."""
    log, small = small_log(tmp_path)
    server = server_factory(small_answerer(small))
    config(tmp_path, server.api_base)
    main, terminal = pty.openpty()
    os.write(main, b"\x04")  # the terminal's end-of-input, waiting for the prompt's read
    try:
        proc = spawn([a for a in audit_args(tmp_path, log) if a != "--yes"], stdin=terminal)
        _, err = proc.communicate(timeout=240)
    finally:
        os.close(main)
        os.close(terminal)
    no_traceback(err)
    assert proc.returncode == 1, err
    assert "send these calls?" in err and err.strip().splitlines()[-1].startswith("Error: no answer at the prompt")
    assert server.attempts == 0
