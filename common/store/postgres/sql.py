"""The Sql protocol over one psycopg connection inside a transaction: `?` as `$n` (raw.py), the
database's clock, the event-order lock, and the statements where PostgreSQL differs from SQLite."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from common.store.inserts import KeepsInserts
from common.store.postgres.inserts import PgInserts
from common.store.postgres.raw import cursor, dialect, execute
from common.store.sql import Params, Row, among

# Every transaction that appends events takes this lock first and holds it to its commit,
# so events are committed in the order of their positions: a reader that has seen
# position N will never later find a smaller one appear (a sequence alone hands out
# numbers in the order transactions ask, not the order they commit; the eventsourcing
# library documents the same trap and locks the same way). The positions are commit-ordered,
# not dense: a rolled-back append leaves its number unused (see `event_count`).
EVENT_ORDER_LOCK = 0x6C65_6164  # "lead"


class PgSql(KeepsInserts):
    """The Sql protocol over one psycopg connection, for one transaction.

    Inside `pipelined()` (group commit's batch) statements go to the server without waiting
    for each answer: a statement whose rows are read (`one`, `all`, `value`, `insert`) waits
    for its own and those before it, `run` waits for its row count, `send` waits for nothing
    (its error, if any, is raised by a later wait, or at the end of the pipeline).

    The clock is the server's, read once a transaction and carried forward by this host's
    monotonic clock, so a lease taken late in a long batch is measured from when it was taken
    without a round trip each time."""

    __slots__ = ("_clock", "_locked", "_pipeline", "conn")
    joins_lateral = True

    def __init__(self, conn: psycopg.Connection[Any]):
        self.conn = conn
        self._inserts = PgInserts(conn)  # a pipelined batch's INSERTs
        self._keepers = (self._inserts,)
        self._keeping = False
        self.gather(False)
        self._pipeline: psycopg.Pipeline | None = None
        self._clock: tuple[datetime, float] | None = None  # the server's time, and when
        self._locked = False  # the event-order lock is held, in a pipeline (no savepoints)

    @contextmanager
    def pipelined(self) -> Iterator[None]:
        with self.conn.pipeline() as pipeline, self.keeping():
            self._pipeline = pipeline
            try:
                yield
            finally:
                self._pipeline, self._locked = None, False

    def run(self, sql: str, params: Params = ()) -> int:
        self._before(sql)
        cursor = execute(self.conn, sql, params)
        if self._pipeline is not None:
            self._pipeline.sync()  # the count comes with the answer: wait for it
        return cursor.rowcount

    def send(self, sql: str, params: Params = ()) -> None:
        if self._keeps(sql):
            self._inserts.add(sql, params)
            return
        self._before(sql)
        execute(self.conn, sql, params)

    def many(self, sql: str, rows: Iterable[Params]) -> None:
        self._before(sql)
        with cursor(self.conn) as raw:
            raw.executemany(dialect(sql), list(rows))

    def one(self, sql: str, params: Params = ()) -> Row | None:
        self._before(sql)
        row: Row | None = execute(self.conn, sql, params).fetchone()
        return row

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        self._before(sql)
        return execute(self.conn, sql, params).fetchall()

    def asking(self, sql: str, params: Params = ()) -> Callable[[], list[Row]]:
        self._before(sql)
        return execute(self.conn, sql, params).fetchall

    def insert(self, sql: str, params: Params = (), key: str = "id") -> int:
        return self.inserting(sql, params, key)()

    def inserting(self, sql: str, params: Params = (), key: str = "id") -> Callable[[], int]:
        if self._keeps(sql):
            return self._inserts.add(sql, params, key)
        self._before(sql)
        returned = execute(self.conn, f"{sql} RETURNING {key}", params)

        def new_key() -> int:
            row = returned.fetchone()
            assert row is not None
            return int(row[key])

        return new_key

    def value(self, sql: str, params: Params = ()) -> Any:
        self._before(sql)
        row = execute(self.conn, sql, params).fetchone()
        return None if row is None else next(iter(row.values()))

    def now(self) -> str:
        """The database's clock, so leases mean the same on every host."""
        if self._clock is None:
            server: datetime = self.value("SELECT clock_timestamp()")
            # Kept as naive UTC: the conversion once a transaction, not once a reading.
            self._clock = (server.astimezone(UTC).replace(tzinfo=None), time.monotonic())
        utc, read_at = self._clock
        moment = utc + timedelta(seconds=time.monotonic() - read_at)
        return moment.isoformat("T", "microseconds") + "Z"

    def lock_event_order(self) -> None:
        # Once a pipelined batch: it runs without savepoints, so nothing releases the lock
        # before the commit. (A lock taken in a savepoint is released if it is rolled back
        # to, so with savepoints each append takes it again.)
        if self._locked:
            return
        execute(self.conn, "SELECT pg_advisory_xact_lock(?)", (EVENT_ORDER_LOCK,))
        self._locked = self._pipeline is not None

    def due_tasks(self, now: str, types: Sequence[str], limit: int) -> tuple[str, Params]:
        # Many dispatchers on many hosts claim at once: each skips the rows another is
        # claiming (its UPDATE holds their locks to its commit) instead of waiting for them.
        # Each kind is read from its own partial index in due order, `limit` rows at most, and
        # the two merged: a claim costs its `limit`, not the backlog, as long as the planner's
        # statistics know the backlog (migration 0028 keeps them fresh). One query over both
        # with ORDER BY CASE … sorted every due task on each claim: 3,000 rows for a claim of
        # 48 behind a backlog of 3,000, 6.5 ms a claim behind 20,000 (0.34 ms now). What a
        # kind locks beyond the merged `limit` stays locked to this transaction's end: other
        # claims skip it meanwhile, and take it in their next.
        query = (
            "WITH pending AS (SELECT id, run_after AS due FROM tasks"
            f" WHERE status = 'pending' AND run_after <= ? {among('type', types)}"
            " ORDER BY run_after, id LIMIT ? FOR UPDATE SKIP LOCKED),"
            " expired AS (SELECT id, locked_until AS due FROM tasks"
            f" WHERE status = 'processing' AND locked_until <= ? {among('type', types)}"
            " ORDER BY locked_until, id LIMIT ? FOR UPDATE SKIP LOCKED)"
            " SELECT id FROM (SELECT id, due FROM pending UNION ALL SELECT id, due FROM expired)"
            " AS due ORDER BY due, id LIMIT ?"
        )
        return query, (now, *types, limit, now, *types, limit, limit)

    def json_keys(self, column: str, alias: str) -> str:
        return f"json_object_keys({column}::json) AS {alias}(key)"

    def event_count(self) -> int:
        # Positions have gaps here: an identity does not roll back with its transaction or
        # savepoint, and a group-commit batch that is run again takes new positions. So the
        # rows are counted (an index-only scan of the key), not the highest position.
        return int(self.value("SELECT count(*) FROM events"))
