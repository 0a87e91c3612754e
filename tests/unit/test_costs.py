"""Direct's costs as events: a re-import replaces a day's figures, an unchanged one appends
nothing, and rebuild and verify cover `direct_costs` (on both backends)."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest

from common.costs import CostService
from common.events import DirectCostReported
from common.model import EventType
from common.store.codec import event_data, event_of
from common.store.replay import rebuild, verify
from tests.contract.kit import count
from tests.helpers import execute, rows
from tests.reporting import cost, record, today


def costs_of(database: str) -> list[dict]:
    return rows(
        database,
        "SELECT day, direct_campaign_id, campaign_name, impressions, clicks, cost_micros,"
        " currency FROM direct_costs ORDER BY day, direct_campaign_id",
    )


async def test_a_reimported_day_replaces_its_figures(store, database):
    day = today() - timedelta(days=1)
    assert await record(store, cost(day, "101", "1500.25", clicks=30)) == 1
    assert await record(store, cost(day, "101", "1800.00", clicks=41)) == 1
    [row] = costs_of(database)
    assert (row["cost_micros"], row["clicks"], row["currency"]) == (1_800_000_000, 41, "RUB")
    stream = rows(
        database,
        "SELECT version, type, data FROM events WHERE stream_id = 'direct:101' ORDER BY version",
    )
    assert [(r["version"], r["type"]) for r in stream] == [
        (1, "DIRECT_COST_REPORTED"),
        (2, "DIRECT_COST_REPORTED"),
    ]
    assert json.loads(stream[1]["data"])["cost"] == "1800.00"  # the whole day, not a delta
    assert await verify(store) == []


async def test_an_unchanged_import_appends_nothing(store, database):
    days = [today() - timedelta(days=n) for n in (2, 1, 0)]
    imported = [cost(day, id_, f"{n}00.5") for n, day in enumerate(days) for id_ in ("7", "8")]
    assert await record(store, *imported) == 6
    before = count(database, "events")
    assert await record(store, *imported) == 0
    assert count(database, "events") == before == 6
    # Today changed for one campaign: one event, that campaign's next version.
    changed = [*imported[:-1], cost(days[2], "8", "250.75")]
    assert await record(store, *changed) == 1
    last = rows(database, "SELECT stream_id, version FROM events ORDER BY position DESC LIMIT 1")
    assert last == [{"stream_id": "direct:8", "version": 4}]
    assert [r["cost_micros"] for r in costs_of(database)][-1] == 250_750_000


async def test_a_cost_finer_than_a_micro_is_kept_in_micros_and_reads_back_equal(store, database):
    day = today()
    assert await record(store, cost(day, "5", "10.1234567")) == 1
    assert await record(store, cost(day, "5", "10.1234567")) == 0
    assert costs_of(database)[0]["cost_micros"] == 10_123_457
    assert await store.read(lambda tx: tx.costs.get(day, "5")) == DirectCostReported(
        day, "5", "Direct 5", 100, 10, Decimal("10.123457"), "RUB"
    )


@pytest.mark.parametrize("amount", ["NaN", "-1", "Infinity"])
async def test_a_cost_that_is_no_amount_is_refused_and_writes_nothing(store, database, amount):
    with pytest.raises(ValueError, match="not an amount"):
        await record(store, cost(today(), "5", amount))
    assert count(database, "events") == 0


async def test_verify_names_a_tampered_cost_row_and_rebuild_repairs_it(store, database):
    day = today() - timedelta(days=3)
    await record(store, cost(day, "42", "999.99"), cost(day, "43", "1.00"))
    assert await verify(store) == []
    execute(
        database, "UPDATE direct_costs SET cost_micros = cost_micros + 1 WHERE day = ?", (str(day),)
    )
    execute(database, "DELETE FROM direct_costs WHERE direct_campaign_id = '43'")
    problems = await verify(store)
    assert f"direct_costs {day} 42: missing or different in live" in problems
    assert f"direct_costs {day} 42: not explained by the events" in problems
    assert f"direct_costs {day} 43: missing or different in live" in problems
    await rebuild(store)
    assert await verify(store) == []
    assert [r["cost_micros"] for r in costs_of(database)] == [999_990_000, 1_000_000]


async def test_costs_of_several_campaigns_in_one_unit_take_each_stream_s_versions(store, database):
    day = today()
    rows_ = [cost(day - timedelta(days=n), id_, "5") for n in range(3) for id_ in ("1", "2")]
    await store.write(lambda tx: CostService.record(tx, rows_, "KZT", {"source": "direct"}))
    streams = rows(
        database,
        "SELECT stream_id, max(version) AS v, count(*) AS n FROM events GROUP BY stream_id"
        " ORDER BY stream_id",
    )
    assert streams == [
        {"stream_id": "direct:1", "v": 3, "n": 3},
        {"stream_id": "direct:2", "v": 3, "n": 3},
    ]
    assert {r["currency"] for r in costs_of(database)} == {"KZT"}
    metadata = rows(database, "SELECT DISTINCT metadata FROM events")
    assert [json.loads(r["metadata"]) for r in metadata] == [{"source": "direct"}]


def test_the_cost_event_is_stored_in_its_own_shape():
    day = today()
    event = DirectCostReported(day, "123", "Поиск", 1000, 37, Decimal("1234.50"), "RUB")
    data = {
        "day": day.isoformat(),
        "direct_campaign_id": "123",
        "campaign_name": "Поиск",
        "impressions": 1000,
        "clicks": 37,
        "cost": "1234.50",
        "currency": "RUB",
    }
    assert event_data(event) == data
    assert event_of(EventType.DIRECT_COST_REPORTED, data) == event
