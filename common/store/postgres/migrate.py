"""PostgreSQL migrations: a version table instead of PRAGMA user_version, and an advisory
lock instead of BEGIN EXCLUSIVE, so processes on many hosts starting together are safe:
the first takes the lock and migrates, the others wait for it and find nothing to do."""

from __future__ import annotations

import logging

import psycopg

from common.store.sqlite.migrate import SchemaTooNew, migrations

log = logging.getLogger(__name__)
MIGRATION_LOCK = 0x6D69_6772  # "migr"
PACKAGE = "common.store.postgres"


def migrate(dsn: str) -> int:
    """Bring the schema up to date; return its version."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
            current = int(row[0]) if row else 0
            known = migrations(PACKAGE)
            latest = known[-1][0]
            if current > latest:
                raise SchemaTooNew(f"database schema {current} is newer than this code ({latest})")
            for number, script in known:
                if number > current:
                    with conn.transaction():
                        conn.execute(script.encode())
                        conn.execute(
                            "INSERT INTO schema_migrations (version) VALUES (%s)", (number,)
                        )
                    log.info("applied migration %04d", number)
            return max(current, latest)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
