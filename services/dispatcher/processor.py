"""BackgroundTaskProcessor: claims due tasks and runs their handlers, a bounded number at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from common.config import DispatcherSettings
from common.db import Database
from common.errors import DatabaseBusy
from common.tasks import Task, TaskQueue

log = logging.getLogger(__name__)

Handler = Callable[[list[Task]], Awaitable[None]]
BATCH_LIMIT = 1000  # rows in one batch, e.g. one Metrica upload


class BackgroundTaskProcessor:
    """Handlers get one task each, or, for `batch_types`, every claimed task of that type."""

    def __init__(
        self,
        db: Database,
        queue: TaskQueue,
        handlers: dict[str, Handler],
        settings: DispatcherSettings,
        batch_types: frozenset[str] = frozenset(),
    ):
        self.db = db
        self.queue = queue
        self.handlers = handlers
        self.settings = settings
        self.batch_types = batch_types
        self._inflight: dict[asyncio.Task, list[Task]] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._loop: asyncio.Task | None = None

    def start(self) -> None:
        self._loop = asyncio.create_task(self.run())

    @property
    def busy(self) -> int:
        """Single tasks in flight; a batch runs beside them and does not take their slots."""
        return sum(1 for batch in self._inflight.values() if batch[0].type not in self.batch_types)

    async def run(self) -> None:
        singles = tuple(t for t in self.handlers if t not in self.batch_types)
        heartbeat = time.monotonic()
        while not self._stopping:
            if time.monotonic() - heartbeat > self.settings.lease_seconds / 3:
                heartbeat = time.monotonic()
                await self._extend_leases()
            free = self.settings.concurrency - self.busy
            claimed = 0
            try:
                for kind in self.batch_types - self._batches_running():
                    batch = await self._claim(BATCH_LIMIT, (kind,))
                    if batch:
                        self._start(batch)
                if free > 0 and singles:
                    tasks = await self._claim(free, singles)
                    for task in tasks:
                        self._start([task])
                    claimed = len(tasks)
            except DatabaseBusy:
                log.warning("database busy while claiming; will poll again")
            if claimed and claimed == free:
                continue  # a full claim: more may be waiting
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval)

    async def _extend_leases(self) -> None:
        """Work still running keeps its lease: only a dead dispatcher's tasks fall due."""
        held = [task for batch in self._inflight.values() for task in batch]
        if held:
            try:
                await self.queue.extend_leases(held, self.settings.lease_seconds)
            except DatabaseBusy:
                log.warning("database busy while extending leases")

    async def _claim(self, limit: int, types: tuple[str, ...]) -> list[Task]:
        if not await self.queue.has_due(types):  # a read: idle polls take no write lock
            return []
        return await self.queue.claim_due(limit, self.settings.lease_seconds, types)

    def _batches_running(self) -> set[str]:
        return {batch[0].type for batch in self._inflight.values() if batch}

    def _start(self, batch: list[Task]) -> None:
        runner = asyncio.create_task(self._handle(batch))
        self._inflight[runner] = batch
        runner.add_done_callback(self._finished)

    def _finished(self, runner: asyncio.Task) -> None:
        self._inflight.pop(runner, None)
        self._wake.set()

    async def _handle(self, batch: list[Task]) -> None:
        try:
            await self.handlers[batch[0].type](batch)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            # A bug, not a delivery failure: keep the tasks and try them again later.
            log.exception("handler for %s failed", batch[0].type)
            message = f"internal error: {error.__class__.__name__}"

            async def later(tx):
                for task in batch:
                    await TaskQueue.retry_later(tx, task.id, self.settings.retry_max_delay, message)

            with contextlib.suppress(Exception):
                await self.db.transaction(later)

    async def stop(self) -> None:
        """Stop claiming; let in-flight work finish within the grace period; release the rest."""
        self._stopping = True
        self._wake.set()
        if self._loop is not None:
            await self._loop  # finishes its current claim, then exits
        if self._inflight:
            await asyncio.wait(list(self._inflight), timeout=self.settings.shutdown_grace)
        leftovers = dict(self._inflight)
        for runner in leftovers:
            runner.cancel()
        if leftovers:
            await asyncio.gather(*leftovers, return_exceptions=True)

            async def release(tx):
                for batch in leftovers.values():
                    for task in batch:
                        await TaskQueue.release(tx, task)

            await self.db.transaction(release)
            log.info("released %d unfinished tasks", sum(map(len, leftovers.values())))
