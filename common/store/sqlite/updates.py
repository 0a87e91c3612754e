"""A SQLite batch's lead UPDATEs by key, kept and sent as one `UPDATE … FROM (VALUES …)`.

A dispatcher's settle writes each delivery's lead with `UPDATE leads SET … WHERE id = ?` (its
status, its CRM's ids, its version). sqlite3 lets the GIL go around every step of a statement
(`executemany` too, a step a row), and the writer must then win the GIL back from an event
loop that is busy with the next deliveries: forty deliveries settled together were forty
hand-overs. Kept in the batch's first run (as its INSERTs are, common/store/inserts.py) and
sent as one statement of many rows, they are one step.

What can be seen stays in order: any other statement sends the kept rows first, so a read, a
counter or a row that names a lead finds it as updated. A second row for a lead already kept
sends the rows before it, because `UPDATE … FROM` changes a row once, with whichever matching
row it meets first (SQLite's documentation, "UPDATE FROM"). Only consecutive rows of one
statement text go together. SQLite plans the join as a scan of the VALUES rows and a search
of `leads` by its primary key for each (EXPLAIN QUERY PLAN: "SEARCH leads USING COVERING
INDEX sqlite_autoindex_leads_1 (id=?)"), whatever the table's size.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from common.store.inserts import row_chunks
from common.store.sql import Params

HEAD, TAIL = "UPDATE leads SET ", " WHERE id = ?"


def joined(sql: str, rows: list[Params], limit: int) -> Iterator[tuple[str, list[object]]]:
    """`UPDATE leads SET … WHERE id = ?` over `rows` as statements of many rows each: every
    placeholder of the SET clause becomes the matching column of a VALUES row, whose last
    column is the lead's id. At most `limit` parameters a statement."""
    width = len(rows[0])
    parts = sql[len(HEAD) : -len(TAIL)].split("?")
    assert len(parts) == width, "one parameter a placeholder, and the id last"
    assignments = "".join(f"{part}v.column{n}" for n, part in enumerate(parts[:-1], 1))
    assignments += parts[-1]
    row = f"({', '.join('?' * width)})"
    for size, params in row_chunks(rows, limit):
        yield (
            (
                f"{HEAD}{assignments} FROM (VALUES {', '.join([row] * size)}) AS v"
                f" WHERE leads.id = v.column{width}"
            ),
            params,
        )


class KeptUpdates:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self._limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        self._sql = ""
        self._rows: list[Params] = []
        self._leads: set[object] = set()

    @staticmethod
    def takes(sql: str) -> bool:
        """A lead's UPDATE by its key alone, answering nothing."""
        return (
            sql.startswith(HEAD)
            and sql.endswith(TAIL)
            and " FROM " not in sql
            and " RETURNING " not in sql
        )

    def add(self, sql: str, params: Params) -> None:
        lead = params[-1]
        if self._rows and (sql != self._sql or lead in self._leads):
            self.send_all()
        self._sql = sql
        self._rows.append(params)
        self._leads.add(lead)

    def before(self, sql: str) -> None:
        """Any other statement sees the leads as updated."""
        self.send_all()

    def send_all(self) -> None:
        if not self._rows:
            return
        sql, rows = self._sql, self._rows
        self.drop()
        if len(rows) == 1:
            self.conn.execute(sql, rows[0])
            return
        for statement, params in joined(sql, rows, self._limit):
            self.conn.execute(statement, params)

    def drop(self) -> None:
        self._sql, self._rows, self._leads = "", [], set()
