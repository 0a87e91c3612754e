"""BackgroundTaskProcessor: claims due tasks and runs their handlers, a bounded number at once.

It keeps claimed tasks ready beside its slots, so a slot that frees starts the
next task at once, without waiting for a claim's commit; a two-step handler (`TwoStep`, the
CRM delivery) gives its slot up when its outside call is over, so writing the outcome does
not hold the next call back either, and that write shares its commit with the next claim.
Heartbeats renew the leases of every task it holds, running or ready, while it lives."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Awaitable, Callable

from common.config import DispatcherSettings
from common.errors import DatabaseBusy
from common.health import Loop
from common.model import Task, TaskType
from common.store import Store, Tx

log = logging.getLogger(__name__)

Handler = Callable[[list[Task]], Awaitable[None]]
Settle = Callable[[], Awaitable[None]]  # writes a finished task's outcome
BATCH_LIMIT = 1000  # rows in one batch, e.g. one Metrica upload
# How often the dispatcher asks the database whether anything was committed (PRAGMA
# data_version: microseconds, no lock). While work flows it looks every 10 ms, which bounds
# the pick-up delay of a new task; after a quiet while it looks less often, up to every
# 80 ms, so an idle dispatcher wakes a dozen times a second. poll_interval stays the
# fallback for tasks that fall due by the clock (retries, expired leases).
WATCH_BUSY = 0.01
WATCH_IDLE = 0.08
ERROR_PAUSE = 1.0  # after an unexpected error in the loop, before trying again
# While single tasks flow (the last claim got all it asked for), the batch types are looked
# for this often, not every busy watch: the look walks every due task of the other types
# (no index has the type), 2.4 ms beside a backlog of 8,000 deliveries, which at one look
# every 10 ms took a quarter of a core. A Metrica upload waits for its batch, not for this.
BATCH_LOOK_FLOWING = 0.5
# Claimed tasks kept ready beside the slots, in rounds of `concurrency`: a claim waits for
# a commit or two, and while it does, the slots go on freeing (to an instant CRM, 90 tasks
# in 20 ms). Claimed three rounds at a time while some are ready, so each claim is worth its
# statement. Forty-eight rounds (768 tasks at 16 slots): on PostgreSQL a claim rides the
# writer's batches of settles, 40-160 ms a claim of ~100 behind a backlog, and with twelve
# rounds the slots had run dry when 18 of 30 claims came back (bench/dispatch.py's
# instant-CRM drain on PostgreSQL, alternated in the same minutes: twelve rounds 757-972
# deliveries/s over eight runs, mean 863; twenty-four 863-1,031, mean 928; forty-eight
# 863-1,046 over six, mean 966; on SQLite forty-eight 1,496-1,650 against 1,442-1,475).
# Their leases are renewed like those of running work, and a stop hands them back.
READY_ROUNDS = 48
CLAIM_ROUNDS = 3


def stall_limit(settings: DispatcherSettings, busy_timeout: float) -> float:
    """Seconds without a completed round after which the loop counts as stalled: a round
    claims (a write that may wait busy_timeout) then waits up to poll_interval; allow three
    of those and two pauses after errors."""
    return 3 * (settings.poll_interval + busy_timeout) + 2 * ERROR_PAUSE


class TwoStep(ABC):
    """A handler in two steps: `send` does the outside call, holding one of the dispatcher's
    slots; the coroutine function it returns writes the outcome once the slot has gone to
    the next task. Called as a plain handler, it does both, one task after another."""

    @abstractmethod
    async def send(self, task: Task) -> Settle: ...

    async def __call__(self, tasks: list[Task]) -> None:
        for task in tasks:
            await (await self.send(task))()


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
        # Single tasks holding a slot (a set, as slots fill hundreds of times a second:
        # counting the runners each time cost 6 % of the dispatcher's CPU).
        self._holding: set[asyncio.Task[None]] = set()
        self._ready: deque[Task] = deque()  # claimed, waiting for a slot
        self._flowing = False  # the last claim got all it asked for: skip the look first
        self._batch_look = 0.0  # when the batch types were last looked at (monotonic)
        self._waker: asyncio.Future[None] | None = None
        self._woken = False
        self._watch = WATCH_BUSY
        self._stopping = False
        self._loop: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self.rounds = rounds or Loop("the task loop", float("inf"))  # beats after each round

    def start(self) -> None:
        self._loop = asyncio.create_task(self.run())
        self._heartbeat = asyncio.create_task(self._heartbeats())

    @property
    def busy(self) -> int:
        """Single tasks holding a slot; a batch runs beside them and does not take their
        slots, nor does a two-step task writing its outcome."""
        return len(self._holding)

    async def run(self) -> None:
        while not self._stopping:
            try:
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
        # Rounds come as often as slots free (hundreds a second while work flows): the
        # batch types are looked at no more often than the busy watch looks for commits,
        # and while single tasks flow, every BATCH_LOOK_FLOWING.
        every = BATCH_LOOK_FLOWING if self._flowing else WATCH_BUSY
        if time.monotonic() - self._batch_look >= every:
            self._batch_look = time.monotonic()
            idle = tuple(self.batch_types - self._batches_running())
            due = await self.store.read(lambda tx: tx.tasks.due_types(idle)) if idle else set()
            for kind in due:  # one look for them all, then a claim of each that has work
                batch = await self._claim(BATCH_LIMIT, (kind,), look_first=False)
                if batch:
                    self._start(batch)
        # Enough for every slot, and READY_ROUNDS rounds ready beside them.
        wanted = self._wanted()
        if wanted <= 0 or not self._singles or not self._round_due(wanted):
            return False
        tasks = await self._claim(wanted, self._singles, look_first=not self._flowing)
        self._flowing = len(tasks) == wanted
        self._ready.extend(tasks)
        self._fill()
        return self._flowing

    def _wanted(self) -> int:
        """Tasks to claim for every slot, and READY_ROUNDS rounds ready beside them."""
        return (1 + READY_ROUNDS) * self.settings.concurrency - self.busy - len(self._ready)

    def _round_due(self, wanted: int) -> bool:
        """Claim in rounds, CLAIM_ROUNDS slots' worth each: while tasks are ready, not for
        every slot that frees (a claim of one or two a delivery cost the writer and the loop
        more than the deliveries' own writes); at once when none is ready."""
        return not self._ready or wanted >= CLAIM_ROUNDS * self.settings.concurrency

    def _fill(self) -> None:
        """Start ready tasks in the free slots."""
        while self._ready and not self._stopping and self.busy < self.settings.concurrency:
            self._start([self._ready.popleft()])

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

    async def _heartbeats(self) -> None:
        """Every third of the lease, while this processor lives (also through a stop's
        grace period), renew the leases of what it holds: only a dead dispatcher's tasks
        fall due."""
        while True:
            await asyncio.sleep(self.settings.lease_seconds / 3)  # the heartbeat's period
            try:
                await self._extend_leases()
            except Exception:
                log.exception("renewing leases failed; will try again")

    async def _extend_leases(self) -> None:
        held = [task for batch in self._inflight.values() for task in batch]
        held.extend(self._ready)
        if held:
            lease = self.settings.lease_seconds
            await self.store.write(lambda tx: tx.tasks.extend_leases(held, lease))

    async def _claim(
        self, limit: int, types: tuple[TaskType, ...], look_first: bool = True
    ) -> list[Task]:
        if look_first and not await self.store.read(lambda tx: tx.tasks.has_due(types)):
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
        if batch[0].type not in self.batch_types:
            self._holding.add(runner)
        runner.add_done_callback(self._finished)

    def _finished(self, runner: asyncio.Task[None]) -> None:
        batch = self._inflight.pop(runner, None)
        self._holding.discard(runner)
        self._fill()
        if (batch and batch[0].type in self.batch_types) or self._round_due(self._wanted()):
            self._wake()

    def _sent(self) -> None:
        """The running two-step task's outside call is over: its slot goes to the next."""
        runner = asyncio.current_task()
        if runner is not None:
            self._holding.discard(runner)
        self._fill()
        if self._round_due(self._wanted()):
            self._wake()  # the loop claims a round; that claim shares the settles' commit

    async def _handle(self, batch: list[Task]) -> None:
        handler = self.handlers[batch[0].type]
        try:
            if isinstance(handler, TwoStep) and batch[0].type not in self.batch_types:
                settle = await handler.send(batch[0])
                self._sent()
                await settle()
            else:
                await handler(batch)
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
        await asyncio.gather(*leftovers, return_exceptions=True)
        unstarted = list(self._ready)
        self._ready.clear()
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
        given_back = [task for batch in leftovers.values() for task in batch] + unstarted
        if given_back:

            def release(tx: Tx) -> None:
                for task in given_back:
                    tx.tasks.release(task)

            await self.store.write(release)
            log.info(
                "released %d unfinished tasks and %d not started",
                len(given_back) - len(unstarted),
                len(unstarted),
            )


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
