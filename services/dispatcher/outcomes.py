"""How a finished task is written back: its event and its new state, in one transaction."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

from common.config import DispatcherSettings
from common.db import Database
from common.events import EventType
from common.integrations.base import DeliveryFailure
from common.leads import LeadService
from common.tasks import Task, TaskQueue


@dataclass(frozen=True)
class Done:
    """Success: record `event` on the lead and complete the task with `result`."""

    event: EventType
    data: dict[str, Any]
    result: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Failed:
    """A failure; if permanent or out of attempts, `event` (if any) is recorded on the lead."""

    failure: DeliveryFailure
    event: EventType | None = None
    data: dict[str, Any] = field(default_factory=dict)


def backoff(attempts: int, settings: DispatcherSettings, retry_after: float | None) -> float:
    """Exponential backoff with full jitter; never sooner than the server's Retry-After."""
    ceiling = min(settings.retry_max_delay, settings.retry_base_delay * 2 ** (attempts - 1))
    delay = random.uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)


async def apply_outcome(
    tx: aiosqlite.Connection,
    task: Task,
    lead_id: str | None,
    outcome: Done | Failed,
    settings: DispatcherSettings,
) -> str:
    """Write the outcome in the caller's transaction; return the task's new status.

    Only the current holder of the task may write: if the lease ran out and
    another dispatcher claimed the task meanwhile (attempts moved on), or it
    finished it, this outcome is stale and changes nothing.
    """
    if not await TaskQueue.still_held(tx, task):
        return "stale"
    if isinstance(outcome, Done):
        assert lead_id is not None
        await LeadService.record(tx, lead_id, outcome.event, outcome.data, {"task_id": task.id})
        await TaskQueue.complete(tx, task.id, outcome.result)
        return "completed"
    failure = outcome.failure
    if failure.temporary and not task.exhausted:
        delay = backoff(task.attempts, settings, failure.retry_after)
        await TaskQueue.retry_later(tx, task.id, delay, failure.message)
        return "pending"
    reason = failure.message
    if failure.temporary:
        reason = f"gave up after {task.attempts} attempts: {reason}"
    if outcome.event is not None and lead_id is not None:
        data = outcome.data | {"reason": reason}
        await LeadService.record(tx, lead_id, outcome.event, data, {"task_id": task.id})
    await TaskQueue.fail(tx, task.id, reason)
    return "failed"


async def settle(
    db: Database,
    task: Task,
    lead_id: str | None,
    outcome: Done | Failed,
    settings: DispatcherSettings,
) -> str:
    return await db.transaction(lambda tx: apply_outcome(tx, task, lead_id, outcome, settings))
