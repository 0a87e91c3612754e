"""Counter additions gathered over a group-commit batch and written once per row.

The projections add to a few hot rows for every lead (its campaign's, its day's, its
source's and its UTM rows': five upserts a lead). A batch of 16 leads of one campaign would
write the same five rows 16 times; gathered, it writes each once, with the sums. On
PostgreSQL that also spares the server 15 row versions of each, and the rows are written in
one order (sorted), so two processes adding to the same rows cannot deadlock on them.

Gathering is on only inside a group-commit batch (`common.store.group_commit`), which
writes the sums before its commit, and before each savepoint is released when the batch
runs unit by unit (a unit rolled back takes its additions with it). Anywhere else an
addition is sent at once. So nothing ever reads a counter that misses an addition: any
statement that names a counter table (`…_stats`) first writes what is gathered."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from common.store.sql import Params

# Every counter table's name ends so (campaign_stats, daily_stats, source_stats, utm_stats,
# utm_medium_stats); a statement naming none of them cannot see a gathered addition.
COUNTER_TABLES = "_stats"

Shape = tuple[str, tuple[str, ...], tuple[str, ...]]  # table, key columns, counter columns


@cache
def upsert(table: str, keys: tuple[str, ...], counters: tuple[str, ...]) -> str:
    """Add to the counters of the row with these keys, creating it at zero first."""
    columns = ", ".join([*keys, *counters])
    updates = ", ".join(f"{name} = {table}.{name} + excluded.{name}" for name in counters)
    return (
        f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * (len(keys) + len(counters)))})"
        f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    )


Gathered = dict[Shape, dict[tuple[str, ...], list[int]]]


def lock_order(gathered: Gathered) -> list[tuple[Shape, tuple[str, ...], list[int]]]:
    """The gathered rows by table, then row, then counters: whichever counters of a row a
    batch adds to (one may add to a campaign's deliveries and another to its failures
    first), two batches take the rows' locks in the same order."""
    rows = [
        (shape, key, sums) for shape, by_key in gathered.items() for key, sums in by_key.items()
    ]
    return sorted(rows, key=lambda row: (row[0][0], row[1], row[0]))


class GatheredCounters:
    """A backend's Sql mixes this in: `add`, and the hooks group commit drives. The backend
    calls `_before(sql)` ahead of every statement of its own."""

    __slots__ = ("_gathered", "_gathering")  # set by the backend's __init__ (gather(False))
    _gathering: bool
    _gathered: Gathered

    def send(self, sql: str, params: Params = ()) -> None:  # the backend's
        raise NotImplementedError

    def add(self, table: str, keys: Mapping[str, str], deltas: Mapping[str, int]) -> None:
        """Add `deltas` to the counters of `table`'s row with `keys` (made at zero first).
        Nothing waits for it: on PostgreSQL's pipeline it costs no round trip."""
        shape = (table, tuple(keys), tuple(deltas))
        if not self._gathering:
            self.send(upsert(*shape), (*keys.values(), *deltas.values()))
            return
        rows = self._gathered.setdefault(shape, {})
        key = tuple(keys.values())
        sums = rows.get(key)
        if sums is None:
            rows[key] = list(deltas.values())
        else:
            for n, delta in enumerate(deltas.values()):
                sums[n] += delta

    def gather(self, on: bool) -> None:
        """Start (or stop) gathering; what was gathered and not written is dropped."""
        self._gathering = on
        self._gathered = {}

    def write_gathered(self) -> None:
        """Write the sums, each row once, in `lock_order`; a sum of 0 still makes its row, as
        the additions one by one would have."""
        gathered, self._gathered = self._gathered, {}
        for shape, key, sums in lock_order(gathered):
            self.send(upsert(*shape), (*key, *sums))

    def drop_gathered(self) -> None:
        """A unit (or the batch) rolled back: its additions go with it."""
        self._gathered = {}

    def _before(self, sql: str) -> None:
        """Ahead of a statement: if it names a counter table, it sees what is gathered."""
        if self._gathered and COUNTER_TABLES in sql:
            self.write_gathered()
