"""The audit folder: `audit.sqlite` holds one audit's evidence (see README 'The audit folder').

Tables: `meta` (one typed, versioned record, a row per field), `volume` (per task, logged model, batch flag and
day), `results` (one row per sampled request and tier: both answers, score, pass/fail, reason, error), `tests`
(where each test ended, its level and lower bound) and `statuses` (why each task type moved or did not).
`recommend` and `report` read only this: they need neither the log nor tiertool.yaml, because the audit keeps
the config it ran with.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from collections.abc import Iterable
from contextlib import closing, suppress
from dataclasses import astuple, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from .config import Config
from .defaults import AUDIT_DB
from .errors import IncompleteAudit, InputError, StorageError
from .records import RESULT_COLUMNS, USAGE_COLUMNS, Family, Key, PartTest, Result, Status, TestState, Usage

if TYPE_CHECKING:
    import pandas as pd

STATUS_COLUMNS = tuple(f.name for f in fields(Status))
AUDIT_FORMAT = 4  # bump when the audit's tables or meta change; an audit of another format is refused on load


def private_dir(path: Path) -> Path:
    """Create a folder only its owner can read (the audit folder and the cache hold prompts). A folder that
    exists keeps its mode: a project folder, `--out .` or /tmp is not tiertool's to lock (its files are
    created owner-only instead)."""
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)  # mkdir's mode is masked by the umask
    return path


class ScorerChoice(BaseModel):
    """The scorer a task was graded with, and why (set in tiertool.yaml, or what `auto` saw)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    scorer: str
    reason: str
    needs_judge: bool = False  # its scores are evidence only: `auto` found open-ended answers and no judge
    checked: str | None = None  # the scorer whose own verdicts are set against imported labels, when labels graded


class Clients(BaseModel):
    """How a task's clients reached the model: what a proxy config must route on to serve them."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    called: dict[str, int] = {}  # the model (group) name clients called -> requests
    tags: dict[str, int] = {}  # the exact tag that typed the task (`feature:x`) -> requests


class AuditMeta(BaseModel):
    """What an audit ran with and what it found, beside its evidence; checked on load (`format`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    format: int = AUDIT_FORMAT
    version: str  # the tiertool that wrote it
    config: Config
    logs: tuple[str, ...]
    log_format: str | None = None  # --format, when it was forced (re-reading a log for examples uses it)
    mapping: dict[str, str] = {}  # --map, likewise
    records: int
    skipped: int
    non_replayable: int
    typing: dict[str, int]  # how requests got their task type: task_source -> requests
    task_sources: dict[str, dict[str, int]]  # the same per task
    first_time: float | None
    last_time: float | None
    family: Family
    calls: int  # model calls sent (cache hits excluded)
    cache_hits: int
    failed: int
    spend_usd: float  # charged: the providers' usage, else each attempt's worst case
    unconfirmed: int = 0  # attempts charged at their worst case (no usage came back: timeouts, bodies cut short)
    unconfirmed_usd: float = 0.0
    error: str | None  # why the audit is incomplete: a tier (or the judge) that could not be called, failures
    scorers: dict[str, ScorerChoice]
    offline_missing: int = 0  # --offline: answers neither cached nor recorded
    over_budget: int = 0  # calls --budget left unsent
    labels_fraction: float | None = None  # --labels-fraction: the labels cover a random subset with this chance
    subpopulations: tuple[PartTest, ...] = ()  # parts of task types tested apart (decide/subpop.py)
    clients: dict[str, Clients] = {}  # per task
    # per task and tier with its own `params`: its answers' output tokens over the reference's on the same
    # requests (savings price that tier's output at this length: pricing/savings.py)
    output_scale: dict[str, dict[str, float]] = {}


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute(f"CREATE TABLE IF NOT EXISTS volume (task TEXT, model TEXT, batch INTEGER, day TEXT, "
               f"{', '.join(USAGE_COLUMNS)})")
    db.execute(f"CREATE TABLE IF NOT EXISTS results ({', '.join(RESULT_COLUMNS)})")
    db.execute("CREATE TABLE IF NOT EXISTS tests (task TEXT, tier TEXT, state TEXT, looks TEXT, lower_bound REAL, "
               "level REAL)")
    db.execute(f"CREATE TABLE IF NOT EXISTS statuses ({', '.join(STATUS_COLUMNS)})")
    return db


def writable(folder: Path) -> Path:
    """The audit folder proven writable before anything is read or paid for, without creating it (an audit
    that reads nothing writes nothing): the folder, or the nearest folder above it that exists, takes a file."""
    place = folder
    while not place.exists() and place != place.parent:
        place = place.parent
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=place)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise StorageError(f"{folder}: the audit folder cannot be written ({e.strerror}); make it writable or "
                           f"choose another with --out") from None
    return folder


def save_audit(folder: Path, meta: AuditMeta, volume: dict[Key, Usage], results: Iterable[Result],
               tests: Iterable[TestState], statuses: Iterable[Status] = ()) -> Path:
    """Replace the folder's audit with this one, atomically: it is written to a temporary file beside the audit
    and renamed over it, so a kill or a full disk at any moment leaves the previous audit (or none), never a
    part of one. A failure is a StorageError saying what could not be written."""
    path = folder / AUDIT_DB
    tmp: str | None = None
    try:
        private_dir(folder)
        _clear_leftovers(folder)
        fd, tmp = tempfile.mkstemp(prefix=f".audit-{os.getpid()}-", suffix=".tmp", dir=folder)  # owner-only
        os.close(fd)
        with closing(_connect(Path(tmp))) as db, db:
            db.executemany("INSERT INTO meta VALUES (?, ?)",
                           [(k, json.dumps(v)) for k, v in meta.model_dump(mode="json").items()])
            db.executemany(f"INSERT INTO volume VALUES ({', '.join('?' * (len(USAGE_COLUMNS) + 4))})",
                           [(k.task, k.model, int(k.batch), k.day, *u.row()) for k, u in volume.items()])
            db.executemany(f"INSERT INTO results VALUES ({', '.join('?' * len(RESULT_COLUMNS))})",
                           [tuple(getattr(r, c) for c in RESULT_COLUMNS) for r in results])
            db.executemany("INSERT INTO tests VALUES (?, ?, ?, ?, ?, ?)",
                           [(t.task, t.tier, t.state, json.dumps(t.looks), t.lower_bound, t.level) for t in tests])
            db.executemany(f"INSERT INTO statuses VALUES ({', '.join('?' * len(STATUS_COLUMNS))})",
                           [astuple(st) for st in statuses])
        os.replace(tmp, path)
        tmp = None
        _sync(folder)
    except (OSError, sqlite3.Error) as e:
        raise StorageError(f"{path}: cannot write the audit ({_why(e)}); the previous audit, if any, is unchanged "
                           f"and the answers received are in the cache: free space or fix the folder and re-run "
                           f"(cached answers cost nothing)") from None
    finally:
        if tmp is not None:
            with suppress(OSError):
                os.unlink(tmp)
    return path


def _clear_leftovers(folder: Path) -> None:
    """Remove the temporary files of saves that were killed (their process is gone)."""
    for leftover in folder.glob(".audit-*-*.tmp"):
        pid = leftover.name.split("-")[1]
        if pid.isdigit() and not alive(int(pid)):
            with suppress(OSError):
                leftover.unlink()


def alive(pid: int) -> bool:
    """Whether a process of this host is running (a killed audit's files and claims are nobody's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _sync(folder: Path) -> None:
    """Make the rename itself durable (a crash right after it must not bring the old audit back)."""
    with suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclass(frozen=True)
class Audit:
    """An audit read back from its folder: it owns its config (parsed once, on load)."""

    folder: Path
    meta: AuditMeta
    volume: dict[Key, Usage]  # per task, model, batch flag and day
    results: tuple[Result, ...]
    tests: dict[tuple[str, str], TestState]  # (task, cheaper tier) -> where its test ended
    statuses: dict[str, Status] = field(default_factory=dict)  # task -> why it moved or not (sequential audits)

    @property
    def config(self) -> Config:
        return self.meta.config

    @property
    def tasks(self) -> list[str]:
        """Task types by descending request count."""
        counts: dict[str, int] = {}
        for key, u in self.volume.items():
            counts[key.task] = counts.get(key.task, 0) + u.requests
        return sorted(counts, key=lambda t: (-counts[t], t))

    def requests(self, task: str) -> int:
        return sum(u.requests for k, u in self.volume.items() if k.task == task)

    def replayable(self, task: str) -> int:
        return sum(u.replayable for k, u in self.volume.items() if k.task == task)

    @property
    def incomplete(self) -> str | None:
        """What keeps the audit's evidence partial, and how to finish it; None when it is complete."""
        m = self.meta
        rerun = f"`tiertool audit {' '.join(m.logs)}`"
        if not m.records:
            return f"the audit read no records from {', '.join(m.logs)} (`tiertool inspect LOG` says why)"
        if m.error:
            return f"{m.error}; fix that and re-run {rerun} (answers already fetched are cached and cost nothing)"
        if m.offline_missing:
            return (f"{m.offline_missing} answers were neither cached nor recorded (--offline); re-run {rerun} "
                    "without --offline to fetch them")
        if m.over_budget:
            return (f"--budget left {m.over_budget} calls unsent; re-run {rerun} with a higher --budget (cached "
                    "answers cost nothing)")
        return None

    def require_complete(self, allow: bool = False) -> str | None:
        """Refuse partial evidence (IncompleteAudit, exit 1) unless `allow`; an audit that read nothing is
        refused always (exit 2). Returns what is incomplete when allowed."""
        why = self.incomplete
        if not self.meta.records:
            raise InputError(f"{self.folder}: nothing to decide: {why}")
        if why and not allow:
            raise IncompleteAudit(f"{self.folder}: the audit is incomplete: {why}; or pass --allow-incomplete to "
                                  "use the evidence so far")
        return why

    def results_frame(self) -> pd.DataFrame:
        """The evidence as a DataFrame, one row per sampled request and tier (columns as `Result`), e.g.
        `audit.results_frame().groupby(["task", "tier"]).passed.mean()` in a notebook."""
        import pandas as pd

        return pd.DataFrame([[getattr(r, c) for c in RESULT_COLUMNS] for r in self.results],
                            columns=list(RESULT_COLUMNS)).astype({"passed": "boolean"})

    def volume_frame(self) -> pd.DataFrame:
        """The log's volume as a DataFrame: one row per task, logged model, batch flag and day, with the
        request, token and logged-cost counts savings are priced on."""
        import pandas as pd

        return pd.DataFrame([(k.task, k.model, k.batch, k.day, *u.row()) for k, u in self.volume.items()],
                            columns=["task", "model", "batch", "day", *USAGE_COLUMNS])


def load_audit(folder: str | Path) -> Audit:
    """Read an audit folder; an audit of another format, or a damaged one, is an InputError saying to re-run."""
    folder = Path(folder)
    path = folder / AUDIT_DB
    if not path.is_file():
        raise InputError(f"{folder}: no audit found ({AUDIT_DB} missing); run `tiertool audit LOG` first")
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            raw = {k: json.loads(v) for k, v in db.execute("SELECT key, value FROM meta")}
            _check_format(path, raw)
            volume = {Key(row[0], row[1], bool(row[2]), row[3]): Usage(*row[4:])
                      for row in db.execute("SELECT * FROM volume")}
            results = tuple(map(_result, db.execute(f"SELECT {', '.join(RESULT_COLUMNS)} FROM results")))
            tests = {(t, tier): TestState(t, tier, state, tuple((k, n) for k, n in json.loads(looks)), lb, level)
                     for t, tier, state, looks, lb, level in db.execute("SELECT * FROM tests")}
            statuses = {row[0]: Status(*row) for row in db.execute(f"SELECT {', '.join(STATUS_COLUMNS)} FROM statuses")}
        meta = AuditMeta.model_validate(raw)
    except (sqlite3.DatabaseError, ValueError, TypeError, KeyError) as e:
        raise InputError(f"{path}: a damaged audit ({_why(e)}); re-run `tiertool audit`") from None
    return Audit(folder, meta, volume, results, tests, statuses)


def _check_format(path: Path, raw: dict[str, Any]) -> None:
    if raw.get("format") != AUDIT_FORMAT:
        by = f"tiertool {raw['version']}" if isinstance(raw.get("version"), str) else "an older tiertool"
        raise InputError(f"{path}: an audit of format {raw.get('format', 1)} (written by {by}); this tiertool "
                         f"reads format {AUDIT_FORMAT}: re-run `tiertool audit`")


def _result(row: tuple[Any, ...]) -> Result:
    r = Result(*row)
    own = None if r.scorer_passed is None else bool(r.scorer_passed)
    return replace(r, passed=None if r.passed is None else bool(r.passed), scorer_passed=own)


def _why(e: BaseException) -> str:
    if isinstance(e, ValidationError):
        err = e.errors()[0]
        return f"meta {'.'.join(map(str, err['loc']))}: {err['msg']}"
    return str(e).splitlines()[0] if str(e) else type(e).__name__
