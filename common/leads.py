"""LeadService: writes lead events with their projection and tasks; reads the leads table."""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

import aiosqlite

from common.db import Database
from common.errors import LeadNotFound
from common.events import Event, EventStore, EventType
from common.projections import project
from common.tasks import SEND_TO_CRM, TaskQueue


class LeadService:
    def __init__(self, db: Database, tasks: TaskQueue):
        self.db = db
        self.tasks = tasks

    async def create_lead(
        self, tx: aiosqlite.Connection, data: dict[str, Any], metadata: dict[str, Any]
    ) -> tuple[str, int]:
        """LEAD_CREATED, its row and stats, and the send_to_crm task; in the caller's tx."""
        lead_id = str(uuid.uuid4())
        event = await EventStore.append(tx, lead_id, 0, EventType.LEAD_CREATED, data, metadata)
        await project(tx, event)
        task_id = await self.tasks.enqueue(tx, SEND_TO_CRM, {"lead_id": lead_id})
        return lead_id, task_id

    @staticmethod
    async def record(
        tx: aiosqlite.Connection,
        lead_id: str,
        type: EventType,
        data: dict[str, Any],
        metadata: dict[str, Any] | None = None,
    ) -> Event:
        """Append an event to an existing lead and project it, in the caller's tx."""
        async with tx.execute("SELECT version FROM leads WHERE id = ?", (lead_id,)) as cursor:
            row = await cursor.fetchone()
        if row is None:
            raise LeadNotFound(f"lead {lead_id} does not exist")
        event = await EventStore.append(tx, lead_id, row[0], type, data, metadata)
        await project(tx, event)
        return event

    @staticmethod
    async def load(tx: aiosqlite.Connection, lead_id: str) -> sqlite3.Row | None:
        async with tx.execute("SELECT * FROM leads WHERE id = ?", (lead_id,)) as cursor:
            return await cursor.fetchone()

    async def get(self, lead_id: str) -> sqlite3.Row:
        row = await self.db.fetchone("SELECT * FROM leads WHERE id = ?", (lead_id,))
        if row is None:
            raise LeadNotFound(f"lead {lead_id} does not exist")
        return row

    async def latest(self, limit: int = 10) -> list[sqlite3.Row]:
        return await self.db.fetchall(
            "SELECT * FROM leads ORDER BY created_at DESC LIMIT ?", (limit,)
        )
