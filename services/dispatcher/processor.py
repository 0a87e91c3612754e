"""BackgroundTaskProcessor: claims due tasks and runs their handlers, a bounded number at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from common.config import DispatcherSettings
from common.errors import DatabaseBusy
from common.health import Loop
from common.model import Task, TaskType
from common.store import Store, Tx

log = logging.getLogger(__name__)

Handler = Callable[[list[Task]], Awaitable[None]]
BATCH_LIMIT = 1000  # rows in one batch, e.g. one Metrica upload
# How often the dispatcher asks the database whether anything was committed (PRAGMA
# data_version: microseconds, no lock). While work flows it looks every 10 ms, which bounds
# the pick-up delay of a new task; after a quiet while it looks less often, up to every
# 80 ms, so an idle dispatcher wakes a dozen times a second. poll_interval stays the
# fallback for tasks that fall due by the clock (retries, expired leases).
WATCH_BUSY = 0.01
WATCH_IDLE = 0.08
ERROR_PAUSE = 1.0  # after an unexpected error in the loop, before trying again


def stall_limit(settings: DispatcherSettings, busy_timeout: float) -> float:
    """Seconds without a completed round after which the loop counts as stalled: a round
    claims (a write that may wait busy_timeout) then waits up to poll_interval; allow three
    of those and two pauses after errors."""
    return 3 * (settings.poll_interval + busy_timeout) + 2 * ERROR_PAUSE


class BackgroundTaskProcessor:
    """Handlers get one task each, or, for `batch_types`, every claimed task of that type."""

    def __init__(
        self,
        store: Store,
        handlers: dict[TaskType, Handler],
        settings: DispatcherSettings,
        batch_types: frozenset[TaskType] = frozenset(),
        rounds: Loop | None = None,
    ):
        self.store = store
        self.handlers = handlers
        self.settings = settings
        self.batch_types = batch_types
        self._singles = tuple(t for t in handlers if t not in batch_types)
        self._inflight: dict[asyncio.Task[None], list[Task]] = {}
        self._waker: asyncio.Future[None] | None = None
        self._woken = False
        self._watch = WATCH_BUSY
        self._stopping = False
        self._loop: asyncio.Task[None] | None = None
        self.rounds = rounds or Loop("the task loop", float("inf"))  # beats after each round

    def start(self) -> None:
        self._loop = asyncio.create_task(self.run())

    @property
    def busy(self) -> int:
        """Single tasks in flight; a batch runs beside them and does not take their slots."""
        return sum(1 for batch in self._inflight.values() if batch[0].type not in self.batch_types)

    async def run(self) -> None:
        heartbeat = time.monotonic()
        while not self._stopping:
            try:
                if time.monotonic() - heartbeat > self.settings.lease_seconds / 3:
                    heartbeat = time.monotonic()
                    await self._extend_leases()
                full = await self._claim_round()
            except DatabaseBusy:
                log.warning("database busy while claiming; will poll again")
                full = False
            except Exception:
                log.exception("task loop error; pausing before the next round")
                await asyncio.sleep(ERROR_PAUSE)  # a pause between retries, not a synchronisation
                continue
            self.rounds.beat()
            if full:
                self._watch = WATCH_BUSY
            else:
                await self._wait_for_work()

    async def _claim_round(self) -> bool:
        """Claim what is due; True when every free slot was filled (more may be waiting)."""
        for kind in self.batch_types - self._batches_running():
            batch = await self._claim(BATCH_LIMIT, (kind,))
            if batch:
                self._start(batch)
        free = self.settings.concurrency - self.busy
        if free <= 0 or not self._singles:
            return False
        tasks = await self._claim(free, self._singles)
        for task in tasks:
            self._start([task])
        return len(tasks) == free

    async def _wait_for_work(self) -> None:
        """Until something is committed, a handler finishes, or poll_interval passes."""
        deadline = time.monotonic() + self.settings.poll_interval
        while not self._stopping and time.monotonic() < deadline:
            if self.store.changed():
                self._watch = WATCH_BUSY
                return
            if await self._sleep(self._watch):
                return  # a handler finished: its slot is free now
            self._watch = min(self._watch * 1.5, WATCH_IDLE)

    async def _sleep(self, seconds: float) -> bool:
        """Sleep, unless a handler finishes first (then True)."""
        loop = asyncio.get_running_loop()
        self._woken = False
        self._waker = waker = loop.create_future()
        timer = loop.call_later(seconds, _resolve, waker)
        try:
            await waker
        finally:
            timer.cancel()
            self._waker = None
        return self._woken

    def _wake(self) -> None:
        self._woken = True
        if self._waker is not None:
            _resolve(self._waker)

    async def _extend_leases(self) -> None:
        """Work still running keeps its lease: only a dead dispatcher's tasks fall due."""
        held = [task for batch in self._inflight.values() for task in batch]
        if held:
            lease = self.settings.lease_seconds
            await self.store.write(lambda tx: tx.tasks.extend_leases(held, lease))

    async def _claim(self, limit: int, types: tuple[TaskType, ...]) -> list[Task]:
        if not await self.store.read(lambda tx: tx.tasks.has_due(types)):
            return []  # a read: idle polls take no write lock
        lease = self.settings.lease_seconds
        return await self.store.write(
            lambda tx: tx.tasks.claim_due(limit, lease, types, with_leads=True)
        )

    def _batches_running(self) -> set[TaskType]:
        return {batch[0].type for batch in self._inflight.values() if batch}

    def _start(self, batch: list[Task]) -> None:
        runner = asyncio.create_task(self._handle(batch))
        self._inflight[runner] = batch
        runner.add_done_callback(self._finished)

    def _finished(self, runner: asyncio.Task[None]) -> None:
        self._inflight.pop(runner, None)
        self._wake()

    async def _handle(self, batch: list[Task]) -> None:
        try:
            await self.handlers[batch[0].type](batch)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            # A bug, not a delivery failure: keep the tasks and try them again later.
            log.exception("handler for %s failed", batch[0].type)
            message = f"internal error: {error.__class__.__name__}"
            delay = self.settings.retry_max_delay
            if isinstance(error, DatabaseBusy):  # also unavailable: a moment, not a bug
                message = f"database: {error.message}"
                delay = self.settings.retry_base_delay

            def later(tx: Tx) -> None:
                for task in batch:
                    tx.tasks.retry_if_held(task, delay, message)

            with contextlib.suppress(Exception):
                await self.store.write(later)

    async def stop(self) -> None:
        """Stop claiming; let in-flight work finish within the grace period; release the rest."""
        self._stopping = True
        self._wake()
        if self._loop is not None:
            await self._loop  # finishes its current claim, then exits
        if self._inflight:
            await asyncio.wait(list(self._inflight), timeout=self.settings.shutdown_grace)
        leftovers = dict(self._inflight)
        for runner in leftovers:
            runner.cancel()
        if leftovers:
            await asyncio.gather(*leftovers, return_exceptions=True)

            def release(tx: Tx) -> None:
                for batch in leftovers.values():
                    for task in batch:
                        tx.tasks.release(task)

            await self.store.write(release)
            log.info("released %d unfinished tasks", sum(map(len, leftovers.values())))


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
