"""The domain's events: one frozen dataclass per event type, its fields typed.

Code that reads an event matches on its class; only `common.store.codec` turns these into
the stored JSON and back (the stored shape of each type stays what earlier versions wrote).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import ClassVar, Literal, TypeAlias

from common.model import EventType, NewLead

# How much of a Metrica upload was joined to visits; "unknown" when it could not be learnt.
Linked = Literal["all", "none", "some", "unknown"]


@dataclass(frozen=True, slots=True)
class LeadCreated:
    """A landing page sent a new lead."""

    type: ClassVar[EventType] = EventType.LEAD_CREATED
    lead: NewLead
    # Its phone or e-mail was on an earlier lead when it came (decided at intake, kept in the
    # event so a replay counts it alike); leads from before this flag read as first ones.
    repeat: bool = False


@dataclass(frozen=True, slots=True)
class LeadRepeated:
    """The same client sent the form again soon after: the submission, on the first lead."""

    type: ClassVar[EventType] = EventType.LEAD_REPEATED
    lead: NewLead


@dataclass(frozen=True, slots=True)
class LeadSentToCrm:
    type: ClassVar[EventType] = EventType.LEAD_SENT_TO_CRM
    connection: str
    kind: str | None = None  # amocrm, bitrix24 or generic
    crm_lead_id: str | None = None
    merged: bool = False  # the CRM's duplicate control joined it to a CRM lead it had
    problems: tuple[str, ...] = ()  # what went wrong after the lead itself was taken


@dataclass(frozen=True, slots=True)
class LeadCrmDeliveryFailed:
    type: ClassVar[EventType] = EventType.LEAD_CRM_DELIVERY_FAILED
    reason: str
    connection: str | None = None  # None: the campaign has no route to a CRM


@dataclass(frozen=True, slots=True)
class PaymentRegistered:
    type: ClassVar[EventType] = EventType.PAYMENT_REGISTERED
    amount: Decimal  # stored as its exact text, e.g. "15000.00"
    currency: str
    paid_at: str
    source: str | None = None  # the CRM connection that reported it
    unmatched_payment_id: int | None = None  # a person attached this unmatched payment
    pending: bool = False  # won with an empty or 0 amount: the amount is still to come
    deal_id: str | None = None  # the CRM deal that was won, when the CRM has deals


@dataclass(frozen=True, slots=True)
class PaymentAmountSet:
    """The amount of a payment recorded as pending came: revenue gets it, on the payment's
    day (`paid_at`, as recorded)."""

    type: ClassVar[EventType] = EventType.PAYMENT_AMOUNT_SET
    amount: Decimal
    currency: str
    paid_at: str
    source: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentCorrected:
    """The CRM now says a different amount for a paid lead: revenue moves by the difference,
    on the payment's day."""

    type: ClassVar[EventType] = EventType.PAYMENT_CORRECTED
    amount: Decimal
    previous: Decimal
    currency: str
    paid_at: str
    source: str | None = None


# Why a payment was undone: the deal went back to a working stage, was lost, or was deleted.
Reversal = Literal["reopened", "lost", "deleted"]


@dataclass(frozen=True, slots=True)
class PaymentReversed:
    """The sale is undone: payments - 1 and revenue - amount, on the payment's day; the lead
    is no longer paid."""

    type: ClassVar[EventType] = EventType.PAYMENT_REVERSED
    amount: Decimal  # what was counted, after any corrections
    paid_at: str
    reason: Reversal
    source: str | None = None


@dataclass(frozen=True, slots=True)
class LeadLost:
    type: ClassVar[EventType] = EventType.LEAD_LOST
    source: str | None = None


@dataclass(frozen=True, slots=True)
class YandexDirectConversion:
    """The payment went to Metrica as an offline conversion, in upload `upload_id`."""

    type: ClassVar[EventType] = EventType.YANDEX_DIRECT_CONVERSION
    upload_id: str
    # Always written; optional so that a row without them (older tools wrote some) still reads.
    counter_id: int | None = None
    target: str | None = None
    id_type: Literal["yclid", "client_id"] | None = None


@dataclass(frozen=True, slots=True)
class YandexConversionSkipped:
    type: ClassVar[EventType] = EventType.YANDEX_CONVERSION_SKIPPED
    reason: str


@dataclass(frozen=True, slots=True)
class YandexConversionFailed:
    type: ClassVar[EventType] = EventType.YANDEX_CONVERSION_FAILED
    reason: str


@dataclass(frozen=True, slots=True)
class YandexConversionProcessed:
    """Metrica finished (or could not be asked about) the upload that carried the conversion;
    its counts are of the whole upload."""

    type: ClassVar[EventType] = EventType.YANDEX_CONVERSION_PROCESSED
    upload_id: str
    linked: Linked
    status: str | None = None
    line_quantity: int | None = None
    linked_quantity: int | None = None
    user_not_found_quantity: int | None = None
    goal_not_found_quantity: int | None = None
    reason: str | None = None  # why it is not known


@dataclass(frozen=True, slots=True)
class LeadMergedInCrm:
    """amoCRM's duplicate control joined this lead to CRM lead `crm_lead_id`, which lead
    `into_lead_id` of ours is on: that lead's news (a payment) is the CRM lead's."""

    type: ClassVar[EventType] = EventType.LEAD_MERGED_IN_CRM
    connection: str
    crm_lead_id: str
    into_lead_id: str


@dataclass(frozen=True, slots=True)
class DirectCostReported:
    """Yandex Direct's figures for one of its campaigns on one day, as its Reports service
    gave them: they replace whatever was reported for that day and campaign before. Stream
    `direct:<direct_campaign_id>` (`common.costs.cost_stream`), not a lead's."""

    type: ClassVar[EventType] = EventType.DIRECT_COST_REPORTED
    day: date  # stored as YYYY-MM-DD
    direct_campaign_id: str
    campaign_name: str
    impressions: int
    clicks: int
    cost: Decimal  # stored as its exact text, at most 6 decimal places (Direct's micros)
    currency: str  # the Direct account's (`direct.currency`)


@dataclass(frozen=True, slots=True)
class LeadErased:
    """The person's name, contacts, comment, answers and client ids were removed from every
    event of this lead and every row about it (common.erasure); what the lead was worth, where
    it came from and what became of it stay. When: the event's time."""

    type: ClassVar[EventType] = EventType.LEAD_ERASED
    actor: str  # who asked: a dashboard user, `cli:<user>`, or `system` (retention)
    reason: str = ""  # why, as they typed it (contacts in it are erased too)


LeadEvent: TypeAlias = (
    LeadCreated
    | LeadRepeated
    | LeadSentToCrm
    | LeadCrmDeliveryFailed
    | PaymentRegistered
    | PaymentAmountSet
    | PaymentCorrected
    | PaymentReversed
    | LeadLost
    | YandexDirectConversion
    | YandexConversionSkipped
    | YandexConversionFailed
    | YandexConversionProcessed
    | LeadMergedInCrm
    | LeadErased
)
# Every event a stream may hold: a lead's, or a Direct campaign's costs.
StoredEvent: TypeAlias = LeadEvent | DirectCostReported
EVENT_CLASSES: dict[EventType, type[StoredEvent]] = {
    cls.type: cls
    for cls in (
        LeadCreated,
        LeadRepeated,
        LeadSentToCrm,
        LeadCrmDeliveryFailed,
        PaymentRegistered,
        PaymentAmountSet,
        PaymentCorrected,
        PaymentReversed,
        LeadLost,
        YandexDirectConversion,
        YandexConversionSkipped,
        YandexConversionFailed,
        YandexConversionProcessed,
        LeadMergedInCrm,
        LeadErased,
        DirectCostReported,
    )
}
