"""A real PostgreSQL for the tests: LEADRELAY_TEST_POSTGRES (a URL to a server where the
tests may create databases, as .ci/run sets), or else a throwaway cluster started here
with Debian's postgresql package (initdb, pg_ctl). Without either the PostgreSQL tests
fail, saying so: they never pass by skipping."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from common.store.postgres.migrate import migrate
from tests.helpers import free_port, wait_for

ENV = "LEADRELAY_TEST_POSTGRES"
MISSING = (
    "the PostgreSQL tests need a server: set LEADRELAY_TEST_POSTGRES to a"
    " postgresql://user:password@host:port/postgres URL, or install Debian's postgresql"
    " package (initdb and pg_ctl) so the tests can start a throwaway cluster"
)


def _binary(name: str) -> str | None:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if isinstance(found, list):
        return found[-1] if found else None
    return found


def _as_postgres(command: list[str]) -> list[str]:
    """initdb refuses to run as root: run the cluster as the postgres user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@contextmanager
def server(durable: bool = False) -> Iterator[str]:
    """The URL of a server's maintenance database, for the whole test session. A cluster
    started here skips fsync (the tests need no durability) unless `durable` (benchmarks)."""
    given = os.environ.get(ENV)
    if given:
        yield given
        return
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise RuntimeError(MISSING)
    folder = Path(tempfile.mkdtemp(prefix="leadrelay-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    data, port = folder / "data", free_port()
    subprocess.run(
        _as_postgres([initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"]),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=300"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off"
    start = [pg_ctl, "-D", str(data), "-l", str(folder / "log"), "-w", "-o", options, "start"]
    subprocess.run(_as_postgres(start), check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        stop = [pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]
        subprocess.run(_as_postgres(stop), capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def _url(admin_url: str, name: str) -> str:
    head, _, _ = admin_url.rpartition("/")
    query = admin_url.partition("?")[2]
    return f"{head}/{name}" + (f"?{query}" if query else "")


def fresh_database(admin_url: str) -> str:
    """A new empty database on the server; its URL."""
    name = f"leadrelay_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return _url(admin_url, name)


@contextmanager
def migrated_database(admin_url: str) -> Iterator[str]:
    """One database migrated once for the whole session, wiped before each test (`wipe`).

    Measured on this 2-core machine: migrating a database per test cost ~0.4 s, a copy
    with CREATE DATABASE … TEMPLATE 0.14–0.23 s, emptying the tables and restarting the
    sequences 6 ms. Its name is unique, so two test runs can share one server."""
    url = fresh_database(admin_url)
    try:
        migrate(url)
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {url.rpartition('/')[2].partition('?')[0]}")


LEFTOVER_WAIT = 5.0  # seconds a closed store's connections may take to go away


def wipe(url: str) -> None:
    """Empty every table but the migration bookkeeping and restart every sequence, so a test
    starts as on a new database. A connection left open by an earlier test (a store it did
    not close) would see the wipe and write into this test: that fails here, by name."""
    with psycopg.connect(url, autocommit=True) as conn:

        def alone() -> bool:
            others = conn.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND backend_type = 'client backend'"  # not autovacuum at work
            ).fetchone()
            return others is not None and others[0] == 0

        try:  # a closed connection's backend exits within milliseconds
            wait_for(alone, timeout=LEFTOVER_WAIT)
        except AssertionError:
            raise AssertionError("a connection of an earlier test is still open") from None
        tables = conn.execute(
            "SELECT tablename FROM pg_tables"
            " WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
        ).fetchall()
        sequences = conn.execute(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
        ).fetchall()
        conn.execute(
            "; ".join(
                [f"DELETE FROM {name}" for (name,) in tables]
                + [f"ALTER SEQUENCE {name} RESTART" for (name,) in sequences]
            )
        )
