"""The storage package: the only place that knows SQL and the database driver.

Everything above it works with `Store.write(fn)` / `Store.read(fn)`, where `fn`
is a plain function over a `Tx` whose verbs take and give domain types.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from common.store.base import Store, Unit
from common.store.leads import LeadFilter
from common.store.sqlite.store import SqliteStore
from common.store.tx import Tx
from common.store.zone import ZoneChanged

__all__ = ["LeadFilter", "SqliteStore", "Store", "Tx", "Unit", "ZoneChanged", "open_store"]


async def open_store(
    database: str | Path,
    busy_timeout: float,
    max_attempts: int = 10,
    *,
    zone: ZoneInfo,
    rebuilding: bool = False,
) -> Store:
    """Open (and migrate) the configured database: a postgresql:// URL or a SQLite file.

    `zone` (dashboard.timezone) decides the days. A database whose days were counted in
    another zone is refused with ZoneChanged, unless it is opened by `rebuild`, which counts
    them again; a database with no zone recorded yet records this one."""
    store: Store
    if str(database).startswith(("postgresql://", "postgres://")):
        from common.store.postgres.store import PgStore  # psycopg only when it is used

        store = await PgStore(str(database), busy_timeout, max_attempts, zone=zone).open()
    else:
        store = await SqliteStore(Path(database), busy_timeout, max_attempts, zone=zone).open()
    if not rebuilding:
        try:
            await _same_zone(store)
        except BaseException:
            await store.close()
            raise
    return store


async def _same_zone(store: Store) -> None:
    """Refuse to count days in a zone other than the one the stored days were counted in."""
    recorded = await store.read(lambda tx: tx.recorded_zone.get())
    if recorded is None:  # a new database, or one from before the zone was recorded
        recorded = await store.write(lambda tx: tx.recorded_zone.claim(store.zone.key))
    if recorded != store.zone.key:
        raise ZoneChanged(recorded, store.zone.key)
