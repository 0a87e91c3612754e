"""The task queue's contract on every backend: what enqueue, claim and settle leave in the
table, the claim's order, its fencing by attempt number, and two claimers at once."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import timedelta

from common import clock
from common.leads import LeadService
from common.model import NewLead, TaskStatus, TaskType
from common.store import open_store
from common.store.tasks import OPEN_OF_LEAD, OPEN_STATUSES, Held, holding
from common.tasks import TASK_CLASSES, CheckUpload, SendToCrm
from tests.contract.kit import age, backend, count, database_now, insert_many
from tests.helpers import execute, rows

SEND, UPLOAD = TaskType.SEND_TO_CRM, TaskType.SEND_TO_YANDEX
LEASE = 60.0
SLACK = timedelta(seconds=5)  # between the store's clock reading and the test's


def row(database: str, task_id: int) -> dict:
    return rows(database, "SELECT * FROM tasks WHERE id = ?", (task_id,))[0]


def near(text: str, moment) -> bool:
    return abs(clock.parse(text) - moment) < SLACK


def claim(store, limit: int = 10, types: tuple[TaskType, ...] = ()):
    return store.write(lambda tx: tx.tasks.claim_due(limit=limit, lease=LEASE, types=types))


async def enqueue(store, count: int = 1, type: TaskType = SEND) -> list[int]:
    payload = TASK_CLASSES[type]()  # the two kinds used here carry no fields
    return await store.write(lambda tx: [tx.tasks.enqueue(payload) for _ in range(count)])


async def test_enqueue_stores_a_pending_task_due_on_the_store_s_clock(store, database):
    now = database_now(database)
    [now_id] = await enqueue(store)
    later_id = await store.write(lambda tx: tx.tasks.enqueue(SendToCrm(), delay=90, lead_id="l-1"))
    due = row(database, now_id)
    assert (due["status"], due["attempts"], due["max_attempts"]) == ("pending", 0, 10)
    assert due["run_after"] == due["created_at"] == due["updated_at"]
    assert near(due["created_at"], now)
    later = row(database, later_id)
    assert later["lead_id"] == "l-1"
    gap = clock.parse(later["run_after"]) - clock.parse(later["created_at"])
    assert gap == timedelta(seconds=90)
    assert await store.read(lambda tx: tx.tasks.has_due())
    assert await store.read(lambda tx: tx.tasks.has_due((UPLOAD,))) is False


async def test_claim_takes_the_most_overdue_first_and_leases_on_the_store_s_clock(store, database):
    late, later, future, expired = await enqueue(store, 4)
    age(database, "tasks", "run_after", 30, f"id = {late}")
    age(database, "tasks", "run_after", 60, f"id = {later}")
    age(database, "tasks", "run_after", -60, f"id = {future}")
    execute(database, f"UPDATE tasks SET status = 'processing', attempts = 1 WHERE id = {expired}")
    age(database, "tasks", "locked_until", 45, f"id = {expired}")

    first = await claim(store, limit=2)
    assert [task.id for task in first] == sorted([later, expired])
    second = await claim(store, limit=2)
    assert [task.id for task in second] == [late]
    assert await claim(store) == []
    now = database_now(database)
    for task in [*first, *second]:
        held = row(database, task.id)
        assert held["status"] == "processing" and held["attempts"] == task.attempts
        assert near(held["locked_until"], now + timedelta(seconds=LEASE))
    assert row(database, expired)["attempts"] == 2
    assert row(database, future)["status"] == "pending"


async def test_claim_takes_only_the_types_asked_for(store, database):
    [send] = await enqueue(store, 1, SEND)
    [upload] = await enqueue(store, 1, UPLOAD)
    assert [task.id for task in await claim(store, types=(UPLOAD,))] == [upload]
    assert row(database, send)["status"] == "pending"


async def test_a_stale_claim_cannot_touch_a_task_another_claim_holds(store, database, settings):
    """Attempt numbers fence claims: once a lease ran out and another dispatcher claimed
    the task, the first claim's heartbeat, notes, release, retry, failure and holding check
    do nothing."""
    await enqueue(store)
    [stale] = await claim(store)
    age(database, "tasks", "locked_until", 1, f"id = {stale.id}")
    other = await open_store(database, settings.busy_timeout, zone=settings.dashboard.zone)
    try:
        [fresh] = await claim(other)
    finally:
        await other.close()
    assert (stale.attempts, fresh.attempts) == (1, 2)
    before = row(database, stale.id)

    await store.write(lambda tx: tx.tasks.extend_leases([stale], 3600))
    await store.write(lambda tx: tx.tasks.note([stale], {"upload_key": "stale"}))
    await store.write(lambda tx: tx.tasks.release(stale))
    assert await store.write(lambda tx: tx.tasks.retry_if_held(stale, 60, "stale")) is False
    assert await store.write(lambda tx: tx.tasks.fail_if_held(stale, "stale")) is False
    assert await store.read(lambda tx: tx.tasks.still_held(stale)) is False
    assert row(database, stale.id) == before

    assert await store.read(lambda tx: tx.tasks.still_held(fresh))
    await store.write(lambda tx: tx.tasks.note([fresh], {"upload_key": "fresh"}))
    await store.write(lambda tx: tx.tasks.extend_leases([fresh], 3600))
    held = row(database, fresh.id)
    assert held["result"] is not None and "fresh" in held["result"]
    assert clock.parse(held["locked_until"]) > clock.parse(before["locked_until"])
    assert await store.write(lambda tx: tx.tasks.fail_if_held(fresh, "the holder fails it"))
    assert row(database, fresh.id)["status"] == "failed"


async def test_a_heartbeat_renews_every_task_it_holds_in_statements_of_many(store, database):
    """More tasks than one statement renews (a dispatcher holds hundreds claimed ahead):
    each held one is renewed, one completed meanwhile and one claimed again by another
    attempt are left as they are."""
    await enqueue(store, 150)
    held = await claim(store, limit=150)
    done, taken, kept = held[0], held[1], held[2:]
    await store.write(lambda tx: tx.tasks.complete(done.id, {}))
    execute(database, f"UPDATE tasks SET attempts = 2 WHERE id = {taken.id}")
    before = {task.id: row(database, task.id) for task in held}

    await store.write(lambda tx: tx.tasks.extend_leases(held, 3600))

    renewed_until = database_now(database) + timedelta(seconds=3600)
    for task in kept:
        assert near(row(database, task.id)["locked_until"], renewed_until), task.id
    assert row(database, done.id) == before[done.id]
    assert row(database, taken.id) == before[taken.id]


async def test_a_task_whose_leases_ran_out_too_often_fails_at_the_next_claim(store, database):
    [task_id] = await enqueue(store)
    execute(database, f"UPDATE tasks SET status = 'processing', attempts = 10 WHERE id = {task_id}")
    age(database, "tasks", "locked_until", 1, f"id = {task_id}")
    assert await claim(store) == []
    failed = row(database, task_id)
    assert failed["status"] == "failed" and failed["locked_until"] is None
    assert failed["last_error"].startswith("gave up after 10 attempts")


async def test_settling_verbs_leave_what_they_say(store, database):
    done, later, broken, spent = await enqueue(store, 4)
    await claim(store)
    execute(database, f"UPDATE tasks SET attempts = 10 WHERE id = {spent}")
    now = database_now(database)

    def settle(tx):
        tx.tasks.complete(done, {"crm_id": "7"})
        tx.tasks.retry_later(later, 120, "timeout")
        tx.tasks.fail(broken, "x" * 3000)
        tx.tasks.retry_later(spent, 120, "timeout")

    await store.write(settle)
    completed, retried, failed, gave_up = (row(database, i) for i in (done, later, broken, spent))
    assert completed["status"] == "completed" and '"crm_id"' in completed["result"]
    assert retried["status"] == "pending" and retried["last_error"] == "timeout"
    assert near(retried["run_after"], now + timedelta(seconds=120))
    assert failed["status"] == "failed" and len(failed["last_error"]) == 2000
    assert gave_up["status"] == "failed" and gave_up["last_error"].startswith("gave up after 10")
    assert all(r["locked_until"] is None for r in (completed, retried, failed, gave_up))
    assert near(completed["updated_at"], now)

    counts = await store.read(lambda tx: tx.tasks.counts())
    for status in TaskStatus:
        assert counts[status] == count(database, "tasks", "status = ?", (status,))
    open_counts = await store.read(lambda tx: tx.tasks.open_counts())
    assert open_counts == {s: counts[s] for s in open_counts}

    assert await store.write(lambda tx: tx.tasks.retry_failed([broken])) == 1
    requeued = row(database, broken)
    assert (requeued["status"], requeued["attempts"]) == ("pending", 0)
    assert await store.write(lambda tx: tx.tasks.retry_failed()) == 1  # `spent`
    assert count(database, "tasks", "status = 'failed'") == 0


async def test_reads_of_the_queue_agree_with_the_table(store, database):
    first, second = await enqueue(store, 2)
    age(database, "tasks", "created_at", 600, f"id = {second}")
    oldest = rows(database, "SELECT min(created_at) AS m FROM tasks WHERE status = 'pending'")
    assert await store.read(lambda tx: tx.tasks.oldest_pending()) == oldest[0]["m"]
    task = await store.read(lambda tx: tx.tasks.get(first))
    assert task is not None and (task.id, task.payload) == (first, SendToCrm())
    assert await store.read(lambda tx: tx.tasks.status(first)) == TaskStatus.PENDING
    assert await store.read(lambda tx: tx.tasks.get(999_999)) is None
    await store.write(lambda tx: tx.tasks.fail(first, "bad"))
    execute(database, f"UPDATE tasks SET attempts = 3 WHERE id = {second}")
    attention = await store.read(lambda tx: tx.tasks.needing_attention(retrying_attempts=3))
    assert sorted(task.id for task in attention) == [first, second]


async def test_pending_tasks_are_told_due_from_waiting_on_purpose(store, database):
    """Due now, a first try waiting for its time (a Metrica check's interval), a retry waiting
    out its backoff: each group counted apart, with its earliest run_after."""
    due_a, due_b, retry, done, broken = await enqueue(store, 5)
    check = await store.write(lambda tx: tx.tasks.enqueue(CheckUpload("u-1"), delay=600))
    age(database, "tasks", "run_after", 120, f"id = {due_b}")
    execute(database, f"UPDATE tasks SET attempts = 2 WHERE id = {retry}")
    age(database, "tasks", "run_after", -300, f"id = {retry}")
    await store.write(lambda tx: tx.tasks.complete(done, {}))
    await store.write(lambda tx: tx.tasks.fail(broken, "HTTP 400"))
    groups = await store.read(lambda tx: tx.tasks.pending_groups())
    seen = {(g.type, g.due, g.retry): (g.count, g.first_run_after) for g in groups}
    run_after = {r["id"]: r["run_after"] for r in rows(database, "SELECT id, run_after FROM tasks")}
    assert seen == {
        (SEND, True, False): (2, run_after[due_b]),
        (SEND, False, True): (1, run_after[retry]),
        (TaskType.CHECK_YANDEX_UPLOAD, False, False): (1, run_after[check]),
    }
    assert run_after[due_b] < run_after[due_a]  # the earliest of the group is named


async def test_a_lead_s_open_tasks_leave_its_completed_ones_and_other_leads_out(store, database):
    def enqueue_for(lead_id: str) -> int:
        return store.write(lambda tx: tx.tasks.enqueue(SendToCrm(), lead_id=lead_id))

    pending, failed, completed = [await enqueue_for("l-1") for _ in range(3)]
    other = await enqueue_for("l-2")
    await store.write(lambda tx: tx.tasks.fail(failed, "gave up"))
    await store.write(lambda tx: tx.tasks.complete(completed, {}))
    found = await store.read(lambda tx: tx.tasks.open_of_lead("l-1"))
    assert [(task.id, task.status) for task in found] == [
        (pending, TaskStatus.PENDING),
        (failed, TaskStatus.FAILED),
    ]
    assert [task.id for task in await store.read(lambda tx: tx.tasks.open_of_lead("l-2"))] == [
        other
    ]
    assert await store.read(lambda tx: tx.tasks.open_of_lead("nobody")) == []


async def test_two_stores_claiming_at_once_never_take_the_same_task(store, database, settings):
    ids = await enqueue(store, 60)
    other = await open_store(database, settings.busy_timeout * 10, zone=settings.dashboard.zone)

    async def drain(target) -> list[int]:
        taken: list[int] = []
        while batch := await claim(target, limit=7):
            taken.extend(task.id for task in batch)
        return taken

    try:
        mine, theirs = await asyncio.gather(drain(store), drain(other))
    finally:
        await other.close()
    assert sorted(mine + theirs) == ids
    assert count(database, "tasks", "status = 'processing' AND attempts = 1") == 60


async def test_a_held_task_waits_without_spending_its_attempt_and_a_stale_claim_cannot(
    store, database
):
    """wait_if_held: pending after the delay, the claim's attempt given back, the note kept;
    fenced by attempt like retry_if_held."""
    [waiting, raced] = await enqueue(store, 2)
    [first, other] = await claim(store)
    now = database_now(database)
    assert await store.write(lambda tx: tx.tasks.wait_if_held(first, 30, "report queued"))
    waited = row(database, waiting)
    assert (waited["status"], waited["attempts"], waited["last_error"]) == (
        "pending",
        0,
        "report queued",
    )
    assert waited["locked_until"] is None
    assert near(waited["run_after"], now + timedelta(seconds=30))
    assert [task.id for task in await claim(store)] == []  # not due before the delay

    age(database, "tasks", "locked_until", 1, f"id = {raced}")
    [fresh] = await claim(store, types=(SEND,))
    assert (fresh.id, fresh.attempts) == (raced, 2)
    before = row(database, raced)
    assert await store.write(lambda tx: tx.tasks.wait_if_held(other, 30, "stale")) is False
    assert row(database, raced) == before


async def test_newest_lists_the_last_tasks_of_a_type_whatever_their_status(store, database):
    sends = await enqueue(store, 3, SEND)
    [upload] = await enqueue(store, 1, UPLOAD)
    await store.write(lambda tx: tx.tasks.complete(sends[0], {}))
    await store.write(lambda tx: tx.tasks.fail(sends[2], "no"))
    newest = await store.read(lambda tx: tx.tasks.newest(SEND, 2))
    assert [(t.id, t.status) for t in newest] == [
        (sends[2], TaskStatus.FAILED),
        (sends[1], TaskStatus.PENDING),
    ]
    assert [t.id for t in await store.read(lambda tx: tx.tasks.newest(SEND, 10))] == sends[::-1]
    assert [t.id for t in await store.read(lambda tx: tx.tasks.newest(UPLOAD, 10))] == [upload]
    assert await store.read(lambda tx: tx.tasks.newest(TaskType.RESOLVE_DEAL, 10)) == []


async def test_a_lead_s_open_tasks_are_found_through_the_index_of_lead_ids(store, database):
    """The lead card asks for its lead's open tasks: with the queue's history of many leads'
    tasks, each status' part of the query goes through tasks_by_lead (0025), not through
    every open task of that status."""
    now = clock.now_iso()
    history = [(f"done-{n}", "completed") for n in range(3000)]
    history += [(f"open-{n}", status) for n in range(900) for status in OPEN_STATUSES[n % 3 :][:1]]
    insert_many(
        database,
        "INSERT INTO tasks (type, payload, lead_id, status, max_attempts, run_after,"
        " created_at, updated_at) VALUES ('send_to_crm', '{}', ?, ?, 10, ?, ?, ?)",
        [(lead_id, status, now, now, now) for lead_id, status in history],
    )
    mine = await store.write(lambda tx: tx.tasks.enqueue(SendToCrm(), lead_id="open-7"))
    found = await store.read(lambda tx: tx.tasks.open_of_lead("open-7"))
    assert [task.id for task in found] == sorted(
        r["id"] for r in rows(database, "SELECT id FROM tasks WHERE lead_id = 'open-7'")
    )
    assert mine in [task.id for task in found] and len(found) == 2
    execute(database, "ANALYZE")
    explain = "EXPLAIN" if backend(database) == "postgresql" else "EXPLAIN QUERY PLAN"
    plan = rows(database, f"{explain} {OPEN_OF_LEAD}", ("open-7",) * len(OPEN_STATUSES))
    shown = " ".join(str(value) for row in plan for value in row.values())
    assert shown.count("tasks_by_lead") == len(OPEN_STATUSES), shown


async def test_hold_fences_by_attempt_and_reads_each_task_s_lead_version(store, database):
    """`hold_all` (and `hold`) answer only for the tasks their claim still holds, each with
    its own lead's version and campaign (None for a lead that does not exist), in one
    statement."""
    lead_id, _ = await store.write(lambda tx: LeadService.create_lead(tx, NewLead(campaign_id="c")))
    orphan = await store.write(lambda tx: tx.tasks.enqueue(SendToCrm(), lead_id="no-such-lead"))
    claimed = await claim(store)
    by_id = {task.id: task for task in claimed}
    mine = next(task for task in claimed if task.lead_id == lead_id)
    stale = replace(mine, attempts=mine.attempts - 1)  # an earlier claim's view of it

    held = await store.write(lambda tx: tx.tasks.hold_all([mine, by_id[orphan], stale]))
    assert held == {mine.id: Held(1, "c"), orphan: Held(None, None)}
    assert await store.write(lambda tx: tx.tasks.hold(stale, lead_id)) is None
    assert await store.write(lambda tx: tx.tasks.hold(mine, lead_id)) == Held(1, "c")
    assert await store.write(lambda tx: tx.tasks.hold_all([])) == {}
    assert row(database, mine.id)["status"] == TaskStatus.PROCESSING  # holding changes no state


async def test_hold_all_reads_each_lead_through_its_index(store, database):
    """A delivery's settle holds its task through `hold_all`: each held task's lead version
    and campaign are index lookups, not a walk over every lead (SQLite planned a subquery in
    RETURNING as a scan of the leads table once a task: the settles' cost grew with it), and
    on SQLite each task is found by its key, not among every task held."""
    now = clock.now_iso()
    insert_many(
        database,
        "INSERT INTO leads (id, campaign_id, status, created_at, updated_at, version)"
        " VALUES (?, 'c', 'new', ?, ?, 1)",
        [(f"lead-{n}", now, now) for n in range(3000)],
    )
    execute(database, "ANALYZE")
    explain = "EXPLAIN" if backend(database) == "postgresql" else "EXPLAIN QUERY PLAN"
    plan = rows(database, f"{explain} {holding(2)}", (now, 1, 1, 2, 1))
    shown = " ".join(str(value) for row in plan for value in row.values())
    assert shown.count("leads_pkey") + shown.count("sqlite_autoindex_leads_1") >= 2, shown
    assert "SCAN leads" not in shown and "Seq Scan on leads" not in shown, shown
    if backend(database) == "sqlite":  # PostgreSQL's planner weighs it by the table's size
        assert "SEARCH tasks USING INTEGER PRIMARY KEY" in shown, shown


async def test_due_types_names_the_types_with_work_due_in_one_read(store, database):
    """Pending and due, or processing with a lease run out: the types `has_due` would say
    yes for, each once; a task not yet due or leased names none."""
    kinds = (SEND, UPLOAD, TaskType.CHECK_YANDEX_UPLOAD)
    assert await store.read(lambda tx: tx.tasks.due_types(kinds)) == set()
    await enqueue(store, 2, UPLOAD)
    later = await store.write(lambda tx: tx.tasks.enqueue(CheckUpload("u1"), delay=3600))
    [leased] = await enqueue(store, 1, SEND)
    await claim(store, types=(SEND,))
    assert await store.read(lambda tx: tx.tasks.due_types(kinds)) == {UPLOAD}
    age(database, "tasks", "locked_until", 2 * LEASE, f"id = {leased}")  # its dispatcher died
    assert await store.read(lambda tx: tx.tasks.due_types(kinds)) == {UPLOAD, SEND}
    assert await store.read(lambda tx: tx.tasks.due_types((TaskType.CHECK_YANDEX_UPLOAD,))) == set()
    assert row(database, later)["status"] == TaskStatus.PENDING


async def test_a_claim_reads_its_limit_not_the_backlog(store, database):
    """Behind a backlog of 3,000 due tasks (and leases run out), a claim of 48 reads each
    kind in due order from its own index and stops at 48 of each: its cost is its limit.
    (On PostgreSQL one query over both kinds ordered by a CASE sorted every due task on
    each claim: 6.5 ms a claim behind 20,000, against 0.34 ms now.)"""
    await enqueue(store, 3000)
    age(database, "tasks", "run_after", 30)
    execute(database, "UPDATE tasks SET status = 'processing', attempts = 1 WHERE id % 30 = 0")
    age(database, "tasks", "locked_until", 60, "status = 'processing'")
    execute(database, "ANALYZE")
    now = clock.iso(database_now(database))
    query, params = await store.read(lambda tx: tx.sql.due_tasks(now, (SEND,), 48))
    if backend(database) == "sqlite":
        plan = rows(database, f"EXPLAIN QUERY PLAN {query}", params)
        shown = " ".join(str(row["detail"]) for row in plan)
        assert "MERGE" in shown and "TEMP B-TREE" not in shown, shown
        assert "tasks_pending" in shown and "tasks_processing" in shown, shown
        return
    plan = rows(database, f"EXPLAIN (ANALYZE, COSTS OFF) {query}", params)
    shown = "\n".join(str(value) for row in plan for value in row.values())
    read = [int(n) for n in re.findall(r"rows=(\d+) loops=1", shown)]
    assert read and max(read) <= 2 * 48, shown  # each kind's 48, merged
    assert len(await claim(store, limit=48, types=(SEND,))) == 48
    # The plan needs statistics that know the backlog: the table is analysed often (0028).
    [options] = rows(database, "SELECT reloptions FROM pg_class WHERE relname = 'tasks'")
    assert "autovacuum_analyze_threshold=5000" in options["reloptions"]
