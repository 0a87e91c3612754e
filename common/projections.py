"""How each event type changes `leads` and `campaign_stats`: one function per type.

`daily_stats` (per day and campaign, for charts) is kept the same way.
Live writes call `project` in the same transaction as the append; rebuild and
verify replay the log through the very same functions, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

import aiosqlite

from common.events import Event, EventType, dumps

Projector = Callable[[aiosqlite.Connection, Event], Awaitable[None]]

LEAD_FIELDS = (
    "name",
    "phone",
    "email",
    "comment",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "yclid",
    "ym_client_id",
    "page_url",
    "referrer",
)


def minor_units(amount: str) -> int:
    """Kopecks (or cents) of a decimal amount string."""
    return int((Decimal(amount) * 100).to_integral_value())


async def _add(tx: aiosqlite.Connection, table: str, keys: dict[str, str], **deltas: int) -> None:
    """Add to counters of the row with these keys, creating it at zero first."""
    columns = ", ".join([*keys, *deltas])
    updates = ", ".join(f"{name} = {name} + excluded.{name}" for name in deltas)
    marks = ", ".join("?" for _ in [*keys, *deltas])
    await tx.execute(
        f"INSERT INTO {table} ({columns}) VALUES ({marks})"
        f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}",
        (*keys.values(), *deltas.values()),
    )


async def _bump(tx: aiosqlite.Connection, campaign_id: str, **deltas: int) -> None:
    await _add(tx, "campaign_stats", {"campaign_id": campaign_id}, **deltas)


async def _bump_day(tx: aiosqlite.Connection, day: str, campaign_id: str, **deltas: int) -> None:
    await _add(tx, "daily_stats", {"day": day[:10], "campaign_id": campaign_id}, **deltas)


FINAL = ("paid", "lost")


async def _update_lead(
    tx: aiosqlite.Connection,
    event: Event,
    status: str | None = None,
    keep: tuple[str, ...] = (),
    **values: object,
) -> str:
    """Set columns on the event's lead; return its campaign.

    `status` is not set over a status in `keep`: a late delivery report must
    not turn a paid lead back into a delivered one.
    """
    values |= {"updated_at": event.created_at, "version": event.version}
    assignments = [f"{name} = ?" for name in values]
    params = list(values.values())
    if status is not None:
        kept = ", ".join("?" for _ in keep)
        assignments.append(
            f"status = CASE WHEN status IN ({kept}) THEN status ELSE ? END"
            if keep
            else "status = ?"
        )
        params += [*keep, status]
    async with tx.execute(
        f"UPDATE leads SET {', '.join(assignments)} WHERE id = ? RETURNING campaign_id",
        (*params, event.stream_id),
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        raise LookupError(f"{event.type} for unknown lead {event.stream_id}")
    return row[0]


async def _lead_created(tx: aiosqlite.Connection, event: Event) -> None:
    data = event.data
    columns = ("id", "campaign_id", "status", *LEAD_FIELDS, "extra")
    columns += ("created_at", "updated_at", "version")
    values = (event.stream_id, data["campaign_id"], "new")
    values += tuple(data.get(name) for name in LEAD_FIELDS)
    values += (dumps(data.get("extra", {})), event.created_at, event.created_at, event.version)
    marks = ", ".join("?" for _ in columns)
    await tx.execute(f"INSERT INTO leads ({', '.join(columns)}) VALUES ({marks})", values)
    await _bump(tx, data["campaign_id"], leads=1)
    await _bump_day(tx, event.created_at, data["campaign_id"], leads=1)


async def _sent_to_crm(tx: aiosqlite.Connection, event: Event) -> None:
    campaign = await _update_lead(
        tx,
        event,
        status="sent_to_crm",
        keep=FINAL,
        crm_connection=event.data["connection"],
        crm_lead_id=event.data.get("crm_lead_id"),
        last_error=None,
    )
    await _bump(tx, campaign, leads_delivered=1)


async def _delivery_failed(tx: aiosqlite.Connection, event: Event) -> None:
    campaign = await _update_lead(
        tx,
        event,
        status="crm_failed",
        keep=FINAL,
        crm_connection=event.data.get("connection"),
        last_error=event.data["reason"],
    )
    await _bump(tx, campaign, delivery_failed=1)


async def _payment_registered(tx: aiosqlite.Connection, event: Event) -> None:
    data = event.data
    campaign = await _update_lead(
        tx,
        event,
        status="paid",  # also over "lost": a deal reopened and won is paid
        payment_amount=data["amount"],
        payment_currency=data["currency"],
        paid_at=data["paid_at"],
    )
    revenue = minor_units(data["amount"])
    await _bump(tx, campaign, payments=1, revenue_minor=revenue)
    await _bump_day(tx, data["paid_at"], campaign, payments=1, revenue_minor=revenue)


async def _lead_lost(tx: aiosqlite.Connection, event: Event) -> None:
    campaign = await _update_lead(tx, event, status="lost", keep=("paid",))
    await _bump(tx, campaign, lost=1)


async def _conversion_uploaded(tx: aiosqlite.Connection, event: Event) -> None:
    campaign = await _update_lead(tx, event, conversion_status="uploaded", last_error=None)
    await _bump(tx, campaign, conversions_uploaded=1)


async def _conversion_skipped(tx: aiosqlite.Connection, event: Event) -> None:
    await _update_lead(tx, event, conversion_status="skipped", last_error=event.data["reason"])


async def _conversion_failed(tx: aiosqlite.Connection, event: Event) -> None:
    await _update_lead(tx, event, conversion_status="failed", last_error=event.data["reason"])


PROJECTORS: dict[EventType, Projector] = {
    EventType.LEAD_CREATED: _lead_created,
    EventType.LEAD_SENT_TO_CRM: _sent_to_crm,
    EventType.LEAD_CRM_DELIVERY_FAILED: _delivery_failed,
    EventType.PAYMENT_REGISTERED: _payment_registered,
    EventType.LEAD_LOST: _lead_lost,
    EventType.YANDEX_DIRECT_CONVERSION: _conversion_uploaded,
    EventType.YANDEX_CONVERSION_SKIPPED: _conversion_skipped,
    EventType.YANDEX_CONVERSION_FAILED: _conversion_failed,
}


async def project(tx: aiosqlite.Connection, event: Event) -> None:
    await PROJECTORS[event.type](tx, event)
