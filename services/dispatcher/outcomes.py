"""How a finished task is written back: its event and its new state, in one transaction."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from common.config import DispatcherSettings
from common.events import LeadEvent, LeadSentToCrm
from common.integrations.base import DeliveryFailure
from common.leads import LeadService
from common.model import JsonObject, Metadata, Task
from common.store import Store, Tx
from common.store.tasks import Held

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


Future = asyncio.Future[Settled]
Finished = tuple[Task, "Done | Failed", Future]

JITTER = 0.75  # a retry waits 75–100 % of its step: spread out, yet the schedule is known


def step(attempts: int, settings: DispatcherSettings) -> float:
    """The delay before the next try, doubling from retry_base_delay up to retry_max_delay."""
    return min(settings.retry_max_delay, settings.retry_base_delay * 2 ** (attempts - 1))


def backoff(attempts: int, settings: DispatcherSettings, retry_after: float | None) -> float:
    """Exponential backoff with jitter; never sooner than the server's Retry-After, nor
    later than retry_max_delay: a Retry-After of a date in 2099 or of 30 digits (which
    no date holds) would park the task for good, neither tried nor failed."""
    ceiling = step(attempts, settings)
    delay = random.uniform(ceiling * JITTER, ceiling)
    return max(delay, min(retry_after or 0.0, settings.retry_max_delay))


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
    settled = _write(tx, task, lead_id, outcome, held, settings)
    if isinstance(outcome, Done):
        tx.tasks.complete(task.id, outcome.result)
    return settled


def apply_own(
    tx: Tx, finished: list[tuple[Task, Done | Failed]], settings: DispatcherSettings
) -> list[Settled]:
    """`apply_outcome` for many tasks, each on its own lead (`task.lead_id`): their fences and
    their leads' versions in one statement (on PostgreSQL one round trip for all), and the
    tasks done completed in one."""
    held = tx.tasks.hold_all([task for task, _ in finished])
    settled: list[Settled] = [
        _write(tx, task, task.lead_id, outcome, held[task.id], settings)
        if task.id in held
        else "stale"
        for task, outcome in finished
    ]
    tx.tasks.complete_all(
        [
            (task.id, outcome.result)
            for (task, outcome), status in zip(finished, settled, strict=True)
            if isinstance(outcome, Done) and status == "completed"
        ]
    )
    return settled


def _write(
    tx: Tx,
    task: Task,
    lead_id: str | None,
    outcome: Done | Failed,
    held: Held,
    settings: DispatcherSettings,
) -> Settled:
    """The outcome of a task this transaction holds (its lead as `held` read it); a task
    done is left for the caller to complete (many at once)."""
    metadata: Metadata = {"task_id": task.id}
    if isinstance(outcome, Done):
        assert lead_id is not None
        LeadService.record(
            tx, lead_id, outcome.event, metadata, held.lead_version, held.lead_campaign
        )
        if isinstance(outcome.event, LeadSentToCrm):
            LeadService.mark_merged(tx, lead_id, outcome.event, metadata)
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
        LeadService.record(
            tx, lead_id, outcome.event(reason), metadata, held.lead_version, held.lead_campaign
        )
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


class Settler:
    """Writes the outcomes of tasks on their own leads (the CRM deliveries), the ones that
    finish while a unit waits for the writer in that one unit: a unit takes, when it runs,
    every outcome that came meanwhile, so their fences cost one statement (on PostgreSQL one
    round trip for the lot instead of one each). A unit that fails (an outcome's error, not
    a lost race: those run again) leaves each of its outcomes to be written alone, so each
    gets its own answer."""

    def __init__(self, store: Store, settings: DispatcherSettings):
        self.store = store
        self.settings = settings
        self._lock = threading.Lock()  # the writer thread takes what the event loop adds
        self._waiting: list[Finished] = []
        self._unit_waiting = False  # a unit that will take them is on its way
        self._units: set[asyncio.Task[None]] = set()

    async def settle(self, task: Task, outcome: Done | Failed) -> Settled:
        future: asyncio.Future[Settled] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._waiting.append((task, outcome, future))
            new_unit = not self._unit_waiting
            self._unit_waiting = True
        if new_unit:
            unit = asyncio.create_task(self._write())
            self._units.add(unit)
            unit.add_done_callback(self._units.discard)
        return await future

    def _take(self) -> list[Finished]:
        with self._lock:
            taken, self._waiting = self._waiting, []
            self._unit_waiting = False
        return taken

    async def _write(self) -> None:
        taken: list[Finished] = []
        drawn = False

        def unit(tx: Tx) -> list[Settled]:
            nonlocal taken, drawn
            if not drawn:  # a unit may run twice: the second run writes the same outcomes
                taken, drawn = self._take(), True
            return apply_own(tx, [(task, outcome) for task, outcome, _ in taken], self.settings)

        try:
            settled = await self.store.write(unit)
        except Exception:
            if not drawn:  # the batch failed before this unit ran
                taken = self._take()
            await asyncio.gather(*(self._alone(*finished) for finished in taken))
            return
        for (_, _, future), status in zip(taken, settled, strict=True):
            if not future.done():
                future.set_result(status)

    async def _alone(self, task: Task, outcome: Done | Failed, future: Future) -> None:
        try:
            status = await settle(self.store, task, task.lead_id, outcome, self.settings)
        except Exception as error:
            if not future.done():
                future.set_exception(error)
        else:
            if not future.done():
                future.set_result(status)
