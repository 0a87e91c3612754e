"""How a finished task is written back: its event and its new state, in one transaction."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from common.config import DispatcherSettings
from common.events import LeadEvent, LeadSentToCrm
from common.integrations.base import DeliveryFailure
from common.leads import LeadService
from common.model import JsonObject, Metadata, Task
from common.store import Store, Tx

Settled = Literal["completed", "pending", "failed", "stale"]


@dataclass(frozen=True)
class Done:
    """Success: record `event` on the lead and complete the task with `result`."""

    event: LeadEvent
    result: JsonObject = field(default_factory=dict)


@dataclass(frozen=True)
class Failed:
    """A failure; if permanent or out of attempts, the event `event` makes of the reason
    (if any) is recorded on the lead."""

    failure: DeliveryFailure
    event: Callable[[str], LeadEvent] | None = None


JITTER = 0.75  # a retry waits 75–100 % of its step: spread out, yet the schedule is known


def step(attempts: int, settings: DispatcherSettings) -> float:
    """The delay before the next try, doubling from retry_base_delay up to retry_max_delay."""
    return min(settings.retry_max_delay, settings.retry_base_delay * 2 ** (attempts - 1))


def backoff(attempts: int, settings: DispatcherSettings, retry_after: float | None) -> float:
    """Exponential backoff with jitter; never sooner than the server's Retry-After."""
    ceiling = step(attempts, settings)
    delay = random.uniform(ceiling * JITTER, ceiling)
    return max(delay, retry_after or 0.0)


def shortest_retry_span(settings: DispatcherSettings) -> float:
    """Seconds from the first failed attempt to giving up, at the least (all jitter low)."""
    return sum(step(n, settings) * JITTER for n in range(1, settings.max_attempts))


def apply_outcome(
    tx: Tx,
    task: Task,
    lead_id: str | None,
    outcome: Done | Failed,
    settings: DispatcherSettings,
) -> Settled:
    """Write the outcome; return the task's new status.

    Only the current holder of the task may write: if the lease ran out and
    another dispatcher claimed the task meanwhile (attempts moved on), or it
    finished it, this outcome is stale and changes nothing.
    """
    held = tx.tasks.hold(task, lead_id)  # one round trip: the fence, and the lead's version
    if held is None:
        return "stale"
    metadata: Metadata = {"task_id": task.id}
    if isinstance(outcome, Done):
        assert lead_id is not None
        LeadService.record(tx, lead_id, outcome.event, metadata, held.lead_version)
        if isinstance(outcome.event, LeadSentToCrm):
            LeadService.mark_merged(tx, lead_id, outcome.event, metadata)
        tx.tasks.complete(task.id, outcome.result)
        return "completed"
    failure = outcome.failure
    if failure.temporary and not task.exhausted:
        delay = backoff(task.attempts, settings, failure.retry_after)
        tx.tasks.retry_later(task.id, delay, failure.message)
        return "pending"
    reason = failure.message
    if failure.temporary:
        reason = f"gave up after {task.attempts} attempts: {reason}"
    if outcome.event is not None and lead_id is not None:
        LeadService.record(tx, lead_id, outcome.event(reason), metadata, held.lead_version)
    tx.tasks.fail(task.id, reason)
    return "failed"


def apply_each(
    tx: Tx,
    tasks: list[Task],
    outcomes: dict[int, Done | Failed],
    settings: DispatcherSettings,
) -> dict[int, Settled]:
    """Write a batch's outcomes, each task's with its own lead."""
    settled: dict[int, Settled] = {}
    for task in tasks:
        lead_id = task.lead_id
        if lead_id is None or tx.leads.version(lead_id) is None:
            tx.tasks.fail(task.id, "the lead does not exist")
            settled[task.id] = "failed"
        else:
            settled[task.id] = apply_outcome(tx, task, lead_id, outcomes[task.id], settings)
    return settled


async def settle(
    store: Store,
    task: Task,
    lead_id: str | None,
    outcome: Done | Failed,
    settings: DispatcherSettings,
) -> Settled:
    return await store.write(lambda tx: apply_outcome(tx, task, lead_id, outcome, settings))
