"""EventStore: the append-only log every change is written to first."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import aiosqlite

from common import clock
from common.db import Database
from common.errors import ConcurrencyConflict


class EventType(StrEnum):
    LEAD_CREATED = "LEAD_CREATED"
    LEAD_SENT_TO_CRM = "LEAD_SENT_TO_CRM"
    LEAD_CRM_DELIVERY_FAILED = "LEAD_CRM_DELIVERY_FAILED"
    PAYMENT_REGISTERED = "PAYMENT_REGISTERED"
    LEAD_LOST = "LEAD_LOST"
    YANDEX_DIRECT_CONVERSION = "YANDEX_DIRECT_CONVERSION"
    YANDEX_CONVERSION_SKIPPED = "YANDEX_CONVERSION_SKIPPED"
    YANDEX_CONVERSION_FAILED = "YANDEX_CONVERSION_FAILED"


@dataclass(frozen=True)
class Event:
    stream_id: str
    version: int
    type: EventType
    data: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    position: int = 0

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Event:
        return cls(
            stream_id=row["stream_id"],
            version=row["version"],
            type=EventType(row["type"]),
            data=json.loads(row["data"]),
            metadata=json.loads(row["metadata"]),
            created_at=row["created_at"],
            position=row["position"],
        )


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


class EventStore:
    """Appends inside the caller's transaction; reads through the read connection."""

    def __init__(self, db: Database):
        self.db = db

    @staticmethod
    async def append(
        tx: aiosqlite.Connection,
        stream_id: str,
        expected_version: int,
        type: EventType,
        data: dict[str, Any],
        metadata: dict[str, Any] | None = None,
    ) -> Event:
        """Append version expected_version + 1, or raise ConcurrencyConflict."""
        async with tx.execute(
            "SELECT coalesce(max(version), 0) FROM events WHERE stream_id = ?", (stream_id,)
        ) as cursor:
            (current,) = await cursor.fetchone()
        if current != expected_version:
            raise ConcurrencyConflict(
                f"stream {stream_id} is at version {current}, expected {expected_version}"
            )
        event = Event(
            stream_id=stream_id,
            version=expected_version + 1,
            type=EventType(type),
            data=data,
            metadata=metadata or {},
            created_at=clock.now_iso(),
        )
        try:
            cursor = await tx.execute(
                "INSERT INTO events (stream_id, version, type, data, metadata, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    event.stream_id,
                    event.version,
                    event.type.value,
                    dumps(event.data),
                    dumps(event.metadata),
                    event.created_at,
                ),
            )
        except sqlite3.IntegrityError as error:  # UNIQUE(stream_id, version): the backstop
            raise ConcurrencyConflict(f"stream {stream_id} moved on concurrently") from error
        return Event(**{**event.__dict__, "position": cursor.lastrowid})

    async def read_stream(self, stream_id: str) -> list[Event]:
        rows = await self.db.fetchall(
            "SELECT * FROM events WHERE stream_id = ? ORDER BY version", (stream_id,)
        )
        return [Event.from_row(row) for row in rows]

    async def read_all(self, after: int = 0, limit: int = 1000) -> list[Event]:
        rows = await self.db.fetchall(
            "SELECT * FROM events WHERE position > ? ORDER BY position LIMIT ?", (after, limit)
        )
        return [Event.from_row(row) for row in rows]

    async def count(self) -> int:
        # Positions have no gaps: events are never deleted, and AUTOINCREMENT's
        # counter rolls back with its transaction. max() is an index lookup.
        return await self.db.scalar("SELECT coalesce(max(position), 0) FROM events")

    async def latest(self, limit: int = 10) -> list[Event]:
        rows = await self.db.fetchall(
            "SELECT * FROM events ORDER BY position DESC LIMIT ?", (limit,)
        )
        return [Event.from_row(row) for row in rows]
