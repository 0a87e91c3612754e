"""Bitrix24 deal notices: stored first (Bitrix24 never redelivers), then resolved.

The webhooks service resolves a notice at once when crm.deal.get answers; when
it does not, the stored resolve_crm_deal task lets the dispatcher finish later.
"""

from __future__ import annotations

import aiohttp

from common.integrations.base import CrmIntegration
from common.model import Metadata, TaskStatus
from common.payments import Answer, PaymentService
from common.store import Store, Tx
from common.tasks import ResolveDeal

# The webhooks service gets the first try; the dispatcher takes over after this.
INLINE_WINDOW = 60.0


def store_notice(tx: Tx, connection: str, deal_id: str, body: bytes) -> tuple[int, ResolveDeal]:
    """Receipt and resolve task; return the task's id and payload."""
    receipt_id = tx.receipts.keep(connection, None, body, {"status": "queued", "deal_id": deal_id})
    payload = ResolveDeal(connection, deal_id, receipt_id)
    return tx.tasks.enqueue(payload, delay=INLINE_WINDOW), payload


def reject(tx: Tx, task_id: int, receipt_id: int, reason: str) -> None:
    """The deal cannot be used (e.g. its amount): fail the task, say why on the receipt."""
    tx.tasks.fail(task_id, reason)
    tx.receipts.update(receipt_id, {"status": "rejected", "reason": reason})


async def resolve(
    store: Store,
    integration: CrmIntegration,
    http: aiohttp.ClientSession,
    task_id: int,
    payload: ResolveDeal,
    metadata: Metadata,
) -> Answer:
    """Read the deal and apply it, completing the task; DeliveryFailure if the read fails."""
    notice = await integration.resolve_deal(http, payload.deal_id)

    def unit(tx: Tx) -> Answer:
        if tx.tasks.status(task_id) == TaskStatus.COMPLETED:
            return {"status": "duplicate", "reason": "this deal notice was already resolved"}
        answer = PaymentService.apply(tx, integration.name, notice, metadata)
        tx.receipts.update(payload.receipt_id, answer)
        tx.tasks.complete(task_id, answer)
        return answer

    return await store.write(unit)
