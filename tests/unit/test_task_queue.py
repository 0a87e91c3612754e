import json
import subprocess
import sys
from datetime import timedelta

from common import clock
from common.tasks import SEND_TO_CRM, TaskQueue

CLAIMER = """
import asyncio, json, sys
from pathlib import Path
from common.db import Database
from common.tasks import TaskQueue

DELIVERY_SECONDS = 0.002  # what a delivery takes; without it one process could take all


async def main():
    db = await Database(Path(sys.argv[1]), busy_timeout=10).open()
    queue, mine = TaskQueue(db), []
    print("ready", flush=True)
    sys.stdin.readline()  # start together, so both compete for the whole queue
    while batch := await queue.claim_due(limit=2, lease=60):
        for task in batch:  # the work a dispatcher does between claims
            assert (await queue.get(task.id)).status == "processing"
            await asyncio.sleep(DELIVERY_SECONDS)
            mine.append(task.id)
    await db.close()
    print(json.dumps(mine))

asyncio.run(main())
"""


async def enqueue(db, count: int) -> list[int]:
    queue = TaskQueue(db)

    async def unit(tx):
        return [await queue.enqueue(tx, SEND_TO_CRM, {"n": n}) for n in range(count)]

    return await db.transaction(unit)


async def test_two_processes_never_claim_the_same_task(db):
    ids = await enqueue(db, 400)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, str(db.path)],
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


async def test_expired_lease_makes_the_task_due_again(db):
    queue = TaskQueue(db)
    [task_id] = await enqueue(db, 1)
    [claimed] = await queue.claim_due(limit=10, lease=60)
    assert claimed.id == task_id and claimed.attempts == 1
    assert await queue.claim_due(limit=10, lease=60) == []  # leased to someone

    past = clock.iso(clock.now() - timedelta(seconds=1))
    await db.transaction(
        lambda tx: tx.execute("UPDATE tasks SET locked_until = ? WHERE id = ?", (past, task_id))
    )
    [again] = await queue.claim_due(limit=10, lease=60)
    assert again.id == task_id and again.attempts == 2


async def test_complete_retry_fail_and_retry_failed(db):
    queue = TaskQueue(db)
    a, b, c = await enqueue(db, 3)
    await queue.claim_due(limit=3, lease=60)

    async def outcomes(tx):
        await queue.complete(tx, a, {"crm_lead_id": "7"})
        await queue.retry_later(tx, b, 3600, "HTTP 503")
        await queue.fail(tx, c, "HTTP 400: bad field")

    await db.transaction(outcomes)
    assert await queue.counts() == {"pending": 1, "processing": 0, "completed": 1, "failed": 1}
    assert (await queue.get(a)).result == {"crm_lead_id": "7"}
    assert (await queue.get(b)).last_error == "HTTP 503"
    assert await queue.claim_due(limit=3, lease=60) == []  # b waits an hour

    assert await queue.retry_failed() == 1
    [retried] = await queue.claim_due(limit=3, lease=60)
    assert retried.id == c and retried.attempts == 1


async def test_release_gives_the_attempt_back(db):
    queue = TaskQueue(db)
    [task_id] = await enqueue(db, 1)
    [claimed] = await queue.claim_due(limit=1, lease=60)
    await db.transaction(lambda tx: queue.release(tx, claimed))
    task = await queue.get(task_id)
    assert (task.status, task.attempts, task.locked_until) == ("pending", 0, None)
