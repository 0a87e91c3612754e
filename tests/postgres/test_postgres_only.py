"""What only the PostgreSQL backend does: limits shared across processes, copy-to-postgres,
and the configuration that selects it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from common import ratelimit
from common.costs import CostService
from common.events import PaymentRegistered
from common.leads import LeadService
from common.model import CostRow, NewLead, Role
from common.ratelimit import SharedLimiter
from common.store import open_store
from common.tasks import SendToCrm
from tests import pg
from tests.helpers import ZONE, ago, rows, stored


async def test_a_shared_rate_limit_holds_across_processes(postgres_server):
    """Two stores (as two dispatchers on two hosts) take from one bucket of 10 a second:
    together they never take more than it refilled meanwhile (plus its one token)."""
    url = pg.fresh_database(postgres_server)
    first, second = await open_store(url, 2.0, zone=ZONE), await open_store(url, 2.0, zone=ZONE)
    taken: list[float] = []
    started = time.monotonic()

    async def caller(store) -> None:
        limiter = SharedLimiter(store, "crm:amo", 10)
        while time.monotonic() - started < 1.5:
            async with limiter:
                taken.append(time.monotonic())

    try:
        await asyncio.gather(caller(first), caller(second), caller(first), caller(second))
    finally:
        await first.close()
        await second.close()
    elapsed = max(taken) - started
    assert len(taken) <= 1 + 10 * elapsed + 1  # one token at the start, then 10 a second
    assert len(taken) >= 10  # and the budget was used, not starved


async def test_a_fast_shared_limit_reserves_its_turns_in_one_round_trip(
    postgres_server, monkeypatch
):
    """At 100 a second a process reserves RESERVE_SECONDS of turns at once and hands them out
    10 ms apart: five calls cost one write of the bucket, and none comes before its turn.
    (Two seconds of turns here, not the 0.2 s it runs with: the next reservation starts once
    less than half are ahead, and five calls must not come near that on a loaded machine.)"""
    monkeypatch.setattr(ratelimit, "RESERVE_SECONDS", 2.0)
    store = await open_store(pg.fresh_database(postgres_server), 2.0, zone=ZONE)
    calls: list[float] = []
    started = time.monotonic()
    try:
        limiter = SharedLimiter(store, "crm:shop", 100)
        for _ in range(5):
            async with limiter:
                calls.append(time.monotonic())
        [bucket] = rows(store.location, "SELECT tokens FROM rate_buckets")
    finally:
        await store.close()
    assert bucket["tokens"] == 1 - 200  # one reservation of 200, the first due at once
    assert calls[-1] - started >= 0.04  # the fifth turn is four turns after the first


async def test_a_reservation_waits_behind_the_turns_taken_before_it(postgres_server):
    """Turns are handed out in order: a second reservation's first turn comes after the
    first reservation's last, whoever took them."""
    store = await open_store(pg.fresh_database(postgres_server), 2.0, zone=ZONE)
    try:
        first = await store.write_alone(lambda tx: tx.rates.reserve("crm:amo", 1, 5))
        second = await store.write_alone(lambda tx: tx.rates.reserve("crm:amo", 1, 5))
    finally:
        await store.close()
    assert first.wait == 0
    # Five turns a second apart, less what refilled between the two (by the server's clock).
    between = second.at - first.at
    assert 0 < between < 4 and second.wait == pytest.approx(5 - between, abs=1e-3)
    # Each with the server's clock when it reserved (this host's, for the local server).
    assert first.at <= second.at and abs(second.at - time.time()) < 5


def cli(database: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADRELAY_")}
    env |= {"LEADRELAY_DATABASE": database, "LEADRELAY_CONFIG": os.devnull}
    return subprocess.run(
        [sys.executable, "-m", "common.cli", *args], env=env, capture_output=True, text=True
    )


async def test_copy_to_postgres_moves_the_whole_history(tmp_path, postgres_server):
    source = str(tmp_path / "leadrelay.db")
    store = await open_store(source, 1.0, zone=ZONE)
    try:
        ids = []
        for n in range(5):
            lead = NewLead(campaign_id=f"c{n % 2}", phone=f"+7916000000{n}")
            lead_id, _ = await store.write(lambda tx, d=lead: LeadService.create_lead(tx, d))
            ids.append(lead_id)
        paid = PaymentRegistered(Decimal(100), "RUB", stored(ago(days=1)))
        await store.write(lambda tx: LeadService.record(tx, ids[0], paid))
        await store.write(lambda tx: tx.idempotency.remember("k1", "h", {"lead_id": ids[1]}, 24))
        await store.write(lambda tx: tx.receipts.keep("shop", "m1", b"{}", {"status": "ok"}))
        await store.write(lambda tx: tx.users.add("anna", Role.ADMIN, "scrypt$…"))
        spent = CostRow(ago(days=1).date(), "77", "Search", 1000, 30, Decimal("1234.56"))
        await store.write(lambda tx: CostService.record(tx, [spent], "RUB"))
    finally:
        await store.close()
    target = pg.fresh_database(postgres_server)
    # A process started on the empty target first recorded its zone: the copy's is the source's.
    await (await open_store(target, 1.0, zone=ZoneInfo("Europe/Berlin"))).close()

    moved = cli(source, "copy-to-postgres", target)
    assert moved.returncode == 0, moved.stderr
    assert [r["value"] for r in rows(target, "SELECT value FROM projection_settings")] == [
        "Europe/Moscow"
    ]
    assert "events: 7 rows" in moved.stdout and "verify: ok, 7 events" in moved.stdout
    assert "direct_costs: 1 rows" in moved.stdout
    assert "postgres@" in moved.stdout  # the URL it names, password hidden
    assert [r["id"] for r in rows(target, "SELECT id FROM leads ORDER BY id")] == sorted(ids)
    [receipt] = rows(target, "SELECT connection, message_id FROM webhook_receipts")
    assert (receipt["connection"], receipt["message_id"]) == ("shop", "m1")
    assert rows(target, "SELECT name, role FROM dashboard_users") == [
        {"name": "anna", "role": "admin"}
    ]
    # The copy goes on where the source stopped: new keys follow the copied ones.
    moved_store = await open_store(target, 1.0, zone=ZONE)
    try:
        task_id = await moved_store.write(lambda tx: tx.tasks.enqueue(SendToCrm()))
        assert task_id == 6  # five send_to_crm tasks came along
    finally:
        await moved_store.close()
    again = cli(source, "copy-to-postgres", target)
    assert again.returncode == 2 and "already has rows" in again.stderr  # never merges


def test_a_database_url_of_another_kind_stops_the_process_with_one_line(tmp_path):
    done = cli("mysql://user:secret@db/leads", "migrate")
    assert done.returncode != 0
    assert "mysql:// is not supported" in done.stderr and "secret" not in done.stderr
    assert not (tmp_path / "mysql:").exists() and not os.path.exists("mysql:")


def test_migrate_on_postgres_names_the_database_without_its_password(postgres_server):
    url = pg.fresh_database(postgres_server)
    head, _, tail = url.partition("@")
    with_password = f"{head}:s3cret@{tail}"  # trust auth ignores it; the message must not
    done = cli(with_password, "migrate")
    assert done.returncode == 0, done.stderr
    assert "s3cret" not in done.stdout and ":***@" in done.stdout
    # Every command names its database on stderr, password hidden there too.
    assert "s3cret" not in done.stderr and f"leadrelay: database {head}:***@" in done.stderr


async def test_a_reader_tailing_the_log_never_misses_an_event(postgres_server):
    """Positions come from a sequence, which hands them out in the order transactions ask,
    not the order they commit: without the event-order lock a reader that has seen N could
    later find N-1 appear, and a tail (`after=N`) would skip it for ever."""
    url = pg.fresh_database(postgres_server)
    writers = [await open_store(url, 5.0, zone=ZONE) for _ in range(3)]
    reader = await open_store(url, 5.0, zone=ZONE)
    done = asyncio.Event()
    seen: list[int] = []

    async def tail() -> None:
        after = 0
        while True:
            finished = done.is_set()
            batch = await reader.read(lambda tx, a=after: tx.events.read_all(after=a, limit=500))
            seen.extend(event.position for event in batch)
            if batch:
                after = batch[-1].position
            elif finished:
                return

    async def write(store, n: int) -> None:
        lead = NewLead(campaign_id="c", phone=f"+7916{n:07d}")
        await store.write(lambda tx: LeadService.create_lead(tx, lead))

    tailing = asyncio.create_task(tail())
    try:
        await asyncio.gather(*(write(writers[n % 3], n) for n in range(300)))
    finally:
        done.set()
        await tailing
        for store in (*writers, reader):
            await store.close()
    everything = [r["position"] for r in rows(url, "SELECT position FROM events ORDER BY 1")]
    assert len(everything) == 300
    assert seen == everything  # in order, and nothing skipped by the tail
