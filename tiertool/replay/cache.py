"""Content-addressed SQLite cache of model answers, so that a re-run pays nothing twice.

Keyed on a hash of (model, messages, decoding params). Each answer is committed as it arrives (WAL), so a crash
loses at most the calls in flight; only usable answers are ever stored (the engine checks them), so a provider's
bad moment is not replayed forever. The file is created owner-only because it holds prompts; the folder it sits
in keeps its mode unless tiertool creates it.

Several processes may share one cache (two audits, worker processes, a re-run racing a killed run's leftovers).
Before paying for a call, a process *claims* its key (the `claims` table): a live claim by another process means
that process is paying for it, so this one waits for its answer instead of paying twice. A claim lapses when its
process is gone (checked by pid on this host) or its lease runs out.

With `--batch`, the `batches` table records each batch submitted (its id, the tier's model and api_base, and the
call keys in it) as soon as the provider accepts it, before it is polled: a re-run after a crash polls that
batch instead of submitting, and paying for, its calls again.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from ..errors import InputError, StorageError
from ..limits import decode
from ..records import Answer, call_key
from ..store import alive, private_dir

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    output TEXT NOT NULL,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost REAL NOT NULL DEFAULT 0,
    origin TEXT NOT NULL,
    created REAL NOT NULL,
    tool_calls TEXT NOT NULL DEFAULT '',
    reasoning_tokens INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    api_base TEXT NOT NULL,
    keys TEXT NOT NULL,
    created REAL NOT NULL,
    ended INTEGER NOT NULL DEFAULT 0
);
"""
# Columns added after the first release: a cache written before them gets them (empty) when it is opened.
ADDED = {"tool_calls": ("TEXT NOT NULL DEFAULT ''", "''"), "reasoning_tokens": ("INTEGER NOT NULL DEFAULT 0", "0")}
# by name: an older cache has the ADDED columns in the order it was given them
COLUMNS = "key, model, output, input_tokens, output_tokens, cost, origin, created, tool_calls, reasoning_tokens"
WRITE_ERRORS = (sqlite3.OperationalError, sqlite3.DatabaseError, OSError)  # disk full, read-only, I/O error


class Cache:
    """Answers by call key (records.call_key); opened by every audit and worker process that shares it."""

    def __init__(self, path: str | Path, readonly: bool = False) -> None:
        self.path = Path(path)
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.owner = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:12]}"
        self.tables = ["answers"]  # readonly: the memory table first, then the file's
        self.added: dict[str, set[str]] = {}  # table -> ADDED columns it lacks (a read-only older cache)
        try:
            if readonly:  # --dry-run: read what is cached, write nothing (recorded answers load into memory)
                self.db = sqlite3.connect(":memory:", uri=True, isolation_level=None, check_same_thread=False)
                self.db.executescript(SCHEMA)
                if self.path.is_file():
                    self.db.execute("ATTACH DATABASE ? AS disk", (f"{self.path.resolve().as_uri()}?mode=ro",))
                    self.db.execute("SELECT 1 FROM disk.answers LIMIT 1")
                    self.tables.append("disk.answers")
                    self.added["disk.answers"] = set(ADDED) - self._columns("disk.")  # read as their defaults
                return
            private_dir(self.path.parent)
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self._setup()
        except sqlite3.DatabaseError as e:
            if isinstance(e, sqlite3.OperationalError) and not self._is_cache_error(e):
                raise StorageError(f"{self.path}: cannot open the answer cache ({e}); check that its folder is "
                                   f"writable and has free space, or point replay.cache elsewhere") from None
            raise InputError(
                f"{self.path}: not a tiertool cache ({e}); delete it or point replay.cache elsewhere") from None
        except OSError as e:
            raise StorageError(f"{self.path}: cannot create the answer cache ({e.strerror}); check that its folder "
                               f"is writable, or point replay.cache elsewhere") from None

    @staticmethod
    def _is_cache_error(e: sqlite3.OperationalError) -> bool:
        """Whether an error on open says the file is not a cache (rather than that it cannot be written)."""
        return "not a database" in str(e) or "malformed" in str(e)

    def _setup(self) -> None:
        """WAL mode and the tables. Switching to WAL needs the file to itself and SQLite does not wait for
        that (it answers 'database is locked' at once), so when another audit is opening the same cache
        at this moment, try again shortly."""
        for attempt in range(60):
            try:
                if self.db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                self.db.executescript(SCHEMA)
                have = self._columns("")
                for column in [c for c in ADDED if c not in have]:
                    self.db.execute(f"ALTER TABLE answers ADD COLUMN {column} {ADDED[column][0]}")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e) or attempt == 59:
                    raise
                time.sleep(0.05)

    def _columns(self, schema: str) -> set[str]:
        return {row[1] for row in self.db.execute(f"PRAGMA {schema}table_info(answers)")}

    def has(self, key: str) -> bool:
        return any(self.db.execute(f"SELECT 1 FROM {t} WHERE key = ?", (key,)).fetchone() for t in self.tables)

    def get(self, key: str) -> Answer | None:
        for table in self.tables:
            lacks = self.added.get(table, set())
            added = ", ".join(default if c in lacks else c for c, (_, default) in ADDED.items())
            row = self.db.execute(
                f"SELECT output, input_tokens, output_tokens, {added} FROM {table} WHERE key = ?", (key,)).fetchone()
            if row is not None:
                return Answer(text=row[0], origin="cache", input_tokens=row[1], output_tokens=row[2],
                              tool_calls=tuple(json.loads(row[3])) if row[3] else (), reasoning_tokens=row[4])
        return None

    def put(self, key: str, model: str, answer: Answer, origin: str = "call") -> None:
        """Commit one answer now (one transaction per answer) and let go of its claim. Raises one of
        WRITE_ERRORS when the disk is full or the file cannot be written."""
        with self._transaction():
            self.db.execute(
                f"INSERT OR REPLACE INTO answers ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, model, answer.text or "", answer.input_tokens, answer.output_tokens, answer.cost, origin,
                 time.time(), json.dumps(answer.tool_calls) if answer.tool_calls else "", answer.reasoning_tokens),
            )
            self.db.execute("DELETE FROM claims WHERE key = ? AND owner = ?", (key, self.owner))

    def claim(self, key: str, lease: float) -> bool:
        """Become the one process that pays for this key, unless another live process already is."""
        now = time.time()
        with self._transaction():
            row = self.db.execute("SELECT owner, host, pid, expires FROM claims WHERE key = ?", (key,)).fetchone()
            if row is not None and row[0] != self.owner and row[3] > now and (row[1] != self.host or alive(row[2])):
                return False
            self.db.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?)",
                            (key, self.owner, self.host, self.pid, now + lease))
        return True

    def release(self, key: str) -> None:
        """Give a claim back without an answer (the call failed), so another process may try it."""
        with suppress(*WRITE_ERRORS):  # the claim lapses with this process anyway
            self.db.execute("DELETE FROM claims WHERE key = ? AND owner = ?", (key, self.owner))

    def add_batch(self, batch_id: str, model: str, api_base: str, keys: list[str]) -> None:
        """Record a batch the provider accepted (before it is polled). Raises one of WRITE_ERRORS."""
        self.db.execute("INSERT OR REPLACE INTO batches VALUES (?, ?, ?, ?, ?, 0)",
                        (batch_id, model, api_base, json.dumps(keys), time.time()))

    def open_batches(self, model: str, api_base: str) -> list[tuple[str, list[str]]]:
        """The batches submitted to this model at this endpoint whose results are not all taken in yet."""
        rows = self.db.execute("SELECT id, keys FROM batches WHERE model = ? AND api_base = ? AND ended = 0 "
                               "ORDER BY created", (model, api_base)).fetchall()
        return [(row[0], json.loads(row[1])) for row in rows]

    def end_batch(self, batch_id: str) -> None:
        """The batch's results are cached (or it failed): a re-run submits what it still needs anew."""
        with suppress(*WRITE_ERRORS):  # still open: a re-run polls it once more and pays nothing
            self.db.execute("UPDATE batches SET ended = 1 WHERE id = ?", (batch_id,))

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT (the connection is in autocommit mode); rolled back when anything, the
        COMMIT included (a full disk), fails."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    def load_recorded(self, path: Path) -> int:
        """Import a recorded-answers JSONL file ({model, messages, params?, output, tool_calls?} per line; tool
        calls in OpenAI chat shape)."""
        if not path.is_file():
            raise InputError(f"{path}: recorded answers file not found (replay.recorded in tiertool.yaml)")
        try:
            lines = decode(path.read_bytes()).splitlines()
        except ValueError as e:
            raise InputError(f"{path}: {e}") from None
        n = 0
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                key = call_key(rec["model"], rec["messages"], rec.get("params") or {})
                text, calls = rec["output"], rec.get("tool_calls") or []
                if not isinstance(calls, list) or not all(isinstance(c.get("function"), dict) for c in calls):
                    raise TypeError("tool_calls must be a list of {id, type, function: {name, arguments}}")
                if not isinstance(text, str) and not (text is None and calls):
                    raise TypeError("output must be text (null only beside tool_calls)")
            except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
                raise InputError(f"{path}:{lineno}: expected {{model, messages, params?, output, tool_calls?}}: "
                                 f"{e}") from None
            self.db.execute(
                f"INSERT OR IGNORE INTO answers ({COLUMNS}) VALUES (?, ?, ?, 0, 0, 0, 'recorded', ?, ?, 0)",
                (key, rec["model"], text or "", time.time(), json.dumps(calls) if calls else ""),
            )
            n += 1
        return n

    def close(self) -> None:
        """Give back this process's claims and close."""
        with suppress(*WRITE_ERRORS):
            self.db.execute("DELETE FROM claims WHERE owner = ?", (self.owner,))
        self.db.close()
