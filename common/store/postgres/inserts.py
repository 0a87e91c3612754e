"""A pipelined PostgreSQL batch's kept INSERTs (common/store/inserts.py), sent as multi-row
VALUES. A row of its own costs a statement on the server (its executor started, its
AFTER STATEMENT trigger run: the tasks table's NOTIFY) and ~9 µs of psycopg's Python on the
writer thread even inside `executemany`; a chunk of 64 rows costs one statement.

The keys: an identity column takes each row's number from its sequence as the row is
inserted, and an INSERT inserts a VALUES list's rows in the list's order, so a chunk's keys
rise in the order of its rows (other sessions' rows may take numbers in between). RETURNING
promises no order, so the keys read back are sorted, not taken in the order they come.
A 2-byte count of parameters in the wire protocol's Bind message caps a statement at 65,535.
"""

from __future__ import annotations

from typing import Any

import psycopg

from common.store.inserts import GatheredInserts, Kept, Keys, statements
from common.store.postgres.raw import execute

PARAMETER_LIMIT = 65_535


class PgInserts(GatheredInserts):
    def __init__(self, conn: psycopg.Connection[Any]):
        super().__init__()
        self.conn = conn

    def send_rows(self, kept: Kept) -> Keys:
        returning = f" RETURNING {kept.key}" if kept.key else ""
        sent = [
            (execute(self.conn, sql + returning, params), size)
            for sql, params, size in statements(kept.sql, kept.rows, PARAMETER_LIMIT)
        ]

        def keys() -> list[int]:  # the answers wait on the pipeline until read
            read: list[int] = []
            for cursor, size in sent:
                chunk = sorted(int(row[kept.key]) for row in cursor.fetchall())
                assert len(chunk) == size
                read.extend(chunk)
            return read

        return keys
