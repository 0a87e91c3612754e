"""The storage package: the only place that knows SQL and the database driver.

Everything above it works with `Store.write(fn)` / `Store.read(fn)`, where `fn`
is a plain function over a `Tx` whose verbs take and give domain types.
"""

from __future__ import annotations

from pathlib import Path

from common.store.base import Store, Unit
from common.store.leads import LeadFilter
from common.store.sqlite.store import SqliteStore
from common.store.tx import Tx

__all__ = ["LeadFilter", "SqliteStore", "Store", "Tx", "Unit", "open_store"]


async def open_store(database: str | Path, busy_timeout: float, max_attempts: int = 10) -> Store:
    """Open (and migrate) the configured database: a postgresql:// URL or a SQLite file."""
    if str(database).startswith(("postgresql://", "postgres://")):
        from common.store.postgres.store import PgStore  # psycopg only when it is used

        return await PgStore(str(database), busy_timeout, max_attempts).open()
    return await SqliteStore(Path(database), busy_timeout, max_attempts).open()
