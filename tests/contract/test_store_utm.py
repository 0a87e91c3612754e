"""The contract of utm_stats on every backend: each lead counted once, on the row of its local
creation day, campaign, UTM values and sale's currency, moved as it is paid, corrected,
reversed or lost; rebuild and verify agree with the live rows and verify names a row changed
by hand; migration 0020 counts the leads stored before it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from common import clock
from common.days import day_of
from common.events import LeadLost, PaymentCorrected, PaymentRegistered, PaymentReversed
from common.leads import LeadService
from common.model import NewLead
from common.store import Tx, migrations, open_store
from common.store.replay import rebuild, verify
from tests.contract.kit import migrated_to
from tests.helpers import ZONE, execute, rows

SPRING = {"utm_source": "yandex", "utm_medium": "cpc", "utm_campaign": "spring"}
COLUMNS = "day, campaign_id, utm_source, utm_medium, utm_campaign, utm_content, utm_term"
COUNTS = "currency, leads, lost, sales, revenue_minor"
READ = ("value", "campaign_id", *COUNTS.split(", "))  # a row of UtmRows.level


def table(database: str) -> list[tuple]:
    found = rows(database, f"SELECT {COLUMNS}, {COUNTS} FROM utm_stats ORDER BY {COLUMNS}, 8")
    return [tuple(row.values()) for row in found]


def paid(amount: str, currency: str = "RUB", pending: bool = False) -> PaymentRegistered:
    return PaymentRegistered(Decimal(amount), currency, clock.now_iso(), pending=pending)


async def lead(store, campaign: str, *happened: object, **utm: str) -> str:
    """A lead taken as intake takes it, then its events appended and projected in turn."""

    def unit(tx: Tx) -> str:
        lead_id, _ = LeadService.create_lead(tx, NewLead(campaign_id=campaign, **utm))
        version = 1
        for payload in happened:
            event = tx.events.append(lead_id, version, payload)  # type: ignore[arg-type]
            tx.project(event)
            version = event.version
        return lead_id

    return await store.write(unit)


async def history(store) -> str:
    """Five leads whose sales and losses move them between rows; their day."""
    now = clock.now_iso()
    reversal = PaymentReversed(Decimal("100"), now, "reopened")
    correction = PaymentCorrected(Decimal("2000"), Decimal("1500.50"), "RUB", now)
    first = await lead(store, "a", paid("1500.50"), correction, **SPRING)
    await lead(store, "a", paid("100", "usd"), reversal, **SPRING)  # back among the unpaid
    await lead(store, "a", LeadLost(), **SPRING)
    await lead(store, "a", paid("0", pending=True))  # no UTM values; its amount to come
    await lead(store, "b", LeadLost(), paid("99.99", "EUR"), utm_source="vk", utm_content="x")
    created = rows(store.location, "SELECT created_at FROM leads WHERE id = ?", (first,))
    return day_of(created[0]["created_at"], ZONE).isoformat()


def expected(day: str) -> list[tuple]:
    return [
        (day, "a", "", "", "", "", "", "RUB", 1, 0, 1, 0),
        (day, "a", "yandex", "cpc", "spring", "", "", "", 2, 1, 0, 0),
        (day, "a", "yandex", "cpc", "spring", "", "", "RUB", 1, 0, 1, 200000),
        (day, "b", "vk", "", "", "x", "", "EUR", 1, 0, 1, 9999),
    ]


async def test_each_lead_is_on_its_cohort_row_and_rebuild_and_verify_agree(store, database):
    day = await history(store)
    assert table(database) == expected(day)  # the reversed sale's USD row is gone
    assert await verify(store) == []
    execute(database, "DELETE FROM utm_stats")
    await rebuild(store)
    assert table(database) == expected(day)
    assert await verify(store) == []


async def test_the_report_reads_the_rows_of_its_days(store, database):
    day = await history(store)
    one = date.fromisoformat(day)

    def level(column: str, chosen: dict[str, str | None]) -> Callable[[Tx], list[tuple]]:
        return lambda tx: sorted(
            tuple(r[k] for k in READ) for r in tx.utm.level(column, one, one, chosen)
        )

    medium = await store.read(level("utm_medium", {"utm_source": "yandex"}))
    assert medium == [("cpc", "a", "", 2, 1, 0, 0), ("cpc", "a", "RUB", 1, 0, 1, 200000)]
    assert await store.read(level("utm_term", {"utm_source": None})) == [
        ("", "a", "RUB", 1, 0, 1, 0)
    ]
    earlier = one - timedelta(days=1)
    assert await store.read(lambda tx: tx.utm.level("utm_source", earlier, earlier, {})) == []


async def test_verify_names_a_row_changed_by_hand(store, database):
    day = await history(store)
    execute(database, "UPDATE utm_stats SET lost = 5 WHERE currency = 'EUR'")
    assert sorted(await verify(store)) == [
        f"utm_stats {day} b vk   x  EUR: missing or different in live",
        f"utm_stats {day} b vk   x  EUR: not explained by the events",
    ]


STATS = next(m.number for m in migrations.migrations("sqlite") if m.name.endswith("utm_stats"))
BEFORE = (
    "INSERT INTO leads (id, campaign_id, status, utm_source, utm_term, payment_amount,"
    " payment_currency, paid_at, created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?,"
    " ?, ?, ?, 1)"
)


@pytest.fixture
def unmigrated(request, database, tmp_path: Path) -> str:
    """A database of this test's backend at the migration before 0020's."""
    return migrated_to(request, database, tmp_path, STATS - 1)


def moscow_evening(database: str) -> str:
    """The projection's zone recorded as Moscow's; a time, 21:30 UTC, of the next day there."""
    evening = "2026-03-01T21:30:00.000000Z"
    execute(
        database,
        "INSERT INTO projection_settings (name, value, recorded_at)"
        " VALUES ('timezone', 'Europe/Moscow', ?)",
        (evening,),
    )
    return evening


async def test_leads_stored_before_0020_are_counted_by_its_migration(unmigrated):
    # The cohort is the projection's zone's day.
    evening = moscow_evening(unmigrated)
    leads = [
        ("l1", "a", "paid", "vk", "shoes", "1500.50", "rub", evening),
        ("l2", "a", "paid", "vk", "shoes", None, None, evening),  # pending; RUB
        ("l3", "a", "lost", "vk", "shoes", None, None, None),
        ("l4", "b", "new", None, None, None, None, None),
    ]
    for values in leads:
        execute(unmigrated, BEFORE, (*values, evening, evening))
    store = await open_store(unmigrated, 5.0, zone=ZONE)  # migrates to the latest
    await store.close()
    assert table(unmigrated) == [
        ("2026-03-02", "a", "vk", "", "", "", "shoes", "", 1, 1, 0, 0),
        ("2026-03-02", "a", "vk", "", "", "", "shoes", "RUB", 2, 0, 2, 150050),
        ("2026-03-02", "b", "", "", "", "", "", "", 1, 0, 0, 0),
    ]


async def test_a_sale_undone_on_a_day_without_leads_leaves_no_source_row(store, database):
    """source_stats counts a payment on its own day: paid and reversed on a later day, the
    row of that day holds nothing and goes, so a database migrated to 0018 (which counts from
    the leads and never makes such a row) and a replay agree."""
    lead_id = await lead(store, "a", **SPRING)
    later = (clock.now() + timedelta(days=3)).isoformat().replace("+00:00", "Z")
    sale = PaymentRegistered(Decimal("100"), "RUB", later)
    undone = PaymentReversed(Decimal("100"), later, "reopened")

    def unit(tx: Tx) -> None:
        for version, payload in enumerate((sale, undone), start=1):
            tx.project(tx.events.append(lead_id, version, payload))

    await store.write(unit)
    days = [r["day"] for r in rows(database, "SELECT day FROM source_stats")]
    assert days == [
        day_of(rows(database, "SELECT created_at FROM leads")[0]["created_at"], ZONE).isoformat()
    ]
    await rebuild(store)
    assert await verify(store) == []
    assert [r["day"] for r in rows(database, "SELECT day FROM source_stats")] == days
