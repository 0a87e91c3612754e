"""PgStore: the backend for more than one machine. Units of work go through group commit
(`writer.py`) on a pooled psycopg connection; reads and lone writes run on a small thread
pool, each in a transaction of its own. PostgreSQL's own locking lets many processes on many
hosts write at once."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar
from zoneinfo import ZoneInfo

import psycopg
from psycopg import errors
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from common.store.base import Batching, Store, Unit
from common.store.postgres.migrate import migrate
from common.store.postgres.sql import PgSql
from common.store.postgres.writer import Connection, PgWriter, mapped
from common.store.secrets import GeneratedSecrets, new_secret
from common.store.tx import Tx

log = logging.getLogger(__name__)
T = TypeVar("T")
CONNECTIONS = 8  # per process: threads and pooled connections
CHANNEL = "leadrelay_tasks"  # NOTIFYed by a trigger when a task is queued or falls due again
LISTEN_WAIT = 0.1  # seconds the listener waits for a notification before looking up


def shown(dsn: str) -> str:
    """The URL without its password (after the user, or as `?password=`), for messages and
    logs."""
    dsn = re.sub(r"([?&]password=)[^&]*", r"\1***", dsn)
    head, at, tail = dsn.rpartition("@")
    if not at or ":" not in head.split("://", 1)[-1]:
        return dsn
    scheme, _, user_pass = head.partition("://")
    return f"{scheme}://{user_pass.split(':', 1)[0]}:***@{tail}"


class PgStore(Store):
    @property
    def rate_limits_in_database(self) -> bool:
        return True  # many hosts: only the database sees every process's calls

    def __init__(
        self, dsn: str, busy_timeout: float = 5.0, max_attempts: int = 10, *, zone: ZoneInfo
    ):
        self.dsn = dsn
        self.zone = zone
        self.busy_timeout = busy_timeout
        self.max_attempts = max_attempts
        self.pool = ConnectionPool(
            dsn,
            connection_class=Connection,
            min_size=1,
            max_size=CONNECTIONS,
            kwargs={"row_factory": dict_row},
            configure=self._configure,
            open=False,
            timeout=max(busy_timeout, 1.0),
        )
        self._threads = ThreadPoolExecutor(CONNECTIONS, thread_name_prefix="leadrelay-pg")
        self.writer = PgWriter(self.pool, self._tx)
        self._notified = False
        self._closing = threading.Event()
        self._listening = threading.Event()  # LISTEN has run: from now no NOTIFY is missed
        self._listener: threading.Thread | None = None

    def _configure(self, conn: Connection) -> None:
        # A writer waits for a row lock at most busy_timeout, then answers 503 (like SQLite).
        conn.execute(f"SET lock_timeout = '{int(self.busy_timeout * 1000)}ms'")
        conn.commit()

    async def open(self) -> PgStore:
        await asyncio.to_thread(migrate, self.dsn)
        await asyncio.to_thread(self.pool.open, True, max(self.busy_timeout, 5.0))
        self._listener = threading.Thread(target=self._listen, name="leadrelay-listen", daemon=True)
        self._listener.start()
        # Open once listening, so a task queued right after is not missed until the next poll
        # (a server that refuses the connection leaves polling to find the work meanwhile).
        await asyncio.to_thread(self._listening.wait, max(self.busy_timeout, 5.0))
        return self

    async def close(self) -> None:
        self._closing.set()
        await self.writer.close()
        self._threads.shutdown(wait=True)
        await asyncio.to_thread(self.pool.close)
        if self._listener is not None:
            await asyncio.to_thread(self._listener.join, 5.0)

    def _tx(self, conn: Connection) -> Tx:
        return Tx(PgSql(conn), errors.UniqueViolation, self.max_attempts, self.zone)

    async def write(self, unit: Unit[T]) -> T:
        result: T = await self.writer.write(unit)
        return result

    async def write_alone(self, unit: Unit[T]) -> T:
        return await self._alone(unit, read_only=False)

    async def read(self, query: Unit[T]) -> T:
        return await self._alone(query, read_only=True)

    async def _alone(self, unit: Unit[T], read_only: bool) -> T:
        """`unit` in a transaction of its own, on the thread pool."""
        loop = asyncio.get_running_loop()
        result: T = await loop.run_in_executor(self._threads, self._run_alone, unit, read_only)
        return result

    def _run_alone(self, unit: Unit[T], read_only: bool) -> T:
        try:
            with self.pool.connection() as conn, conn.transaction():
                if read_only:  # one snapshot for the whole function, and no writes by mistake
                    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                return unit(self._tx(conn))
        except Exception as error:
            raise mapped(error) from error

    async def kept_secret(self, name: str) -> str:
        """In `generated_secrets`: one row every host reads."""
        value = new_secret()
        return await self.write(lambda tx: GeneratedSecrets(tx.sql).keep(name, value))

    async def erase_traces(self, tables: Sequence[str], rewrite: bool = True) -> bool:
        """VACUUM the tables, outside a transaction as it must run. A plain VACUUM only marks
        the dead versions' space reusable: their bytes stay in the table and index files until
        overwritten (tests/unit/test_erasure.py reads the files). VACUUM FULL writes each
        table and its indexes into new files, one table at a time, holding its lock meanwhile."""
        return await asyncio.to_thread(self._vacuum, tables, rewrite)

    def _vacuum(self, tables: Sequence[str], rewrite: bool) -> bool:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            if rewrite:
                for table in tables:
                    conn.execute(f"VACUUM FULL {table}")
            else:
                conn.execute(f"VACUUM {', '.join(tables)}")
        return True

    @property
    def location(self) -> str:
        return self.dsn

    def problem(self) -> str | None:
        return self.writer.trouble.problem()

    def batching(self) -> Batching:
        return self.writer.batching()

    def changed(self) -> bool:
        if self._notified:
            self._notified = False
            return True
        return False

    def _listen(self) -> None:
        """LISTEN on a connection of its own; reconnect after a failure."""
        while not self._closing.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._notified = True  # what was queued before (or while it was down)
                    self._listening.set()
                    while not self._closing.is_set():
                        for _ in conn.notifies(timeout=LISTEN_WAIT):
                            self._notified = True
            except psycopg.Error as error:
                log.warning("LISTEN connection lost; polling until it is back: %s", error)
                self._closing.wait(1.0)  # before reconnecting, unless closing
