"""Group commit on one writer thread: the pattern of Datasette's execute_write_fn.

One thread owns the write connection. The units of work waiting when a batch
starts go to that thread in ONE hop and run inside one BEGIN IMMEDIATE … COMMIT.
A unit that fails is rolled back alone while the others commit: the batch is
tried together first (the usual case costs no savepoints), and if a unit raises,
the transaction is rolled back and the batch runs again with each unit in its
own SAVEPOINT. So a unit may run twice before it commits: it must act only
through its `tx`. Callers get their answers only after the COMMIT (an fsync with
synchronous=FULL). While one batch commits, the next one gathers.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from typing import Any

from common.store.base import Unit
from common.store.group_commit import GroupCommit, Outcome
from common.store.sqlite.connection import busy_or, is_unavailable
from common.store.tx import Tx


class SqliteWriter(GroupCommit):
    def __init__(self, connect: Callable[[], sqlite3.Connection], make_tx: Callable[..., Tx]):
        super().__init__("leadrelay-writer")
        self._connect = connect
        self._make_tx = make_tx
        self._conn: sqlite3.Connection | None = None
        self._tx: Tx | None = None
        # Why the last write failed when the disk or the file did (None once one succeeds):
        # what /healthz reports. After a full disk the next batch first checkpoints the WAL
        # into the database and truncates it, so freed space is not refilled by the WAL.
        self.failing: str | None = None
        self._truncate_wal = False

    async def open(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._open)

    def _open(self) -> None:
        self._conn = self._connect()
        self._tx = self._make_tx(self._conn)

    def _close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _shown(self, error: BaseException) -> BaseException:
        return busy_or(error)

    def _note(self, failures: list[BaseException | None]) -> None:
        """Remember whether the database could take this batch's writes."""
        broken = [f for f in failures if f is not None and is_unavailable(f)]
        if broken:
            self.failing = str(broken[0])
            self._truncate_wal |= any("FULL" in getattr(f, "sqlite_errorname", "") for f in broken)
        elif not all(failures):
            self.failing = None

    def _commit(self, units: list[Unit[Any]]) -> list[Outcome]:
        """On the writer thread: one transaction for the whole batch."""
        conn, tx = self._conn, self._tx
        assert conn is not None and tx is not None, "the store is not open"
        if self._truncate_wal:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._truncate_wal = False
        conn.execute("BEGIN IMMEDIATE")  # waits up to busy_timeout for other processes
        try:
            outcomes = self._run_together(tx, units)
            if isinstance(outcomes, BaseException):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if len(units) == 1:
                    return [(outcomes, None)]
                conn.execute("BEGIN IMMEDIATE")
                outcomes = [self._run_in_savepoint(conn, tx, unit) for unit in units]
            if conn.in_transaction:
                conn.execute("COMMIT")
            return outcomes
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    @staticmethod
    def _run_together(tx: Tx, units: list[Unit[Any]]) -> list[Outcome] | Exception:
        """Every unit in the one transaction; the first error instead, if any unit raises."""
        results: list[Outcome] = []
        for unit in units:
            try:
                results.append((None, unit(tx)))
            except Exception as error:
                return error
        return results

    @staticmethod
    def _run_in_savepoint(conn: sqlite3.Connection, tx: Tx, unit: Unit[Any]) -> Outcome:
        conn.execute("SAVEPOINT unit")
        try:
            result = unit(tx)
        except Exception as error:
            if not conn.in_transaction:  # an error that ended the whole transaction
                raise sqlite3.OperationalError("the shared transaction was rolled back") from error
            conn.execute("ROLLBACK TO unit")
            conn.execute("RELEASE unit")
            return error, None
        conn.execute("RELEASE unit")
        return None, result
