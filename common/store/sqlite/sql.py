"""The Sql protocol over one sqlite3 connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from common import clock
from common.store.inserts import KeepsInserts
from common.store.sql import Params, Row, among
from common.store.sqlite.inserts import SqliteInserts
from common.store.sqlite.updates import KeptUpdates


class SqliteSql(KeepsInserts):
    """The Sql protocol over one sqlite3 connection. Inside `keeping()` (group commit's first
    run of a batch) plain INSERTs are kept and sent as multi-row statements
    (common/store/sqlite/inserts.py), and a lead's UPDATE by its key as one UPDATE of many
    rows (common/store/sqlite/updates.py)."""

    __slots__ = ("_updates", "conn")
    joins_lateral = False

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self._inserts = SqliteInserts(conn)
        self._updates = KeptUpdates(conn)
        self._keepers = (self._inserts, self._updates)
        self._keeping = False
        self.gather(False)

    def now(self) -> str:
        return clock.now_iso()

    def lock_event_order(self) -> None:
        pass  # one writer thread per process, and BEGIN IMMEDIATE: commits are in order

    def due_tasks(self, now: str, types: Sequence[str], limit: int) -> tuple[str, Params]:
        # Two indexed ranges (one partial index each) merged in due order; the one writer
        # per database file makes the claim atomic.
        query = (
            "SELECT id FROM (SELECT id, run_after AS due FROM tasks"
            f" WHERE status = 'pending' AND run_after <= ? {among('type', types)}"
            " UNION ALL SELECT id, locked_until FROM tasks"
            f" WHERE status = 'processing' AND locked_until <= ? {among('type', types)}"
            " ORDER BY 2, 1 LIMIT ?) AS due"
        )
        return query, (now, *types, now, *types, limit)

    def event_count(self) -> int:
        # Positions are dense here: events are never deleted, and AUTOINCREMENT's counter
        # rolls back with its transaction or savepoint. So max() (an index lookup) counts.
        return int(self.value("SELECT coalesce(max(position), 0) FROM events"))

    def json_keys(self, column: str, alias: str) -> str:
        return f"json_each({column}) AS {alias}"

    def run(self, sql: str, params: Params = ()) -> int:
        self._before(sql)
        return self.conn.execute(sql, params).rowcount

    def send(self, sql: str, params: Params = ()) -> None:
        if self._keeps(sql):
            self._inserts.add(sql, params)
            return
        if self._keeping and self._gathering and KeptUpdates.takes(sql):
            self._inserts.before(sql)  # a lead inserted in this batch goes in first
            self._updates.add(sql, params)
            return
        self._before(sql)
        self.conn.execute(sql, params)

    def many(self, sql: str, rows: Iterable[Params]) -> None:
        self._before(sql)
        self.conn.executemany(sql, rows)

    def one(self, sql: str, params: Params = ()) -> Row | None:
        self._before(sql)
        row: Row | None = self.conn.execute(sql, params).fetchone()
        return row

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        self._before(sql)
        return self.conn.execute(sql, params).fetchall()

    def asking(self, sql: str, params: Params = ()) -> Callable[[], list[Row]]:
        rows = self.all(sql, params)
        return lambda: rows

    def insert(self, sql: str, params: Params = (), key: str = "id") -> int:
        if self._keeps(sql):
            return self._inserts.add(sql, params, key)()
        # lastrowid, not RETURNING: a RETURNING row costs sqlite3 one more step, and every
        # step hands the GIL to the event loop and back.
        self._before(sql)
        rowid = self.conn.execute(sql, params).lastrowid
        assert rowid is not None
        return rowid

    def inserting(self, sql: str, params: Params = (), key: str = "id") -> Callable[[], int]:
        if self._keeps(sql):
            return self._inserts.add(sql, params, key)
        rowid = self.insert(sql, params, key)
        return lambda: rowid

    def value(self, sql: str, params: Params = ()) -> Any:
        self._before(sql)
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]
