"""TaskQueue: the transactional outbox that the dispatcher drains."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

import aiosqlite

from common import clock
from common.db import Database
from common.events import dumps

SEND_TO_CRM = "send_to_crm"
SEND_TO_YANDEX = "send_to_yandex_direct"
RESOLVE_DEAL = "resolve_crm_deal"  # a Bitrix24 deal notice whose deal is still to be read
STATUSES = ("pending", "processing", "completed", "failed")
ERROR_LIMIT = 2000


@dataclass(frozen=True)
class Task:
    id: int
    type: str
    payload: dict[str, Any]
    status: str
    attempts: int
    max_attempts: int
    run_after: str
    locked_until: str | None
    last_error: str | None
    result: dict[str, Any] | None
    created_at: str
    updated_at: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Task:
        values = dict(row)
        values["payload"] = json.loads(values["payload"])
        values["result"] = json.loads(values["result"]) if values["result"] else None
        return cls(**values)

    @property
    def exhausted(self) -> bool:
        return self.attempts >= self.max_attempts


class TaskQueue:
    """Enqueue inside the caller's transaction; claim, complete and retry via the database."""

    def __init__(self, db: Database, max_attempts: int = 10):
        self.db = db
        self.max_attempts = max_attempts

    async def enqueue(
        self,
        tx: aiosqlite.Connection,
        type: str,
        payload: dict[str, Any],
        delay: float = 0.0,
    ) -> int:
        now = clock.now_iso()
        cursor = await tx.execute(
            "INSERT INTO tasks (type, payload, max_attempts, run_after, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (type, dumps(payload), self.max_attempts, clock.after(delay), now, now),
        )
        return cursor.lastrowid

    async def has_due(self, types: tuple[str, ...] | None = None) -> bool:
        """A read-only look, so an idle dispatcher never takes the write lock."""
        now = clock.now_iso()
        kinds = types or ()
        type_filter = f"AND type IN ({', '.join('?' for _ in kinds)})" if kinds else ""
        row = await self.db.fetchone(
            "SELECT 1 FROM tasks WHERE ((status = 'pending' AND run_after <= ?)"
            f" OR (status = 'processing' AND locked_until <= ?)) {type_filter} LIMIT 1",
            (now, now, *kinds),
        )
        return row is not None

    async def claim_due(
        self, limit: int, lease: float, types: tuple[str, ...] | None = None
    ) -> list[Task]:
        """Atomically take up to `limit` due tasks (pending and due, or with an expired lease)."""
        now = clock.now_iso()
        kinds = types or ()
        type_filter = f"AND type IN ({', '.join('?' for _ in kinds)})" if kinds else ""

        # Two indexed ranges merged in due order; an OR of them makes SQLite scan
        # every task once ANALYZE has seen that nearly all are completed.
        due = (
            "SELECT id, run_after AS due FROM tasks"
            f" WHERE status = 'pending' AND run_after <= ? {type_filter}"
            " UNION ALL SELECT id, locked_until FROM tasks"
            f" WHERE status = 'processing' AND locked_until <= ? {type_filter}"
            " ORDER BY 2, 1 LIMIT ?"
        )

        async def claim(tx: aiosqlite.Connection) -> list[Task]:
            async with tx.execute(
                "UPDATE tasks SET status = 'processing', locked_until = ?,"
                " attempts = attempts + 1, updated_at = ?"
                f" WHERE id IN (SELECT id FROM ({due})) RETURNING *",
                (clock.after(lease), now, now, *kinds, now, *kinds, limit),
            ) as cursor:
                rows = await cursor.fetchall()
            return sorted((Task.from_row(row) for row in rows), key=lambda task: task.id)

        return await self.db.transaction(claim)

    async def extend_leases(self, tasks: list[Task], lease: float) -> None:
        """Keep in-flight tasks leased while their work goes on (a heartbeat)."""

        async def extend(tx: aiosqlite.Connection) -> None:
            await tx.executemany(
                "UPDATE tasks SET locked_until = ?"
                " WHERE id = ? AND status = 'processing' AND attempts = ?",
                [(clock.after(lease), task.id, task.attempts) for task in tasks],
            )

        await self.db.transaction(extend)

    @staticmethod
    async def still_held(tx: aiosqlite.Connection, task: Task) -> bool:
        """Is `task` still processing under the claim that produced it (its attempt)?"""
        async with tx.execute(
            "SELECT 1 FROM tasks WHERE id = ? AND status = 'processing' AND attempts = ?",
            (task.id, task.attempts),
        ) as cursor:
            return await cursor.fetchone() is not None

    @staticmethod
    async def complete(tx: aiosqlite.Connection, task_id: int, result: dict[str, Any]) -> None:
        await _set(tx, task_id, status="completed", result=dumps(result), locked_until=None)

    @staticmethod
    async def retry_later(tx: aiosqlite.Connection, task_id: int, delay: float, error: str) -> None:
        await _set(
            tx,
            task_id,
            status="pending",
            run_after=clock.after(delay),
            locked_until=None,
            last_error=error[:ERROR_LIMIT],
        )

    @staticmethod
    async def fail(tx: aiosqlite.Connection, task_id: int, error: str) -> None:
        await _set(tx, task_id, status="failed", locked_until=None, last_error=error[:ERROR_LIMIT])

    @staticmethod
    async def release(tx: aiosqlite.Connection, task: Task) -> None:
        """Give a claimed task back untouched (shutdown): its attempt does not count."""
        await tx.execute(
            "UPDATE tasks SET status = 'pending', locked_until = NULL,"
            " attempts = max(attempts - 1, 0), updated_at = ?"
            " WHERE id = ? AND status = 'processing' AND attempts = ?",
            (clock.now_iso(), task.id, task.attempts),
        )

    async def retry_failed(self, task_ids: list[int] | None = None) -> int:
        """Queue failed tasks again with a fresh set of attempts; return how many."""
        now = clock.now_iso()
        where = "status = 'failed'"
        params: tuple = ()
        if task_ids is not None:
            where += f" AND id IN ({', '.join('?' for _ in task_ids)})"
            params = tuple(task_ids)

        async def requeue(tx: aiosqlite.Connection) -> int:
            cursor = await tx.execute(
                "UPDATE tasks SET status = 'pending', attempts = 0, run_after = ?, updated_at = ?"
                f" WHERE {where}",
                (now, now, *params),
            )
            return cursor.rowcount

        return await self.db.transaction(requeue)

    async def open_counts(self) -> dict[str, int]:
        """Pending, processing and failed: each an index lookup, however many completed."""
        counts = {}
        for status in ("pending", "processing", "failed"):
            counts[status] = await self.db.scalar(
                "SELECT count(*) FROM tasks INDEXED BY tasks_by_status_created WHERE status = ?",
                (status,),
            )
        return counts

    async def counts(self) -> dict[str, int]:
        rows = await self.db.fetchall("SELECT status, count(*) FROM tasks GROUP BY status")
        return {status: 0 for status in STATUSES} | {row[0]: row[1] for row in rows}

    async def get(self, task_id: int) -> Task | None:
        row = await self.db.fetchone("SELECT * FROM tasks WHERE id = ?", (task_id,))
        return None if row is None else Task.from_row(row)


async def _set(tx: aiosqlite.Connection, task_id: int, **values: Any) -> None:
    values["updated_at"] = clock.now_iso()
    assignments = ", ".join(f"{name} = ?" for name in values)
    await tx.execute(f"UPDATE tasks SET {assignments} WHERE id = ?", (*values.values(), task_id))
