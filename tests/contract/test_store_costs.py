"""The verbs the cost report reads with, on every backend, checked against the database's own
answer: a stream's version, `direct_costs` by day, and the period reads of `daily_stats` and
`leads` (a period is [since, until): its first moment in, its end out)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from common.events import DirectCostReported
from common.store.costs import micros
from tests.contract.kit import append
from tests.helpers import execute, rows, stored
from tests.reporting import Leads, cost, local, record, today


async def test_a_stream_s_version_is_its_last_event_s(store, database):
    assert await store.read(lambda tx: tx.events.version("direct:1")) == 0
    await store.write(lambda tx: [append(tx, "direct:1", n) for n in range(3)])
    await store.write(lambda tx: append(tx, "other"))
    [row] = rows(database, "SELECT max(version) AS v FROM events WHERE stream_id = 'direct:1'")
    assert await store.read(lambda tx: tx.events.version("direct:1")) == row["v"] == 3


async def test_costs_are_read_by_day_and_campaign_with_both_ends_of_a_range(store, database):
    days = [today() - timedelta(days=n) for n in range(4)]
    await record(store, *(cost(day, id_, f"{n}.5") for n, day in enumerate(days) for id_ in "ab"))
    found = await store.read(lambda tx: tx.costs.between(days[2], days[1]))
    raw = rows(
        database,
        "SELECT day, direct_campaign_id, cost_micros FROM direct_costs"
        " WHERE day >= ? AND day <= ? ORDER BY day, direct_campaign_id",
        (str(days[2]), str(days[1])),
    )
    assert [(str(c.day), c.direct_campaign_id, micros(c.cost)) for c in found] == [
        (r["day"], r["direct_campaign_id"], r["cost_micros"]) for r in raw
    ]
    assert len(found) == 4
    assert await store.read(lambda tx: tx.costs.get(days[3], "b")) == DirectCostReported(
        days[3], "b", "Direct b", 100, 10, Decimal("3.5"), "RUB"
    )
    assert await store.read(lambda tx: tx.costs.get(days[0] + timedelta(days=1), "a")) is None


async def test_period_reads_of_the_counters_and_the_leads(store, database):
    first, last = today() - timedelta(days=3), today() - timedelta(days=1)
    leads = Leads(store)
    await leads.add("in", local(first, 0, 0), utm="u1", pay="5", paid=local(first, 0, 0))
    await leads.add("in", local(last, 23, 59), utm="U1", lost=True)
    await leads.add("out", local(last + timedelta(days=1), 0, 0), utm="u1", pay="7", currency="EUR")
    await leads.add("out", local(first - timedelta(days=1), 23, 59), lost=True)
    await leads.settle()
    since, until = stored(local(first, 0, 0)), stored(local(last + timedelta(days=1), 0, 0))

    def read(tx):
        return (
            tx.stats.days(str(first), str(last)),
            tx.leads.utm_campaigns(since, until),
            tx.leads.currencies_paid(),
            tx.leads.paid_currencies(since, until),
            tx.leads.paid_by_minute(since, until, other_than="USD"),
            tx.leads.lost_by_minute(since, until),
        )

    days, utm, ever, currencies, paid, lost = await store.read(read)
    raw_days = rows(
        database,
        "SELECT day, campaign_id, leads, payments, revenue_minor FROM daily_stats"
        " WHERE day >= ? AND day <= ? ORDER BY day",
        (str(first), str(last)),
    )
    assert sorted(map(dict, days), key=str) == sorted(raw_days, key=str)
    assert sorted((r["utm_campaign"], r["campaign_id"], r["leads"]) for r in utm) == [
        ("U1", "in", 1),
        ("u1", "in", 1),
    ]
    raw_ever = rows(
        database,
        "SELECT DISTINCT payment_currency FROM leads WHERE paid_at IS NOT NULL"
        " ORDER BY payment_currency",
    )
    assert ever == [r["payment_currency"] for r in raw_ever] == ["EUR", "RUB"]
    assert [dict(r) for r in currencies] == [
        {"campaign_id": "in", "payment_currency": "RUB", "sales": 1}
    ]
    [raw_paid] = rows(
        database, "SELECT paid_at FROM leads WHERE campaign_id = 'in' AND paid_at IS NOT NULL"
    )
    assert [dict(r) for r in paid] == [
        {"payment_currency": "RUB", "minute": raw_paid["paid_at"][:16], "sales": 1}
    ]
    assert await store.read(lambda tx: tx.leads.paid_by_minute(since, until, "RUB")) == []
    [raw_lost] = rows(
        database, "SELECT created_at FROM leads WHERE campaign_id = 'in' AND status = 'lost'"
    )
    assert [dict(r) for r in lost] == [
        {"campaign_id": "in", "minute": raw_lost["created_at"][:16], "leads": 1}
    ]
    # A paid lead whose payment was taken back is no longer among the period's payments.
    execute(database, "UPDATE leads SET paid_at = NULL WHERE campaign_id = 'in'")
    assert await store.read(lambda tx: tx.leads.paid_currencies(since, until)) == []
    assert await store.read(lambda tx: tx.leads.currencies_paid()) == ["EUR"]
    assert await store.read(lambda tx: tx.leads.currencies_paid(most=0)) == []
