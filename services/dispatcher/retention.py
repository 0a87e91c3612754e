"""Retention (`privacy.erase_after_days`): the personal data of leads older than that is
erased by a task in the queue, `erase_expired_leads`, queued by a schedule.

Like the Direct import schedule it keeps no state of its own: whether a run is due is read
from the task table (one pending or running, or the last one queued less than `EVERY`
ago, and none is queued), so a restarted dispatcher neither runs again at once nor skips a
period. The look and the queueing are one write, so dispatchers sharing the database queue
one task; a duplicate would be harmless (erasing twice changes nothing) but useless.
A run erases at most `BATCHES` × `common.erasure.BATCH` leads; the next run goes on.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from common import clock
from common.config import Settings
from common.erasure import erase_expired
from common.model import Task, TaskStatus, TaskType
from common.store import Store, Tx
from common.tasks import EraseExpired
from services.dispatcher.looks import keep_looking

log = logging.getLogger(__name__)
EVERY = 3600.0  # seconds between runs
BATCHES = 20  # transactions of common.erasure.BATCH leads in one run


def due(tx: Tx, every: float) -> bool:
    """Should a run be queued now: none pending or running, the last one long enough ago."""
    last = tx.tasks.newest(TaskType.ERASE_EXPIRED, 1)
    if not last:
        return True
    if last[0].status in (TaskStatus.PENDING, TaskStatus.PROCESSING):
        return False
    return clock.parse(last[0].created_at) + timedelta(seconds=every) <= clock.now()


class RetentionSchedule:
    def __init__(self, settings: Settings, store: Store, every: float = EVERY):
        self.days = settings.privacy.erase_after_days
        self.store = store
        self.every = every

    async def run(self) -> None:
        async def look() -> float:
            await self.once()
            return self.every / 4

        await keep_looking(look, "the retention schedule")

    async def once(self) -> int | None:
        """Queue a run if one is due; its task id, or None."""
        queued = await self.store.write_alone(self._queue)
        if queued is not None:
            log.info("retention run queued", extra={"task_id": queued})
        return queued

    def _queue(self, tx: Tx) -> int | None:
        return tx.tasks.enqueue(EraseExpired(self.days)) if due(tx, self.every) else None


class RetentionRuns:
    """The handler of `erase_expired_leads`: erase, then complete the task with the count."""

    def __init__(self, settings: Settings, store: Store):
        # Retention runs about every hour: a VACUUM FULL of `events` that often would lock a
        # large database's writes again and again, so it vacuums plainly (the freed space is
        # reused by new rows). An erasure someone asks for rewrites as `vacuum_full` says.
        self.rewrite = False
        self.store = store

    async def __call__(self, tasks: list[Task]) -> None:
        for task in tasks:
            payload = task.payload
            assert isinstance(payload, EraseExpired)
            outcome = await erase_expired(self.store, payload.days, BATCHES, self.rewrite)
            log.info("retention erased %d leads", len(outcome.erased))

            def complete(tx: Tx, task: Task = task, count: int = len(outcome.erased)) -> None:
                if tx.tasks.still_held(task):
                    tx.tasks.complete(task.id, {"erased": count})

            await self.store.write(complete)
