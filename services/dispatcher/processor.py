"""BackgroundTaskProcessor: claims due tasks and runs their handlers, a bounded number at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable

from common.config import DispatcherSettings
from common.db import Database
from common.errors import DatabaseBusy
from common.tasks import Task, TaskQueue

log = logging.getLogger(__name__)

Handler = Callable[[list[Task]], Awaitable[None]]


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
        return sum(len(tasks) for tasks in self._inflight.values())

    async def run(self) -> None:
        types = tuple(self.handlers)
        while not self._stopping:
            free = self.settings.concurrency - self.busy
            claimed: list[Task] = []
            if free > 0:
                try:
                    if await self.queue.has_due(types):
                        claimed = await self.queue.claim_due(
                            free, self.settings.lease_seconds, types
                        )
                except DatabaseBusy:
                    log.warning("database busy while claiming; will poll again")
            for batch in self._batches(claimed):
                self._start(batch)
            if claimed and len(claimed) == free:
                continue  # a full claim: more may be waiting
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval)

    def _batches(self, claimed: list[Task]) -> list[list[Task]]:
        grouped: dict[str, list[Task]] = defaultdict(list)
        batches = []
        for task in claimed:
            if task.type in self.batch_types:
                grouped[task.type].append(task)
            else:
                batches.append([task])
        return batches + list(grouped.values())

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
                        await TaskQueue.release(tx, task.id)

            await self.db.transaction(release)
            log.info("released %d unfinished tasks", sum(map(len, leftovers.values())))
