"""A SQLite batch's kept INSERTs (common/store/inserts.py), sent as multi-row VALUES.

sqlite3 lets the GIL go around every step of a statement, an `executemany` row included, so
only a statement of many rows cuts the writer's hand-overs of the GIL: one step inserts them
all. Rows go in chunks whose sizes are powers of two (at most MAX_ROWS, and within the
connection's limit of bound parameters), so a few statement texts serve every batch size
from sqlite3's statement cache.

The keys: a row inserted without its own INTEGER PRIMARY KEY gets one larger than the
largest in the table (with AUTOINCREMENT, than the largest there ever was), and the rows of
a VALUES list are inserted in their order (SQLite's documentation: "Rowid Tables" and
"Autoincrement"). So a chunk's rows have consecutive keys, the last of them `lastrowid`.
"""

from __future__ import annotations

import sqlite3

from common.store.inserts import GatheredInserts, Kept, Keys

MAX_ROWS = 64


def chunks(count: int, most: int) -> list[int]:
    """`count` rows as chunk sizes: as many of `most` (a power of two) as fit, then the
    rest by its binary digits (23 rows, most 16: 16, 4, 2, 1)."""
    sizes = [most] * (count // most)
    rest = count % most
    size = most
    while rest:
        size //= 2
        if rest >= size:
            sizes.append(size)
            rest -= size
    return sizes


class SqliteInserts(GatheredInserts):
    def __init__(self, conn: sqlite3.Connection):
        super().__init__()
        self.conn = conn
        self._limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)

    def send_rows(self, kept: Kept) -> Keys:
        head, _, row = kept.sql.partition(" VALUES ")
        width = max(len(kept.rows[0]), 1)
        most = MAX_ROWS
        while most > 1 and most * width > self._limit:
            most //= 2
        keys: list[int] = []
        start = 0
        for size in chunks(len(kept.rows), most):
            params = [value for one in kept.rows[start : start + size] for value in one]
            cursor = self.conn.execute(f"{head} VALUES {', '.join([row] * size)}", params)
            start += size
            if kept.key is not None:
                last = cursor.lastrowid
                assert last is not None and cursor.rowcount == size
                keys.extend(range(last - size + 1, last + 1))
        return lambda: keys
