"""The domain's types, each defined once: a lead, its statuses, events, tasks and notices.

Everything above the storage package (services, views, integrations) speaks in
these types; only `common.store` turns them into rows and back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

if TYPE_CHECKING:
    from common.events import StoredEvent
    from common.tasks import TaskPayload


class LeadStatus(StrEnum):
    NEW = "new"
    SENT_TO_CRM = "sent_to_crm"
    CRM_FAILED = "crm_failed"
    PAID = "paid"
    LOST = "lost"
    # amoCRM's duplicate control joined it to a CRM lead another lead of ours is on.
    MERGED = "merged"


class EventType(StrEnum):
    LEAD_CREATED = "LEAD_CREATED"
    LEAD_SENT_TO_CRM = "LEAD_SENT_TO_CRM"
    LEAD_CRM_DELIVERY_FAILED = "LEAD_CRM_DELIVERY_FAILED"
    PAYMENT_REGISTERED = "PAYMENT_REGISTERED"
    LEAD_LOST = "LEAD_LOST"
    YANDEX_DIRECT_CONVERSION = "YANDEX_DIRECT_CONVERSION"
    YANDEX_CONVERSION_SKIPPED = "YANDEX_CONVERSION_SKIPPED"
    YANDEX_CONVERSION_FAILED = "YANDEX_CONVERSION_FAILED"
    # Metrica finished processing the upload that carried the conversion: linked or not.
    YANDEX_CONVERSION_PROCESSED = "YANDEX_CONVERSION_PROCESSED"
    LEAD_REPEATED = "LEAD_REPEATED"  # the same client sent the form again soon after
    LEAD_MERGED_IN_CRM = "LEAD_MERGED_IN_CRM"  # the CRM joined it to another lead of ours
    # The CRM changed its mind about a payment: the amount came, changed, or the sale is undone.
    PAYMENT_AMOUNT_SET = "PAYMENT_AMOUNT_SET"
    PAYMENT_CORRECTED = "PAYMENT_CORRECTED"
    PAYMENT_REVERSED = "PAYMENT_REVERSED"
    # Yandex Direct's figures for one campaign on one day (a stream per Direct campaign).
    DIRECT_COST_REPORTED = "DIRECT_COST_REPORTED"
    # The person's data was erased from the lead's events and rows (on request or by retention).
    LEAD_ERASED = "LEAD_ERASED"


class TaskType(StrEnum):
    SEND_TO_CRM = "send_to_crm"
    SEND_TO_YANDEX = "send_to_yandex_direct"
    RESOLVE_DEAL = "resolve_crm_deal"  # a Bitrix24 deal notice whose deal is still to be read
    CHECK_YANDEX_UPLOAD = "check_yandex_upload"  # has Metrica processed the upload yet?
    IMPORT_DIRECT_COSTS = "import_direct_costs"  # Yandex Direct's costs of a range of days
    ERASE_EXPIRED = "erase_expired_leads"  # retention: erase the personal data of old leads
    SEND_ALERT = (
        "send_alert"  # tell one Telegram chat or e-mail recipient about a lead or a problem
    )


class Role(StrEnum):
    """What a dashboard user may do: an admin everything; staff work with leads (view,
    export, retry a lead, attach a payment) but change no settings and run no bulk actions."""

    ADMIN = "admin"
    STAFF = "staff"


class TaskStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


# JSON as the standard library reads and writes it: what may cross an edge untyped.
Json: TypeAlias = None | bool | int | float | str | list["Json"] | dict[str, "Json"]
JsonObject: TypeAlias = dict[str, Json]
# What an event records besides its change: the request or task it came from, who did it.
Metadata: TypeAlias = Mapping[str, str | int]


def campaign_key(campaign_id: str) -> str:
    """How two campaign ids compare: without case. Tilda's forms script lower-cases the
    landing URL before it keeps its UTM, so a campaign configured as `Summer` arrives as
    `summer`; the id itself is kept as received."""
    return campaign_id.casefold()


def _sent() -> Any:
    """A field a landing page sends: stored on the lead, passed on to the CRM."""
    return field(default=None, metadata={"sent": True})


@dataclass(frozen=True, slots=True, kw_only=True)
class NewLead:
    """A lead as a landing page submitted it, validated: what LEAD_CREATED records."""

    campaign_id: str
    name: str | None = _sent()
    phone: str | None = _sent()  # E.164
    email: str | None = _sent()
    comment: str | None = _sent()
    utm_source: str | None = _sent()
    utm_medium: str | None = _sent()
    utm_campaign: str | None = _sent()
    utm_content: str | None = _sent()
    utm_term: str | None = _sent()
    yclid: str | None = _sent()
    ym_client_id: str | None = _sent()
    page_url: str | None = _sent()
    referrer: str | None = _sent()
    extra: dict[str, str] = field(default_factory=dict)
    # Optional fields the lead was accepted without, or with shortened: {field, value, reason}.
    warnings: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class Lead(NewLead):
    """One lead as the `leads` projection holds it: what was sent, and what became of it."""

    id: str
    status: LeadStatus
    crm_connection: str | None = None
    crm_lead_id: str | None = None
    last_error: str | None = None
    payment_amount: str | None = None  # a Decimal as text, e.g. "15000.00"
    payment_currency: str | None = None
    paid_at: str | None = None
    conversion_status: str | None = None
    created_at: str = ""
    updated_at: str = ""
    version: int = 0
    payment_pending: bool = False  # won, its amount not typed in the CRM yet
    payment_deal_id: str | None = None  # the CRM deal that paid it, when the CRM has deals

    def as_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in LEAD_COLUMNS}


# The fields a landing page sends, in the order they are shown and exported.
LEAD_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(NewLead) if f.metadata.get("sent"))
UTM_FIELDS: tuple[str, ...] = tuple(name for name in LEAD_FIELDS if name.startswith("utm_"))
_LATER = ("payment_pending", "payment_deal_id")  # added by migration 0012, after `warnings`
_OUTCOME = tuple(
    f.name for f in fields(Lead) if f.name not in {g.name for g in fields(NewLead)} | {*_LATER}
)
# The leads table's columns in its order (later migrations added columns at the end).
LEAD_COLUMNS: tuple[str, ...] = (
    "id",
    "campaign_id",
    "status",
    *LEAD_FIELDS,
    "extra",
    *(name for name in _OUTCOME if name not in ("id", "status")),
    "warnings",
    *_LATER,
)
FINAL_STATUSES = (LeadStatus.PAID, LeadStatus.LOST)


@dataclass(frozen=True, slots=True)
class Event:
    """One stored event: a change (one of `common.events`) to the stream `stream_id`: a lead's
    id, or `direct:<id>` for the costs of a Yandex Direct campaign."""

    stream_id: str
    version: int
    payload: StoredEvent
    metadata: Metadata = field(default_factory=dict)
    created_at: str = ""
    position: int = 0

    @property
    def type(self) -> EventType:
        return self.payload.type


@dataclass(frozen=True, slots=True)
class Task:
    id: int
    payload: TaskPayload
    status: TaskStatus
    attempts: int
    max_attempts: int
    run_after: str
    locked_until: str | None
    last_error: str | None
    result: JsonObject | None
    created_at: str
    updated_at: str
    lead_id: str | None = None  # the lead the task is about, if any
    lead: Lead | None = None  # the task's lead as it was when claimed, when asked for

    @property
    def type(self) -> TaskType:
        return self.payload.type

    @property
    def exhausted(self) -> bool:
        return self.attempts >= self.max_attempts


@dataclass(frozen=True)
class Delivered:
    """What a CRM said when it took a lead."""

    crm_lead_id: str | None
    merged: bool = False  # the CRM's duplicate control joined it to an existing CRM lead
    problems: tuple[str, ...] = ()  # what went wrong after the lead itself was taken


# "deal": a Bitrix24 notice that names a deal, still to be read with crm.deal.get;
# "deleted": the CRM deleted the lead or deal.
Outcome = Literal["paid", "lost", "other", "deal", "deleted"]


@dataclass(frozen=True)
class Notice:
    """One lead's news in a CRM webhook: won (paid), lost, or anything else."""

    outcome: Outcome
    crm_lead_id: str | None = None
    lead_id: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    paid_at: str | None = None
    note: str = ""
    deal_id: str | None = None


@dataclass(frozen=True)
class CampaignStats:
    campaign_id: str
    leads: int = 0
    leads_delivered: int = 0
    delivery_failed: int = 0
    payments: int = 0
    revenue_minor: int = 0  # kopecks (1/100 of the unit)
    lost: int = 0
    conversions_uploaded: int = 0
    conversions_linked: int = 0  # Metrica joined them to a visit

    @property
    def conversion(self) -> float:
        """Lead → payment conversion, in per cent."""
        return round(100 * self.payments / self.leads, 1) if self.leads else 0.0


@dataclass(frozen=True)
class OAuthTokens:
    """An access/refresh pair as a CRM's token endpoint issued it; never shown in a repr, so a
    logged object or traceback cannot carry it."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: float  # seconds the access token lives from now


@dataclass(frozen=True)
class CostRow:
    """One Direct campaign's figures for one day (in the business's zone), as the Reports
    service gave them; money in the account's currency, exact."""

    day: date
    direct_campaign_id: str
    campaign_name: str
    impressions: int
    clicks: int
    cost: Decimal
