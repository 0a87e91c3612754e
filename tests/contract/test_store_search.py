"""The contract of finding leads on every backend: the search (a phone, an e-mail or a name,
without case), the total of a filter, the keys of the leads' answers, the repeat check's
e-mail without case, and the folded contacts migration 0019 gives the leads stored before it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from common import clock
from common.contacts import fold
from common.leads import LeadService
from common.model import LeadStatus, NewLead
from common.search import read_search
from common.store import LeadFilter, migrations, open_store
from tests.contract.kit import count, migrated_to
from tests.helpers import ZONE, execute, rows

PEOPLE = [
    NewLead(campaign_id="a", name="Иван Петров", phone="+79161234567", email="Ivan@Example.ru"),
    NewLead(campaign_id="a", name="ИВАННА", phone="+79160000001", email="ivanna@mail.ru"),
    NewLead(
        campaign_id="b",
        name="Olga 50%_off",
        email="olga@example.ru",
        extra={"Бюджет": "100 000", "Когда": "сейчас"},
    ),
    NewLead(campaign_id="b", name="Пётр", phone="+79169998877", extra={"Бюджет": "50 000"}),
]


async def people(store) -> list[str]:
    made = []
    for lead in PEOPLE:
        lead_id, _ = await store.write(lambda tx, lead=lead: LeadService.create_lead(tx, lead))
        made.append(lead_id)
    return made


def search(typed: str, **filters) -> LeadFilter:
    return LeadFilter(search=read_search(typed, "RU"), **filters)


async def found(store, where: LeadFilter) -> list[str]:
    return [lead.id for lead in await store.read(lambda tx: tx.leads.page(where, 50))]


async def test_the_projection_keeps_the_email_and_name_folded(store, database):
    ids = await people(store)
    kept = rows(database, "SELECT id, email_key, name_key FROM leads WHERE id = ?", (ids[0],))
    assert kept == [{"id": ids[0], "email_key": "ivan@example.ru", "name_key": "иван петров"}]


@pytest.mark.parametrize(
    "typed", ["8 (916) 123-45-67", "+7 916 123 45 67", "89161234567", "9161234567"]
)
async def test_a_phone_in_any_notation_finds_its_lead(store, typed):
    ids = await people(store)
    assert await found(store, search(typed)) == [ids[0]]


async def test_a_part_of_a_phone_finds_every_lead_with_those_digits(store):
    ids = await people(store)
    assert sorted(await found(store, search("+7 916"))) == sorted([ids[0], ids[1], ids[3]])
    assert await found(store, search("9988")) == [ids[3]]


@pytest.mark.parametrize("typed", ["ivan@example.ru", "IVAN@EXAMPLE.RU", "Ivan@Example.RU"])
async def test_an_email_finds_its_lead_whatever_its_case(store, typed):
    ids = await people(store)
    assert await found(store, search(typed)) == [ids[0]]


async def test_a_part_of_a_name_or_email_finds_its_leads_without_case(store):
    ids = await people(store)
    assert sorted(await found(store, search("иван"))) == sorted(ids[:2])  # Иван, ИВАННА
    assert await found(store, search("ПЕТРОВ")) == [ids[0]]
    assert await found(store, search("пётр")) == [ids[3]]
    assert sorted(await found(store, search("EXAMPLE"))) == sorted([ids[0], ids[2]])  # e-mails
    # LIKE's own signs in a search are letters, not wildcards.
    assert await found(store, search("50%_")) == [ids[2]]
    assert await found(store, search("%")) == [ids[2]]
    assert await found(store, search("_")) == [ids[2]]


async def test_a_lead_id_finds_that_lead_and_a_search_joins_the_filters(store):
    ids = await people(store)
    assert await found(store, search(ids[2].upper())) == [ids[2]]
    assert await found(store, search("иван", campaign="b")) == []
    assert await found(store, search("иван", status=LeadStatus.NEW, campaign="a"))


async def test_the_total_is_the_database_s_count(store, database):
    await people(store)
    for where, sql, params in (
        (LeadFilter(), "TRUE", ()),
        (LeadFilter(campaign="a"), "campaign_id = ?", ("a",)),
        (search("иван"), "name_key LIKE ?", ("%иван%",)),
        (search("+7 916", campaign="b"), "campaign_id = ? AND phone LIKE ?", ("b", "%7916%")),
        (LeadFilter(date_from=clock.now().date() + timedelta(days=2)), "FALSE", ()),
    ):
        total = await store.read(lambda tx, where=where: tx.leads.count(where))
        assert total == count(database, "leads", sql, params), where


async def test_the_answers_keys_are_counted_most_common_first(store, database):
    await people(store)
    keys = await store.read(lambda tx: tx.leads.extra_keys(LeadFilter()))
    assert keys == [("Бюджет", 2), ("Когда", 1)]
    assert await store.read(lambda tx: tx.leads.extra_keys(LeadFilter(campaign="a"))) == []
    limited = await store.read(lambda tx: tx.leads.extra_keys(LeadFilter(), most=1))
    assert limited == [("Бюджет", 2)]
    assert count(database, "leads", "extra <> '{}'") == 2


async def test_the_repeat_check_compares_emails_without_case(store):
    first = NewLead(campaign_id="Spring", email="Ivan@Example.ru")
    lead_id, _ = await store.write(lambda tx: LeadService.create_lead(tx, first))
    since = clock.iso(clock.now() - timedelta(minutes=30))

    def recent(email: str, campaign: str = "spring"):
        return lambda tx: tx.leads.recent_with_contact(campaign, None, email, since)

    assert await store.read(recent("ivan@example.ru")) == lead_id
    assert await store.read(recent("IVAN@example.ru")) == lead_id
    assert await store.read(recent("ivan@example.ru", "autumn")) is None
    assert await store.read(recent("ivanna@example.ru")) is None


KEYS = next(m.number for m in migrations.migrations("sqlite") if m.name.endswith("contact_keys"))
BEFORE = (
    "INSERT INTO leads (id, campaign_id, status, name, email, created_at, updated_at, version)"
    " VALUES (?, 'Spring', 'new', ?, ?, ?, ?, 1)"
)


@pytest.fixture
def unmigrated(request, database, tmp_path: Path) -> str:
    """A database of this test's backend at the migration before 0019's."""
    return migrated_to(request, database, tmp_path, KEYS - 1)


async def test_leads_stored_before_0019_get_their_contacts_folded(unmigrated):
    now = clock.now_iso()
    execute(unmigrated, BEFORE, ("l1", "ИВАН Петров", "Ivan.Petrov@Example.ru", now, now))
    execute(unmigrated, BEFORE, ("l2", None, None, now, now))
    store = await open_store(unmigrated, 5.0, zone=ZONE)  # migrates to the latest
    try:
        kept = rows(unmigrated, "SELECT id, email_key, name_key FROM leads ORDER BY id")
        assert kept == [
            {"id": "l1", "email_key": fold("Ivan.Petrov@Example.ru"), "name_key": "иван петров"},
            {"id": "l2", "email_key": None, "name_key": None},
        ]
        since = clock.iso(clock.now() - timedelta(minutes=30))
        first = await store.read(
            lambda tx: tx.leads.recent_with_contact("spring", None, "ivan.petrov@example.ru", since)
        )
        assert first == "l1"  # the repeat check finds the lead stored in another case
        assert await found(store, search("иван")) == ["l1"]
    finally:
        await store.close()
