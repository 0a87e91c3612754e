import pytest

from common.errors import ConcurrencyConflict
from common.events import LeadCreated, LeadLost
from common.model import EventType, NewLead


def created(campaign: str) -> LeadCreated:
    return LeadCreated(NewLead(campaign_id=campaign))


async def test_append_and_read_stream(store):
    def write(tx):
        tx.events.append("lead-1", 0, created("a"))
        tx.events.append("lead-1", 1, LeadLost("amo"))
        tx.events.append("lead-2", 0, created("b"))

    await store.write(write)
    stream = await store.read(lambda tx: tx.events.read_stream("lead-1"))
    assert [(e.version, e.type) for e in stream] == [
        (1, EventType.LEAD_CREATED),
        (2, EventType.LEAD_LOST),
    ]
    after_first = await store.read(lambda tx: tx.events.read_all(after=1))
    assert [e.stream_id for e in after_first] == ["lead-1", "lead-2"]
    assert await store.read(lambda tx: tx.events.count()) == 3


async def test_stale_expected_version_is_a_conflict_and_writes_nothing(store):
    await store.write(lambda tx: tx.events.append("lead-1", 0, created("a")))

    def stale(tx):
        tx.events.append("lead-1", 1, LeadLost())
        # A second writer that read version 0 too:
        tx.events.append("lead-1", 0, LeadLost())

    with pytest.raises(ConcurrencyConflict):
        await store.write(stale)
    stream = await store.read(lambda tx: tx.events.read_stream("lead-1"))
    assert [e.version for e in stream] == [1]  # the whole unit rolled back


async def test_a_second_version_one_is_a_conflict(store):
    """A new stream needs no look-up: UNIQUE(stream_id, version) refuses a second start."""
    await store.write(lambda tx: tx.events.append("s", 0, created("a")))
    with pytest.raises(ConcurrencyConflict):
        await store.write(lambda tx: tx.events.append("s", 0, created("a")))
    assert await store.read(lambda tx: tx.events.count()) == 1


async def test_reads_cannot_write(store):
    with pytest.raises(Exception, match="readonly|read-only"):
        await store.read(lambda tx: tx.events.append("s", 0, created("a")))
    assert await store.read(lambda tx: tx.events.count()) == 0


async def test_an_append_that_reads_nothing_back_is_refused_alike(store):
    """`position=False, look=False` sends the insert without reading the stream or the new
    position (0 in the answer, a real one in the table); a stale version is still refused,
    by UNIQUE(stream_id, version), and writes nothing."""
    await store.write(lambda tx: tx.events.append("s", 0, created("a")))

    def append_blind(tx):
        return tx.events.append("s", 1, LeadLost(), position=False, look=False)

    event = await store.write(append_blind)
    assert (event.version, event.position) == (2, 0)
    with pytest.raises(ConcurrencyConflict):
        await store.write(append_blind)
    stream = await store.read(lambda tx: tx.events.read_stream("s"))
    assert [e.version for e in stream] == [1, 2]
    assert all(e.position > 0 for e in stream)
