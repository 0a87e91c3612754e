"""What the store contract tests share: units that write something, and the database's own
answers, read on a connection of the test's (never through the store being tested)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from uuid6 import uuid7

from common import clock
from common.events import LeadCreated, LeadLost
from common.model import NewLead
from common.store import Tx
from common.store.postgres.migrate import migrate as migrate_postgres
from common.store.sqlite.migrate import migrate as migrate_sqlite
from tests import pg
from tests.helpers import execute, rows, stored

NOW_SQL = {
    # The database's clock, as an independent witness of the store's clock.
    "sqlite": "SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now') AS now",
    "postgresql": "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC',"
    ' \'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\') AS now',
}


def backend(database: str) -> str:
    return "postgresql" if database.startswith("postgresql") else "sqlite"


def count(database: str, table: str, where: str = "TRUE", params: tuple = ()) -> int:
    """`SELECT count(*)`, on a connection of the test's own."""
    return int(rows(database, f"SELECT count(*) AS n FROM {table} WHERE {where}", params)[0]["n"])


def database_now(database: str) -> datetime:
    return clock.parse(rows(database, NOW_SQL[backend(database)])[0]["now"])


def age(database: str, table: str, column: str, seconds: float, where: str = "TRUE") -> None:
    """Move `column` of the matching rows to `seconds` before the database's now."""
    moment = clock.iso(database_now(database) - timedelta(seconds=seconds))
    execute(database, f"UPDATE {table} SET {column} = ? WHERE {where}", (moment,))


def insert_many(database: str, sql: str, params: list[tuple]) -> None:
    """Many rows in one transaction, on the test's own connection (`?` marks parameters)."""
    if backend(database) == "postgresql":
        with psycopg.connect(database) as conn, conn.cursor() as cursor:
            cursor.executemany(sql.replace("?", "%s"), params)
        return
    conn = sqlite3.connect(database)
    try:
        with conn:
            conn.executemany(sql, params)
    finally:
        conn.close()


def migrated_to(request: pytest.FixtureRequest, database: str, tmp_path: Path, upto: int) -> str:
    """A new database of the test's backend, its schema at migration `upto`: to store rows
    as they were before a later migration."""
    if backend(database) == "sqlite":
        path = tmp_path / "before.db"
        migrate_sqlite(path, upto=upto)
        return str(path)
    url = pg.fresh_database(request.getfixturevalue("postgres_server"))
    migrate_postgres(url, upto=upto)
    return url


def append(tx: Tx, stream: str, version: int = 0) -> int:
    """One event on `stream` (its next version after `version`); its position."""
    return tx.events.append(stream, version, LeadLost(source="contract")).position


def lead_at(moment: datetime, campaign: str = "c") -> Callable[[Tx], str]:
    """A unit that takes a lead as if it had come at `moment` (the store's clock says now):
    its event is appended and dated `moment`, then projected as a live write projects it."""

    def dated(tx: Tx) -> str:
        event = tx.events.append(str(uuid7()), 0, LeadCreated(NewLead(campaign_id=campaign)))
        at = stored(moment)
        tx.sql.run("UPDATE events SET created_at = ? WHERE position = ?", (at, event.position))
        tx.project(replace(event, created_at=at))
        return event.stream_id

    return dated


def append_and_raise(tx: Tx, stream: str) -> None:
    append(tx, stream)
    raise Refused(stream)


class Refused(Exception):
    """A unit of work that gave up half-way (its writes must not be seen)."""
