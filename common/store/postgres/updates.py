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
however many VALUES rows match it. PostgreSQL types each VALUES column from its rows'
parameters: a column of text (an all-NULL one reads as text) or of integers is assigned
to the lead's text and integer columns as one row's parameter would be, but a column of
an int in one row and a str in another would read the str as an integer ("007" as 7), so
a row whose parameters' kinds differ from those kept sends them first. Only `leads` is
taken, where nothing fires on an UPDATE, and never an UPDATE that reads other rows (a
subquery or a FROM: what it reads could change before it goes).
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
    """An UPDATE of one lead by its key that reads no other row: no subquery, no FROM."""
    words = sql.upper()
    return (
        sql.startswith(HEAD) and sql.endswith(TAIL) and not ("SELECT" in words or " FROM " in words)
    )


def _kinds(params: Params) -> tuple[type | None, ...]:
    """Each parameter's kind as its VALUES column would read it: text of any str (a StrEnum
    is sent as its text), None for a NULL, which fits any."""
    return tuple(
        None if value is None else str if isinstance(value, str) else type(value)
        for value in params
    )


def _fits(kinds: list[type | None], row: tuple[type | None, ...]) -> bool:
    """Does a row's parameters' kinds agree with those of the rows kept before it?"""
    return all(a is None or b is None or a is b for a, b in zip(kinds, row, strict=True))


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
        self._columns: list[type | None] = []  # the kept rows' parameters' kinds (_kinds)

    def add(self, sql: str, params: Params) -> None:
        key, row = params[-1], _kinds(params)
        if key in self._keys or (self._waiting and sql not in self._waiting):
            self.send_all()  # the same lead again, or another statement of the table
        elif self._waiting and not _fits(self._columns, row):
            self.send_all()  # one VALUES column of both an int and a text would read "007" as 7
        if not self._waiting:
            self._columns = list(row)
        else:
            self._columns = [
                a if a is not None else b for a, b in zip(self._columns, row, strict=True)
            ]
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
