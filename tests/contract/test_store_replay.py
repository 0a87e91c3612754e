"""`verify` and `rebuild` on every backend: one snapshot, every live row compared once, and
counts that are the events the table holds (also after batches that ran twice)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from common.leads import LeadService
from common.model import NewLead
from common.store.replay import rebuild, verify
from tests.contract.kit import Refused, count, insert_many
from tests.helpers import execute, rows

PAGE = 5000  # verify's page of live rows; more rows than one page must all be compared


def cli(database: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADRELAY_")}
    env |= {"LEADRELAY_DATABASE": database, "LEADRELAY_CONFIG": os.devnull}
    return subprocess.run(
        [sys.executable, "-m", "common.cli", *args], env=env, capture_output=True, text=True
    )


def create(campaign: str):
    return lambda tx: LeadService.create_lead(tx, NewLead(campaign_id=campaign))


def create_and_raise(tx):
    LeadService.create_lead(tx, NewLead(campaign_id="refused"))
    raise Refused("half-way")


async def leads_with_reruns(store, batches: int = 3) -> None:
    """Batches of good units with one refused unit each: every batch is rolled back and run
    again in savepoints (PostgreSQL keeps the positions the first run took)."""
    for _ in range(batches):
        units = [create("a"), create_and_raise, create("b")]
        await asyncio.gather(*(store.write(u) for u in units), return_exceptions=True)


async def test_verify_reports_the_events_the_table_holds_after_reruns(store, database):
    await leads_with_reruns(store)
    assert count(database, "events") == 6
    checked = cli(database, "verify")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "verify: ok, 6 events agree" in checked.stdout


async def test_rebuild_replays_every_event_and_reports_after_its_commit(store, database):
    await leads_with_reruns(store, batches=2)
    execute(database, "UPDATE campaign_stats SET leads = 99")
    seen: list[tuple[int, int]] = []

    def progress(replayed: int) -> None:
        # Told after the commit: another connection already sees the counters rebuilt.
        seen.append((replayed, count(database, "campaign_stats", "leads = 99")))

    await rebuild(store, progress)
    assert sum(replayed for replayed, _ in seen) == count(database, "events") == 4
    assert all(wrong == 0 for _, wrong in seen)
    assert await verify(store) == []


def strays(database: str, table: str, keys) -> None:
    """Copies of the table's one row under other keys: rows no event explains."""
    [row] = rows(database, f"SELECT * FROM {table}")
    copies = [tuple(key.get(name, value) for name, value in row.items()) for key in keys]
    columns, values = ", ".join(row), ", ".join("?" * len(row))
    insert_many(database, f"INSERT INTO {table} ({columns}) VALUES ({values})", copies)


async def test_verify_compares_every_live_row_once_across_pages(store, database):
    """More rows than one page no event explains, in each table (daily_stats by a key of
    two columns, its page boundary inside one day): each is reported once."""
    await store.write(create("a"))
    strays(database, "leads", ({"id": f"stray-{n:05}"} for n in range(PAGE + 3)))
    days = ("1999-01-01", "1999-01-02")
    pairs = [(day, f"stray-{n:05}") for day in days for n in range(PAGE // 2 + 2)]
    strays(database, "daily_stats", ({"day": day, "campaign_id": c} for day, c in pairs))
    problems = await verify(store, limit=3 * PAGE)
    leads = [line for line in problems if line.startswith("leads stray-")]
    assert len(leads) == len(set(leads)) == PAGE + 3
    daily = [line for line in problems if line.startswith("daily_stats 1999-")]
    assert sorted(daily) == [f"daily_stats {d} {c}: not explained by the events" for d, c in pairs]


async def test_verify_reads_one_snapshot_while_writes_go_on(store):
    await asyncio.gather(*(store.write(create(f"c{n % 3}")) for n in range(10)))
    during = [store.write(create(f"c{n % 3}")) for n in range(30)]
    problems, *_ = await asyncio.gather(verify(store), *during)
    assert problems == []
