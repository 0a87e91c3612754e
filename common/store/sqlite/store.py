"""SqliteStore: the embedded backend. Writes on one thread, reads on a small pool."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from common.store.base import Batching, Store, Unit
from common.store.secrets import kept_in_file
from common.store.sqlite.connection import DEFAULT_BUSY_TIMEOUT, busy_or, connect
from common.store.sqlite.migrate import migrate
from common.store.sqlite.sql import SqliteSql
from common.store.sqlite.writer import SqliteWriter
from common.store.tx import Tx

T = TypeVar("T")
READERS = 2  # threads for reads; the dashboard is the only process that reads much


class SqliteStore(Store):
    def __init__(
        self,
        path: Path,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        max_attempts: int = 10,
        *,
        zone: ZoneInfo,
        scratch: bool = False,
    ):
        self.path = path
        self.scratch = scratch  # a private database of a moment (the lead card's replay)
        self.zone = zone
        self.busy_timeout = busy_timeout
        self.max_attempts = max_attempts
        self.writer = SqliteWriter(partial(connect, path, busy_timeout), self._tx, busy_timeout)
        self._readers = ThreadPoolExecutor(READERS, thread_name_prefix="leadrelay-reader")
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._watch: sqlite3.Connection | None = None
        self._file: tuple[int, int] | None = None  # (device, inode) of the file opened
        self._seen_version = -1

    def _tx(self, conn: sqlite3.Connection) -> Tx:
        return Tx(SqliteSql(conn), sqlite3.IntegrityError, self.max_attempts, self.zone)

    async def open(self) -> SqliteStore:
        level = logging.DEBUG if self.scratch else logging.INFO
        await asyncio.to_thread(partial(migrate, self.path, self.busy_timeout, level=level))
        await self.writer.open()
        self._watch = connect(self.path, self.busy_timeout, read_only=True)
        self._file = _identity(self.path)
        return self

    async def close(self) -> None:
        await self.writer.close()
        self._readers.shutdown(wait=True)
        for conn in [*self._reader_conns, self._watch]:
            if conn is not None:
                conn.close()
        self._reader_conns.clear()
        self._watch = None

    async def write(self, unit: Unit[T]) -> T:
        result: T = await self.writer.write(unit)
        return result

    async def read(self, query: Unit[T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._read, query)

    def _read(self, query: Unit[Any]) -> Any:
        """On a reader thread: one read transaction, so the query sees one snapshot."""
        tx: Tx | None = getattr(self._local, "tx", None)
        if tx is None:
            conn = connect(self.path, self.busy_timeout, read_only=True)
            with self._lock:
                self._reader_conns.append(conn)
            tx = self._local.tx = self._tx(conn)
        conn = tx.sql.conn  # type: ignore[attr-defined]
        try:
            conn.execute("BEGIN")
            try:
                return query(tx)
            finally:
                conn.execute("COMMIT")
        except sqlite3.OperationalError as error:
            raise busy_or(error) from error

    async def kept_secret(self, name: str) -> str:
        """In a file next to the database (`leadrelay.db.<name>`), mode 0600."""
        return await asyncio.to_thread(
            kept_in_file, self.path.with_name(f"{self.path.name}.{name}")
        )

    async def erase_traces(self, tables: Sequence[str], rewrite: bool = True) -> bool:
        """Checkpoint the WAL into the file and truncate it: the pages written with the
        erased rows (and the old ones) leave the -wal file; freed space was zeroed as it was
        freed. `tables` and `rewrite` do not matter here: the WAL holds pages of any table."""
        return await asyncio.to_thread(self.writer.checkpoints.truncate)

    @property
    def location(self) -> str:
        return str(self.path)

    def problem(self) -> str | None:
        return self.writer.problem() or self._moved()

    def _moved(self) -> str | None:
        """Whether the file at the configured path is still the one this process opened (a
        stat: /healthz asks). One moved, deleted or replaced under a running process goes on
        taking its writes where no other process or backup finds them."""
        try:
            now = _identity(self.path)
        except FileNotFoundError:
            now = None
        if now == self._file:
            return None
        what = "is gone" if now is None else "is another file"
        return (
            f"the database file {self.path} {what} since this process opened it (moved or"
            " replaced): its writes go to a file nothing else reads; restart it"
        )

    def batching(self) -> Batching:
        return self.writer.batching()

    def changed(self) -> bool:
        """PRAGMA data_version moves when any other connection commits: a few microseconds,
        no lock, so a dispatcher can look often and still idle at almost no CPU."""
        assert self._watch is not None, "the store is not open"
        version = self._watch.execute("PRAGMA data_version").fetchone()[0]
        moved = version != self._seen_version
        self._seen_version = version
        return bool(moved)


def _identity(path: Path) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_dev, stat.st_ino
