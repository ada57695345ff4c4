"""The audit folder: `audit.sqlite` holds one audit's evidence (see README 'The audit folder').

Tables: `meta` (config, logs, counts), `volume` (per task and logged model), `results` (one row per
sampled request and tier: both answers, score, pass/fail, reason, error).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError
from .ingest.volume import USAGE_COLUMNS, Key, Usage
from .replay.cache import private_dir

AUDIT_DB = "audit.sqlite"


@dataclass(frozen=True)
class Result:
    """One sampled request answered by one tier and scored against the reference."""

    request_id: str
    source: str
    task: str
    tier: str
    model: str
    reference: str | None
    answer: str | None
    value: float | None
    passed: bool | None  # None: not scored (the call failed or no reference)
    reason: str
    origin: str  # where the answer came from: log | cache | call | recorded
    error: str | None = None
    round: int = 0  # the sampling round that scored it (sequential audits look after every round)


RESULT_COLUMNS = tuple(Result.__dataclass_fields__)


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute(f"CREATE TABLE IF NOT EXISTS volume (task TEXT, model TEXT, batch INTEGER, day TEXT, "
               f"{', '.join(USAGE_COLUMNS)})")
    db.execute(f"CREATE TABLE IF NOT EXISTS results ({', '.join(RESULT_COLUMNS)})")
    return db


def save_audit(folder: Path, meta: dict[str, Any], volume: dict[Key, Usage],
               results: Iterable[Result]) -> Path:
    """Replace the folder's audit with this one, in one transaction."""
    private_dir(folder)
    path = folder / AUDIT_DB
    db = _connect(path)
    path.chmod(0o600)
    with db:
        for table in ("meta", "volume", "results"):
            db.execute(f"DELETE FROM {table}")
        db.executemany("INSERT INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()])
        db.executemany(f"INSERT INTO volume VALUES ({', '.join('?' * (len(USAGE_COLUMNS) + 4))})",
                       [(k.task, k.model, int(k.batch), k.day, *u.as_row()) for k, u in volume.items()])
        db.executemany(f"INSERT INTO results VALUES ({', '.join('?' * len(RESULT_COLUMNS))})",
                       [tuple(getattr(r, c) for c in RESULT_COLUMNS) for r in results])
    db.close()
    return path


@dataclass(frozen=True)
class Audit:
    """An audit read back from its folder."""

    folder: Path
    meta: dict[str, Any]
    volume: dict[Key, Usage]  # per task, model, batch flag and day
    results: tuple[Result, ...]

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


def load_audit(folder: str | Path) -> Audit:
    folder = Path(folder)
    path = folder / AUDIT_DB
    if not path.is_file():
        raise InputError(f"{folder}: no audit found ({AUDIT_DB} missing); run `tiertool audit LOG` first")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        meta = {k: json.loads(v) for k, v in db.execute("SELECT key, value FROM meta")}
        volume = {Key(row[0], row[1], bool(row[2]), row[3]): Usage(*row[4:])
                  for row in db.execute("SELECT * FROM volume")}
        results = tuple(Result(*row) for row in db.execute(f"SELECT {', '.join(RESULT_COLUMNS)} FROM results"))
        db.close()
    except sqlite3.DatabaseError as e:
        raise InputError(f"{path}: not a tiertool audit ({e}); re-run `tiertool audit`") from None
    return Audit(folder, meta, volume, tuple(
        r if r.passed is None else Result(**{**r.__dict__, "passed": bool(r.passed)}) for r in results))
