"""A lead's history for a person: each event as a sentence in the reader's language at its
local time («Передана в amoCRM как сделка 30000091», «Оплачена: 16 500 ₽»), and its typed
fields as text for the technical view."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal

from common.erasure import SYSTEM
from common.events import (
    DirectCostReported,
    LeadCreated,
    LeadCrmDeliveryFailed,
    LeadErased,
    LeadLost,
    LeadMergedInCrm,
    LeadRepeated,
    LeadSentToCrm,
    PaymentAmountSet,
    PaymentCorrected,
    PaymentRegistered,
    PaymentReversed,
    StoredEvent,
    YandexConversionFailed,
    YandexConversionProcessed,
    YandexConversionSkipped,
    YandexDirectConversion,
)
from common.model import Event
from services.dashboard.i18n import Words
from services.dashboard.signals import read_failure

# Why Metrica was not sent a payment, as the dispatcher words it, and the catalogue's word.
SKIPS = (
    ("neither a yclid nor", "skip_no_ids"),
    ("not configured", "skip_not_configured"),
    ("not paid", "skip_not_paid"),
    ("too late", "skip_too_late"),
    ("older than", "skip_too_late"),
)


@dataclass(frozen=True)
class Entry:
    """One event of the history: when (local), what happened (a sentence), how it went
    (ok, bad, money or plain, for its mark), the text a machine wrote when it says more
    than the sentence, a lead it points to, and the event's fields for the technical view."""

    event: Event
    when: str
    sentence: str
    tone: str = ""
    detail: str | None = None
    other_lead: str | None = None
    facts: tuple[tuple[str, str], ...] = ()


def history(events: list[Event], t: Words, kinds: Mapping[str, str] | None = None) -> list[Entry]:
    """The lead's events as sentences, oldest first; a payment's currency carries over to the
    later changes of that payment, which do not repeat it. `kinds`: each configured
    connection's kind, for events that name the connection alone."""
    currency: str | None = None
    entries = []
    for event in events:
        payload = event.payload
        if isinstance(payload, DirectCostReported):
            continue  # a Direct campaign's stream, never a lead's
        if isinstance(payload, PaymentRegistered | PaymentAmountSet | PaymentCorrected):
            currency = payload.currency
        sentence, tone, detail, other = _said(payload, t, currency, kinds or {})
        entries.append(
            Entry(
                event=event,
                when=t.when(event.created_at),
                sentence=sentence,
                tone=tone,
                detail=detail,
                other_lead=other,
                facts=tuple(facts(payload)),
            )
        )
    return entries


def crm_label(t: Words, kind: str | None, connection: str | None) -> str:
    """A CRM by its kind in words (amoCRM, Битрикс24); an HTTP receiver by its name."""
    if kind in ("amocrm", "bitrix24"):
        return t(f"kind_{kind}")
    return f"«{connection}»" if connection else "CRM"


Said = tuple[str, str, str | None, str | None]  # sentence, tone, detail, another lead


def _said(payload: StoredEvent, t: Words, currency: str | None, kinds: Mapping[str, str]) -> Said:
    def money(amount: Decimal) -> str:
        return t.money(amount, currency)

    match payload:
        case LeadCreated(lead=lead):
            return t("tl_created", campaign=lead.campaign_id), "", None, None
        case LeadRepeated():
            return t("tl_repeated"), "", None, None
        case LeadSentToCrm():
            return _delivered(payload, t)
        case LeadCrmDeliveryFailed(reason=reason, connection=None):
            return t("tl_failed_unrouted"), "bad", reason, None
        case LeadCrmDeliveryFailed(reason=reason, connection=connection):
            why = read_failure(reason).why(t)
            crm = crm_label(t, kinds.get(connection or ""), connection)
            return t("tl_failed", crm=crm, why=why), "bad", reason, None
        case PaymentRegistered(pending=True):
            return t("tl_paid_pending"), "money", None, None
        case PaymentRegistered(amount=amount, unmatched_payment_id=attached) if attached:
            return t("tl_paid_by_hand", amount=money(amount)), "money", None, None
        case PaymentRegistered(amount=amount):
            return t("tl_paid", amount=money(amount)), "money", None, None
        case PaymentAmountSet(amount=amount):
            return t("tl_amount_set", amount=money(amount)), "money", None, None
        case PaymentCorrected(amount=amount, previous=previous):
            said = t("tl_corrected", amount=money(amount), previous=money(previous))
            return said, "money", None, None
        case PaymentReversed(amount=amount, reason=reason):
            return t(f"tl_reversed_{reason}", amount=money(amount)), "bad", None, None
        case LeadLost():
            return t("tl_lost"), "bad", None, None
        case YandexDirectConversion():
            return t("tl_uploaded"), "ok", None, None
        case YandexConversionSkipped(reason=reason):
            return t("tl_skipped", why=_skip(reason, t)), "", reason, None
        case YandexConversionFailed(reason=reason):
            return t("tl_conversion_failed"), "bad", reason, None
        case YandexConversionProcessed(linked=linked, reason=reason):
            tone = "ok" if linked == "all" else ""
            return t(f"tl_processed_{linked}"), tone, reason, None
        case LeadMergedInCrm(into_lead_id=into):
            return t("tl_merged", crm=t("kind_amocrm")), "", None, into
        case LeadErased(actor=actor, reason=reason):
            return _erased(actor, reason, t), "", None, None
        case unknown:
            return str(unknown.type), "", None, None


def _erased(actor: str, reason: str, t: Words) -> str:
    if actor == SYSTEM and reason == "retention":
        return t("tl_erased_retention")
    return t("tl_erased_why", actor=actor, reason=reason) if reason else t("tl_erased", actor=actor)


def _delivered(sent: LeadSentToCrm, t: Words) -> Said:
    crm = crm_label(t, sent.kind, sent.connection)
    detail = "; ".join(sent.problems) or None
    if sent.merged and sent.crm_lead_id:
        return t("tl_sent_merged", crm=crm, ref=sent.crm_lead_id), "ok", detail, None
    if sent.crm_lead_id:
        noun = t(f"crm_noun_{sent.kind}") if sent.kind else t("crm_noun_generic")
        said = t("tl_sent", crm=crm, noun=noun, ref=sent.crm_lead_id)
    else:
        said = t("tl_sent_no_ref", crm=crm)
    return said, "ok", detail, None


def _skip(reason: str, t: Words) -> str:
    for phrase, key in SKIPS:
        if phrase in reason:
            return t(key)
    return t("skip_other")


def facts(payload: StoredEvent) -> list[tuple[str, str]]:
    """(field, value) of each field that is set; a submission's own fields for a created or
    repeated lead."""
    shown = payload.lead if isinstance(payload, LeadCreated | LeadRepeated) else payload
    found = []
    for f in fields(shown):
        value = getattr(shown, f.name)
        if value is not None and value is not False and value not in ((), [], {}):
            found.append((f.name, _text(value)))
    return found


def _text(value: object) -> str:
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
