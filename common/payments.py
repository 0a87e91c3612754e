"""PaymentService: what a CRM's webhook notices do to our leads, once."""

from __future__ import annotations

from decimal import Decimal

from common import clock
from common.errors import Conflict, NotFound
from common.events import (
    LeadLost,
    PaymentAmountSet,
    PaymentCorrected,
    PaymentRegistered,
    PaymentReversed,
    Reversal,
)
from common.leads import LeadService
from common.model import Json, JsonObject, Lead, LeadStatus, Metadata, Notice
from common.store import Tx
from common.tasks import SendToYandex

Answer = JsonObject
DEFERRED = "deferred"  # an unmatched payment past the connection's cap: in its receipt only


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
        metadata: Metadata,
        unmatched_cap: int | None = None,
    ) -> Answer:
        """Every notice of one authenticated webhook, deduplicated by its message id and kept
        as a receipt; the answer for the CRM. Past `unmatched_cap` open unmatched payments
        of the connection a new one is deferred: only its receipt keeps it."""
        if message_id and tx.receipts.seen(connection, message_id):
            return {"status": "duplicate", "reason": f"webhook-id {message_id} already handled"}
        answers = [cls.apply(tx, connection, notice, metadata, unmatched_cap) for notice in notices]
        results: list[Json] = [*answers]
        answer: Answer = answers[0] if len(answers) == 1 else {"status": "ok", "results": results}
        if any(one["status"] == DEFERRED for one in answers):
            answer["status"] = DEFERRED  # the receipt's outcome: what to look at later
        tx.receipts.keep(connection, message_id, body, answer)
        return answer

    @staticmethod
    def find_lead(tx: Tx, connection: str, notice: Notice) -> Lead | None:
        """The lead a notice is about, among the leads delivered to this connection only: one
        CRM's secret must not be able to pay (or lose) a lead another CRM holds. A payment
        for any other lead is kept unmatched, for a person to attach explicitly."""
        if notice.lead_id:
            lead = tx.leads.find(notice.lead_id)
            return lead if lead is not None and lead.crm_connection == connection else None
        if notice.crm_lead_id:
            return tx.leads.by_crm_id(connection, notice.crm_lead_id)
        if notice.deal_id:  # a deleted Bitrix24 deal names only itself
            return tx.leads.by_payment_deal(connection, notice.deal_id)
        return None

    @classmethod
    def apply(
        cls,
        tx: Tx,
        connection: str,
        notice: Notice,
        metadata: Metadata,
        unmatched_cap: int | None = None,
    ) -> Answer:
        """Record one notice on its lead."""
        lead = cls.find_lead(tx, connection, notice)
        if lead is None:
            named = notice.lead_id or (
                f"CRM id {notice.crm_lead_id}" if notice.crm_lead_id else f"deal {notice.deal_id}"
            )
            reason = f"no lead {named} on connection {connection}"
            if notice.outcome == "paid":
                return cls.keep_unmatched(tx, connection, notice, reason, unmatched_cap)
            return {"status": "ignored", "reason": notice.note or reason}
        if lead.status == LeadStatus.PAID:
            return cls._change(tx, connection, lead, notice, metadata)
        if notice.outcome in ("other", "deleted", "deal"):
            note = notice.note or f"{notice.outcome} in the CRM; the lead was not paid"
            return {"status": "ignored", "lead_id": lead.id, "reason": note}
        if notice.outcome == "lost":
            if lead.status == LeadStatus.LOST:  # reopened and won may follow; lost twice is one
                return {"status": "duplicate", "lead_id": lead.id, "lead_status": lead.status}
            LeadService.record(tx, lead.id, LeadLost(source=connection), metadata)
            return {"status": "ok", "lead_id": lead.id, "lead_status": LeadStatus.LOST}
        assert notice.amount is not None and notice.currency is not None  # a paid notice has both
        payment = PaymentRegistered(
            amount=notice.amount,
            currency=notice.currency,
            paid_at=notice.paid_at or clock.now_iso(),
            source=connection,
            # Managers often move a deal to won and type its price later: a sale all the same,
            # its amount to come (the Metrica upload waits for it, yandex.amount_grace_hours).
            pending=notice.amount == 0,
            deal_id=notice.deal_id,
        )
        return cls._pay(tx, lead.id, payment, metadata)

    @classmethod
    def _change(
        cls, tx: Tx, connection: str, lead: Lead, notice: Notice, metadata: Metadata
    ) -> Answer:
        """News of a paid lead: the same notice again changes nothing, a different amount is
        a correction, a move out of won (reopened, lost) or a deletion is a reversal."""
        same: Answer = {"status": "duplicate", "lead_id": lead.id, "lead_status": lead.status}
        if notice.deal_id and lead.payment_deal_id and notice.deal_id != lead.payment_deal_id:
            return same | {"reason": f"the lead was paid by deal {lead.payment_deal_id}"}
        if notice.outcome == "paid":
            return cls._amount(tx, connection, lead, notice, metadata) or same
        if notice.outcome == "deal":  # not read yet: nothing to go by
            return same
        reason: Reversal = "reopened"  # won, then back to a working stage
        if notice.outcome in ("lost", "deleted"):
            reason = "lost" if notice.outcome == "lost" else "deleted"
        reversal = PaymentReversed(
            amount=Decimal(lead.payment_amount or "0"),
            paid_at=lead.paid_at or clock.now_iso(),
            reason=reason,
            source=connection,
        )
        LeadService.record(tx, lead.id, reversal, metadata)
        status = LeadStatus.SENT_TO_CRM
        if reason == "lost":
            LeadService.record(tx, lead.id, LeadLost(source=connection), metadata)
            status = LeadStatus.LOST
        return {"status": "reversed", "lead_id": lead.id, "lead_status": status, "reason": reason}

    @classmethod
    def _amount(
        cls, tx: Tx, connection: str, lead: Lead, notice: Notice, metadata: Metadata
    ) -> Answer | None:
        """A won notice for a paid lead: its amount filled in or corrected; None if the
        notice says what is already recorded."""
        assert notice.amount is not None and notice.currency is not None
        assert lead.paid_at is not None
        amount, currency, paid_at = notice.amount, notice.currency, lead.paid_at
        if lead.payment_pending:
            if amount == 0:
                return None
            filled = PaymentAmountSet(amount, currency, paid_at, source=connection)
            answer = cls._pay(tx, lead.id, filled, metadata)  # upload it now, with its amount
            return answer | {"status": "amount_set", "amount": str(amount)}
        previous = Decimal(lead.payment_amount or "0")
        if previous == amount and lead.payment_currency == currency:
            return None
        corrected = PaymentCorrected(amount, previous, currency, paid_at, source=connection)
        LeadService.record(tx, lead.id, corrected, metadata)
        return {"status": "corrected", "lead_id": lead.id, "amount": str(amount)}

    @staticmethod
    def _pay(
        tx: Tx, lead_id: str, payment: PaymentRegistered | PaymentAmountSet, metadata: Metadata
    ) -> Answer:
        LeadService.record(tx, lead_id, payment, metadata)
        task_id = tx.tasks.enqueue(SendToYandex(), lead_id=lead_id)
        return {"status": "ok", "lead_id": lead_id, "yandex_direct_task_id": task_id}

    @staticmethod
    def keep_unmatched(
        tx: Tx, connection: str, notice: Notice, reason: str, cap: int | None = None
    ) -> Answer:
        """A won deal that names no lead of ours is money all the same: keep it for a person
        to attach (once per CRM deal), never drop it; past `cap` (someone holding the
        webhook's secret may send thousands) it is deferred: the CRM still hears 2xx."""
        if notice.crm_lead_id:
            crm_ref = notice.crm_lead_id
        elif notice.deal_id:
            crm_ref = f"deal:{notice.deal_id}"
        else:
            crm_ref = f"lead:{notice.lead_id}"
        payment_id = tx.unmatched.keep(
            connection,
            crm_ref,
            str(notice.amount),
            str(notice.currency),
            notice.paid_at or clock.now_iso(),
            cap,
        )
        if payment_id is None:
            return {
                "status": DEFERRED,
                "reason": f"{reason}; connection {connection} holds its limit of {cap} unmatched"
                " payments, so this one is kept only in the webhook's receipt",
            }
        return {
            "status": "unmatched",
            "unmatched_payment_id": payment_id,
            "reason": f"{reason}; kept for a person to attach",
        }

    @classmethod
    def attach(cls, tx: Tx, payment_id: int, lead_id: str, user: str) -> Answer:
        """A person says whose payment an unmatched one is: the lead is paid once."""
        payment = tx.unmatched.get(payment_id)
        if payment is None:
            raise NotFound(f"no unmatched payment {payment_id}")
        lead = tx.leads.get(lead_id)  # LeadNotFound: a 404 naming the lead
        if payment.status == "dismissed":
            raise Conflict(f"payment {payment_id} is dismissed as not ours: bring it back first")
        if payment.status != "open":
            raise Conflict(f"payment {payment_id} is already attached to lead {payment.lead_id}")
        if lead.status == LeadStatus.PAID:
            raise Conflict(f"lead {lead_id} is already paid")
        registered = PaymentRegistered(
            amount=Decimal(payment.amount),  # its text as the notice gave it, read back exactly
            currency=payment.currency,
            paid_at=payment.paid_at,
            source=payment.connection,
            unmatched_payment_id=payment.id,
        )
        answer = cls._pay(tx, lead.id, registered, {"source": "dashboard", "user": user})
        tx.unmatched.attach(payment.id, lead.id)
        return answer
