"""copy-to-postgres moves every table a database has: a table added by a migration and
forgotten in `common.store.copy.TABLES` would be left behind without a word."""

from __future__ import annotations

from common.store import open_store
from common.store.copy import TABLES
from tests.helpers import ZONE, rows

SQLITE_OWN = {"sqlite_sequence"}  # SQLite's bookkeeping, not ours


async def test_every_table_of_the_schema_is_copied(tmp_path):
    database = tmp_path / "leadrelay.db"
    await (await open_store(str(database), 1.0, zone=ZONE)).close()
    tables = {
        r["name"] for r in rows(database, "SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    assert tables - SQLITE_OWN == set(TABLES)
