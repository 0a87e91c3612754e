"""The turn to write among processes that share a SQLite file (common/store/sqlite/write_turn.py).

Two `WriteTurn`s on one database are two open files, so the kernel's `flock` keeps them apart
as it keeps two processes apart; one test uses a real second process.

Here, not in tests/unit: `make test` runs the unit tests again under faketime, whose clock
the kernel's timed waits do not share, so a wait bounded by a timeout there never ends (the
timeouts are what two of these tests are about)."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import subprocess
import sys
import threading
from zoneinfo import ZoneInfo

import pytest

from common.leads import LeadService
from common.metrics import BatchingCollector
from common.model import NewLead
from common.store import open_store
from common.store.sqlite.connection import is_busy
from common.store.sqlite.write_turn import WriteTurn, turn_path
from tests.helpers import rows, wait_for, wait_for_async


def free_to_take(database) -> bool:
    """Could a third writer take the turn at once?"""
    fd = os.open(turn_path(database), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def taken_in_thread(turn: WriteTurn) -> threading.Thread:
    thread = threading.Thread(target=turn.take, daemon=True)
    thread.start()
    return thread


def holds_it_alone(turn: WriteTurn, waiting: threading.Thread, database) -> None:
    """`waiting` ended with `turn` holding the turn, which no one else can take till it
    lets go."""
    waiting.join(timeout=10)
    assert not waiting.is_alive() and turn.held
    assert not free_to_take(database)
    turn.give_back()
    assert free_to_take(database)


def test_a_waiting_writer_gets_the_turn_when_the_holder_lets_go(tmp_path):
    database = tmp_path / "leads.db"
    first, second = WriteTurn(database, 10), WriteTurn(database, 10)
    first.take()
    waiting = taken_in_thread(second)
    wait_for(lambda: second.waited == 1)  # it found the turn taken, and waits
    assert not second.held
    first.give_back()
    holds_it_alone(second, waiting, database)
    first.close()
    second.close()


def gave_up(database) -> tuple[WriteTurn, WriteTurn]:
    """A holder, and a writer that waited for the turn 0.2 s and gave up."""
    holder, patient = WriteTurn(database, 10), WriteTurn(database, 0.2)
    holder.take()
    with pytest.raises(sqlite3.OperationalError) as refused:
        patient.take()
    assert is_busy(refused.value)  # shown as DatabaseBusy, and named on /healthz
    assert not patient.held
    return holder, patient


def test_a_turn_kept_past_the_timeout_fails_as_a_busy_database(tmp_path):
    database = tmp_path / "leads.db"
    holder, patient = gave_up(database)
    # The turn that comes late, with nobody waiting for it any more, is let go.
    holder.give_back()
    wait_for(lambda: free_to_take(database))
    patient.take()
    assert patient.held and patient.waited == 1
    patient.give_back()
    holder.close()
    patient.close()


def test_the_next_batch_claims_a_turn_that_came_after_the_timeout(tmp_path):
    database = tmp_path / "leads.db"
    holder, patient = gave_up(database)
    patient._timeout = 10  # the next batch is patient
    waiting = taken_in_thread(patient)
    holder.give_back()
    holds_it_alone(patient, waiting, database)
    assert patient.waited == 1  # the first wait served the second batch: no second queued
    holder.close()
    patient.close()


def test_a_killed_holder_leaves_the_turn_free(tmp_path):
    database = tmp_path / "leads.db"
    code = (
        "import fcntl, os, sys\n"
        f"fd = os.open({str(turn_path(database))!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\n"
        "sys.stdin.read()\n"  # holds the turn until killed
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        turn = WriteTurn(database, 10)
        waiting = taken_in_thread(turn)
        wait_for(lambda: turn.waited == 1)
        holder.kill()  # as kill -9: no chance to let go
        holds_it_alone(turn, waiting, database)
        turn.close()
    finally:
        holder.kill()
        holder.communicate()  # reaps it and closes its pipes


async def test_a_store_waits_for_another_writers_turn_and_metrics_count_it(tmp_path):
    database = str(tmp_path / "leadrelay.db")
    store = await open_store(database, 10, zone=ZoneInfo("Europe/Moscow"))
    try:
        await store.write(lambda tx: LeadService.create_lead(tx, NewLead(campaign_id="a")))
        other = WriteTurn(database, 10)  # another process's writer, mid-batch
        other.take()
        write = asyncio.create_task(
            store.write(lambda tx: LeadService.create_lead(tx, NewLead(campaign_id="b")))
        )

        async def waiting() -> bool:
            return store.batching().turn_waits == 1

        await wait_for_async(waiting)
        assert not write.done()  # it waits for the turn, not for SQLite's busy handler
        other.give_back()
        await asyncio.wait_for(write, 10)
        counted = {m.name: m.samples[0].value for m in BatchingCollector(store.batching).collect()}
        assert counted["leadrelay_store_write_turn_waits"] == 1
        other.close()
    finally:
        await store.close()
    assert sorted(r["campaign_id"] for r in rows(database, "SELECT campaign_id FROM leads")) == [
        "a",
        "b",
    ]
