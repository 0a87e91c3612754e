"""The few calls the SQL modules make on a connection, whatever the backend."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import orjson

Params = Sequence[Any]
Row = Mapping[str, Any]


class Sql(Protocol):
    """Statements in one open transaction (or one read snapshot); `?` marks parameters."""

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

    def insert(self, sql: str, params: Params = ()) -> int:
        """Execute an INSERT into a table with an integer key; return the new row's key."""


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
