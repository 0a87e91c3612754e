"""How each event type changes `leads`, `campaign_stats`, `daily_stats`, `source_stats`,
`utm_stats`, `utm_medium_stats` and `direct_costs`: one case per type.

Live writes call `project` in the same transaction as the append; rebuild and
verify replay the log through the very same functions, so they cannot disagree.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import assert_never
from zoneinfo import ZoneInfo

from common.contacts import fold
from common.days import day_of
from common.events import (
    DirectCostReported,
    LeadCreated,
    LeadCrmDeliveryFailed,
    LeadErased,
    LeadLost,
    LeadMergedInCrm,
    LeadRepeated,
    LeadSentToCrm,
    Linked,
    PaymentAmountSet,
    PaymentCorrected,
    PaymentRegistered,
    PaymentReversed,
    YandexConversionFailed,
    YandexConversionProcessed,
    YandexConversionSkipped,
    YandexDirectConversion,
)
from common.model import FINAL_STATUSES, LEAD_FIELDS, Event, LeadStatus, NewLead
from common.personal import page_without_query, warnings_without_values
from common.store.costs import replace_day
from common.store.leads import KEY_COLUMNS
from common.store.sql import Row, Sql, dumps, loads
from common.store.utm import UTM_COLUMNS

_NEW_LEAD_COLUMNS = ("id", "campaign_id", "status", *LEAD_FIELDS, "extra")
_NEW_LEAD_COLUMNS += ("created_at", "updated_at", "version", "warnings")
_NEW_LEAD_COLUMNS += KEY_COLUMNS  # how the e-mail and name compare
# The columns of a lead's row that hold the person, emptied by LEAD_ERASED (common.personal).
PERSON_COLUMNS = ("name", "phone", "email", "comment", "yclid", "ym_client_id", *KEY_COLUMNS)
INSERT_LEAD = (
    f"INSERT INTO leads ({', '.join(_NEW_LEAD_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(_NEW_LEAD_COLUMNS))})"
)


def minor_units(amount: Decimal) -> int:
    """Kopecks (or cents) of a decimal amount."""
    return int((amount * 100).to_integral_value())


def _add(sql: Sql, table: str, keys: dict[str, str], **deltas: int) -> None:
    """Add to counters of the row with these keys, creating it at zero first (gathered over
    a group-commit batch and written once per row: common.store.counters)."""
    sql.add(table, keys, deltas)


def _bump(sql: Sql, campaign_id: str, **deltas: int) -> None:
    _add(sql, "campaign_stats", {"campaign_id": campaign_id}, **deltas)


def _bump_both(sql: Sql, campaign_id: str, day: date, **deltas: int) -> None:
    """The campaign's counters and its day's, alike: the days always add up to the campaign.
    The day is the business's (`day_of` a stored time in the store's zone), not UTC's."""
    _bump(sql, campaign_id, **deltas)
    _bump_day(sql, day, campaign_id, **deltas)


def _bump_day(sql: Sql, day: date, campaign_id: str, **deltas: int) -> None:
    _add(sql, "daily_stats", {"day": day.isoformat(), "campaign_id": campaign_id}, **deltas)


def sale_currency(currency: object) -> str:
    """The currency a sale is counted in: upper case, 'RUB' when none was given."""
    return str(currency or "RUB").upper()


def _bump_source(
    sql: Sql, day: date, campaign_id: str, source: str | None, currency: str, **deltas: int
) -> None:
    """The day's counters of the campaign's leads from one utm_source ('' for none), on the
    row of their sales' currency ('' for the leads' own counts): what the overview reads,
    filtered by source or summed over them."""
    keys = {"day": day.isoformat(), "campaign_id": campaign_id, "utm_source": source or ""}
    keys["currency"] = currency
    _add(sql, "source_stats", keys, **deltas)
    if any(delta < 0 for delta in deltas.values()):
        # A sale undone leaves nothing on its currency's row: the row goes, as migrations
        # 0018 and 0025 (which count from the leads) never make such a row.
        sql.run(
            f"DELETE FROM source_stats WHERE {' AND '.join(f'{name} = ?' for name in keys)}"
            " AND leads = 0 AND repeat_leads = 0 AND payments = 0 AND revenue_minor = 0",
            tuple(keys.values()),
        )


def _paid_day(sql: Sql, lead: Row, day: date, currency: object, **deltas: int) -> None:
    """A sale's counters moved on its day: the campaign's, the day's and its source's in the
    sale's currency."""
    campaign, source = str(lead["campaign_id"]), lead["utm_source"]
    _bump_both(sql, campaign, day, **deltas)
    _bump_source(sql, day, campaign, source, sale_currency(currency), **deltas)


def _update_lead(
    sql: Sql,
    event: Event,
    status: LeadStatus | None = None,
    keep: tuple[LeadStatus, ...] = (),
    **values: object,
) -> None:
    """Set columns on the event's lead. Nothing waits for it (on PostgreSQL's pipeline, no
    round trip): the lead exists, as every event but its first is appended after its
    version was read.

    `status` is not set over a status in `keep`: a late delivery report must
    not turn a paid lead back into a delivered one.
    """
    assignments, params = _assignments(event, status, keep, values)
    sql.send(f"UPDATE leads SET {assignments} WHERE id = ?", (*params, event.stream_id))


def _set_lead(
    sql: Sql,
    event: Event,
    status: LeadStatus | None,
    keep: tuple[LeadStatus, ...],
    values: dict[str, object],
    returning: str,
) -> Row:
    """`_update_lead`, waiting for the lead's `returning` columns as they are now."""
    assignments, params = _assignments(event, status, keep, values)
    row = sql.one(
        f"UPDATE leads SET {assignments} WHERE id = ? RETURNING {returning}",
        (*params, event.stream_id),
    )
    if row is None:
        raise LookupError(f"{event.type} for unknown lead {event.stream_id}")
    return row


def _assignments(
    event: Event, status: LeadStatus | None, keep: tuple[LeadStatus, ...], values: dict[str, object]
) -> tuple[str, list[object]]:
    values |= {"updated_at": event.created_at, "version": event.version}
    assignments = [f"{name} = ?" for name in values]
    params = list(values.values())
    if status is not None:
        if keep:
            kept = ", ".join("?" * len(keep))
            assignments.append(f"status = CASE WHEN status IN ({kept}) THEN status ELSE ? END")
        else:
            assignments.append("status = ?")
        params += [*keep, status]
    return ", ".join(assignments), params


def _bump_campaign_of(sql: Sql, event: Event, counter: str, campaign: str | None) -> None:
    """One more on a counter of the campaign of the event's lead: added up over the batch
    when the caller knows the campaign, else read from the lead's row by the statement
    itself, so nothing waits for it."""
    if campaign is not None:
        sql.add("campaign_stats", {"campaign_id": campaign}, {counter: 1})
        return
    sql.send(
        f"INSERT INTO campaign_stats (campaign_id, {counter}) SELECT campaign_id, 1 FROM leads"
        f" WHERE id = ? ON CONFLICT (campaign_id) DO UPDATE"
        f" SET {counter} = campaign_stats.{counter} + excluded.{counter}",
        (event.stream_id,),
    )


# utm_stats (issue 18): each lead counted once, on the row of its cohort (its local creation
# day), campaign, UTM values ('' for none) and the currency of its sale ('' while unpaid).
# A change to whether it is paid or lost, or to its amount, moves its counts: they leave the
# row they were on (a row left with no lead goes, as a count from the leads would have none)
# and come onto the row of its state now. The UTM report reads these rows by day;
# utm_medium_stats (0025) holds the same counts without the three lower UTM values, for the
# report's upper levels and the overview's lost leads.
_STATE = ("status", "paid_at", "payment_amount", "payment_currency")
_COHORT = ", ".join(("campaign_id", "created_at", *UTM_COLUMNS, *_STATE))
Cohort = tuple[dict[str, str], dict[str, int]]
ROLLUPS = {
    "utm_stats": ("day", "campaign_id", *UTM_COLUMNS, "currency"),
    "utm_medium_stats": ("day", "campaign_id", *UTM_COLUMNS[:2], "currency"),
}


def _cohort_minor(amount: str | None) -> int:
    """A stored amount ('1500.00') in kopecks, as the UTM report rounds it; a sale whose
    amount is pending counts none."""
    return int((Decimal(amount) * 100).to_integral_value(ROUND_HALF_UP)) if amount else 0


def _cohort(lead: Row, zone: ZoneInfo) -> Cohort:
    """The lead's utm_stats row (its keys) and what it adds to it."""
    paid = lead["paid_at"] is not None
    keys = {"day": day_of(str(lead["created_at"]), zone).isoformat()}
    keys["campaign_id"] = str(lead["campaign_id"])
    keys |= {name: str(lead[name] or "") for name in UTM_COLUMNS}
    keys["currency"] = sale_currency(lead["payment_currency"]) if paid else ""
    counts = {"leads": 1, "lost": int(lead["status"] == LeadStatus.LOST), "sales": int(paid)}
    counts["revenue_minor"] = _cohort_minor(lead["payment_amount"]) if paid else 0
    return keys, counts


def _join_cohort(sql: Sql, keys: dict[str, str], counts: dict[str, int]) -> None:
    """The lead's counts onto its row of each of the UTM tables."""
    for table, columns in ROLLUPS.items():
        _add(sql, table, {name: keys[name] for name in columns}, **counts)


def _leave_cohort(sql: Sql, keys: dict[str, str], counts: dict[str, int]) -> None:
    for table, columns in ROLLUPS.items():
        where = " AND ".join(f"{name} = ?" for name in columns)
        values = tuple(keys[name] for name in columns)
        left = sql.value(
            f"UPDATE {table} SET {', '.join(f'{name} = {name} - ?' for name in counts)}"
            f" WHERE {where} RETURNING leads",
            (*counts.values(), *values),
        )
        if left == 0:
            sql.run(f"DELETE FROM {table} WHERE {where}", values)


def _update_cohort(
    sql: Sql,
    event: Event,
    zone: ZoneInfo,
    status: LeadStatus | None = None,
    keep: tuple[LeadStatus, ...] = (),
    **values: object,
) -> tuple[Row, Row]:
    """`_update_lead` for a change that may move the lead in utm_stats (paid, its amount,
    lost): one indexed lookup of the lead before, its state after from the update itself.
    The lead's cohort columns before and after."""
    before = sql.one(f"SELECT {_COHORT} FROM leads WHERE id = ?", (event.stream_id,))
    after = _set_lead(sql, event, status, keep, values, _COHORT)
    assert before is not None  # none: the update has raised LookupError
    old, new = _cohort(before, zone), _cohort(after, zone)
    if old != new:
        _leave_cohort(sql, *old)
        _join_cohort(sql, *new)
    return before, after


def _lead_created(
    sql: Sql, event: Event, lead: NewLead, zone: ZoneInfo, repeat: bool = False
) -> None:
    sql.send(
        INSERT_LEAD,
        (
            event.stream_id,
            lead.campaign_id,
            LeadStatus.NEW,
            *(getattr(lead, name) for name in LEAD_FIELDS),
            dumps(lead.extra),
            event.created_at,
            event.created_at,
            event.version,
            dumps(lead.warnings),
            fold(lead.email),
            fold(lead.name),
        ),
    )
    day = day_of(event.created_at, zone)
    _bump_both(sql, lead.campaign_id, day, leads=1)
    _bump_source(sql, day, lead.campaign_id, lead.utm_source, "", leads=1, repeat_leads=int(repeat))
    utm = {name: getattr(lead, name) or "" for name in UTM_COLUMNS}
    cohort = {"day": day.isoformat(), "campaign_id": lead.campaign_id, **utm, "currency": ""}
    _join_cohort(sql, cohort, {"leads": 1})


def _sent_to_crm(sql: Sql, event: Event, sent: LeadSentToCrm, campaign: str | None) -> None:
    _update_lead(
        sql,
        event,
        status=LeadStatus.SENT_TO_CRM,
        keep=FINAL_STATUSES,
        crm_connection=sent.connection,
        crm_lead_id=sent.crm_lead_id,
        last_error=None,
    )
    _bump_campaign_of(sql, event, "leads_delivered", campaign)


def _delivery_failed(
    sql: Sql, event: Event, failed: LeadCrmDeliveryFailed, campaign: str | None
) -> None:
    _update_lead(
        sql,
        event,
        status=LeadStatus.CRM_FAILED,
        keep=FINAL_STATUSES,
        crm_connection=failed.connection,
        last_error=failed.reason,
    )
    _bump_campaign_of(sql, event, "delivery_failed", campaign)


def _payment_registered(sql: Sql, event: Event, payment: PaymentRegistered, zone: ZoneInfo) -> None:
    _, lead = _update_cohort(
        sql,
        event,
        zone,
        status=LeadStatus.PAID,  # also over "lost": a deal reopened and won is paid
        payment_amount=str(payment.amount),
        payment_currency=payment.currency,
        paid_at=payment.paid_at,
        payment_pending=int(payment.pending),
        payment_deal_id=payment.deal_id,
    )
    day, revenue = day_of(payment.paid_at, zone), minor_units(payment.amount)
    _paid_day(sql, lead, day, payment.currency, payments=1, revenue_minor=revenue)


def _payment_amount(
    sql: Sql, event: Event, amount: Decimal, previous: Decimal, zone: ZoneInfo
) -> None:
    """The amount came or changed: revenue moves by the difference, on the day the payment
    counts on, so that each day (and the campaign) holds the sales as the CRM now says them.
    A sale now in another currency moves from that currency's row of source_stats to this."""
    assert isinstance(event.payload, PaymentAmountSet | PaymentCorrected)
    before, lead = _update_cohort(
        sql,
        event,
        zone,
        payment_amount=str(amount),
        payment_currency=event.payload.currency,
        payment_pending=0,
    )
    day, was = day_of(event.payload.paid_at, zone), before["payment_currency"]
    if sale_currency(was) == sale_currency(event.payload.currency):
        delta = minor_units(amount) - minor_units(previous)
        _paid_day(sql, lead, day, was, revenue_minor=delta)
    else:
        _paid_day(sql, lead, day, was, payments=-1, revenue_minor=-minor_units(previous))
        _paid_day(
            sql, lead, day, lead["payment_currency"], payments=1, revenue_minor=minor_units(amount)
        )


def _payment_reversed(sql: Sql, event: Event, reversed_: PaymentReversed, zone: ZoneInfo) -> None:
    """The sale is undone on the day it was counted on; the lead is back in the CRM's hands."""
    before, lead = _update_cohort(
        sql,
        event,
        zone,
        status=LeadStatus.SENT_TO_CRM,
        payment_amount=None,
        payment_currency=None,
        paid_at=None,
        payment_pending=0,
        payment_deal_id=None,
    )
    day, revenue = day_of(reversed_.paid_at, zone), -minor_units(reversed_.amount)
    _paid_day(sql, lead, day, before["payment_currency"], payments=-1, revenue_minor=revenue)


def _lead_lost(sql: Sql, event: Event, zone: ZoneInfo) -> None:
    _, lead = _update_cohort(sql, event, zone, status=LeadStatus.LOST, keep=(LeadStatus.PAID,))
    _bump(sql, str(lead["campaign_id"]), lost=1)


def _conversion_uploaded(sql: Sql, event: Event, campaign: str | None) -> None:
    _update_lead(sql, event, conversion_status="uploaded", last_error=None)
    _bump_campaign_of(sql, event, "conversions_uploaded", campaign)


def _conversion_processed(sql: Sql, event: Event, linked: Linked, campaign: str | None) -> None:
    """Metrica says, per upload, how many rows it linked; a lead's row is known to be linked
    when all of its upload was, and known not to be when none was."""
    status = {"all": "linked", "none": "not_linked", "some": "partly_linked"}.get(linked)
    _update_lead(sql, event, conversion_status=status or "unconfirmed")
    if linked == "all":
        _bump_campaign_of(sql, event, "conversions_linked", campaign)


def _lead_erased(sql: Sql, event: Event) -> None:
    """The person leaves the lead's row (common.personal says what that is); its campaign,
    UTM, status, money and times stay, so no counter moves. A replay of the rewritten events
    reaches the same row: every function here leaves an erased value as it is."""
    row = sql.one("SELECT page_url, referrer, warnings FROM leads WHERE id = ?", (event.stream_id,))
    if row is None:
        raise LookupError(f"{event.type} for unknown lead {event.stream_id}")
    values: dict[str, object] = dict.fromkeys(PERSON_COLUMNS, None)
    values |= {
        "extra": dumps({}),
        "warnings": dumps(warnings_without_values(loads(row["warnings"]) or [])),
        "page_url": page_without_query(row["page_url"]),
        "referrer": page_without_query(row["referrer"]),
        "last_error": None,  # a CRM's error may quote the contact; the timeline keeps it, erased
        "erased_at": event.created_at,
    }
    _set_lead(sql, event, None, (), values, "id")


def project(sql: Sql, event: Event, zone: ZoneInfo, campaign: str | None = None) -> None:
    """Apply one event to the projections, by its type; `zone` decides the days; `campaign`:
    the campaign of the event's lead, if the caller read it in this transaction."""
    match event.payload:
        case LeadCreated(lead=lead, repeat=repeat):
            _lead_created(sql, event, lead, zone, repeat)
        case LeadRepeated():
            _update_lead(sql, event)  # on the timeline; the lead itself does not change
        case LeadSentToCrm() as sent:
            _sent_to_crm(sql, event, sent, campaign)
        case LeadCrmDeliveryFailed() as failed:
            _delivery_failed(sql, event, failed, campaign)
        case PaymentRegistered() as payment:
            _payment_registered(sql, event, payment, zone)
        case PaymentAmountSet(amount=amount):
            _payment_amount(sql, event, amount, Decimal(0), zone)
        case PaymentCorrected(amount=amount, previous=previous):
            _payment_amount(sql, event, amount, previous, zone)
        case PaymentReversed() as reversed_:
            _payment_reversed(sql, event, reversed_, zone)
        case LeadLost():
            _lead_lost(sql, event, zone)
        case YandexDirectConversion():
            _conversion_uploaded(sql, event, campaign)
        case YandexConversionProcessed(linked=linked):
            _conversion_processed(sql, event, linked, campaign)
        case YandexConversionSkipped(reason=reason):
            _update_lead(sql, event, conversion_status="skipped", last_error=reason)
        case YandexConversionFailed(reason=reason):
            _update_lead(sql, event, conversion_status="failed", last_error=reason)
        case LeadMergedInCrm():
            # Shown merged, not "sent" forever; counters unchanged (it was delivered).
            _update_lead(sql, event, status=LeadStatus.MERGED, keep=FINAL_STATUSES)
        case LeadErased():
            _lead_erased(sql, event)
        case DirectCostReported() as cost:
            replace_day(sql, cost)  # a Direct campaign's stream: no lead, no lead counters
        case unknown:
            assert_never(unknown)
