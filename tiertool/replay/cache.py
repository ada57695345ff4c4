"""Content-addressed SQLite cache of model answers, so that a re-run pays nothing twice.

Keyed on a hash of (model, messages, decoding params). Each answer is committed as it arrives (WAL),
so a crash loses at most the calls in flight. The file is created owner-only: it holds prompts.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

from ..errors import InputError
from ..records import Answer, call_key
from ..store import private_dir

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    output TEXT NOT NULL,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost REAL NOT NULL DEFAULT 0,
    origin TEXT NOT NULL,
    created REAL NOT NULL
)
"""


class Cache:
    """Answers by call key (records.call_key); opened by every audit and worker process that shares it."""

    def __init__(self, path: str | Path, readonly: bool = False) -> None:
        self.path = Path(path)
        self.tables = ["answers"]  # readonly: the memory table first, then the file's
        try:
            if readonly:  # --dry-run: read what is cached, write nothing (recorded answers load into memory)
                self.db = sqlite3.connect(":memory:", uri=True, isolation_level=None, check_same_thread=False)
                self.db.execute(SCHEMA)
                if self.path.is_file():
                    self.db.execute("ATTACH DATABASE ? AS disk", (f"{self.path.resolve().as_uri()}?mode=ro",))
                    self.db.execute("SELECT 1 FROM disk.answers LIMIT 1")
                    self.tables.append("disk.answers")
                return
            private_dir(self.path.parent)
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self._setup()
        except sqlite3.DatabaseError as e:
            raise InputError(
                f"{self.path}: not a tiertool cache ({e}); delete it or point replay.cache elsewhere") from None

    def _setup(self) -> None:
        """WAL mode and the table. Switching to WAL needs the file to itself and SQLite does not wait for
        that (it answers 'database is locked' at once), so when another audit is opening the same cache
        at this moment, try again shortly."""
        for attempt in range(60):
            try:
                if self.db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                self.db.execute(SCHEMA)
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e) or attempt == 59:
                    raise
                time.sleep(0.05)

    def has(self, key: str) -> bool:
        return any(self.db.execute(f"SELECT 1 FROM {t} WHERE key = ?", (key,)).fetchone() for t in self.tables)

    def get(self, key: str) -> Answer | None:
        for table in self.tables:
            row = self.db.execute(
                f"SELECT output, input_tokens, output_tokens FROM {table} WHERE key = ?", (key,)).fetchone()
            if row is not None:
                return Answer(text=row[0], origin="cache", input_tokens=row[1], output_tokens=row[2])
        return None

    def put(self, key: str, model: str, answer: Answer, origin: str = "call") -> None:
        """Commit one answer now (one transaction per answer)."""
        self.db.execute(
            "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (key, model, answer.text or "", answer.input_tokens, answer.output_tokens, answer.cost, origin,
             time.time()),
        )

    def load_recorded(self, path: Path) -> int:
        """Import a recorded-answers JSONL file ({model, messages, params?, output} per line)."""
        if not path.is_file():
            raise InputError(f"{path}: recorded answers file not found (replay.recorded in tiertool.yaml)")
        n = 0
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                    key = call_key(rec["model"], rec["messages"], rec.get("params") or {})
                    text = rec["output"]
                except (ValueError, KeyError, TypeError) as e:
                    raise InputError(f"{path}:{lineno}: expected {{model, messages, params?, output}}: {e}") from None
                self.db.execute(
                    "INSERT OR IGNORE INTO answers VALUES (?, ?, ?, 0, 0, 0, 'recorded', ?)",
                    (key, rec["model"], text, time.time()),
                )
                n += 1
        return n

    def close(self) -> None:
        self.db.close()
