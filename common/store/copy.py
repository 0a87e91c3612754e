"""`leadrelay copy-to-postgres`: move a SQLite database into an empty PostgreSQL one.

Every table is copied as it is (events, projections and the zone of their days, tasks,
receipts, idempotency keys, unmatched payments, cursors, sessions, dashboard users, CRM
tokens) inside ONE PostgreSQL transaction with COPY, the identity counters are moved past the
copied keys, and the row counts are compared before the commit; the CLI then runs `verify`
against the new database.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg

from common.store.postgres.migrate import migrate as migrate_postgres
from common.store.sqlite.connection import connect
from common.store.sqlite.migrate import migrate as migrate_sqlite

# In an order that needs nothing not yet copied; with their integer keys, if any.
TABLES = {
    "events": "position",
    "leads": None,
    "campaign_stats": None,
    "daily_stats": None,
    "source_stats": None,
    "utm_stats": None,
    "utm_medium_stats": None,
    "direct_costs": None,
    "tasks": "id",
    "idempotency_keys": None,
    "webhook_receipts": "id",
    "unmatched_payments": "id",
    "reconcile_cursors": None,
    "dashboard_sessions": None,
    "dashboard_users": None,
    "crm_credentials": None,
    "payment_checks": None,  # when reconciliation last asked about each paid lead
    "projection_settings": None,  # the zone daily_stats' days were counted in
    "audit_log": "id",  # who did what in the dashboard and the CLI
    "acknowledged_problems": None,  # problems an admin has seen, hidden for a while
    "alert_state": None,  # which problems are being told (alerts)
    "alert_chats": None,  # Telegram chats moved or refusing the bot
}
# What a process records on opening even an empty database (the zone of its days): the
# copy's is the source's, so the target's own is replaced rather than counted as history.
REPLACED = ("projection_settings",)
BATCH = 5000


class TargetNotEmpty(RuntimeError):
    """copy-to-postgres only fills an empty database: it never merges two histories."""


def copy_to_postgres(source: Path, dsn: str) -> dict[str, int]:
    """Copy every table; return the rows copied per table."""
    migrate_sqlite(source)
    migrate_postgres(dsn)
    copied: dict[str, int] = {}
    lite = connect(source, 5.0, read_only=True)
    try:
        lite.execute("BEGIN")  # one snapshot of the source, even if it is still in use
        with psycopg.connect(dsn) as pg, pg.transaction():
            for table in TABLES:
                if table in REPLACED:
                    pg.execute(f"DELETE FROM {table}")
                elif pg.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()[0]:  # type: ignore[index]
                    raise TargetNotEmpty(f"{table} in the target already has rows")
            for table, key in TABLES.items():
                copied[table] = _copy_table(lite, pg, table)
                if key is not None:
                    pg.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', '{key}'),"
                        f" coalesce((SELECT max({key}) FROM {table}), 0) + 1, false)"
                    )
                row = pg.execute(f"SELECT count(*) FROM {table}").fetchone()
                if row is None or row[0] != copied[table]:
                    raise RuntimeError(f"{table}: copied {copied[table]} rows, found {row}")
        lite.execute("COMMIT")
    finally:
        lite.close()
    return copied


def _copy_table(lite: sqlite3.Connection, pg: psycopg.Connection, table: str) -> int:
    columns = [row[1] for row in lite.execute(f"PRAGMA table_info({table})")]
    names = ", ".join(columns)
    count = 0
    cursor = lite.execute(f"SELECT {names} FROM {table}")
    with pg.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        while rows := cursor.fetchmany(BATCH):
            for row in rows:
                copy.write_row(tuple(row))
            count += len(rows)
    return count
