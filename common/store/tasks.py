"""TaskQueue: the transactional outbox that the dispatcher drains."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from common.model import JsonObject, Lead, Task, TaskStatus, TaskType
from common.store.codec import task_data, task_payload_of
from common.store.inserts import row_chunks
from common.store.leads import LeadRows
from common.store.sql import Params, Row, Sql, among, dumps, later, loads, marks
from common.tasks import TaskPayload

ERROR_LIMIT = 2000
COLUMNS = (
    "id, type, payload, status, attempts, max_attempts, run_after, locked_until,"
    " last_error, result, created_at, updated_at, lead_id"
)
# The task indexes are partial (migration 0005): they hold open tasks only, so each query
# names its status as a literal, which is how SQLite knows such an index applies.
OPEN_STATUSES = (TaskStatus.PENDING, TaskStatus.PROCESSING, TaskStatus.FAILED)
OPEN_OF_LEAD = (
    "SELECT * FROM ("
    + " UNION ALL ".join(
        f"SELECT {COLUMNS} FROM tasks WHERE status = '{status}' AND lead_id = ?"
        for status in OPEN_STATUSES
    )
    + ") AS open_tasks ORDER BY id"
)


def task_from_row(row: Row, lead: Lead | None = None) -> Task:
    """The task a row holds; `lead`: its lead, read with it by a claim."""
    data = loads(row["payload"]) or {}
    return Task(
        id=row["id"],
        payload=task_payload_of(TaskType(row["type"]), data),
        status=TaskStatus(row["status"]),
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        run_after=row["run_after"],
        locked_until=row["locked_until"],
        last_error=row["last_error"],
        result=loads(row["result"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        lead_id=row["lead_id"] or data.get("lead_id"),  # rows older than the column had it here
        lead=lead,
    )


@dataclass(frozen=True)
class PendingGroup:
    """Pending tasks of one type: due now or waiting for their time, first tries or retries
    (waiting out their backoff), how many, and the earliest `run_after` among them."""

    type: TaskType
    due: bool
    retry: bool
    count: int
    first_run_after: str


@dataclass(frozen=True)
class Held:
    """A task its claim still holds, and the version and campaign of its outcome's lead
    then (None: the lead does not exist). A lead's campaign never changes."""

    lead_version: int | None
    lead_campaign: str | None = None


def held_by_key(count: int) -> str:
    """The FROM and WHERE of a statement on `count` tasks a claim holds, each given as its
    (id, attempts) and found by its key: joined with the VALUES list, a search by primary key
    each. As `(id, attempts) IN (VALUES …)` SQLite walked every task in `processing` for each
    statement, and a dispatcher holds hundreds claimed ahead."""
    pairs = ", ".join(["(?, ?)"] * count)
    return (
        f" FROM (VALUES {pairs}) AS v WHERE tasks.id = v.column1"
        " AND tasks.attempts = v.column2 AND tasks.status = 'processing'"
    )


def holding(count: int) -> str:
    """`TaskQueue.hold_all`'s statement for `count` tasks. Its lead's id is compared as an
    expression (the CAST): SQLite plans a subquery in RETURNING that names a column of the
    updated row as a scan of every lead, once for each task held (measured: 116 ms for 64
    tasks beside 20,000 leads, 0.4 ms through the index)."""
    lead = "FROM leads WHERE id = CAST(tasks.lead_id AS TEXT)"
    return (
        f"UPDATE tasks SET updated_at = ?{held_by_key(count)} RETURNING tasks.id AS id,"
        f" (SELECT version {lead}) AS version, (SELECT campaign_id {lead}) AS campaign_id"
    )


# Bound parameters a statement may always have: SQLite's limit before 3.32 (since, 32,766),
# far below PostgreSQL's 65,535. Rows in chunks of up to 64 (row_chunks) stay within it.
FEWEST_PARAMETERS = 999


def _types(types: tuple[TaskType, ...]) -> str:
    return among("type", types)


class TaskQueue:
    def __init__(self, sql: Sql, max_attempts: int = 10):
        self.sql = sql
        self.max_attempts = max_attempts

    def enqueue(self, payload: TaskPayload, delay: float = 0.0, lead_id: str | None = None) -> int:
        return self.enqueuing(payload, delay, lead_id)()

    def enqueuing(
        self, payload: TaskPayload, delay: float = 0.0, lead_id: str | None = None
    ) -> Callable[[], int]:
        """`enqueue`, the task's id read when called (on PostgreSQL, with the next wait)."""
        data = dumps(task_data(payload))
        now = self.sql.now()
        run_after = later(now, delay) if delay else now
        return self.sql.inserting(
            "INSERT INTO tasks (type, payload, lead_id, max_attempts, run_after,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (payload.type, data, lead_id, self.max_attempts, run_after, now, now),
        )

    def has_due(self, types: tuple[TaskType, ...] = ()) -> bool:
        """A read-only look, so an idle dispatcher never takes the write lock."""
        now = self.sql.now()
        return bool(
            self.sql.value(
                "SELECT EXISTS (SELECT 1 FROM tasks"
                f" WHERE status = 'pending' AND run_after <= ? {_types(types)})"
                " OR EXISTS (SELECT 1 FROM tasks"
                f" WHERE status = 'processing' AND locked_until <= ? {_types(types)})",
                (now, *types, now, *types),
            )
        )

    def due_types(self, types: tuple[TaskType, ...]) -> set[TaskType]:
        """Which of `types` have a task due: `has_due` for each, in one read (a busy
        dispatcher looks for its batch types every 10 ms)."""
        now = self.sql.now()
        one = (
            "SELECT type FROM (SELECT ? AS type) AS kind WHERE EXISTS (SELECT 1 FROM tasks"
            " WHERE status = 'pending' AND run_after <= ? AND tasks.type = kind.type)"
            " OR EXISTS (SELECT 1 FROM tasks"
            " WHERE status = 'processing' AND locked_until <= ? AND tasks.type = kind.type)"
        )
        rows = self.sql.all(
            " UNION ALL ".join([one] * len(types)),
            tuple(value for kind in types for value in (str(kind), now, now)),
        )
        return {TaskType(row["type"]) for row in rows}

    def claim_due(
        self,
        limit: int,
        lease: float,
        types: tuple[TaskType, ...] = (),
        with_leads: bool = False,
    ) -> list[Task]:
        """Atomically take up to `limit` due tasks (pending and due, or with an expired lease);
        `with_leads` reads each task's lead in the same transaction (one query for all)."""
        now = self.sql.now()
        # A task whose lease ran out as often as it may be tried (its handler never finished:
        # a crash each time?) fails rather than being claimed forever.
        self.sql.send(
            "UPDATE tasks SET status = 'failed', locked_until = NULL, updated_at = ?,"
            " last_error = 'gave up after ' || attempts || ' attempts that never finished'"
            f" WHERE status = 'processing' AND locked_until <= ? {_types(types)}"
            " AND attempts >= max_attempts",
            (now, now, *types),
        )
        due, params = self.sql.due_tasks(now, types, limit)
        rows = self.sql.all(
            "UPDATE tasks SET status = 'processing', locked_until = ?,"
            " attempts = attempts + 1, updated_at = ?"
            f" WHERE id IN ({due}) RETURNING {COLUMNS}",
            (later(now, lease), now, *params),
        )
        rows = sorted(rows, key=lambda row: row["id"])
        if not with_leads:
            return [task_from_row(row) for row in rows]
        found = LeadRows(self.sql, ZoneInfo("UTC"))  # by id: no day is read, so any zone does
        leads = found.many([row["lead_id"] for row in rows if row["lead_id"]])
        return [task_from_row(row, leads.get(row["lead_id"] or "")) for row in rows]

    def extend_leases(self, tasks: list[Task], lease: float) -> None:
        """Keep in-flight tasks leased while their work goes on (a heartbeat): a dispatcher
        holds its running tasks and hundreds claimed ahead, renewed every second in
        statements of up to 64, not one statement a task."""
        until = later(self.sql.now(), lease)
        held: list[Params] = [(task.id, task.attempts) for task in tasks]
        for size, params in row_chunks(held, FEWEST_PARAMETERS) if held else ():
            self.sql.send(f"UPDATE tasks SET locked_until = ?{held_by_key(size)}", (until, *params))

    def note(self, tasks: list[Task], result: JsonObject) -> None:
        """Record something about work under way (e.g. the key of an upload about to be
        sent) on tasks this claim still holds; it is read back if the task is claimed again."""
        self.sql.many(
            "UPDATE tasks SET result = ? WHERE id = ? AND status = 'processing' AND attempts = ?",
            [(dumps(result), task.id, task.attempts) for task in tasks],
        )

    def hold(self, task: Task, lead_id: str | None) -> Held | None:
        """`still_held`, in the statement that also locks the task's row to this
        transaction's end (so on PostgreSQL no other claim takes it before the outcome is
        written) and reads the version of the lead `lead_id` (an outcome's event appends the
        next) and its campaign: one round trip, where an outcome's writes then need no read.
        None: not held."""
        row = self.sql.one(
            "UPDATE tasks SET updated_at = ? WHERE id = ? AND status = 'processing'"
            " AND attempts = ? RETURNING (SELECT version FROM leads WHERE id = ?) AS version,"
            " (SELECT campaign_id FROM leads WHERE id = ?) AS campaign_id",
            (self.sql.now(), task.id, task.attempts, lead_id, lead_id),
        )
        return None if row is None else Held(row["version"], row["campaign_id"])

    def hold_all(self, tasks: list[Task]) -> dict[int, Held]:
        """`hold` for many tasks at once, each with the version of its own lead (its
        `lead_id`): one statement, one round trip for all. The tasks not in the answer are
        no longer held."""
        if not tasks:
            return {}
        rows = self.sql.all(
            holding(len(tasks)),
            (self.sql.now(), *(value for task in tasks for value in (task.id, task.attempts))),
        )
        return {row["id"]: Held(row["version"], row["campaign_id"]) for row in rows}

    def still_held(self, task: Task) -> bool:
        """Is `task` still processing under the claim that produced it (its attempt)?"""
        found = self.sql.one(
            "SELECT 1 FROM tasks WHERE id = ? AND status = 'processing' AND attempts = ?",
            (task.id, task.attempts),
        )
        return found is not None

    def retry_if_held(self, task: Task, delay: float, error: str) -> bool:
        """`retry_later`, only if this claim (its attempt) still holds `task`: a dispatcher
        whose lease ran out must not reschedule a task another one is working on."""
        held = self.still_held(task)
        if held:
            self.retry_later(task.id, delay, error)
        return held

    def fail_if_held(self, task: Task, error: str) -> bool:
        """`fail`, only if this claim still holds `task` (see `retry_if_held`)."""
        held = self.still_held(task)
        if held:
            self.fail(task.id, error)
        return held

    def wait_if_held(self, task: Task, delay: float, note: str) -> bool:
        """Pending again after `delay` without spending the attempt this claim took (the work
        waits on another system, e.g. a report it is building: no failure), only if this
        claim still holds `task`. Fenced as `release` is: the attempt count goes back to what
        it was before this claim, never below a later claim's."""
        held = self.still_held(task)
        if held:
            self._set(
                task.id,
                status=TaskStatus.PENDING,
                attempts=max(task.attempts - 1, 0),
                run_after=later(self.sql.now(), delay),
                locked_until=None,
                last_error=note[:ERROR_LIMIT],
            )
        return held

    def newest(self, type: TaskType, limit: int) -> list[Task]:
        """The last `limit` tasks of `type` queued, whatever their status, newest first (a
        walk back along the ids, which stops after `limit` of them)."""
        rows = self.sql.all(
            f"SELECT {COLUMNS} FROM tasks WHERE type = ? ORDER BY id DESC LIMIT ?", (type, limit)
        )
        return [task_from_row(row) for row in rows]

    def status(self, task_id: int) -> TaskStatus | None:
        value = self.sql.value("SELECT status FROM tasks WHERE id = ?", (task_id,))
        return None if value is None else TaskStatus(value)

    def complete(self, task_id: int, result: JsonObject) -> None:
        self.complete_all([(task_id, result)])

    def complete_all(self, done: list[tuple[int, JsonObject]]) -> None:
        """`complete` for many tasks, each with its result: one statement (a settle's batch
        of deliveries costs the writer one, and PostgreSQL's NOTIFY trigger runs once)."""
        if not done:
            return
        rows = ", ".join("(?, ?)" for _ in done)
        self.sql.send(
            "UPDATE tasks SET status = 'completed', result = v.column2, locked_until = NULL,"
            f" updated_at = ? FROM (VALUES {rows}) AS v WHERE tasks.id = v.column1",
            (
                self.sql.now(),
                *(value for task_id, result in done for value in (task_id, dumps(result))),
            ),
        )

    def retry_later(self, task_id: int, delay: float, error: str) -> None:
        """Try again after `delay`; a task out of attempts fails instead (every retry path
        is capped, also one that does not check first)."""
        row = self.sql.one("SELECT attempts, max_attempts FROM tasks WHERE id = ?", (task_id,))
        if row is not None and row["attempts"] >= row["max_attempts"]:
            self.fail(task_id, f"gave up after {row['attempts']} attempts: {error}")
            return
        self._set(
            task_id,
            status=TaskStatus.PENDING,
            run_after=later(self.sql.now(), delay),
            locked_until=None,
            last_error=error[:ERROR_LIMIT],
        )

    def fail(self, task_id: int, error: str) -> None:
        self._set(
            task_id, status=TaskStatus.FAILED, locked_until=None, last_error=error[:ERROR_LIMIT]
        )

    def release(self, task: Task) -> None:
        """Give a claimed task back untouched (shutdown): its attempt does not count."""
        self.sql.run(
            "UPDATE tasks SET status = 'pending', locked_until = NULL,"
            " attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, updated_at = ?"
            " WHERE id = ? AND status = 'processing' AND attempts = ?",
            (self.sql.now(), task.id, task.attempts),
        )

    def retry_failed(self, task_ids: list[int] | None = None) -> int:
        """Queue failed tasks again with a fresh set of attempts; return how many."""
        now = self.sql.now()
        where, params = "status = 'failed'", tuple[int, ...]()
        if task_ids is not None:
            where += f" AND id IN ({marks(task_ids)})"
            params = tuple(task_ids)
        return self.sql.run(
            "UPDATE tasks SET status = 'pending', attempts = 0, run_after = ?, updated_at = ?"
            f" WHERE {where}",
            (now, now, *params),
        )

    def open_counts(self) -> dict[TaskStatus, int]:
        """Pending, processing and failed: each an index lookup, however many completed."""
        return {
            status: int(self.sql.value(f"SELECT count(*) FROM tasks WHERE status = '{status}'"))
            for status in OPEN_STATUSES
        }

    def counts(self) -> dict[TaskStatus, int]:
        rows = self.sql.all("SELECT status, count(*) AS n FROM tasks GROUP BY status")
        return {status: 0 for status in TaskStatus} | {
            TaskStatus(row["status"]): row["n"] for row in rows
        }

    def get(self, task_id: int) -> Task | None:
        row = self.sql.one(f"SELECT {COLUMNS} FROM tasks WHERE id = ?", (task_id,))
        return None if row is None else task_from_row(row)

    def oldest_pending(self) -> str | None:
        value = self.sql.value("SELECT min(created_at) FROM tasks WHERE status = 'pending'")
        return None if value is None else str(value)

    def oldest_due(self) -> str | None:
        """Since when the longest-waiting due task has waited (its run_after, or its lease's
        end when its dispatcher died): what the stalled-queue watcher measures."""
        now = self.sql.now()
        value = self.sql.value(
            "SELECT min(since) FROM ("
            " SELECT min(run_after) AS since FROM tasks WHERE status = 'pending' AND run_after <= ?"
            " UNION ALL SELECT min(locked_until) AS since FROM tasks"
            " WHERE status = 'processing' AND locked_until <= ?) AS due",
            (now, now),
        )
        return None if value is None else str(value)

    def needing_attention(self, retrying_attempts: int, limit: int = 200) -> list[Task]:
        """Failed, stuck past their lease, or pending after several tries; newest first."""
        rows = self.sql.all(
            "SELECT * FROM ("
            f"  SELECT {COLUMNS} FROM tasks WHERE status = 'failed'"
            f"  UNION ALL SELECT {COLUMNS} FROM tasks"
            "  WHERE status = 'processing' AND locked_until < ?"
            f"  UNION ALL SELECT {COLUMNS} FROM tasks"
            "  WHERE status = 'pending' AND attempts >= ?"
            ") AS attention ORDER BY updated_at DESC LIMIT ?",
            (self.sql.now(), retrying_attempts, limit),
        )
        return [task_from_row(row) for row in rows]

    def troubled_leads(self, type: TaskType, retrying_attempts: int) -> list[Row]:
        """(campaign_id, crm_connection) of leads whose task of `type` failed or keeps failing."""
        return self.sql.all(
            "SELECT l.campaign_id, l.crm_connection FROM ("
            "  SELECT lead_id FROM tasks WHERE status = 'failed' AND type = ?"
            "  UNION ALL SELECT lead_id FROM tasks"
            "  WHERE status = 'pending' AND type = ? AND attempts >= ?"
            ") t JOIN leads l ON l.id = t.lead_id",
            (type, type, retrying_attempts),
        )

    def _set(self, task_id: int, **values: object) -> None:
        values["updated_at"] = self.sql.now()
        assignments = ", ".join(f"{name} = ?" for name in values)
        # No one reads its count: on PostgreSQL's pipeline it waits for no answer.
        self.sql.send(f"UPDATE tasks SET {assignments} WHERE id = ?", (*values.values(), task_id))

    def pending_groups(self) -> list[PendingGroup]:
        """The pending tasks by type, due or waiting on purpose (a backoff, a check's
        interval), first try or retry: what is late is told apart from what waits."""
        now = self.sql.now()
        rows = self.sql.all(
            "SELECT type, CASE WHEN run_after <= ? THEN 1 ELSE 0 END AS due,"
            " CASE WHEN attempts > 0 THEN 1 ELSE 0 END AS retry,"
            " count(*) AS n, min(run_after) AS first_run_after"
            " FROM tasks WHERE status = 'pending' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            (now,),
        )
        return [
            PendingGroup(
                TaskType(row["type"]),
                bool(row["due"]),
                bool(row["retry"]),
                int(row["n"]),
                str(row["first_run_after"]),
            )
            for row in rows
        ]

    def open_of_lead(self, lead_id: str) -> list[Task]:
        """A lead's tasks that are not completed, oldest first: the lead's few tasks through
        the index of lead ids (0025), whatever the size of the queue's history."""
        rows = self.sql.all(OPEN_OF_LEAD, (lead_id,) * len(OPEN_STATUSES))
        return [task_from_row(row) for row in rows]
