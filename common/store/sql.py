"""The few calls the SQL modules make on a connection, whatever the backend."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import orjson

Params = Sequence[Any]
Row = Mapping[str, Any]


class Sql(Protocol):
    """Statements in one open transaction (or one read snapshot); `?` marks parameters."""

    name: str  # "sqlite" or "postgresql", for the few statements that differ

    def run(self, sql: str, params: Params = ()) -> int:
        """Execute; return the number of rows changed."""

    def many(self, sql: str, rows: Iterable[Params]) -> None:
        """Execute once per parameter row."""

    def one(self, sql: str, params: Params = ()) -> Row | None:
        """The first row, or None."""

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        """Every row."""

    def value(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row, or None."""

    def insert(self, sql: str, params: Params = (), key: str = "id") -> int:
        """Execute an INSERT into a table with an integer key `key`; return the new key."""

    def now(self) -> str:
        """The current time as stored (UTC ISO-8601): the database's clock where the
        backend is shared by many hosts, this host's for the embedded one."""

    def lock_event_order(self) -> None:
        """Before appending events: make commit order equal position order (a no-op where
        there is one writer)."""

    def event_count(self) -> int:
        """How many events are stored. Positions are commit-ordered on every backend; only
        the backend knows whether they are also dense (then the highest is the count)."""


def dumps(value: Any) -> str:
    """JSON as stored: compact, UTF-8 kept readable, keys sorted so equal data is equal text.

    orjson writes the same text as json.dumps(ensure_ascii=False, separators=(",", ":"),
    sort_keys=True), several times faster, on the writer thread where every µs is shared.
    """
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def loads(text: str | None) -> Any:
    return orjson.loads(text) if text else None


def marks(values: Sized) -> str:
    """`?, ?, ?` for an IN (…) list."""
    return ", ".join("?" * len(values))


class Sized(Protocol):
    def __len__(self) -> int: ...
