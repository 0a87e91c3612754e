"""Group commit on one writer thread: the pattern of Datasette's execute_write_fn.

One thread owns the write connection; a batch (see group_commit.py for how it runs and
runs again) is one BEGIN IMMEDIATE … COMMIT on it, and callers get their answers only after
the commit is on the disk.

Durable, yet off the write lock: the writer's connection commits with synchronous=NORMAL
(its frames written to the WAL, not yet fsync'd), and a thread of its own then fsyncs the
WAL before the batch's callers are answered, while the writer already runs the next batch.
One fsync covers every commit made before it began, so batches that wait together share it.
What an acknowledged lead survives is what synchronous=FULL gives (SQLite's WAL keeps every
frame fsync'd before a checkpoint copies it, and replays the WAL up to its last whole commit
on recovery); what changes is that a commit is visible to other connections about an fsync
before it is durable: after a power cut in that moment a dispatcher may have delivered a lead
that the database then lacks, and whose form, never answered, is sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace

from common.errors import DatabaseUnavailable
from common.store.base import Batching, Unit
from common.store.group_commit import GroupCommit, Outcome
from common.store.sqlite.checkpoints import BACKSTOP_PAGES, Checkpointer
from common.store.sqlite.connection import busy_or, is_busy, is_unavailable
from common.store.sqlite.sql import SqliteSql
from common.store.sqlite.write_turn import WriteTurn
from common.store.trouble import WriteTrouble
from common.store.tx import Tx


class SqliteWriter(GroupCommit[sqlite3.Connection]):
    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        make_tx: Callable[..., Tx],
        busy_timeout: float,
    ):
        super().__init__("leadrelay-writer")
        self._connect = connect
        self._make_tx = make_tx
        self._busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None
        self._file = ""
        # This process's turn among the file's writers, from its first write on (a store
        # opened only to be read, as a backup's check, leaves no file beside the database).
        self.turn: WriteTurn | None = None
        self._tx: Tx | None = None
        # Why writes fail now, the disk or the file, or the write lock held: what /healthz
        # reports. After a full disk the next batch first checkpoints the WAL into the
        # database and truncates it, so freed space is not refilled by the WAL.
        self.trouble = WriteTrouble(
            lambda f: is_unavailable(f) or isinstance(f, OSError), is_busy, "the write lock"
        )
        self._truncate_wal = False
        self._syncer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="leadrelay-fsync")
        self.checkpoints = Checkpointer(connect)
        self._wal = ""
        self.commits = 0  # COMMITs made (counted on the writer thread)
        self.synced = 0  # how many of them the last fsync of the WAL covered

    async def open(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._open)

    def _open(self) -> None:
        self._conn = self._connect()
        # Its COMMIT writes the WAL; `_sync` makes it durable before anyone is answered.
        self._conn.execute("PRAGMA synchronous = NORMAL")
        # Checkpoints run beside it (checkpoints.py); its own only past a backstop.
        self._conn.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_PAGES}")
        # A multi-row INSERT (inserts.py) keeps a statement journal, to undo itself alone if
        # a row is refused: in memory, not a temporary file a statement. (The writer's
        # statements are small; readers keep the default, so a large export's sort does not
        # grow in memory.)
        self._conn.execute("PRAGMA temp_store = MEMORY")
        file = self._conn.execute("PRAGMA database_list").fetchone()["file"]
        self._file = file
        self._wal = f"{file}-wal"
        self._tx = self._make_tx(self._conn)

    def _close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self.turn is not None:
            self.turn.close()
            self.turn = None
        self._syncer.shutdown(wait=True)
        self.checkpoints.close()

    def _shown(self, error: BaseException) -> BaseException:
        if isinstance(error, OSError):  # the fsync of the WAL failed: nothing is promised
            shown = DatabaseUnavailable(f"the database cannot make writes durable now: {error}")
            shown.__cause__ = error
            return shown
        return busy_or(error)

    def _note(self, failures: list[BaseException | None]) -> None:
        broken = self.trouble.heard(failures)
        self._truncate_wal |= any("FULL" in getattr(f, "sqlite_errorname", "") for f in broken)

    def batching(self) -> Batching:
        waits = self.turn.waited if self.turn is not None else 0
        return replace(super().batching(), turn_waits=waits)

    def problem(self) -> str | None:
        """Why writes fail now (common/store/trouble.py)."""
        return self.trouble.problem()

    @contextmanager
    def _connection(self) -> Iterator[tuple[sqlite3.Connection, Tx]]:
        assert self._conn is not None and self._tx is not None, "the store is not open"
        yield self._conn, self._tx

    def _together(
        self, conn: sqlite3.Connection, tx: Tx, units: list[Unit[object]]
    ) -> list[Outcome] | Exception:
        """The units' reads first, then the units with their INSERTs kept and sent as
        multi-row statements at the end (common/store/sqlite/inserts.py)."""
        assert isinstance(tx.sql, SqliteSql)
        with tx.sql.keeping():
            return self._reads_first(tx, units)

    def _begin(self, conn: sqlite3.Connection) -> None:
        if self.turn is None:
            self.turn = WriteTurn(self._file, self._busy_timeout)
        self.turn.take()  # this process's turn among the file's writers (write_turn.py)
        try:
            if self._truncate_wal:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    self._truncate_wal = False
            conn.execute("BEGIN IMMEDIATE")  # waits up to busy_timeout for other connections
        except BaseException:
            self.turn.give_back()
            raise

    def _commit(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("COMMIT")
        finally:
            if not conn.in_transaction and self.turn is not None:
                self.turn.give_back()
        self.commits += 1

    def _answer_when_durable(self, committed: list[tuple[asyncio.Future[object], object]]) -> bool:
        loop = asyncio.get_running_loop()
        self._syncer.submit(self._sync_and_answer, loop, self.commits, committed)
        return True

    def _sync_and_answer(
        self,
        loop: asyncio.AbstractEventLoop,
        needed: int,
        committed: list[tuple[asyncio.Future[object], object]],
    ) -> None:
        """On the fsync thread: make the commit durable, then have its callers answered."""
        error: OSError | None = None
        try:
            self._sync(needed)
        except OSError as failed:
            error = failed
        loop.call_soon_threadsafe(self._answered, committed, error)
        self.checkpoints.nudge()

    async def _all_answered(self) -> None:
        # Queued after every fsync asked for; their answers were handed to the loop first.
        await asyncio.get_running_loop().run_in_executor(self._syncer, _nothing)

    def _sync(self, needed: int) -> None:
        """On the fsync thread: make the first `needed` commits durable, unless an fsync
        that began after the last of them already did."""
        if self.synced >= needed:
            return
        covered = self.commits  # every commit made before this fsync begins
        try:
            fd = os.open(self._wal, os.O_RDONLY)
        except FileNotFoundError:
            # No WAL: a checkpoint with TRUNCATE copied (and fsync'd) every frame already.
            self.synced = max(self.synced, covered)
            return
        try:
            os.fdatasync(fd)  # as SQLite syncs its WAL: the data and the size that finds it
        finally:
            os.close(fd)
        self.synced = max(self.synced, covered)

    def _rollback(self, conn: sqlite3.Connection) -> None:
        try:
            if conn.in_transaction:  # some errors (a full disk) have rolled it back already
                conn.execute("ROLLBACK")
        finally:
            if self.turn is not None:
                self.turn.give_back()

    def _execute(self, conn: sqlite3.Connection, statement: str) -> None:
        conn.execute(statement)

    def _in_transaction(self, conn: sqlite3.Connection) -> bool:
        return conn.in_transaction


def _nothing() -> None:
    return None
