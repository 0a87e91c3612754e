"""Small helpers shared by the tests: database snapshots, polling, free ports."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import dict_row

from common import clock
from common.store.postgres.sql import EVENT_ORDER_LOCK


def _on_postgres(database: str | Path) -> bool:
    return str(database).startswith(("postgresql://", "postgres://"))


def snapshot(database: str | Path) -> dict[str, list[tuple]]:
    """Every row of every table (but the migration bookkeeping), to prove a request wrote
    nothing; on either backend."""
    if _on_postgres(database):
        with psycopg.connect(str(database)) as conn:
            names = [
                r[0]
                for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables"
                    " WHERE table_schema = 'public' AND table_name <> 'schema_migrations'"
                )
            ]
            return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in names}
    conn = sqlite3.connect(database)
    try:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in names}
    finally:
        conn.close()


def rows(database: str | Path, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
    """Rows as dicts, straight from the database file or server (`?` marks parameters)."""
    if _on_postgres(database):
        with psycopg.connect(str(database), row_factory=dict_row) as conn:
            return conn.execute(sql.replace("%", "%%").replace("?", "%s"), params).fetchall()
    conn = sqlite3.connect(database)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in conn.execute(sql, params).fetchall()]
    finally:
        conn.close()


def execute(database: str | Path, sql: str, params: tuple = ()) -> None:
    """Change the database behind the services' back (to age a row, say), on either backend."""
    if _on_postgres(database):
        with psycopg.connect(str(database)) as conn:
            conn.execute(sql.replace("%", "%%").replace("?", "%s"), params)
        return
    conn = sqlite3.connect(database)
    try:
        conn.execute(sql, params)
        conn.commit()
    finally:
        conn.close()


@contextmanager
def write_lock_held(database: str | Path) -> Iterator[None]:
    """Another client holds the lock every lead write needs (SQLite's write lock; on
    PostgreSQL the lock that keeps events in commit order) until the block ends."""
    if _on_postgres(database):
        with psycopg.connect(str(database)) as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (EVENT_ORDER_LOCK,))
            yield
            conn.rollback()
        return
    blocker = sqlite3.connect(database, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


# Test data is dated from the clock, never with a fixed day: the suite must pass on any day
# (make test runs it once more with the clock moved weeks ahead).
MOSCOW = timezone(timedelta(hours=3))
ZONE = ZoneInfo(
    "Europe/Moscow"
)  # dashboard.timezone's default, for stores whose days no test reads


def ago(days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
    """A moment that long before now, to whole seconds (negative values: after now)."""
    moment = clock.now() - timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    return moment.replace(microsecond=0)


def stored(moment: datetime) -> str:
    """A moment as the store keeps it (UTC ISO-8601, microseconds, Z)."""
    return clock.iso(moment)


def local(zone: ZoneInfo, days_ago: int, hour: int, minute: int = 0) -> datetime:
    """hh:mm on a wall clock in `zone`, on the day `days_ago` days before its today."""
    day = clock.now().astimezone(zone).date() - timedelta(days=days_ago)
    return datetime.combine(day, clock_time(hour, minute), tzinfo=zone)


def last_clock_change(zone: ZoneInfo) -> date:
    """The latest day before today on which `zone`'s clocks changed (found from the clock,
    never written down): its noon has another UTC offset than the noon before it."""
    day = clock.now().astimezone(zone).date()
    for _ in range(400):
        day -= timedelta(days=1)
        noons = [datetime.combine(d, clock_time(12), zone) for d in (day - timedelta(1), day)]
        if noons[0].utcoffset() != noons[1].utcoffset():
            return day
    raise AssertionError(f"{zone} changed its clocks on no day of the last 400")


def moscow(moment: datetime) -> str:
    """A moment as a Russian CRM writes it: `2026-11-27T08:00:00+03:00`."""
    return moment.astimezone(MOSCOW).isoformat()


_PORTS = random.Random()  # its own: tests that seed the module's generator do not steer it
_GIVEN: set[int] = set()  # ports this process handed out: never the same one twice


def _port_range() -> tuple[int, int]:
    """Below the kernel's ephemeral range; under xdist each worker its own slice of it, so two
    workers never pick the same port in the moment between one's pick and its bind."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    start, end = min(10000, low - 1000), low - 1
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, …
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or "1")
    if count > 1 and worker[2:].isdigit():
        size = (end - start + 1) // count
        start += (int(worker[2:]) % count) * size
        end = start + size - 1
    return start, end


def free_port() -> int:
    """A port free now, below the kernel's ephemeral range: a port the kernel hands out (bind
    to 0) is in that range, where every outgoing connection of the parallel tests takes its
    own, and one did take a service's port between this check and the service's bind
    ("address already in use"). Below the range only an explicit bind can take it; and a
    port is handed out once, so two services of one test never get the same one."""
    start, end = _port_range()
    for _ in range(50):
        port = _PORTS.randint(start, end)
        if port in _GIVEN:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _GIVEN.add(port)
        return port
    with socket.socket() as sock:  # all taken: the kernel's choice, as before
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """`wait_for_async` for code that is not async (fixtures): poll with a deadline."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)  # the poll interval, bounded by the deadline above
    return result


async def wait_for_async(
    check: Callable[[], Awaitable[Any]], timeout: float = 10.0, interval: float = 0.05
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)  # the poll interval, bounded by the deadline above


SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # a test-only Standard Webhooks secret


def crm_connections(
    b24_url: str = "https://shop.bitrix24.ru/rest/1/abc", **amo: object
) -> dict[str, dict]:
    """One connection of each kind, as [crm.*] would configure them."""
    return {
        "amo": {
            "kind": "amocrm",
            "base_url": "https://shop.amocrm.ru",
            "token": "amo-secret",
            "webhook_token": "hook-secret",
        }
        | amo,
        "b24": {"kind": "bitrix24", "base_url": b24_url, "application_token": "app-token"},
        "shop": {"kind": "generic", "url": "https://crm.example.com/leads", "secret": SECRET},
    }


async def write_together(store: Any, *units: Callable[[Any], object]) -> list[Any]:
    """The units written at once, so that they share group-commit batches; each one's
    answer, or the exception it raised."""
    batches = store.writer.batches
    answers = await asyncio.gather(*(store.write(unit) for unit in units), return_exceptions=True)
    if not any(isinstance(answer, Exception) for answer in answers):  # (a refused unit retries)
        assert store.writer.batches - batches < len(units)  # some did share a batch
    return list(answers)
