"""Idempotency-Key: a retried submission gets the first answer, not a second lead."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import aiosqlite

from common import clock
from common.errors import IdempotencyConflict
from common.events import dumps

MAX_KEY_LENGTH = 200


def fingerprint(fields: dict[str, Any]) -> str:
    return hashlib.sha256(dumps(fields).encode()).hexdigest()


def _cutoff(hours: int) -> str:
    return clock.iso(clock.now() - timedelta(hours=hours))


async def lookup(
    tx: aiosqlite.Connection, key: str, request_hash: str, hours: int
) -> dict[str, Any] | None:
    """The stored answer for this key, None if unseen or expired; 409 if the body differs."""
    async with tx.execute(
        "SELECT request_hash, response FROM idempotency_keys WHERE key = ? AND created_at >= ?",
        (key, _cutoff(hours)),
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return None
    if row[0] != request_hash:
        raise IdempotencyConflict("this Idempotency-Key was used with a different body")
    return json.loads(row[1])


async def remember(
    tx: aiosqlite.Connection, key: str, request_hash: str, response: dict[str, Any], hours: int
) -> None:
    await tx.execute(
        "INSERT OR REPLACE INTO idempotency_keys (key, request_hash, response, created_at)"
        " VALUES (?, ?, ?, ?)",
        (key, request_hash, dumps(response), clock.now_iso()),
    )
    # Sweep a few expired keys on each write so the table stays bounded.
    await tx.execute(
        "DELETE FROM idempotency_keys WHERE key IN"
        " (SELECT key FROM idempotency_keys WHERE created_at < ? LIMIT 50)",
        (_cutoff(hours),),
    )
