"""PaymentService: what a CRM's webhook notice does to our lead, once."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import aiosqlite

from common import clock
from common.errors import InvalidField
from common.events import EventType, dumps
from common.leads import LeadService
from common.money import parse_amount, parse_currency
from common.tasks import SEND_TO_YANDEX, TaskQueue

# "deal": a Bitrix24 notice that names a deal, still to be read with crm.deal.get.
Outcome = Literal["paid", "lost", "other", "deal"]


@dataclass(frozen=True)
class Notice:
    """One lead's news in a webhook: won (paid), lost, or anything else."""

    outcome: Outcome
    crm_lead_id: str | None = None
    lead_id: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    paid_at: str | None = None
    note: str = ""
    deal_id: str | None = None


def money(field: str, amount: object, currency: object) -> tuple[Decimal, str]:
    """Validated amount and currency, or InvalidField naming the field."""
    try:
        value = parse_amount(amount)
    except ValueError as error:
        raise InvalidField(f"{field}: {error}", [{"field": field, "message": str(error)}]) from None
    try:
        code = parse_currency(currency)
    except ValueError as error:
        message = str(error)
        problem = [{"field": "currency", "message": message}]
        raise InvalidField(f"currency: {message}", problem) from None
    return value, code


class PaymentService:
    def __init__(self, tasks: TaskQueue):
        self.tasks = tasks

    @staticmethod
    async def find_lead(
        tx: aiosqlite.Connection, connection: str, notice: Notice
    ) -> sqlite3.Row | None:
        if notice.lead_id:
            return await LeadService.load(tx, notice.lead_id)
        async with tx.execute(
            "SELECT * FROM leads WHERE crm_connection = ? AND crm_lead_id = ?",
            (connection, notice.crm_lead_id),
        ) as cursor:
            return await cursor.fetchone()

    async def apply(
        self, tx: aiosqlite.Connection, connection: str, notice: Notice, metadata: dict
    ) -> dict[str, Any]:
        """Record the notice on its lead, in the caller's tx; the answer for the CRM."""
        if notice.outcome == "other":
            return {"status": "ignored", "reason": notice.note or "neither won nor lost"}
        lead = await self.find_lead(tx, connection, notice)
        if lead is None:
            named = notice.lead_id or f"CRM id {notice.crm_lead_id}"
            return {"status": "ignored", "reason": f"no lead {named} on connection {connection}"}
        # Paid is final; lost is not (a deal can be reopened and won), but lost twice is.
        if lead["status"] == "paid" or (notice.outcome == "lost" and lead["status"] == "lost"):
            return {"status": "duplicate", "lead_id": lead["id"], "lead_status": lead["status"]}
        if notice.outcome == "lost":
            await LeadService.record(
                tx, lead["id"], EventType.LEAD_LOST, {"source": connection}, metadata
            )
            return {"status": "ok", "lead_id": lead["id"], "lead_status": "lost"}
        data = {
            "amount": str(notice.amount),
            "currency": notice.currency,
            "paid_at": notice.paid_at or clock.now_iso(),
            "source": connection,
        }
        await LeadService.record(tx, lead["id"], EventType.PAYMENT_REGISTERED, data, metadata)
        task_id = await self.tasks.enqueue(tx, SEND_TO_YANDEX, {"lead_id": lead["id"]})
        return {"status": "ok", "lead_id": lead["id"], "yandex_direct_task_id": task_id}


async def seen_message(tx: aiosqlite.Connection, connection: str, message_id: str) -> bool:
    async with tx.execute(
        "SELECT 1 FROM webhook_receipts WHERE connection = ? AND message_id = ?",
        (connection, message_id),
    ) as cursor:
        return await cursor.fetchone() is not None


async def keep_receipt(
    tx: aiosqlite.Connection,
    connection: str,
    message_id: str | None,
    body: bytes,
    answer: dict[str, Any],
) -> int:
    """Keep the webhook for audit, with what it did."""
    cursor = await tx.execute(
        "INSERT INTO webhook_receipts"
        " (connection, message_id, received_at, outcome, lead_id, detail, body)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            connection,
            message_id,
            clock.now_iso(),
            answer.get("status", "ok"),
            answer.get("lead_id"),
            dumps(answer),
            body.decode("utf-8", errors="replace")[:20_000],
        ),
    )
    return cursor.lastrowid


async def update_receipt(tx: aiosqlite.Connection, receipt_id: int, answer: dict[str, Any]) -> None:
    await tx.execute(
        "UPDATE webhook_receipts SET outcome = ?, lead_id = ?, detail = ? WHERE id = ?",
        (answer.get("status", "ok"), answer.get("lead_id"), dumps(answer), receipt_id),
    )
