"""The store contract, written once and run on every backend: units of work, group commit,
snapshots and counts, each checked on a connection of the test's own."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from common.store import open_store
from common.tasks import SendToCrm
from tests.contract.kit import Refused, append, append_and_raise, backend, count
from tests.helpers import execute, rows, wait_for_async


async def event_count(store) -> int:
    return await store.read(lambda tx: tx.events.count())


async def test_a_committed_unit_is_seen_by_another_connection(store, database):
    position = await store.write(lambda tx: append(tx, "s-1"))
    [row] = rows(database, "SELECT position, stream_id, version FROM events")
    assert (row["position"], row["stream_id"], row["version"]) == (position, "s-1", 1)
    assert await event_count(store) == 1


async def test_a_unit_that_raises_leaves_nothing_and_the_count_stays_true(store, database):
    """PostgreSQL identities do not roll back: the position the refused unit took stays
    used, so a count of positions says 2 where one event is stored."""
    with pytest.raises(Refused):
        await store.write(lambda tx: append_and_raise(tx, "refused"))
    assert count(database, "events") == 0
    assert await event_count(store) == 0
    await store.write(lambda tx: append(tx, "kept"))
    assert count(database, "events") == 1
    assert await event_count(store) == 1


async def test_a_batch_rerun_in_savepoints_keeps_good_units_and_true_counts(store, database):
    """Three units in one batch, the middle one raising: the batch is rolled back and run
    again with each unit in a savepoint; the good ones commit once."""
    runs: list[str] = []

    def good(name: str):
        def unit(tx):
            runs.append(name)  # outside the tx on purpose: to see the re-run, not to act
            return append(tx, name)

        return unit

    results = await asyncio.gather(
        store.write(good("first")),
        store.write(lambda tx: append_and_raise(tx, "refused")),
        store.write(good("last")),
        return_exceptions=True,
    )
    assert isinstance(results[1], Refused)
    assert runs == [
        "first",
        "first",
        "last",
    ]  # ran together (the last never got to run), then alone
    streams = [r["stream_id"] for r in rows(database, "SELECT stream_id FROM events")]
    assert sorted(streams) == ["first", "last"]
    assert await event_count(store) == count(database, "events") == 2


async def test_a_statement_sent_without_an_answer_fails_its_own_unit_alone(store, database):
    """On PostgreSQL a batch runs pipelined: a `send` that the server refuses is reported by
    a later unit's wait (here the last unit's insert). The batch runs again in savepoints:
    the refused unit gets its own error, the others commit once; a count read by `run` in
    the batch is the true count."""
    runs: list[str] = []

    def first(tx):
        runs.append("first")  # outside the tx on purpose: to see the re-run, not to act
        append(tx, "first")
        return tx.sql.run("UPDATE events SET metadata = metadata WHERE stream_id = ?", ("first",))

    def refused(tx):
        tx.sql.send(
            "INSERT INTO events (stream_id, version, type, data, metadata, created_at)"
            " VALUES (?, 1, NULL, '{}', '{}', ?)",
            ("refused", tx.sql.now()),
        )

    results = await asyncio.gather(
        store.write(first),
        store.write(refused),
        store.write(lambda tx: append(tx, "last")),
        return_exceptions=True,
    )
    assert results[0] == 1
    assert isinstance(results[1], Exception)
    assert re.search("null", str(results[1]), re.IGNORECASE), results[1]
    assert isinstance(results[2], int)
    assert runs == ["first", "first"]  # together, then in its savepoint
    streams = [r["stream_id"] for r in rows(database, "SELECT stream_id FROM events")]
    assert sorted(streams) == ["first", "last"]
    assert await event_count(store) == 2


async def test_a_conflict_rolls_back_its_unit_and_the_count_stays_true(store, database):
    """A UNIQUE(stream_id, version) refusal is a rolled-back insert too."""
    await store.write(lambda tx: append(tx, "s"))
    for _ in range(3):
        with pytest.raises(Exception, match="moved on concurrently"):
            await store.write(lambda tx: append(tx, "s"))
    await store.write(lambda tx: append(tx, "s", version=1))
    assert count(database, "events") == 2
    assert await event_count(store) == 2


async def test_latest_and_read_all_agree_with_the_table_in_position_order(store, database):
    await store.write(lambda tx: [append(tx, f"s{n}") for n in range(5)])
    with pytest.raises(Refused):
        await store.write(lambda tx: append_and_raise(tx, "gap"))
    await store.write(lambda tx: [append(tx, f"t{n}") for n in range(3)])
    table = [r["position"] for r in rows(database, "SELECT position FROM events ORDER BY 1")]
    read_all = await store.read(lambda tx: tx.events.read_all(after=0, limit=100))
    assert [e.position for e in read_all] == table
    after_third = await store.read(lambda tx: tx.events.read_all(after=table[2], limit=2))
    assert [e.position for e in after_third] == table[3:5]
    latest = await store.read(lambda tx: tx.events.latest(3))
    assert [e.position for e in latest] == table[::-1][:3]


async def test_write_alone_commits_on_its_own_and_rolls_back_on_its_own(store, database):
    assert await store.write_alone(lambda tx: append(tx, "alone")) > 0
    with pytest.raises(Refused):
        await store.write_alone(lambda tx: append_and_raise(tx, "refused"))
    assert [r["stream_id"] for r in rows(database, "SELECT stream_id FROM events")] == ["alone"]
    assert await event_count(store) == 1


async def test_a_read_sees_one_snapshot(store, database):
    """Another client commits in the middle of a read: the read does not see it."""
    await store.write(lambda tx: append(tx, "before"))

    def query(tx):
        first = tx.events.count()
        execute(
            database,
            "INSERT INTO events (stream_id, version, type, data, metadata,"
            " created_at) SELECT 'meanwhile', 1, type, data, metadata, created_at FROM events",
        )
        return first, tx.events.count(), len(tx.events.read_all())

    assert await store.read(query) == (1, 1, 1)
    assert count(database, "events") == 2


async def test_reads_cannot_write(store, database):
    with pytest.raises(Exception, match="(?i)read-?only"):
        await store.read(lambda tx: append(tx, "s"))
    assert count(database, "events") == 0


async def test_concurrent_writers_on_two_stores_lose_nothing(store, database, settings):
    """Two stores on one database (two processes), each with a burst of units, some of
    them refused: every committed event is stored once, and every count agrees. (Both wait
    ten times the tests' usual busy_timeout for the write lock: each batch of the other holds
    it through two runs, and this is about commits, not time-outs.)"""
    patient = settings.busy_timeout * 10
    mine = await open_store(database, patient, zone=settings.dashboard.zone)
    other = await open_store(database, patient, zone=settings.dashboard.zone)

    def unit(n: int):
        stream = f"s{n}"  # each its own stream: this is about commits, not conflicts
        if n % 5 == 0:
            return lambda tx: append_and_raise(tx, stream)
        return lambda tx: append(tx, stream)

    try:
        results = await asyncio.gather(
            *(target.write(unit(n)) for n in range(80) for target in [(mine, other)[n % 2]]),
            return_exceptions=True,
        )
        assert [type(r) for r in results if isinstance(r, BaseException)] == [Refused] * 16
        assert await event_count(other) == 64
    finally:
        await mine.close()
        await other.close()
    assert count(database, "events") == 64 == await event_count(store)
    positions = [r["position"] for r in rows(database, "SELECT position FROM events")]
    assert len(set(positions)) == 64


async def test_changed_tells_of_another_store_s_commit(store, database, settings):
    store.changed()  # forget whatever came before
    other = await open_store(database, settings.busy_timeout, zone=settings.dashboard.zone)
    try:
        await other.write(lambda tx: tx.tasks.enqueue(SendToCrm()))

        async def changed() -> bool:
            return store.changed()

        assert await wait_for_async(changed, timeout=5)
    finally:
        await other.close()
    assert store.problem() is None
    assert backend(store.location) == backend(database)


async def test_rate_limits_in_the_database_only_where_processes_share_it(store, database):
    shared = backend(database) == "postgresql"
    assert store.rate_limits_in_database is shared
    if shared:
        # One token each 100 s: the second take finds none, however slow the machine.
        assert await store.write_alone(lambda tx: tx.rates.take("contract", 0.01)) == 0
        assert await store.write_alone(lambda tx: tx.rates.take("contract", 0.01)) > 0
        [bucket] = rows(database, "SELECT name, tokens FROM rate_buckets")
        assert bucket["name"] == "contract" and bucket["tokens"] < 1


STORE = Path(__file__).parents[2] / "common" / "store"


def test_the_store_reads_the_time_only_through_its_backend_s_clock():
    """One clock for the store: `Sql.now()` (the database's on PostgreSQL, this host's on
    SQLite), never the host clock on a line of shared code."""
    host_clock = re.compile(r"\bclock\.(now|now_iso|after)\(")
    found = [
        f"{path.relative_to(STORE)}:{number}"
        for path in sorted(STORE.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if host_clock.search(line)
    ]
    assert [place for place in found if not place.startswith("sqlite/sql.py:")] == []
    assert found  # SQLite's Sql.now() reads this host's clock: the scan really looked
