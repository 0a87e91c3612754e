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

from tests.helpers import free_port

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


def fresh_database(admin_url: str) -> str:
    """A new empty database on the server; its URL."""
    name = f"leadrelay_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    head, _, _ = admin_url.rpartition("/")
    query = admin_url.partition("?")[2]
    return f"{head}/{name}" + (f"?{query}" if query else "")
