"""Concurrent units share commits, yet each is all-or-nothing on its own."""

import asyncio
import sqlite3
import threading

import pytest

from common.leads import LeadService
from common.model import NewLead
from tests.helpers import rows, wait_for_async

pytestmark = pytest.mark.sqlite_only  # the SQLite writer thread and its group commit


async def test_concurrent_units_share_commits(store):
    writer = store.writer
    units, batches = writer.units, writer.batches  # opening a new database recorded its zone
    made = await asyncio.gather(
        *(
            store.write(lambda tx, n=n: LeadService.create_lead(tx, NewLead(campaign_id=f"c{n}")))
            for n in range(50)
        )
    )
    assert len({lead_id for lead_id, _ in made}) == 50
    assert len(rows(store.location, "SELECT * FROM leads")) == 50
    assert writer.units - units == 50 and writer.batches - batches < 50  # fewer fsyncs


async def test_units_run_on_one_writer_thread_not_the_event_loop(store):
    seen = await asyncio.gather(*(store.write(lambda tx: threading.get_ident()) for _ in range(20)))
    assert len(set(seen)) == 1
    assert seen[0] != threading.get_ident()


async def test_a_failing_unit_rolls_back_alone(store):
    def broken(tx):
        LeadService.create_lead(tx, NewLead(campaign_id="broken"))
        raise ValueError("half-way")

    def good(tx):
        return LeadService.create_lead(tx, NewLead(campaign_id="good"))

    results = await asyncio.gather(
        store.write(good), store.write(broken), store.write(good), return_exceptions=True
    )
    assert isinstance(results[1], ValueError)
    assert not isinstance(results[0], Exception) and not isinstance(results[2], Exception)
    campaigns = [r["campaign_id"] for r in rows(store.location, "SELECT campaign_id FROM leads")]
    assert campaigns == ["good", "good"]
    assert [r["campaign_id"] for r in rows(store.location, "SELECT * FROM campaign_stats")] == [
        "good"
    ]
    assert len(rows(store.location, "SELECT * FROM events")) == 2  # nothing of the broken unit


async def test_a_unit_that_fails_alone_raises_to_its_caller(store):
    with pytest.raises(Exception, match="no_such_table"):
        await store.write(lambda tx: tx.sql.run("INSERT INTO no_such_table VALUES (1)"))
    assert await store.write(lambda tx: tx.sql.value("SELECT 1")) == 1  # still usable


async def test_callers_are_answered_only_once_their_commit_is_on_the_disk(store):
    """The writer commits with synchronous=NORMAL and fsyncs the WAL on a thread of its
    own: no caller may hear of its write before an fsync that began after its commit."""
    writer = store.writer

    async def one(n):
        before = writer.commits
        await store.write(lambda tx: LeadService.create_lead(tx, NewLead(campaign_id=f"c{n}")))
        assert writer.synced > before  # the fsync covering this caller's commit is done

    await asyncio.gather(*(one(n) for n in range(60)))
    assert writer.synced == writer.commits
    assert await store.write(lambda tx: tx.sql.value("PRAGMA synchronous")) == 1  # NORMAL
    assert await store.read(lambda tx: tx.sql.value("PRAGMA synchronous")) == 2  # FULL


async def test_checkpoints_run_beside_the_writer_not_in_its_commits(store):
    """The writer checkpoints itself only past a backstop; a thread of its own copies the
    WAL into the database while writes come (common/store/sqlite/checkpoints.py)."""
    writer = store.writer
    assert await store.write(lambda tx: tx.sql.value("PRAGMA wal_autocheckpoint")) == 10_000
    for n in range(30):
        await asyncio.gather(
            *(
                store.write(
                    lambda tx, k=k: LeadService.create_lead(tx, NewLead(campaign_id=f"c{k}"))
                )
                for k in range(n * 10, n * 10 + 10)
            )
        )

    def in_the_file() -> int:  # the database file alone, without the WAL
        # immutable=1 reads without any lock, so a read that meets a checkpoint copying pages
        # in may see a torn tree ("malformed"): that is this reader's doing, not the file's;
        # it counts as not yet, and the next look sees the copy whole.
        conn = sqlite3.connect(f"file:{store.location}?immutable=1", uri=True)
        try:
            return int(conn.execute("SELECT count(*) FROM leads").fetchone()[0])
        except sqlite3.DatabaseError:
            return 0
        finally:
            conn.close()

    async def copied_while_writing() -> bool:
        await store.write(lambda tx: LeadService.create_lead(tx, NewLead(campaign_id="more")))
        return in_the_file() > 0

    await wait_for_async(copied_while_writing)  # far below the backstop's 10,000 pages
    assert writer.checkpoints.done > 0
    assert await store.read(lambda tx: tx.sql.value("PRAGMA integrity_check")) == "ok"
