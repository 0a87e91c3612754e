"""The contract of migration 0025's counters on every backend: source_stats by the currency of
its sales, utm_medium_stats as utm_stats without its three lower UTM values; kept by the
events, rebuilt and verified alike, and filled by the migration for the rows before it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from common import clock
from common.events import PaymentCorrected
from common.store import migrations, open_store
from common.store.replay import rebuild, verify
from tests.contract.kit import migrated_to
from tests.contract.test_store_utm import BEFORE, SPRING, history, lead, moscow_evening, paid
from tests.helpers import ZONE, execute, rows

SOURCES = "day, campaign_id, utm_source, currency, leads, repeat_leads, payments, revenue_minor"
MEDIA = "day, campaign_id, utm_source, utm_medium, currency, leads, lost, sales, revenue_minor"
# utm_stats summed as utm_medium_stats sums it: what the upper levels must read alike.
SUMMED = (
    "SELECT day, campaign_id, utm_source, utm_medium, currency, sum(leads) AS leads,"
    " sum(lost) AS lost, sum(sales) AS sales, sum(revenue_minor) AS revenue_minor"
    " FROM utm_stats GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5"
)


def table(database: str, columns: str, name: str) -> list[tuple]:
    order = ", ".join(str(n) for n in range(1, columns.count(",") - 2))
    found = rows(database, f"SELECT {columns} FROM {name} ORDER BY {order}")
    return [tuple(int(v) if isinstance(v, Decimal) else v for v in row.values()) for row in found]


def summed(database: str) -> list[tuple]:
    return [
        tuple(int(v) if isinstance(v, Decimal) else v for v in r.values())
        for r in rows(database, SUMMED)
    ]


async def test_sales_are_on_their_currency_row_and_rebuild_and_verify_agree(store, database):
    day = await history(store)
    expected_sources = [
        (day, "a", "", "", 1, 0, 0, 0),
        (day, "a", "", "RUB", 0, 0, 1, 0),  # pending: its amount still to come
        (day, "a", "yandex", "", 3, 0, 0, 0),
        (day, "a", "yandex", "RUB", 0, 0, 1, 200000),  # corrected; the USD sale reversed
        (day, "b", "vk", "", 1, 0, 0, 0),
        (day, "b", "vk", "EUR", 0, 0, 1, 9999),
    ]
    expected_media = [
        (day, "a", "", "", "RUB", 1, 0, 1, 0),
        (day, "a", "yandex", "cpc", "", 2, 1, 0, 0),
        (day, "a", "yandex", "cpc", "RUB", 1, 0, 1, 200000),
        (day, "b", "vk", "", "EUR", 1, 0, 1, 9999),
    ]
    assert table(database, SOURCES, "source_stats") == expected_sources
    assert table(database, MEDIA, "utm_medium_stats") == expected_media == summed(database)
    assert await verify(store) == []
    execute(database, "DELETE FROM utm_medium_stats")
    execute(database, "DELETE FROM source_stats")
    await rebuild(store)
    assert table(database, SOURCES, "source_stats") == expected_sources
    assert table(database, MEDIA, "utm_medium_stats") == expected_media
    assert await verify(store) == []


async def test_a_sale_corrected_into_another_currency_moves_to_its_row(store, database):
    now = clock.now_iso()
    into_euros = PaymentCorrected(Decimal("90"), Decimal("100"), "eur", now)
    await lead(store, "a", paid("100", "USD"), into_euros, **SPRING)
    sales = rows(database, "SELECT currency, payments, revenue_minor FROM source_stats")
    assert [tuple(r.values()) for r in sales if r["currency"]] == [("EUR", 1, 9000)]
    assert table(database, MEDIA, "utm_medium_stats")[0][4:] == ("EUR", 1, 0, 1, 9000)
    assert await verify(store) == []


async def test_verify_names_a_rollup_row_changed_by_hand(store, database):
    day = await history(store)
    execute(database, "UPDATE utm_medium_stats SET lost = 5 WHERE currency = 'EUR'")
    execute(database, "UPDATE source_stats SET payments = 7 WHERE currency = 'EUR'")
    assert sorted(await verify(store)) == [
        f"source_stats {day} b vk EUR: missing or different in live",
        f"source_stats {day} b vk EUR: not explained by the events",
        f"utm_medium_stats {day} b vk  EUR: missing or different in live",
        f"utm_medium_stats {day} b vk  EUR: not explained by the events",
    ]


ROLLUPS = next(m.number for m in migrations.migrations("sqlite") if m.name.endswith("rollups"))


@pytest.fixture
def unmigrated(request, database, tmp_path: Path) -> str:
    """A database of this test's backend at the migration before 0025's."""
    return migrated_to(request, database, tmp_path, ROLLUPS - 1)


async def test_counters_stored_before_0025_are_kept_and_split_by_currency(unmigrated):
    evening = moscow_evening(unmigrated)  # days are the projection's zone's
    leads = [
        ("l1", "a", "paid", "vk", "shoes", "1500.50", "rub", evening),
        ("l2", "a", "paid", "vk", "shoes", "20", "USD", evening),
        ("l3", "a", "lost", "vk", "shoes", None, None, None),
    ]
    for values in leads:
        execute(unmigrated, BEFORE, (*values, evening, evening))
    # The counters as 0018 and 0020 left them; the repeat lead is known from its event only.
    execute(
        unmigrated,
        "INSERT INTO source_stats (day, campaign_id, utm_source, leads, repeat_leads, payments,"
        " revenue_minor) VALUES ('2026-03-02', 'a', 'vk', 3, 1, 2, 152050)",
    )
    execute(
        unmigrated,
        "INSERT INTO utm_stats (day, campaign_id, utm_source, utm_medium, utm_campaign,"
        " utm_content, utm_term, currency, leads, lost, sales, revenue_minor) VALUES"
        " ('2026-03-02', 'a', 'vk', '', '', '', 'shoes', '', 1, 1, 0, 0),"
        " ('2026-03-02', 'a', 'vk', '', '', '', 'shoes', 'RUB', 1, 0, 1, 150050),"
        " ('2026-03-02', 'a', 'vk', '', '', 'x', 'other', 'RUB', 2, 0, 2, 100)",
    )
    store = await open_store(unmigrated, 5.0, zone=ZONE)  # migrates to the latest
    await store.close()
    assert table(unmigrated, SOURCES, "source_stats") == [
        ("2026-03-02", "a", "vk", "", 3, 1, 0, 0),
        ("2026-03-02", "a", "vk", "RUB", 0, 0, 1, 150050),
        ("2026-03-02", "a", "vk", "USD", 0, 0, 1, 2000),
    ]
    assert table(unmigrated, MEDIA, "utm_medium_stats") == [
        ("2026-03-02", "a", "vk", "", "", 1, 1, 0, 0),
        ("2026-03-02", "a", "vk", "", "RUB", 3, 0, 3, 150150),
    ]
