"""A pipelined PostgreSQL batch's UPDATEs of a lead by its key, kept and sent together.

A delivery's settle writes its lead's new state with `UPDATE leads SET … WHERE id = ?`: the
last statement of a delivery that went on its own (its event goes in the batch's
multi-row INSERT, its task with the others' completions, its counter with the batch's
sums). Each such statement costs the writer thread psycopg's Python and the server a
statement's start; a settle of 50 deliveries sent 50. Kept here while the batch's first run
goes on (as its INSERTs are, common/store/inserts.py), the rows of one statement text go
as one `UPDATE leads SET … FROM (VALUES …) AS v WHERE leads.id = v.<key>`, SEND_AT rows at
most, in chunks of the sizes the INSERTs use, so a few texts serve every batch and psycopg
prepares them.

Nothing that could be seen is reordered: a statement that names `leads` (a read, another
UPDATE of it, a counter read from it) sends the kept rows first, and a row for a lead that
already has one kept sends the rows before it, since one UPDATE … FROM changes a row once
however many VALUES rows match it. Only `leads` is taken: its columns are text but for
integers that are never NULL, so every VALUES column reads as the type its target has
(an all-NULL column reads as text), and nothing fires on its UPDATE. An UPDATE with a
subquery is never kept (what it reads could change before it goes).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import psycopg

from common.store.inserts import row_chunks
from common.store.postgres.inserts import PARAMETER_LIMIT
from common.store.postgres.raw import execute
from common.store.sql import Params

# A statement's rows go once it has this many, not only at the batch's end: the server then
# updates those leads while the writer builds the next ones, as it did when each went alone.
# Kept to the end, a settle of ~55 deliveries gave the writer back a quarter of its CPU but
# made it wait for the server's whole share at once: no more deliveries a second (A/B).
SEND_AT = 16

TABLE = "leads"
HEAD = f"UPDATE {TABLE} SET "
TAIL = " WHERE id = ?"


@lru_cache(maxsize=256)
def takes(sql: str) -> bool:
    """An UPDATE of one lead by its key, with no subquery."""
    return sql.startswith(HEAD) and sql.endswith(TAIL) and "SELECT" not in sql.upper()


@lru_cache(maxsize=256)
def gathered(sql: str, size: int) -> str:
    """`sql` (`UPDATE leads SET <assignments> WHERE id = ?`) for `size` rows at once: each
    `?` of the assignments becomes a column of a VALUES row, the lead's key the last."""
    parts = sql[len(HEAD) : -len(TAIL)].split("?")
    width = len(parts)  # the assignments' parameters, then the key
    assignments = "".join(part + f"v.c{n}" for n, part in enumerate(parts[:-1], start=1))
    assignments += parts[-1]
    row = f"({', '.join('?' * width)})"
    columns = ", ".join(f"c{n}" for n in range(1, width + 1))
    return (
        f"{HEAD}{assignments} FROM (VALUES {', '.join([row] * size)}) AS v({columns})"
        f" WHERE {TABLE}.id = v.c{width}"
    )


class KeptUpdates:
    """The kept rows, by statement text; `before` and `send_all` send them."""

    def __init__(self, conn: psycopg.Connection[Any]):
        self.conn = conn
        self._waiting: dict[str, list[Params]] = {}
        self._keys: set[object] = set()  # the leads that have a row kept

    def add(self, sql: str, params: Params) -> None:
        key = params[-1]
        if key in self._keys or (self._waiting and sql not in self._waiting):
            self.send_all()  # the same lead again, or another statement of the table
        rows = self._waiting.setdefault(sql, [])
        rows.append(params)
        self._keys.add(key)
        if len(rows) >= SEND_AT:
            self.send_all()

    def before(self, sql: str) -> None:
        """Ahead of another statement: if it names the table, the kept rows go first."""
        if self._waiting and TABLE in sql:
            self.send_all()

    def send_all(self) -> None:
        waiting, self._waiting = self._waiting, {}
        self._keys = set()
        for sql, rows in waiting.items():
            for chunk in row_chunks(rows, PARAMETER_LIMIT):
                if len(chunk) == 1:
                    execute(self.conn, sql, chunk[0])  # the statement as written
                else:
                    params = [value for row in chunk for value in row]
                    execute(self.conn, gathered(sql, len(chunk)), params)

    def drop(self) -> None:
        self._waiting = {}
        self._keys = set()
