"""PaymentService: what a CRM's webhook notices do to our leads, once."""

from __future__ import annotations

from typing import Any

from common import clock
from common.leads import LeadService
from common.model import EventType, Lead, LeadStatus, Notice, TaskType
from common.store import Tx

Answer = dict[str, Any]


class PaymentService:
    """Units of work over a Tx: the webhook's whole effect is one transaction."""

    @classmethod
    def record_webhook(
        cls,
        tx: Tx,
        connection: str,
        message_id: str | None,
        body: bytes,
        notices: list[Notice],
        metadata: dict[str, Any],
    ) -> Answer:
        """Every notice of one authenticated webhook, deduplicated by its message id and kept
        as a receipt; the answer for the CRM."""
        if message_id and tx.receipts.seen(connection, message_id):
            return {"status": "duplicate", "reason": f"webhook-id {message_id} already handled"}
        answers = [cls.apply(tx, connection, notice, metadata) for notice in notices]
        answer = answers[0] if len(answers) == 1 else {"status": "ok", "results": answers}
        tx.receipts.keep(connection, message_id, body, answer)
        return answer

    @staticmethod
    def find_lead(tx: Tx, connection: str, notice: Notice) -> Lead | None:
        if notice.lead_id:
            return tx.leads.find(notice.lead_id)
        if notice.crm_lead_id:
            return tx.leads.by_crm_id(connection, notice.crm_lead_id)
        return None

    @classmethod
    def apply(cls, tx: Tx, connection: str, notice: Notice, metadata: dict[str, Any]) -> Answer:
        """Record one notice on its lead."""
        if notice.outcome not in ("paid", "lost"):
            return {"status": "ignored", "reason": notice.note or "neither won nor lost"}
        lead = cls.find_lead(tx, connection, notice)
        if lead is None:
            named = notice.lead_id or f"CRM id {notice.crm_lead_id}"
            return {"status": "ignored", "reason": f"no lead {named} on connection {connection}"}
        # Paid is final; lost is not (a deal can be reopened and won), but lost twice is.
        if lead.status == LeadStatus.PAID or (
            notice.outcome == "lost" and lead.status == LeadStatus.LOST
        ):
            return {"status": "duplicate", "lead_id": lead.id, "lead_status": lead.status}
        if notice.outcome == "lost":
            LeadService.record(tx, lead.id, EventType.LEAD_LOST, {"source": connection}, metadata)
            return {"status": "ok", "lead_id": lead.id, "lead_status": LeadStatus.LOST}
        data = {
            "amount": str(notice.amount),
            "currency": notice.currency,
            "paid_at": notice.paid_at or clock.now_iso(),
            "source": connection,
        }
        LeadService.record(tx, lead.id, EventType.PAYMENT_REGISTERED, data, metadata)
        task_id = tx.tasks.enqueue(TaskType.SEND_TO_YANDEX, {"lead_id": lead.id}, lead_id=lead.id)
        return {"status": "ok", "lead_id": lead.id, "yandex_direct_task_id": task_id}
