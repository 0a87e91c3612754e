"""Bitrix24 deal notices: stored first (Bitrix24 never redelivers), then resolved.

The webhooks service resolves a notice at once when crm.deal.get answers; when
it does not, the stored resolve_crm_deal task lets the dispatcher finish later.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import aiosqlite

from common.db import Database
from common.integrations.bitrix24 import Bitrix24Integration
from common.payments import PaymentService, keep_receipt, update_receipt
from common.tasks import RESOLVE_DEAL, TaskQueue

# The webhooks service gets the first try; the dispatcher takes over after this.
INLINE_WINDOW = 60.0


async def store_notice(
    db: Database, tasks: TaskQueue, connection: str, deal_id: str, body: bytes
) -> tuple[int, int]:
    """Receipt and resolve task in one transaction; return (task id, receipt id)."""

    async def unit(tx: aiosqlite.Connection) -> tuple[int, int]:
        answer = {"status": "queued", "deal_id": deal_id}
        receipt_id = await keep_receipt(tx, connection, None, body, answer)
        payload = {"connection": connection, "deal_id": deal_id, "receipt_id": receipt_id}
        task_id = await tasks.enqueue(tx, RESOLVE_DEAL, payload, delay=INLINE_WINDOW)
        return task_id, receipt_id

    return await db.transaction(unit)


async def resolve(
    db: Database,
    payments: PaymentService,
    integration: Bitrix24Integration,
    http: aiohttp.ClientSession,
    task_id: int,
    payload: dict[str, Any],
    metadata: dict[str, Any],
) -> dict[str, Any]:
    """Read the deal and apply it, completing the task; DeliveryFailure if the read fails."""
    notice = await integration.resolve_deal(http, payload["deal_id"])

    async def unit(tx: aiosqlite.Connection) -> dict[str, Any]:
        async with tx.execute("SELECT status FROM tasks WHERE id = ?", (task_id,)) as cursor:
            row = await cursor.fetchone()
        if row is not None and row[0] == "completed":
            return {"status": "duplicate", "reason": "this deal notice was already resolved"}
        answer = await payments.apply(tx, integration.name, notice, metadata)
        await update_receipt(tx, payload["receipt_id"], answer)
        await TaskQueue.complete(tx, task_id, answer)
        return answer

    return await db.transaction(unit)
