"""The INSERTs of a group-commit batch's first run, kept and sent together.

A batch of leads inserts a task, an event and a lead row for each. Sent one by one, each
costs the writer thread a statement's Python (the thread the event loop shares its
interpreter with) and, on SQLite, a hand-over of the GIL: every sqlite3 step lets the GIL
go and must win it back from a busy event loop, so a batch of many small statements queues
behind the loop instead of running beside it. So in a batch's first run a plain INSERT that
no one reads at once is kept until the batch's end, or until a statement names its table,
and then each statement's rows go together as multi-row VALUES (`statements`; each backend's
`send_rows` runs them). A new key is read from its row's answer when asked for (`add`
returns the reader).

Rows go in chunks whose sizes are powers of two (at most MAX_ROWS, and within the
connection's limit of bound parameters), so a few statement texts serve every batch size
from the driver's statement cache (sqlite3's; psycopg prepares a text it has seen five
times).

Nothing is reordered that could be seen: a statement that names the table (a read, an
UPDATE) sends its rows first, and tables of different statements have no foreign keys
between them. An error of a kept row comes at the batch's end (or the next statement
naming its table), which sends the batch to its run in savepoints, where nothing is kept
and each unit gets its own error.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from common.store.counters import GatheredCounters
from common.store.sql import Params

Keys = Callable[[], list[int]]  # the new keys of a statement's rows, in their order

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


class Kept:
    """One statement's rows, kept; its keys once sent (`keys`, read when first asked)."""

    __slots__ = ("key", "keys", "read_keys", "rows", "sql", "table")

    def __init__(self, sql: str, key: str | None):
        self.sql = sql
        self.key = key
        self.table = sql.split(None, 3)[2]  # INSERT INTO <table> (…)
        self.rows: list[Params] = []
        self.read_keys: Keys | None = None
        self.keys: list[int] | None = None


def row_chunks(rows: list[Params], limit: int) -> Iterator[tuple[int, list[object]]]:
    """`rows` in chunks for statements of many rows (`chunks`), at most `limit` parameters
    a chunk: each chunk's count of rows and its parameters, row after row."""
    width = max(len(rows[0]), 1)
    most = MAX_ROWS
    while most > 1 and most * width > limit:
        most //= 2
    start = 0
    for size in chunks(len(rows), most):
        yield size, [value for one in rows[start : start + size] for value in one]
        start += size


def statements(sql: str, rows: list[Params], limit: int) -> Iterator[tuple[str, list[Any], int]]:
    """A statement's rows as multi-row INSERTs: each one's text, its parameters and its
    count of rows, at most `limit` parameters a statement."""
    head, _, row = sql.partition(" VALUES ")
    for size, params in row_chunks(rows, limit):
        yield f"{head} VALUES {', '.join([row] * size)}", params, size


class GatheredInserts(ABC):
    def __init__(self) -> None:
        self._waiting: dict[tuple[str, str | None], Kept] = {}

    @staticmethod
    def takes(sql: str) -> bool:
        """A plain INSERT … VALUES: no ON CONFLICT (its effect may be read back by count)."""
        return sql.startswith("INSERT INTO ") and " ON CONFLICT " not in sql

    @abstractmethod
    def send_rows(self, kept: Kept) -> Keys:
        """Send the statement's rows; how to read their new keys (`kept.key`), if it has one."""

    def add(self, sql: str, params: Params, key: str | None = None) -> Callable[[], int]:
        """Keep a row of `sql`; the returned function reads its new `key` (sending the
        statement's rows first if they have not gone yet)."""
        kept = self._waiting.get((sql, key))
        if kept is None:
            self.before(sql)  # as for any statement: rows of a table it names go first
            kept = self._waiting[(sql, key)] = Kept(sql, key)
        index = len(kept.rows)
        kept.rows.append(params)
        return lambda: self._key(kept, index)

    def before(self, sql: str) -> None:
        """Ahead of another statement: rows of a table it names go first."""
        if self._waiting:
            for kept in [k for k in self._waiting.values() if k.table in sql]:
                self._send(kept)

    def send_all(self) -> None:
        for kept in list(self._waiting.values()):
            self._send(kept)

    def drop(self) -> None:
        self._waiting.clear()

    def _send(self, kept: Kept) -> None:
        del self._waiting[(kept.sql, kept.key)]
        kept.read_keys = self.send_rows(kept)

    def _key(self, kept: Kept, index: int) -> int:
        if kept.read_keys is None:
            self._send(kept)
        if kept.keys is None:
            assert kept.read_keys is not None and kept.key is not None
            kept.keys = kept.read_keys()
        return kept.keys[index]


class Keeper(Protocol):
    """What a batch's first run keeps of one kind (its INSERTs; on SQLite also its leads'
    UPDATEs): sent when a statement may see them, at the batch's end, or dropped."""

    def before(self, sql: str) -> None: ...

    def send_all(self) -> None: ...

    def drop(self) -> None: ...


class KeepsInserts(GatheredCounters):
    """A backend's Sql mixes this in (it gathers counters too): inside `keeping()` (group
    commit's first run of a batch) with gathering on, its plain INSERTs are kept in
    `_inserts`, and the batch's hooks send, drop or flush them, and whatever else the backend
    keeps (`_keepers`, in the order they are sent), with the counters."""

    __slots__ = ("_inserts", "_keepers", "_keeping")  # set by the backend's __init__
    _inserts: GatheredInserts
    _keepers: tuple[Keeper, ...]  # `_inserts` first
    _keeping: bool

    @contextmanager
    def keeping(self) -> Iterator[None]:
        self._keeping = True
        try:
            yield
        finally:
            self._keeping = False

    def _keeps(self, sql: str) -> bool:
        return self._keeping and self._gathering and GatheredInserts.takes(sql)

    def _before(self, sql: str) -> None:
        for keeper in self._keepers:
            keeper.before(sql)
        super()._before(sql)

    def gather(self, on: bool) -> None:
        super().gather(on)
        for keeper in self._keepers:
            keeper.drop()

    def write_gathered(self) -> None:
        for keeper in self._keepers:
            keeper.send_all()
        super().write_gathered()

    def drop_gathered(self) -> None:
        for keeper in self._keepers:
            keeper.drop()
        super().drop_gathered()
