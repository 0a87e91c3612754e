"""The verbs the cost report reads with, on every backend, checked against the database's own
answer: a stream's version, `direct_costs` by day, and the period reads of `daily_stats` and
`leads` (a period is [since, until): its first moment in, its end out)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from common.days import day_of
from common.events import DirectCostReported
from common.store.costs import micros
from tests.contract.kit import append
from tests.helpers import ZONE, rows, stored
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
            tx.stats.by_source(str(first), str(last)),
            tx.utm.lost(first, last),
        )

    days, utm, by_source, lost = await store.read(read)
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
    # The period's payments by campaign and currency, as the leads hold them: the EUR sale
    # is paid the day after the period.
    raw_paid = rows(
        database,
        "SELECT campaign_id, upper(payment_currency) AS currency, count(*) AS payments"
        " FROM leads WHERE paid_at >= ? AND paid_at < ? GROUP BY 1, 2",
        (since, until),
    )
    paid = [(r["campaign_id"], r["currency"], r["payments"]) for r in by_source if r["currency"]]
    assert paid == [(r["campaign_id"], r["currency"], r["payments"]) for r in raw_paid]
    assert paid == [("in", "RUB", 1)]
    # The period's lost leads by the local day they came, as the leads hold them.
    raw_lost = rows(
        database,
        "SELECT campaign_id, created_at FROM leads WHERE status = 'lost'"
        " AND created_at >= ? AND created_at < ?",
        (since, until),
    )
    assert [dict(r) | {"lost": int(r["lost"])} for r in lost] == [
        {"day": day_of(r["created_at"], ZONE).isoformat(), "campaign_id": "in", "lost": 1}
        for r in raw_lost
    ]
