"""Group commit on PostgreSQL, and the driver's errors as callers see them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import errors
from psycopg_pool import ConnectionPool, PoolTimeout

from common.errors import ConcurrencyConflict, DatabaseBusy, DatabaseUnavailable
from common.store.base import Unit
from common.store.group_commit import GroupCommit, Outcome
from common.store.tx import Tx

# A unit that lost a race to another process runs again in the next batch: a deadlock, a
# serialization failure, two units appending the next version of the same lead's events,
# or two inserting the same key (one webhook delivered to two processes at once). On
# SQLite the one writer per file orders them; here the loser sees the winner's commit
# when it runs again (and answers "duplicate", say).
RACES = (
    ConcurrencyConflict,
    errors.UniqueViolation,
    errors.SerializationFailure,
    errors.DeadlockDetected,
)


class PgWriter(GroupCommit):
    """Group commit on PostgreSQL: every unit of work a process has waiting goes to the
    server in one transaction, so a burst of leads costs one fsync'd commit (and one turn
    at the event-order lock), not one each."""

    def __init__(self, pool: ConnectionPool, make_tx: Callable[[Any], Tx]):
        super().__init__("leadrelay-pg-writer")
        self.pool = pool
        self.make_tx = make_tx
        self.failing: str | None = None

    def _commit(self, units: list[Unit[Any]]) -> list[Outcome]:
        with self.pool.connection() as conn:
            tx = self.make_tx(conn)
            try:
                with conn.transaction():
                    return [(None, unit(tx)) for unit in units]
            except Exception as error:
                if len(units) == 1 or isinstance(error, psycopg.OperationalError):
                    return [(error, None)] * len(units)
            # One unit failed: the batch again, each unit in its own savepoint, so a
            # failing unit rolls back alone while the others commit. A new transaction, so
            # a new Tx; the event-order lock is taken first, outside any savepoint (a lock
            # taken inside one is released when it rolls back).
            outcomes: list[Outcome] = []
            tx = self.make_tx(conn)
            with conn.transaction():
                tx.sql.lock_event_order()
                for unit in units:
                    try:
                        with conn.transaction():
                            outcomes.append((None, unit(tx)))
                    except Exception as error:
                        outcomes.append((error, None))
            return outcomes

    def _retryable(self, error: BaseException) -> bool:
        return isinstance(error, RACES)

    def _shown(self, error: BaseException) -> BaseException:
        busy = errors.LockNotAvailable | errors.SerializationFailure | errors.DeadlockDetected
        if isinstance(error, busy):
            shown: BaseException = DatabaseBusy("the database is busy, retry shortly")
        elif isinstance(error, psycopg.OperationalError | PoolTimeout):
            shown = DatabaseUnavailable(f"the database is unavailable now: {error}")
        else:
            return error
        shown.__cause__ = error
        return shown

    def _note(self, failures: list[BaseException | None]) -> None:
        broken = [f for f in failures if isinstance(f, psycopg.OperationalError | PoolTimeout)]
        if broken:
            self.failing = str(broken[0]).strip() or broken[0].__class__.__name__
        elif not all(failures):
            self.failing = None
