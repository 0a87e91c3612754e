"""Small helpers shared by the tests: database snapshots, polling, free ports."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any


def snapshot(path: Path) -> dict[str, list[tuple]]:
    """Every row of every table, to prove a request wrote nothing."""
    conn = sqlite3.connect(path)
    try:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in names}
    finally:
        conn.close()


def rows(path: Path, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
