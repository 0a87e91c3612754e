"""Group commit on PostgreSQL, and the driver's errors as callers see them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
from psycopg import errors
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow
from psycopg_pool import ConnectionPool, PoolTimeout

from common.errors import BadRequest, ConcurrencyConflict, DatabaseBusy, DatabaseUnavailable
from common.store.base import Unit
from common.store.group_commit import GroupCommit, Outcome
from common.store.postgres.sql import PgSql
from common.store.trouble import WriteTrouble
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
# A transaction in progress, or one a failed statement aborted (a savepoint can still
# rescue it); not IDLE, and not UNKNOWN (the connection broke).
OPEN = (TransactionStatus.INTRANS, TransactionStatus.INERROR)


# The pool's connections hand rows out as dicts (row_factory=dict_row).
Connection = psycopg.Connection[DictRow]


class PgWriter(GroupCommit[Connection]):
    """Group commit on PostgreSQL: every unit of work a process has waiting goes to the
    server in one transaction, so a burst of leads costs one fsync'd commit (and one turn
    at the event-order lock), not one each."""

    def __init__(self, pool: ConnectionPool[Connection], make_tx: Callable[[Connection], Tx]):
        super().__init__("leadrelay-pg-writer")
        self.pool = pool
        self.make_tx = make_tx
        # Why writes fail now (the server or the pool, or a lock held): what /healthz reports.
        self.trouble = WriteTrouble(
            _unavailable, _lock_held, "a lock our writes wait for (a row's, or the order of events)"
        )

    @contextmanager
    def _connection(self) -> Iterator[tuple[Connection, Tx]]:
        with self.pool.connection() as conn:
            yield conn, self.make_tx(conn)

    def _together(
        self, conn: Connection, tx: Tx, units: list[Unit[object]]
    ) -> list[Outcome] | Exception:
        """In pipeline mode: a statement waits for the server only where its answer is read.
        An error may then surface in a later unit's statement, or at the pipeline's end; either
        way the batch is rolled back and run again in savepoints, one statement at a time, so
        each unit gets its own error."""
        assert isinstance(tx.sql, PgSql)
        outcomes: list[Outcome] | Exception = []
        try:
            with tx.sql.pipelined():  # their reads first: one wait for all of their answers
                outcomes = self._reads_first(tx, units)
        except Exception as error:  # reported by the pipeline's last sync
            outcomes = outcomes if isinstance(outcomes, Exception) else error
        return outcomes

    def _begin(self, conn: Connection) -> None:
        pass  # psycopg opens the transaction with the batch's first statement

    def _commit(self, conn: Connection) -> None:
        conn.commit()

    def _rollback(self, conn: Connection) -> None:
        if self._in_transaction(conn):  # not on a connection that broke
            conn.rollback()

    def _execute(self, conn: Connection, statement: str) -> None:
        conn.execute(statement.encode())

    def _in_transaction(self, conn: Connection) -> bool:
        return conn.info.transaction_status in OPEN

    def _broken(self, error: BaseException) -> bool:
        return isinstance(error, psycopg.OperationalError)

    def _retryable(self, error: BaseException) -> bool:
        return isinstance(error, RACES)

    def _shown(self, error: BaseException) -> BaseException:
        return mapped(error)

    def _note(self, failures: list[BaseException | None]) -> None:
        self.trouble.heard(failures)


def _lock_held(error: BaseException) -> bool:
    return isinstance(error, errors.LockNotAvailable)  # waited lock_timeout (= busy_timeout)


def _unavailable(error: BaseException) -> bool:
    """The server or the pool failed; not a lock held past its time, nor a race lost (a
    deadlock, a serialization failure: run again in the next batch), which the driver
    reports as operational errors too."""
    return isinstance(error, psycopg.OperationalError | PoolTimeout) and not isinstance(
        error, errors.LockNotAvailable | errors.SerializationFailure | errors.DeadlockDetected
    )


def mapped(error: BaseException) -> BaseException:
    """The error a caller should see: DatabaseBusy for a lock not had in time, a lost race
    or a deadlock, DatabaseUnavailable when the server or the pool fails."""
    busy = errors.LockNotAvailable | errors.SerializationFailure | errors.DeadlockDetected
    if isinstance(error, psycopg.DataError) and "NUL" in str(error):
        # SQLite's text holds U+0000, PostgreSQL's refuses it: a value that came in with one
        # is the input's fault, said as such, where no boundary took it out before.
        shown: BaseException = BadRequest("text may not hold a NUL character (U+0000)")
    elif isinstance(error, busy):
        shown = DatabaseBusy("the database is busy, retry shortly")
    elif isinstance(error, psycopg.OperationalError | PoolTimeout):
        shown = DatabaseUnavailable(f"the database is unavailable now: {error}")
    else:
        return error
    shown.__cause__ = error
    return shown
