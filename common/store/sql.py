"""The few calls the SQL modules make on a connection, whatever the backend."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any, Protocol

import orjson

from common import clock

Params = Sequence[Any]
Row = Mapping[str, Any]


class Sql(Protocol):
    """Statements in one open transaction (or one read snapshot); `?` marks parameters."""

    # The database runs a subquery once for each row before it (`CROSS JOIN LATERAL`):
    # PostgreSQL does, SQLite does not.
    joins_lateral: bool

    def run(self, sql: str, params: Params = ()) -> int:
        """Execute; return the number of rows changed (on PostgreSQL's pipeline, a wait)."""

    def send(self, sql: str, params: Params = ()) -> None:
        """Execute a statement whose count no one reads: on PostgreSQL's pipeline it goes
        without waiting for the server, and its error comes at the next wait."""

    def add(self, table: str, keys: Mapping[str, str], deltas: Mapping[str, int]) -> None:
        """Add `deltas` to the counters of `table`'s row with `keys`, made at zero first;
        inside a group-commit batch gathered and written once per row (common.store.counters)."""

    def gather(self, on: bool) -> None:
        """Start or stop gathering counter additions (group commit's batch does)."""

    def write_gathered(self) -> None:
        """Write the gathered additions, each row once."""

    def drop_gathered(self) -> None:
        """Forget the gathered additions (their unit or batch rolled back)."""

    def many(self, sql: str, rows: Iterable[Params]) -> None:
        """Execute once per parameter row."""

    def one(self, sql: str, params: Params = ()) -> Row | None:
        """The first row, or None."""

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        """Every row."""

    def value(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row, or None."""

    def asking(self, sql: str, params: Params = ()) -> Callable[[], list[Row]]:
        """`all`, its rows read when called: on PostgreSQL's pipeline the query goes now and
        its answer comes with the next wait, not a wait of its own."""

    def insert(self, sql: str, params: Params = (), key: str = "id") -> int:
        """Execute an INSERT into a table with an integer key `key`; return the new key."""

    def inserting(self, sql: str, params: Params = (), key: str = "id") -> Callable[[], int]:
        """`insert`, its new key read when called: on PostgreSQL's pipeline the statement
        goes now and its answer comes with the next wait, not a wait of its own."""

    def now(self) -> str:
        """The current time as stored (UTC ISO-8601): the database's clock where the
        backend is shared by many hosts, this host's for the embedded one."""

    def lock_event_order(self) -> None:
        """Before appending events: make commit order equal position order (a no-op where
        there is one writer)."""

    def due_tasks(self, now: str, types: Sequence[str], limit: int) -> tuple[str, Params]:
        """A query (and its parameters) of the ids of up to `limit` due tasks of `types` (all,
        if none): pending and due, or processing with a lease run out, the most overdue
        first; ids this transaction can claim without another claimer taking them too."""

    def event_count(self) -> int:
        """How many events are stored. Positions are commit-ordered on every backend; only
        the backend knows whether they are also dense (then the highest is the count)."""

    def json_keys(self, column: str, alias: str) -> str:
        """A FROM item: the keys of the JSON object kept as text in `column`, a row each,
        as `alias`.key."""


def as_dict(row: Row) -> dict[str, Any]:
    """A row's columns by name, as a dict of its own. PostgreSQL's rows are dicts already;
    SQLite's `sqlite3.Row` finds each name by comparing it with every column's, so `dict(row)`
    of a lead's 30 columns compared 900 names (9 µs a row, on the writer thread for every
    lead a claim reads), where its values in order beside its names take 1 µs."""
    if isinstance(row, dict):
        return dict(row)
    return dict(zip(row.keys(), row, strict=True))  # a sqlite3.Row iterates over its values


def dumps(value: Any) -> str:
    """JSON as stored: compact, UTF-8 kept readable, keys sorted so equal data is equal text.

    orjson writes the same text as json.dumps(ensure_ascii=False, separators=(",", ":"),
    sort_keys=True), several times faster, on the writer thread where every µs is shared.
    """
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def loads(text: str | None) -> Any:
    return orjson.loads(text) if text else None


def later(now: str, seconds: float) -> str:
    """`seconds` after `now` (a reading of `Sql.now()`, the store's one clock)."""
    return clock.iso(clock.parse(now) + timedelta(seconds=seconds))


def marks(values: Sized) -> str:
    """`?, ?, ?` for an IN (…) list."""
    return ", ".join("?" * len(values))


def among(column: str, values: Sized) -> str:
    """`AND column IN (?, …)`, or nothing when `values` is empty (no filter)."""
    return f"AND {column} IN ({marks(values)})" if values else ""


class Sized(Protocol):
    def __len__(self) -> int: ...
