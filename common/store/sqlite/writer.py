"""Group commit on one writer thread: the pattern of Datasette's execute_write_fn.

One thread owns the write connection; a batch (see group_commit.py for how it runs and
runs again) is one BEGIN IMMEDIATE … COMMIT on it, and callers get their answers only after
the COMMIT (an fsync with synchronous=FULL).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from common.store.group_commit import GroupCommit
from common.store.sqlite.connection import busy_or, is_unavailable
from common.store.tx import Tx


class SqliteWriter(GroupCommit[sqlite3.Connection]):
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

    @contextmanager
    def _connection(self) -> Iterator[tuple[sqlite3.Connection, Tx]]:
        assert self._conn is not None and self._tx is not None, "the store is not open"
        yield self._conn, self._tx

    def _begin(self, conn: sqlite3.Connection) -> None:
        if self._truncate_wal:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._truncate_wal = False
        conn.execute("BEGIN IMMEDIATE")  # waits up to busy_timeout for other processes

    def _commit(self, conn: sqlite3.Connection) -> None:
        conn.execute("COMMIT")

    def _rollback(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:  # some errors (a full disk) have rolled it back already
            conn.execute("ROLLBACK")

    def _execute(self, conn: sqlite3.Connection, statement: str) -> None:
        conn.execute(statement)

    def _in_transaction(self, conn: sqlite3.Connection) -> bool:
        return conn.in_transaction
