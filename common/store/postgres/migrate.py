"""The schema's migrations on PostgreSQL: a version table instead of PRAGMA user_version, and
an advisory lock instead of BEGIN EXCLUSIVE, so processes on many hosts starting together are
safe: the first takes the lock and migrates, the others wait for it and find nothing to do."""

from __future__ import annotations

import logging

import psycopg

from common.store.migrations import migrations, pending

log = logging.getLogger(__name__)
MIGRATION_LOCK = 0x6D69_6772  # "migr"
VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
    " applied_at TIMESTAMPTZ NOT NULL DEFAULT now(), name TEXT)"
)

# Before the one schema source, PostgreSQL had one snapshot file (0001_schema.sql, now
# tests/old_schemas/postgres_0001_schema_snapshot.sql) holding the state SQLite reached at
# migration 11, recorded as version 1 in a version table without the `name` column. Such a
# table is rewritten once to list 1..11, as a database migrated from empty lists them; the
# missing column is what marks it, since a table listing version 1 alone could mean either.
SNAPSHOT_VERSION = 1
SNAPSHOT_HOLDS = 11


def migrate(dsn: str, upto: int | None = None) -> int:
    """Bring the schema up to date (or to version `upto`); return its version."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            conn.execute(VERSION_TABLE)
            _adopt_snapshot(conn)
            row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
            version = first = int(row[0]) if row else 0
            for migration in pending("postgresql", version, upto):
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (migration.number, migration.name),
                    )
                version = migration.number
                log.debug("applied migration %s", migration.name)
            if version != first:  # the server named, not the URL: it may hold a password
                log.info(
                    "migrated the PostgreSQL database %s from version %s to %s",
                    conn.info.dbname,
                    first,
                    version,
                )
            return version
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))


def _adopt_snapshot(conn: psycopg.Connection) -> None:
    """Rewrite a snapshot-era version table in the one source's numbers (see SNAPSHOT_HOLDS)."""
    named = conn.execute(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()"
        " AND table_name = 'schema_migrations' AND column_name = 'name'"
    ).fetchone()
    if named:
        return
    with conn.transaction():
        conn.execute("ALTER TABLE schema_migrations ADD COLUMN name TEXT")
        rows = conn.execute("SELECT version, applied_at FROM schema_migrations").fetchall()
        if not rows:
            return  # the snapshot's transaction never committed: migrate from empty
        if [version for version, _ in rows] != [SNAPSHOT_VERSION]:
            raise RuntimeError(f"schema_migrations lists {rows}, not the snapshot's version 1")
        conn.execute("DELETE FROM schema_migrations")
        conn.cursor().executemany(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, %s)",
            [(m.number, m.name, rows[0][1]) for m in migrations("postgresql")[:SNAPSHOT_HOLDS]],
        )
        log.info("recorded the snapshot schema as migrations 1-%d", SNAPSHOT_HOLDS)
