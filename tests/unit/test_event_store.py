import pytest

from common.errors import ConcurrencyConflict
from common.events import EventStore, EventType


async def test_append_and_read_stream(db):
    async def write(tx):
        await EventStore.append(tx, "lead-1", 0, EventType.LEAD_CREATED, {"campaign_id": "a"})
        await EventStore.append(tx, "lead-1", 1, EventType.LEAD_LOST, {"source": "amo"})
        await EventStore.append(tx, "lead-2", 0, EventType.LEAD_CREATED, {"campaign_id": "b"})

    await db.transaction(write)
    store = EventStore(db)
    stream = await store.read_stream("lead-1")
    assert [(e.version, e.type) for e in stream] == [
        (1, EventType.LEAD_CREATED),
        (2, EventType.LEAD_LOST),
    ]
    assert [e.stream_id for e in await store.read_all(after=1)] == ["lead-1", "lead-2"]
    assert await store.count() == 3


async def test_stale_expected_version_is_a_conflict_and_writes_nothing(db):
    await db.transaction(
        lambda tx: EventStore.append(tx, "lead-1", 0, EventType.LEAD_CREATED, {"campaign_id": "a"})
    )

    async def stale(tx):
        await EventStore.append(tx, "lead-1", 1, EventType.LEAD_LOST, {})
        # A second writer that read version 0 too:
        await EventStore.append(tx, "lead-1", 0, EventType.LEAD_LOST, {})

    with pytest.raises(ConcurrencyConflict):
        await db.transaction(stale)
    stream = await EventStore(db).read_stream("lead-1")
    assert [e.version for e in stream] == [1]  # the whole unit rolled back


async def test_unique_version_is_the_backstop(db):
    """Even a writer that skips the check cannot store two events at one version."""

    async def raw_duplicate(tx):
        for _ in range(2):
            await tx.execute(
                "INSERT INTO events (stream_id, version, type, data, created_at)"
                " VALUES ('s', 1, 'LEAD_CREATED', '{}', 'now')"
            )

    with pytest.raises(Exception, match="UNIQUE"):
        await db.transaction(raw_duplicate)
    assert await EventStore(db).count() == 0
