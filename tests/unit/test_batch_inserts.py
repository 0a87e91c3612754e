"""A group-commit batch keeps its plain INSERTs and sends them together (common/store/inserts.py):
multi-row VALUES in chunks on both backends. Whatever is kept, a unit must read what it and
the units before it wrote, new keys must be each row's own, and a refused row must fail its
unit alone, with the error its code expects."""

import asyncio

import pytest

from common.errors import ConcurrencyConflict
from common.events import LeadLost
from common.leads import LeadService
from common.model import NewLead
from common.store.inserts import chunks
from tests.helpers import rows, write_together


async def test_a_unit_reads_the_rows_it_and_the_units_before_it_inserted(store):
    made: list[str] = []

    def make_and_read(tx, n):
        lead_id, task_id = LeadService.create_lead(tx, NewLead(campaign_id=f"c{n}"))
        made.append(lead_id)
        found = [tx.leads.find(earlier) for earlier in made]  # this batch's leads so far
        stream = tx.events.read_stream(lead_id)
        return task_id, [lead.campaign_id for lead in found if lead], [e.type for e in stream]

    answers = await asyncio.gather(
        *(store.write(lambda tx, n=n: make_and_read(tx, n)) for n in range(12))
    )
    for n, (_, seen, stream) in enumerate(answers):
        assert f"c{n}" in seen and len(seen) >= 1
        assert [str(t) for t in stream] == ["LEAD_CREATED"]
    tasks = rows(store.location, "SELECT id, lead_id FROM tasks ORDER BY id")
    assert sorted(task_id for task_id, _, _ in answers) == [t["id"] for t in tasks]
    by_task = {t["id"]: t["lead_id"] for t in tasks}
    leads = {r["id"]: r["campaign_id"] for r in rows(store.location, "SELECT * FROM leads")}
    for task_id, seen, _ in answers:  # each answer's task is its own lead's
        assert leads[by_task[task_id]] in seen


async def test_a_refused_row_fails_its_unit_alone(store):
    lead_id, _ = await store.write(lambda tx: LeadService.create_lead(tx, NewLead(campaign_id="a")))

    def stale(tx):  # version 1 exists: a second version 1 is refused by UNIQUE
        tx.events.append(lead_id, 0, LeadLost("test"), position=False)

    def good(tx, n):
        return LeadService.create_lead(tx, NewLead(campaign_id=f"good{n}"))

    reruns = store.writer.reruns
    results = await write_together(store, lambda tx: good(tx, 1), stale, lambda tx: good(tx, 2))
    assert store.writer.reruns > reruns  # its batch ran again, unit by unit
    assert isinstance(results[1], ConcurrencyConflict)
    assert not isinstance(results[0], Exception) and not isinstance(results[2], Exception)
    campaigns = sorted(r["campaign_id"] for r in rows(store.location, "SELECT * FROM leads"))
    assert campaigns == ["a", "good1", "good2"]
    lost = rows(store.location, "SELECT * FROM events WHERE type = 'LEAD_LOST'")
    assert lost == []


async def test_a_refused_row_of_a_batch_of_one_raises_the_conflict(store):
    lead_id, _ = await store.write(lambda tx: LeadService.create_lead(tx, NewLead(campaign_id="a")))
    with pytest.raises(ConcurrencyConflict):
        await store.write(lambda tx: tx.events.append(lead_id, 0, LeadLost("test"), position=False))
    assert rows(store.location, "SELECT * FROM events WHERE type = 'LEAD_LOST'") == []


def test_rows_go_in_power_of_two_chunks():
    assert chunks(23, 16) == [16, 4, 2, 1]
    assert chunks(64, 64) == [64]
    assert chunks(200, 64) == [64, 64, 64, 8]
    assert chunks(5, 1) == [1] * 5
    assert chunks(0, 64) == []


@pytest.mark.parametrize("count", [1, 40, 150])
async def test_every_new_task_id_is_its_own(store, count):
    reruns = store.writer.reruns
    made = await asyncio.gather(
        *(
            store.write(lambda tx, n=n: LeadService.create_lead(tx, NewLead(campaign_id=f"c{n}")))
            for n in range(count)
        )
    )
    stored = {r["lead_id"]: r["id"] for r in rows(store.location, "SELECT id, lead_id FROM tasks")}
    assert {lead_id: task_id for lead_id, task_id in made} == stored
    assert store.writer.reruns == reruns  # every batch's first run stood
