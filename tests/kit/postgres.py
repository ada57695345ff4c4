"""A throwaway PostgreSQL cluster from Debian's `postgresql` package, and LiteLLM's real spend-log table in it.

Why: reading the LiteLLM proxy's `LiteLLM_SpendLogs` is proven only against a real server holding the table the
proxy creates. The cluster lives in a temp dir, listens on a free loopback port, trusts local connections, and
is removed at the end of the session. Postgres refuses to run as root, so as root it runs as the `postgres` user
that the Debian package creates.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.kit import free_port

if TYPE_CHECKING:
    import psycopg

SPENDLOGS_TABLE = "LiteLLM_SpendLogs"
SPENDLOGS_DDL = Path(__file__).with_name("litellm_spendlogs.sql")
PG_ROOT = Path("/usr/lib/postgresql")
USER = "tiertool"
# Durability is worthless in a cluster that lives for one test session; these make it start and write faster.
SERVER_OPTIONS = ("-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=32MB "
                  "-c max_connections=40 -c timezone=UTC")


class PostgresUnavailable(RuntimeError):
    """The server binaries are not installed (the only reason a Postgres test may skip)."""


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    version: str
    datadir: Path

    def url(self, dbname: str = "postgres") -> str:
        """A libpq URL, the form users pass to `tiertool audit postgresql://...`."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"


def find_pg_bin() -> Path:
    """The newest installed server (Debian keeps one /usr/lib/postgresql/<major>/bin per major version)."""
    dirs = [d.parent for d in PG_ROOT.glob("*/bin/initdb") if d.parent.parent.name.isdigit()]
    if not dirs:
        raise PostgresUnavailable(f"no PostgreSQL server under {PG_ROOT}/*/bin (Debian package `postgresql`; "
                                  "`.ci/run` installs it with apt when run as root)")
    return max(dirs, key=lambda d: int(d.parent.name))


def _run_as() -> tuple[list[str], pwd.struct_passwd | None]:
    """The command prefix and owner for the server's processes: the caller, or `postgres` when the caller is root."""
    if os.geteuid() != 0:
        return [], None
    try:
        owner = pwd.getpwnam("postgres")
    except KeyError as e:
        raise PostgresUnavailable("running as root and there is no `postgres` user to run the server as "
                                  "(the Debian package `postgresql` creates it)") from e
    return ["runuser", "-u", "postgres", "--"], owner


def _run(cmd: list[str | Path], cwd: Path, log: Path | None = None) -> str:
    out = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        server_log = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {out.returncode}:\n{out.stdout}{out.stderr}"
                           f"{server_log}")
    return out.stdout


def _start_on_a_free_port(pg_ctl: list[str | Path], tmp: Path, log: Path, attempts: int = 3) -> int:
    """`pg_ctl start` on a port free a moment ago; another process (a parallel test worker, another session's
    suite) may take it first, so a start that cannot bind tries a new port."""
    tries = 0
    while True:
        port, tries = free_port(), tries + 1
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {tmp} {SERVER_OPTIONS}"
        try:
            _run([*pg_ctl, "-o", options, "start"], cwd=tmp, log=log)
            return port
        except RuntimeError as e:
            if tries == attempts or "could not bind" not in str(e):
                raise
            log.unlink(missing_ok=True)


@contextmanager
def start_postgres() -> Iterator[PostgresServer]:
    """initdb + pg_ctl start in a temp dir on a free 127.0.0.1 port; stop and remove everything on exit."""
    bindir = find_pg_bin()
    prefix, owner = _run_as()
    tmp = Path(tempfile.mkdtemp(prefix="tiertool-pg-"))
    try:
        if owner:
            os.chown(tmp, owner.pw_uid, owner.pw_gid)
        data, log = tmp / "data", tmp / "server.log"
        _run([*prefix, bindir / "initdb", "-D", data, "-U", USER, "--auth=trust", "-E", "UTF8", "--no-locale",
              "--no-sync"], cwd=tmp)
        port = _start_on_a_free_port([*prefix, bindir / "pg_ctl", "-D", data, "-l", log, "-w", "-t", "60"],
                                     tmp, log)
        try:
            version = _run([bindir / "postgres", "--version"], cwd=tmp).strip()
            yield PostgresServer("127.0.0.1", port, USER, version, data)
        finally:
            _run([*prefix, bindir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"], cwd=tmp, log=log)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One cluster for the whole session (start-up costs about a second); use `postgres_db` per test."""
    try:
        find_pg_bin()
        _run_as()
    except PostgresUnavailable as e:
        pytest.skip(str(e))
    with start_postgres() as server:
        yield server


_db_numbers = itertools.count()


@pytest.fixture
def postgres_db(postgres: PostgresServer) -> Iterator[str]:
    """The URL of a fresh empty database, dropped after the test, so tests never see each other's rows."""
    import psycopg
    from psycopg import sql

    name = f"test_{os.getpid()}_{next(_db_numbers)}"
    with psycopg.connect(postgres.url(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield postgres.url(name)
    with psycopg.connect(postgres.url(), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def spendlogs_db(postgres_db: str) -> str:
    """A fresh database holding LiteLLM's empty `LiteLLM_SpendLogs` table; fill it with `insert_spend_rows`."""
    import psycopg

    with psycopg.connect(postgres_db) as conn:
        create_spendlogs(conn)
    return postgres_db


def create_spendlogs(conn: psycopg.Connection[Any]) -> None:
    """Create `LiteLLM_SpendLogs` with its indexes, exactly as LiteLLM's schema.prisma defines them."""
    conn.execute(SPENDLOGS_DDL.read_text(encoding="utf-8"))  # no parameters: psycopg runs the whole script
    conn.commit()


def insert_spend_rows(conn: psycopg.Connection[Any], rows: Iterable[Mapping[str, Any]]) -> int:
    """COPY spend rows (dicts keyed by column, as LiteLLM's JSON export writes them) into `LiteLLM_SpendLogs`.

    JSON columns take Python objects, or JSON text as the proxy's own spend rows hold it; timestamps take
    datetimes or ISO strings in UTC (the column has no time zone, as LiteLLM's). A key that is not a column is
    an error, so no field is dropped silently. Returns the number of rows written.
    """
    from psycopg import sql
    from psycopg.types.json import Jsonb

    types = dict(conn.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s",
                              (SPENDLOGS_TABLE,)).fetchall())
    if not types:
        raise LookupError(f"no {SPENDLOGS_TABLE} table in this database: call create_spendlogs(conn) first")
    written = 0
    with conn.cursor() as cur:
        for keys, group in itertools.groupby(rows, key=lambda r: tuple(r)):
            unknown = sorted(set(keys) - types.keys())
            if unknown:
                raise KeyError(f"{SPENDLOGS_TABLE} has no column(s) {unknown}")
            json_cols = [types[k] == "jsonb" for k in keys]
            stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(SPENDLOGS_TABLE), sql.SQL(", ").join(map(sql.Identifier, keys)))
            with cur.copy(stmt) as copy:
                for row in group:
                    copy.write_row([Jsonb(v) if is_json and not isinstance(v, str | None) else v
                                    for v, is_json in zip(row.values(), json_cols, strict=True)])
                    written += 1
    conn.commit()
    return written
