"""Migration 0026: an unmatched payment may be dismissed. SQLite builds the table again (it
cannot change a CHECK in place), PostgreSQL swaps the CHECK: on both, the payments kept at 0025
keep their rows and ids, the next id follows the old counter, and the schema is a new one's."""

import sqlite3
from pathlib import Path

import psycopg
import pytest

from common.store.postgres.migrate import migrate as migrate_postgres
from common.store.sqlite.migrate import migrate as migrate_sqlite
from tests import pg
from tests.helpers import execute, rows
from tests.schema import describe_postgres, describe_sqlite, differences

BEFORE = 25
KEEP = (
    "INSERT INTO unmatched_payments (connection, crm_ref, amount, currency, paid_at, received_at)"
    " VALUES (?, ?, '100.00', 'RUB', '2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z')"
)
ALL = "SELECT * FROM unmatched_payments ORDER BY id"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    """A database migrated to 0025, how to migrate it on, and how to read its schema; with a
    new database at the latest version to compare it with."""
    if request.param == "sqlite":
        old, new = tmp_path / "old.db", tmp_path / "new.db"
        migrate_sqlite(old, upto=BEFORE)
        migrate_sqlite(new)
        return old, (lambda: migrate_sqlite(old)), describe_sqlite(new), describe_sqlite
    admin = request.getfixturevalue("postgres_server")
    url, new_url = pg.fresh_database(admin), pg.fresh_database(admin)
    migrate_postgres(url, upto=BEFORE)
    migrate_postgres(new_url)
    return url, (lambda: migrate_postgres(url)), describe_postgres(new_url), describe_postgres


def test_payments_kept_before_keep_their_rows_and_ids(engine):
    database, migrate, new_schema, describe = engine
    for ref in ("open-1", "attached-2", "gone-3", "open-4", "gone-5"):
        execute(database, KEEP, ("amo", ref))
    execute(
        database,
        "UPDATE unmatched_payments SET status = 'attached', lead_id = 'L1',"
        " attached_at = '2026-01-03T00:00:00Z' WHERE crm_ref = 'attached-2'",
    )
    # The last ids given are gone (an operator's cleanup): the counter must still not reuse them.
    execute(database, "DELETE FROM unmatched_payments WHERE crm_ref LIKE 'gone-%'")
    before = rows(database, ALL)
    assert [r["status"] for r in before] == ["open", "attached", "open"]

    migrate()

    after = rows(database, ALL)
    assert [{k: v for k, v in r.items() if not k.startswith("dismissed_")} for r in after] == before
    assert [(r["dismissed_at"], r["dismissed_reason"]) for r in after] == [(None, None)] * 3
    execute(database, KEEP, ("amo", "new"))
    [new] = rows(database, "SELECT id FROM unmatched_payments WHERE crm_ref = 'new'")
    assert new["id"] == 6  # after the counter (5), not after the largest id left (4)
    execute(
        database,
        "UPDATE unmatched_payments SET status = 'dismissed', dismissed_at = ?,"
        " dismissed_reason = 'a test deal' WHERE id = ?",
        ("2026-01-04T00:00:00Z", before[0]["id"]),
    )
    [dismissed] = rows(database, "SELECT status FROM unmatched_payments WHERE id = ?", (1,))
    assert dismissed["status"] == "dismissed"
    with pytest.raises((sqlite3.IntegrityError, psycopg.errors.CheckViolation)):
        execute(database, "UPDATE unmatched_payments SET status = 'lost' WHERE id = 1")
    with pytest.raises((sqlite3.IntegrityError, psycopg.errors.UniqueViolation)):
        execute(database, KEEP, ("amo", "open-1"))  # the UNIQUE survived the rebuild
    assert differences(describe(database), new_schema, ("migrated", "new"), True) == []


@pytest.mark.sqlite_only
def test_sqlite_keeps_no_copy_of_the_old_table(tmp_path):
    path = Path(tmp_path / "old.db")
    migrate_sqlite(path, upto=BEFORE)
    migrate_sqlite(path)
    names = {r["name"] for r in rows(path, "SELECT name FROM sqlite_master")}
    assert not any("0007" in name for name in names)
    assert {"unmatched_open", "sqlite_autoindex_unmatched_payments_1"} <= names
    assert rows(path, "PRAGMA foreign_key_check") == []
