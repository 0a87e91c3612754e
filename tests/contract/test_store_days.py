"""Days are the business's (dashboard.timezone), on every backend: daily_stats and the date
filters count a lead or a payment on its day in the store's zone; the zone the days were
counted in is recorded, a store opened with another is refused, and rebuild re-counts them."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from common.events import PaymentCorrected, PaymentRegistered, PaymentReversed
from common.leads import LeadService
from common.model import NewLead
from common.store import LeadFilter, Store, ZoneChanged, open_store
from common.store.replay import rebuild, verify
from tests.contract.kit import lead_at
from tests.helpers import execute, last_clock_change, local, rows, stored

MOSCOW, BERLIN, UTC = (ZoneInfo(name) for name in ("Europe/Moscow", "Europe/Berlin", "UTC"))
ONE_DAY = timedelta(days=1)


@asynccontextmanager
async def opened(database: str, zone: ZoneInfo, rebuilding: bool = False):
    store = await open_store(database, 1.0, zone=zone, rebuilding=rebuilding)
    try:
        yield store
    finally:
        await store.close()


def daily(database: str, column: str = "leads") -> dict[str, int]:
    """Days with something in `column`, from the table itself."""
    found = rows(database, f"SELECT day, {column} FROM daily_stats WHERE {column} <> 0")
    return {row["day"]: int(row[column]) for row in found}


async def listed(store: Store, first: date, last: date) -> set[str]:
    where = LeadFilter(date_from=first, date_to=last)
    return {lead.id for lead in await store.read(lambda tx: tx.leads.page(where, 100))}


def recorded_zone(database: str) -> list[str]:
    return [row["value"] for row in rows(database, "SELECT value FROM projection_settings")]


async def test_a_lead_counts_on_its_moscow_day(store, database):
    """00:30 Moscow is 21:30 UTC the day before: it counts on the Moscow day, as 23:30 does."""
    early, late = local(MOSCOW, 2, 0, 30), local(MOSCOW, 2, 23, 30)
    day = early.date()
    assert stored(early)[:10] == str(day - ONE_DAY)
    ids = {}
    for name, moment in (
        ("before", local(MOSCOW, 3, 23, 30)),
        ("early", early),
        ("late", late),
        ("after", local(MOSCOW, 1, 0, 30)),
    ):
        ids[name] = await store.write(lead_at(moment))
    assert daily(database) == {str(day - ONE_DAY): 1, str(day): 2, str(day + ONE_DAY): 1}
    assert await listed(store, day, day) == {ids["early"], ids["late"]}
    assert await listed(store, day, day + ONE_DAY) == {ids["early"], ids["late"], ids["after"]}
    assert await listed(store, day - ONE_DAY, day - ONE_DAY) == {ids["before"]}
    assert await verify(store) == []


async def test_a_payment_its_correction_and_reversal_count_on_its_moscow_day(store, database):
    day = local(MOSCOW, 2, 12).date()
    paid = [
        (local(MOSCOW, 2, 0, 30), "100"),  # corrected to 150 below
        (local(MOSCOW, 2, 23, 30), "40"),  # reversed below
        (local(MOSCOW, 3, 23, 30), "7"),
    ]
    ids = []
    for moment, amount in paid:
        lead_id, _ = await store.write(
            lambda tx: LeadService.create_lead(tx, NewLead(campaign_id="c"))
        )
        payment = PaymentRegistered(Decimal(amount), "RUB", stored(moment))
        await store.write(lambda tx, i=lead_id, p=payment: LeadService.record(tx, i, p))
        ids.append(lead_id)
    assert daily(database, "payments") == {str(day): 2, str(day - ONE_DAY): 1}
    early, late = (stored(moment) for moment, _ in paid[:2])
    changes = [
        (ids[0], PaymentCorrected(Decimal(150), Decimal(100), "RUB", early)),
        (ids[1], PaymentReversed(Decimal(40), late, "lost")),
    ]
    for lead_id, change in changes:
        await store.write(lambda tx, i=lead_id, c=change: LeadService.record(tx, i, c))
    assert daily(database, "payments") == {str(day): 1, str(day - ONE_DAY): 1}
    assert daily(database, "revenue_minor") == {str(day): 15000, str(day - ONE_DAY): 700}
    assert await verify(store) == []


async def test_days_follow_the_zone_on_a_day_its_clocks_change(database):
    """Berlin's day of a clock change is 23 or 25 hours long, its night starting at one
    offset and ending at the other: its first and last half hours are on it, the half hours
    around it are not (no one fixed offset gets all four right)."""
    day = last_clock_change(BERLIN)
    moments = [
        datetime.combine(day, time(0, 30), BERLIN),
        datetime.combine(day, time(23, 30), BERLIN),
    ]
    around = [
        datetime.combine(day - ONE_DAY, time(23, 30), BERLIN),
        datetime.combine(day + ONE_DAY, time(0, 30), BERLIN),
    ]
    async with opened(database, BERLIN) as store:
        ids = [await store.write(lead_at(moment)) for moment in moments]
        for moment in around:
            await store.write(lead_at(moment))
        payment = PaymentRegistered(Decimal(5), "EUR", stored(moments[1]))
        await store.write(lambda tx: LeadService.record(tx, ids[0], payment))
        assert daily(database, "payments") == {str(day): 1}
        assert daily(database) == {str(day - ONE_DAY): 1, str(day): 2, str(day + ONE_DAY): 1}
        assert await listed(store, day, day) == set(ids)
        assert await verify(store) == []
    assert recorded_zone(database) == ["Europe/Berlin"]


async def test_verify_names_days_counted_in_another_zone_and_rebuild_moves_them(database):
    """A database from before days were zoned counted UTC days: it records the configured
    zone on open, verify names the daily_stats (source_stats, utm_stats, utm_medium_stats)
    rows on the wrong day, rebuild moves them."""
    early = local(MOSCOW, 2, 0, 30)
    day = early.date()
    async with opened(database, UTC) as store:
        await store.write(lead_at(early))
    execute(database, "DELETE FROM projection_settings")  # as before the zone was recorded
    assert daily(database) == {str(day - ONE_DAY): 1}
    async with opened(database, MOSCOW) as store:
        assert recorded_zone(database) == ["Europe/Moscow"]
        problems = await verify(store)
        assert sorted(problems) == [
            f"daily_stats {day - ONE_DAY} c: not explained by the events",
            f"daily_stats {day} c: missing or different in live",
            f"source_stats {day - ONE_DAY} c  : not explained by the events",
            f"source_stats {day} c  : missing or different in live",
            f"utm_medium_stats {day - ONE_DAY} c   : not explained by the events",
            f"utm_medium_stats {day} c   : missing or different in live",
            f"utm_stats {day - ONE_DAY} c      : not explained by the events",
            f"utm_stats {day} c      : missing or different in live",
        ]
        await rebuild(store)
        assert await verify(store) == []
    assert daily(database) == {str(day): 1}


async def test_a_store_opened_in_another_zone_is_refused_until_rebuild(store, database):
    assert recorded_zone(database) == ["Europe/Moscow"]  # a new database: the configured zone
    early = local(MOSCOW, 2, 0, 30)
    await store.write(lead_at(early))
    with pytest.raises(ZoneChanged) as refused:
        await open_store(database, 1.0, zone=BERLIN)
    message = str(refused.value)
    assert (
        "counted in Europe/Moscow" in message and "dashboard.timezone is Europe/Berlin" in message
    )
    assert "leadrelay rebuild" in message
    assert recorded_zone(database) == ["Europe/Moscow"]  # the refusal changed nothing

    async with opened(database, BERLIN, rebuilding=True) as rebuilding:
        assert await rebuild(rebuilding) == 1
    assert recorded_zone(database) == ["Europe/Berlin"]
    assert daily(database) == {str(early.astimezone(BERLIN).date()): 1}  # 22:30 Berlin, before
    async with opened(database, BERLIN) as berlin:
        assert await verify(berlin) == []
    with pytest.raises(ZoneChanged):
        await open_store(database, 1.0, zone=MOSCOW)
