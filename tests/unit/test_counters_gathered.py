"""A group-commit batch adds to each counter row once (common/store/counters.py): the sums
must be exactly what the additions one by one would have made, a unit rolled back must take
its additions with it, and a unit must see its own additions when it reads a counter."""

import asyncio
from decimal import Decimal

from common.events import PaymentRegistered, PaymentReversed
from common.leads import LeadService
from common.model import NewLead
from common.store.counters import lock_order
from common.store.replay import verify
from tests.helpers import ago, rows, stored, write_together


def _lead(n: int) -> NewLead:
    return NewLead(
        campaign_id=f"c{n % 2}",
        phone=f"+7916{n:07d}",
        utm_source="yandex" if n % 3 else None,
        utm_medium="cpc",
        utm_campaign=f"spring-{n % 4}",
    )


async def test_a_batch_of_leads_adds_up_on_every_counter(store):
    await asyncio.gather(
        *(store.write(lambda tx, n=n: LeadService.create_lead(tx, _lead(n))) for n in range(40))
    )
    assert store.writer.units > store.writer.batches  # the leads did share batches
    campaigns = rows(
        store.location, "SELECT campaign_id, leads FROM campaign_stats ORDER BY campaign_id"
    )
    assert [(r["campaign_id"], r["leads"]) for r in campaigns] == [("c0", 20), ("c1", 20)]
    for table in ("daily_stats", "source_stats", "utm_stats", "utm_medium_stats"):
        total = rows(store.location, f"SELECT sum(leads) AS n FROM {table}")[0]["n"]
        assert total == 40, table
    by_source = rows(
        store.location,
        "SELECT utm_source, sum(leads) AS n FROM source_stats GROUP BY utm_source"
        " ORDER BY utm_source",
    )
    assert [(r["utm_source"], r["n"]) for r in by_source] == [("", 14), ("yandex", 26)]
    assert await verify(store) == []  # the replay adds one by one: the same rows


async def test_a_unit_rolled_back_takes_its_additions_with_it(store):
    def broken(tx):
        LeadService.create_lead(tx, NewLead(campaign_id="good", phone="+79160000009"))
        raise ValueError("half-way")

    def good(tx, n):
        return LeadService.create_lead(tx, NewLead(campaign_id="good", phone=f"+7916000000{n}"))

    results = await write_together(store, lambda tx: good(tx, 1), broken, lambda tx: good(tx, 2))
    assert isinstance(results[1], ValueError)
    counted = rows(store.location, "SELECT campaign_id, leads FROM campaign_stats")
    assert [(r["campaign_id"], r["leads"]) for r in counted] == [("good", 2)]
    days = rows(store.location, "SELECT sum(leads) AS n FROM daily_stats")
    assert days[0]["n"] == 2
    assert await verify(store) == []


async def test_a_unit_sees_its_own_additions_when_it_reads_a_counter(store):
    def add_and_read(tx, n):
        LeadService.create_lead(tx, _lead(n))
        return {s.campaign_id: s.leads for s in tx.stats.campaigns()}

    seen = await asyncio.gather(
        *(store.write(lambda tx, n=n: add_and_read(tx, n)) for n in range(6))
    )
    # Whatever batch each ran in, each saw at least its own lead and never more than all.
    for n, counts in enumerate(seen):
        assert 1 <= counts[f"c{n % 2}"] <= 3
    assert max(seen[-1].values()) == 3  # the last saw every lead of its campaign


async def test_a_sale_made_and_undone_in_one_batch_leaves_no_currency_row(store):
    """A negative addition deletes a row left at zero: that DELETE must come after the
    gathered additions, or it finds the row unchanged and the sums make it again."""
    paid_at = stored(ago(minutes=5))

    def sell_and_undo(tx, n):
        lead_id, _ = LeadService.create_lead(tx, _lead(n))
        amount = Decimal("1500.00")
        LeadService.record(tx, lead_id, PaymentRegistered(amount, "USD", paid_at))
        LeadService.record(tx, lead_id, PaymentReversed(amount, paid_at, "reopened"))
        return lead_id

    await asyncio.gather(*(store.write(lambda tx, n=n: sell_and_undo(tx, n)) for n in range(4)))
    currencies = rows(store.location, "SELECT DISTINCT currency FROM source_stats")
    assert [r["currency"] for r in currencies] == [""]  # no USD row left at zero
    counted = rows(
        store.location, "SELECT sum(payments) AS p, sum(revenue_minor) AS r FROM daily_stats"
    )
    assert (counted[0]["p"], counted[0]["r"]) == (0, 0)
    assert await verify(store) == []


def test_rows_are_written_by_table_and_row_whatever_their_counters():
    delivered = ("campaign_stats", ("campaign_id",), ("leads_delivered",))
    failed = ("campaign_stats", ("campaign_id",), ("delivery_failed",))
    daily = ("daily_stats", ("day", "campaign_id"), ("leads",))
    gathered = {
        failed: {("c2",): [1], ("c1",): [2]},
        daily: {("2026-11-30", "c1"): [3]},
        delivered: {("c1",): [4], ("c3",): [5]},
    }
    order = [(shape[0], key, shape[2]) for shape, key, _ in lock_order(gathered)]
    assert order == [
        ("campaign_stats", ("c1",), ("delivery_failed",)),
        ("campaign_stats", ("c1",), ("leads_delivered",)),
        ("campaign_stats", ("c2",), ("delivery_failed",)),
        ("campaign_stats", ("c3",), ("leads_delivered",)),
        ("daily_stats", ("2026-11-30", "c1"), ("leads",)),
    ]
    assert [sums for _, _, sums in lock_order(gathered)] == [[2], [4], [1], [5], [3]]
