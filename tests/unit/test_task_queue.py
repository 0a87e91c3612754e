import json
import subprocess
import sys
from datetime import timedelta

from common import clock
from common.model import TaskStatus
from common.store import open_store
from common.tasks import SendToCrm
from tests.helpers import wait_for_async

CLAIMER = """
import asyncio, json, sys
from zoneinfo import ZoneInfo
from common.store import open_store

DELIVERY_SECONDS = 0.002  # what a delivery takes; without it one process could take all


async def main():
    store = await open_store(sys.argv[1], busy_timeout=10, zone=ZoneInfo("Europe/Moscow"))
    mine = []
    print("ready", flush=True)
    sys.stdin.readline()  # start together, so both compete for the whole queue
    while batch := await store.write(lambda tx: tx.tasks.claim_due(limit=2, lease=60)):
        for task in batch:  # the work a dispatcher does between claims
            held = await store.read(lambda tx: tx.tasks.get(task.id))
            assert held.status == "processing"
            await asyncio.sleep(DELIVERY_SECONDS)
            mine.append(task.id)
    await store.close()
    print(json.dumps(mine))

asyncio.run(main())
"""


async def enqueue(store, count: int) -> list[int]:
    return await store.write(lambda tx: [tx.tasks.enqueue(SendToCrm()) for _ in range(count)])


def claim(store, limit=10):
    return store.write(lambda tx: tx.tasks.claim_due(limit=limit, lease=60))


def get(store, task_id):
    return store.read(lambda tx: tx.tasks.get(task_id))


async def test_two_processes_never_claim_the_same_task(store):
    ids = await enqueue(store, 400)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, str(store.location)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    claimed = [json.loads(proc.communicate(timeout=60)[0]) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    first, second = claimed
    assert first and second, "both processes should have won some tasks"
    assert not set(first) & set(second)
    assert sorted(first + second) == ids


async def test_expired_lease_makes_the_task_due_again(store):
    [task_id] = await enqueue(store, 1)
    [claimed] = await claim(store)
    assert claimed.id == task_id and claimed.attempts == 1
    assert await claim(store) == []  # leased to someone

    past = clock.iso(clock.now() - timedelta(seconds=1))
    await store.write(
        lambda tx: tx.sql.run("UPDATE tasks SET locked_until = ? WHERE id = ?", (past, task_id))
    )
    [again] = await claim(store)
    assert again.id == task_id and again.attempts == 2


async def test_complete_retry_fail_and_retry_failed(store):
    a, b, c = await enqueue(store, 3)
    await claim(store, 3)

    def outcomes(tx):
        tx.tasks.complete(a, {"crm_lead_id": "7"})
        tx.tasks.retry_later(b, 3600, "HTTP 503")
        tx.tasks.fail(c, "HTTP 400: bad field")

    await store.write(outcomes)
    assert await store.read(lambda tx: tx.tasks.counts()) == {
        "pending": 1,
        "processing": 0,
        "completed": 1,
        "failed": 1,
    }
    assert (await get(store, a)).result == {"crm_lead_id": "7"}
    assert (await get(store, b)).last_error == "HTTP 503"
    assert await claim(store, 3) == []  # b waits an hour

    assert await store.write(lambda tx: tx.tasks.retry_failed()) == 1
    [retried] = await claim(store, 3)
    assert retried.id == c and retried.attempts == 1


async def test_complete_all_gives_each_task_its_own_result_and_touches_no_other(store):
    ids = await enqueue(store, 5)
    await claim(store, 5)
    done = [(ids[0], {"crm_lead_id": "a?'"}), (ids[2], {"n": 2}), (ids[4], {})]
    await store.write(lambda tx: tx.tasks.complete_all(done))
    for task_id, result in done:
        task = await get(store, task_id)
        assert (task.status, task.result, task.locked_until) == ("completed", result, None)
    for task_id in (ids[1], ids[3]):
        assert (await get(store, task_id)).status == "processing"
    await store.write(lambda tx: tx.tasks.complete_all([]))  # nothing to do: no statement


async def test_release_gives_the_attempt_back(store):
    [task_id] = await enqueue(store, 1)
    [claimed] = await claim(store, 1)
    await store.write(lambda tx: tx.tasks.release(claimed))
    task = await get(store, task_id)
    assert (task.status, task.attempts, task.locked_until) == (TaskStatus.PENDING, 0, None)


async def test_a_commit_elsewhere_is_seen_as_a_change(store, settings):
    """Another process's new task wakes this one: PRAGMA data_version on SQLite, LISTEN /
    NOTIFY on PostgreSQL (delivered a moment after the commit, hence the polling)."""
    other = await open_store(settings.database, settings.busy_timeout, zone=settings.dashboard.zone)
    try:
        store.changed()  # the first look takes the current version
        assert not store.changed()
        await enqueue(other, 1)

        async def noticed():
            return store.changed()

        assert await wait_for_async(noticed, timeout=5)
        assert not store.changed()
    finally:
        await other.close()


async def test_every_retry_path_is_capped_by_max_attempts(store):
    """retry_later on a task out of attempts fails it; so does a lease that keeps running
    out (a handler that crashes its dispatcher each time)."""
    a, b = await enqueue(store, 2)
    await store.write(lambda tx: tx.sql.run("UPDATE tasks SET max_attempts = 1"))
    await claim(store, 2)
    await store.write(lambda tx: tx.tasks.retry_later(a, 0, "internal error: ValueError"))
    failed = await get(store, a)
    assert failed.status == "failed"
    assert failed.last_error == "gave up after 1 attempts: internal error: ValueError"

    past = clock.iso(clock.now() - timedelta(seconds=1))
    await store.write(
        lambda tx: tx.sql.run("UPDATE tasks SET locked_until = ? WHERE id = ?", (past, b))
    )
    assert await claim(store) == []  # not claimed a second time
    stuck = await get(store, b)
    assert stuck.status == "failed" and "never finished" in stuck.last_error
