"""Issue 12, cases 1 and 6 (disk, kill, folders): tiertool never changes a folder it did not create, a full
disk or a kill in the final save loses no audit and leaves none that `report` cannot read, and a folder it
cannot write is one clear error before anything is read or paid for."""

from __future__ import annotations

import shutil
import signal
import sqlite3
import stat
import subprocess
from contextlib import closing
from pathlib import Path

from tests.adversarial.kit import (
    audit,
    audit_args,
    config,
    decisions,
    no_traceback,
    report_json,
    runner,
    small_log,
    spawn,
    unwritable,
)
from tests.conftest import small_answerer
from tiertool import cli


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_existing_folders_keep_their_mode_and_new_files_are_owner_only(tmp_path, server_factory, key):
    """#1: `replay.cache` in a sticky world-writable folder, `--out` an existing project folder, --dry-run:
    none of those folders changes mode; what tiertool creates is owner-only."""
    project, sticky = tmp_path / "project", tmp_path / "shared"
    project.mkdir()
    sticky.mkdir()
    project.chmod(0o755)
    sticky.chmod(0o1777)
    log, small = small_log(project)
    server = server_factory(small_answerer(small))
    config(project, server.api_base, replay=f", cache: {sticky / 'shared-cache.sqlite'}")
    args = ["audit", str(log), "--config", str(project / "tiertool.yaml"), "--out", str(project)]
    r = runner.invoke(cli.app, [*args, "--dry-run"])
    assert r.exit_code == 0, r.output
    assert (_mode(project), _mode(sticky)) == (0o755, 0o1777)
    r = runner.invoke(cli.app, [*args, "--yes"])
    assert r.exit_code == 0, r.output
    assert (_mode(project), _mode(sticky)) == (0o755, 0o1777)
    assert _mode(sticky / "shared-cache.sqlite") == _mode(project / "audit.sqlite") == 0o600
    r = audit(project, log)  # the default folder is new: tiertool creates it owner-only
    assert r.exit_code == 0 and _mode(project / ".tiertool") == 0o700


def test_a_full_disk_stops_paying_and_says_so_in_one_line(tmp_path, server_factory, key):
    """#6: the cache's disk fills up mid-audit (a file-size limit in the audit's process): no traceback, nothing
    sent once an answer cannot be kept (at most the calls in flight), every answer paid for is cached or
    counted as unsaved, and a re-run with space pays only for what is missing."""
    log, small = small_log(tmp_path, n=600)
    server = server_factory(small_answerer(small))
    config(tmp_path, server.api_base, per_task=25, replay=", concurrency: 2")
    limit = 96 << 10
    prelude = ("import resource, signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
               f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))")
    proc = spawn(audit_args(tmp_path, log), prelude=prelude)
    _, err = proc.communicate(timeout=300)
    no_traceback(err)
    assert proc.returncode == 1, err
    assert "cannot write the answer cache" in err and err.count("\nError: ") <= 2, err
    paid, kept = len(server.ledger), _cached(tmp_path)
    assert 0 < kept <= paid < 100  # it stopped early: the sample needs 100 calls
    assert paid - kept <= 2  # paid for and not kept: only the calls in flight when the disk filled
    assert f"{paid - kept} answers paid for could not be written" in err or paid == kept
    r = audit(tmp_path, log)
    assert r.exit_code == 0, r.output
    assert len(server.ledger) - paid == 100 - kept  # the re-run pays for exactly what the cache lacks
    assert len({msgs[-1]["content"] for _, msgs in server.calls}) == 100


def _cached(folder: Path) -> int:
    with closing(sqlite3.connect(folder / ".tiertool" / "cache.sqlite")) as db:
        return db.execute("SELECT count(*) FROM answers").fetchone()[0]


def _killed_in_save(folder: Path, log: Path, dumps: int, extra: tuple[str, ...] = ()) -> subprocess.Popen:
    """An audit whose process SIGKILLs itself inside its final save (after `dumps` JSON values were written)."""
    prelude = f"""
import json, os, signal
import tiertool.commands.audit as audit_command
real_save, real_dumps, state = audit_command.save_audit, json.dumps, {{"on": False, "n": 0}}
def dumps(*a, **k):
    if state["on"]:
        state["n"] += 1
        if state["n"] > {dumps}:
            os.kill(os.getpid(), signal.SIGKILL)
    return real_dumps(*a, **k)
def save(*a, **k):
    state["on"] = True
    return real_save(*a, **k)
json.dumps, audit_command.save_audit = dumps, save
"""
    return spawn(audit_args(folder, log, *extra), prelude=prelude)


def test_a_kill_inside_the_final_save_leaves_the_previous_audit_or_none(tmp_path, server_factory, key):
    """#6: SIGKILL while the audit is being written: `report` then reads the previous audit, unchanged, or
    says there is none; never a half-written one (every answer is cached, so the re-runs are free). The first
    save of a folder and a later one are killed at once, in two folders (one process start, not two)."""
    first, later = tmp_path / "first", tmp_path / "later"
    first.mkdir()
    log, small = small_log(tmp_path)
    server = server_factory(small_answerer(small))
    config(first, server.api_base)
    assert audit(first, log).exit_code == 0
    shutil.copytree(first, later)  # the same cache and audit
    (first / ".tiertool" / "audit.sqlite").unlink()
    before = report_json(later)
    procs = [_killed_in_save(first, log, 3), _killed_in_save(later, log, 12, ("--seed", "5"))]
    assert [(p.communicate(timeout=300), p.returncode)[1] for p in procs] == [-signal.SIGKILL] * 2
    r = runner.invoke(cli.app, ["report", "--audit", str(first / ".tiertool")])
    assert r.exit_code == 2 and "no audit found" in r.output, r.output
    assert report_json(later) == before  # the audit before the killed one stays
    for folder in (first, later):  # and the next save clears what the killed one left
        assert audit(folder, log).exit_code == 0
        assert [p.name for p in (folder / ".tiertool").iterdir() if p.name.startswith(".audit-")] == []


def test_a_read_only_audit_folder_is_one_clear_error_before_anything_is_paid(tmp_path, server_factory, key):
    """#9: a read-only audit folder, even with every answer cached: one line naming the folder, exit 1, no
    call sent, no traceback."""
    log, small = small_log(tmp_path)
    server = server_factory(small_answerer(small))
    config(tmp_path, server.api_base)
    assert audit(tmp_path, log).exit_code == 0
    want = decisions(tmp_path)
    sent = len(server.calls)
    folder = tmp_path / ".tiertool"
    with unwritable(folder):
        r = audit(tmp_path, log)
        assert r.exit_code == 1, r.output
        no_traceback(r)
        assert f"{folder}: the audit folder cannot be written" in r.output and "--out" in r.output
        assert len(server.calls) == sent
        fresh = tmp_path / "fresh"
        fresh.mkdir()
        with unwritable(fresh):  # a new cache in it cannot be created either, and nothing is sent for it
            (tmp_path / "tiertool.yaml").write_text((tmp_path / "tiertool.yaml").read_text().replace(
                "backoff: 0.01", f"backoff: 0.01, cache: {fresh / 'cache.sqlite'}"))
            r = runner.invoke(cli.app, ["audit", str(log), "--config", str(tmp_path / "tiertool.yaml"),
                                        "--out", str(tmp_path / "out"), "--yes"])
            assert r.exit_code == 1 and "cannot create the answer cache" in r.output, r.output
            no_traceback(r)
    assert decisions(tmp_path) == want
