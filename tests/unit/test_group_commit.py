"""Concurrent units share commits, yet each is all-or-nothing on its own."""

import asyncio

import pytest

from common.leads import LeadService
from common.tasks import TaskQueue
from tests.helpers import rows


async def test_concurrent_units_share_commits(db):
    leads = LeadService(db, TaskQueue(db))
    made = await asyncio.gather(
        *(
            db.transaction(lambda tx, n=n: leads.create_lead(tx, {"campaign_id": f"c{n}"}, {}))
            for n in range(50)
        )
    )
    assert len({lead_id for lead_id, _ in made}) == 50
    assert len(rows(db.path, "SELECT * FROM leads")) == 50
    commits = db._commits
    assert commits.units == 50 and commits.batches < 50  # fewer fsyncs than requests


async def test_a_failing_unit_rolls_back_alone(db):
    leads = LeadService(db, TaskQueue(db))

    async def broken(tx):
        await leads.create_lead(tx, {"campaign_id": "broken"}, {})
        raise ValueError("half-way")

    async def good(tx):
        return await leads.create_lead(tx, {"campaign_id": "good"}, {})

    results = await asyncio.gather(
        db.transaction(good),
        db.transaction(broken),
        db.transaction(good),
        return_exceptions=True,
    )
    assert isinstance(results[1], ValueError)
    assert not isinstance(results[0], Exception) and not isinstance(results[2], Exception)
    campaigns = [r["campaign_id"] for r in rows(db.path, "SELECT campaign_id FROM leads")]
    assert campaigns == ["good", "good"]
    assert [r["campaign_id"] for r in rows(db.path, "SELECT * FROM campaign_stats")] == ["good"]
    events = rows(db.path, "SELECT * FROM events")
    assert len(events) == 2  # nothing of the broken unit survived


async def test_a_unit_that_fails_alone_raises_to_its_caller(db):
    async def bad(tx):
        await tx.execute("INSERT INTO no_such_table VALUES (1)")

    with pytest.raises(Exception, match="no_such_table"):
        await db.transaction(bad)
    assert await db.transaction(lambda tx: _one(tx)) == 1  # the connection is still usable


async def _one(tx):
    async with tx.execute("SELECT 1") as cursor:
        return (await cursor.fetchone())[0]
