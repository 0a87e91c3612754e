"""A SQLite batch's kept INSERTs (common/store/inserts.py), sent as multi-row VALUES.

sqlite3 lets the GIL go around every step of a statement, an `executemany` row included, so
only a statement of many rows cuts the writer's hand-overs of the GIL: one step inserts them
all.

The keys: a row inserted without its own INTEGER PRIMARY KEY gets one larger than the
largest in the table (with AUTOINCREMENT, than the largest there ever was), and the rows of
a VALUES list are inserted in their order (SQLite's documentation: "Rowid Tables" and
"Autoincrement"). So a chunk's rows have consecutive keys, the last of them `lastrowid`.
"""

from __future__ import annotations

import sqlite3

from common.store.inserts import GatheredInserts, Kept, Keys, statements


class SqliteInserts(GatheredInserts):
    def __init__(self, conn: sqlite3.Connection):
        super().__init__()
        self.conn = conn
        self._limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)

    def send_rows(self, kept: Kept) -> Keys:
        keys: list[int] = []
        for sql, params, size in statements(kept.sql, kept.rows, self._limit):
            cursor = self.conn.execute(sql, params)
            if kept.key is not None:
                last = cursor.lastrowid
                assert last is not None and cursor.rowcount == size
                keys.extend(range(last - size + 1, last + 1))
        return lambda: keys
