"""The schedule of Direct cost imports: every `direct.import_every` seconds, one import of the
days whose figures still change (common.cost_imports.settling).

It keeps no state of its own: when the next import is due is read from the import tasks
(the last one it queued, and whether one is still pending or running), so a restarted
dispatcher neither imports again at once nor skips a period. The decision and the queueing
are one write, so dispatchers sharing a SQLite file queue one import; on PostgreSQL the
write first takes the token of a bucket shared in the database (`tx.rates`), whose row lock
makes dispatchers that look at the same moment take turns, the later one finding the token
gone. A duplicate would be harmless (an import replaces its days), but not a flood of them.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from common import clock
from common.config import Settings
from common.cost_imports import LOOK_BACK, imports, next_import, settling
from common.integrations.direct import DirectReports
from common.model import TaskType
from common.store import Store, Tx
from services.dispatcher.looks import keep_looking

log = logging.getLogger(__name__)
LOOK_AT_MOST_EVERY = 300.0  # seconds between looks, however far the next import is
BUCKET = "direct:schedule"


class ImportSchedule:
    def __init__(self, settings: Settings, store: Store, reports: DirectReports):
        self.every = settings.direct.import_every
        self.zone = settings.dashboard.zone
        self.store = store
        self.reports = reports
        self.looks = 0  # completed looks (tests wait for the first one)

    async def run(self) -> None:
        async def look() -> float:
            return (await self.once())[1]  # until the next import is due

        await keep_looking(look, "the Direct import schedule")

    async def once(self) -> tuple[int | None, float]:
        """Queue the import if it is due: (its task id or None, seconds to the next look)."""
        window = settling(self.zone)
        kind = TaskType.IMPORT_DIRECT_COSTS
        recent = await self.store.read(lambda tx: tx.tasks.newest(kind, LOOK_BACK))
        due = next_import(recent, window, self.every)
        queued = None
        if due is not None and due <= clock.now():
            queued = await self.store.write_alone(self._queue)
            if queued is not None:
                log.info("Direct costs import queued", extra={"task_id": queued})
            due = clock.now() + self._period
        self.looks += 1
        wait = self.every if due is None else (due - clock.now()).total_seconds()
        return queued, min(max(wait, 1.0), LOOK_AT_MOST_EVERY)

    @property
    def _period(self) -> timedelta:
        return timedelta(seconds=self.every)

    def _queue(self, tx: Tx) -> int | None:
        """The import, unless another dispatcher has just queued it."""
        if self.store.rate_limits_in_database and tx.rates.take(BUCKET, 2 / self.every):
            return None  # another dispatcher took this half period's token
        window = settling(self.zone)
        recent = tx.tasks.newest(TaskType.IMPORT_DIRECT_COSTS, LOOK_BACK)
        due = next_import(recent, window, self.every)
        if due is None or due > clock.now():
            return None
        [task] = imports(self.reports, *window, scheduled=True)
        return tx.tasks.enqueue(task)
