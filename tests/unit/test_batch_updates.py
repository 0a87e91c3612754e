"""A group-commit batch on PostgreSQL keeps its leads' UPDATEs and sends those of one text
together (common/store/postgres/updates.py); SQLite sends each. On both, every lead must end
with its own values, a later update of the same lead must win, a read must see the updates
before it, and a refused update must fail its unit alone."""

import pytest

from common.events import LeadSentToCrm
from common.leads import LeadService
from common.model import LeadStatus, NewLead
from common.store.postgres.updates import gathered, takes
from tests.helpers import rows, write_together


async def _leads(store, count: int) -> list[str]:
    def make(tx):
        return [LeadService.create_lead(tx, NewLead(campaign_id=f"c{n}"))[0] for n in range(count)]

    return await store.write(make)


def _stored(store) -> dict[str, dict]:
    return {r["id"]: r for r in rows(store.location, "SELECT * FROM leads")}


@pytest.mark.parametrize("count", [1, 3, 70])  # 70: sixteen at a time, then chunks of 4 and 2
async def test_leads_updated_in_one_batch_each_get_their_own_values(store, count):
    made = await _leads(store, count)

    def deliver_all(tx):  # as a settle does: versions and campaigns known, nothing read
        for n, lead_id in enumerate(made):
            sent = LeadSentToCrm(connection=f"crm{n % 2}", crm_lead_id=f"x{n}")
            LeadService.record(tx, lead_id, sent, known_version=1, campaign=f"c{n}")

    reruns = store.writer.reruns
    await store.write(deliver_all)
    assert store.writer.reruns == reruns
    stored = _stored(store)
    for n, lead_id in enumerate(made):
        lead = stored[lead_id]
        assert (lead["crm_lead_id"], lead["crm_connection"]) == (f"x{n}", f"crm{n % 2}")
        assert (lead["status"], lead["version"], lead["last_error"]) == (
            LeadStatus.SENT_TO_CRM,
            2,
            None,
        )


@pytest.mark.parametrize("others", [1, 29])  # the first lead's second row behind 3 rows, 31
async def test_a_lead_updated_twice_in_a_batch_ends_with_the_second(store, others):
    first, second, *rest = await _leads(store, 2 + others)

    def sent(crm_lead_id):
        return LeadSentToCrm(connection="crm", crm_lead_id=crm_lead_id)

    def twice(tx):  # versions and campaigns known, as a settle knows them: nothing read
        LeadService.record(tx, first, sent("a"), known_version=1, campaign="c0")
        LeadService.record(tx, second, sent("b"), known_version=1, campaign="c1")
        for lead_id in rest:
            LeadService.record(tx, lead_id, sent("r"), known_version=1, campaign="c")
        # PostgreSQL's UPDATE … FROM changes a row once whatever VALUES rows match it, and
        # says which one is "not readily predictable": the first lead's rows go apart. (Its
        # hash join here takes the last, so this test cannot see rows that did not.)
        LeadService.record(tx, first, sent("c"), known_version=2, campaign="c0")
        between = tx.leads.find(second)  # a read sees what the batch wrote before it
        LeadService.record(tx, second, sent("d"))
        return between.crm_lead_id

    reruns = store.writer.reruns
    assert await store.write(twice) == "b"
    assert store.writer.reruns == reruns  # its first run stood: nothing came out of order
    stored = _stored(store)
    assert (stored[first]["crm_lead_id"], stored[first]["version"]) == ("c", 3)
    assert (stored[second]["crm_lead_id"], stored[second]["version"]) == ("d", 3)
    assert {stored[lead_id]["crm_lead_id"] for lead_id in rest} <= {"r"}


async def test_a_refused_update_fails_its_unit_alone(store):
    made = await _leads(store, 3)

    def deliver(lead_id):
        return lambda tx: LeadService.record(
            tx, lead_id, LeadSentToCrm(connection="crm", crm_lead_id=lead_id)
        )

    def refused(tx):  # campaign_id is NOT NULL
        tx.sql.send("UPDATE leads SET campaign_id = ? WHERE id = ?", (None, made[1]))

    reruns = store.writer.reruns
    results = await write_together(store, deliver(made[0]), refused, deliver(made[2]))
    assert store.writer.reruns > reruns  # the refusal came at the batch's end, for all of it
    assert isinstance(results[1], Exception)
    assert not isinstance(results[0], Exception) and not isinstance(results[2], Exception)
    stored = _stored(store)
    assert [stored[lead_id]["crm_lead_id"] for lead_id in made] == [made[0], None, made[2]]
    assert stored[made[1]]["campaign_id"] == "c1"


async def test_an_int_and_a_text_for_one_column_are_each_kept_as_sent(store):
    made = await _leads(store, 4)
    given = [7, "007", None, "x"]

    def update(tx):
        for lead_id, value in zip(made, given, strict=True):
            tx.sql.send("UPDATE leads SET crm_lead_id = ? WHERE id = ?", (value, lead_id))

    reruns = store.writer.reruns
    await store.write(update)
    assert store.writer.reruns == reruns
    stored = _stored(store)
    assert [stored[lead_id]["crm_lead_id"] for lead_id in made] == ["7", "007", None, "x"]


def test_an_update_of_many_rows_takes_each_parameter_from_its_row():
    one = (
        "UPDATE leads SET a = ?, status = CASE WHEN status IN (?, ?) THEN status ELSE ? END"
        " WHERE id = ?"
    )
    assert gathered(one, 2) == (
        "UPDATE leads SET a = v.c1, status = CASE WHEN status IN (v.c2, v.c3) THEN status"
        " ELSE v.c4 END FROM (VALUES (?, ?, ?, ?, ?), (?, ?, ?, ?, ?)) AS v(c1, c2, c3, c4, c5)"
        " WHERE leads.id = v.c5"
    )


@pytest.mark.parametrize(
    ("sql", "kept"),
    [
        ("UPDATE leads SET a = ? WHERE id = ?", True),
        ("UPDATE leads SET a = (SELECT b FROM c WHERE d = ?) WHERE id = ?", False),
        ("UPDATE leads SET a = ? WHERE id = ? RETURNING a", False),
        ("UPDATE tasks SET a = ? WHERE id = ?", False),
        ("UPDATE leads SET a = ? WHERE phone = ?", False),
        ("UPDATE leads SET a = c.x FROM c WHERE id = ?", False),
    ],
)
def test_only_an_update_of_one_lead_by_its_key_without_a_subquery_is_kept(sql, kept):
    assert takes(sql) is kept
