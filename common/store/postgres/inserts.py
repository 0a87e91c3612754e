"""The INSERTs of a pipelined PostgreSQL batch, sent together.

A batch of leads inserts a task, an event and a row for each: in psycopg every `execute`
costs tens of µs of Python on the writer thread (the thread the event loop shares its
interpreter with), an `executemany` of the same statement a few µs a row. So inside a
pipelined batch (`PgSql.pipelined` with counters gathered: group commit's first run) an
INSERT that no one reads at once is kept until the batch's end, or until a statement names
its table, and then the statement's rows go as one `executemany`; a new key is read from
its row's answer when asked for (`inserting`). Nothing is reordered that could be seen: a
statement that names the table (a read, an UPDATE) sends the rows first, and tables of
different statements have no foreign keys between them. An error of a gathered row comes at
the batch's next wait, which sends the batch to its run in savepoints, where nothing is
gathered and each unit gets its own error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from common.store.sql import Params


class _Statement:
    __slots__ = ("cursor", "key", "keys", "rows", "sql", "table")

    def __init__(self, sql: str, key: str | None):
        self.sql = sql
        self.key = key
        self.table = sql.split(None, 3)[2]  # INSERT INTO <table> (…)
        self.rows: list[Params] = []
        self.cursor: psycopg.Cursor[Any] | None = None
        self.keys: list[int] | None = None


class GatheredInserts:
    def __init__(self, conn: psycopg.Connection[Any], dialect: Callable[[str], str]):
        self.conn = conn
        self.dialect = dialect
        self._waiting: dict[tuple[str, str | None], _Statement] = {}

    @staticmethod
    def takes(sql: str) -> bool:
        """A plain INSERT … VALUES: no ON CONFLICT (its effect may be read back by count)."""
        return sql.startswith("INSERT INTO ") and " ON CONFLICT " not in sql

    def add(self, sql: str, params: Params, key: str | None = None) -> Callable[[], int]:
        """Keep a row of `sql`; the returned function reads its new `key` (sending the
        statement's rows first if they have not gone yet)."""
        statement = self._waiting.get((sql, key))
        if statement is None:
            self.before(sql)  # as for any statement: rows of a table it names go first
            statement = self._waiting[(sql, key)] = _Statement(sql, key)
        index = len(statement.rows)
        statement.rows.append(params)
        return lambda: self._key(statement, index)

    def before(self, sql: str) -> None:
        """Ahead of another statement: rows of a table it names go first."""
        for statement in [s for s in self._waiting.values() if s.table in sql]:
            self._send(statement)

    def send_all(self) -> None:
        for statement in list(self._waiting.values()):
            self._send(statement)

    def drop(self) -> None:
        self._waiting.clear()

    def _send(self, statement: _Statement) -> None:
        del self._waiting[(statement.sql, statement.key)]
        returning = f" RETURNING {statement.key}" if statement.key else ""
        cursor = self.conn.cursor()
        cursor.executemany(
            self.dialect(statement.sql + returning), statement.rows, returning=bool(returning)
        )
        statement.cursor = cursor

    def _key(self, statement: _Statement, index: int) -> int:
        if statement.cursor is None:
            self._send(statement)
        if statement.keys is None:
            assert statement.cursor is not None and statement.key is not None
            keys: list[int] = []
            while True:
                row = statement.cursor.fetchone()
                assert row is not None
                keys.append(int(row[statement.key]))
                if not statement.cursor.nextset():
                    break
            statement.keys = keys
        return statement.keys[index]
