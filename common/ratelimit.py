"""Per-key (client IP, login name) rate limits on top of aiolimiter's leaky bucket."""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict, deque
from typing import Any

from aiolimiter import AsyncLimiter

from common.errors import RateLimited
from common.store import Store

# A process reserves as many turns of a shared bucket as its rate gives in this time: at 7
# a second one at a time; at 1,000 a second 200, one round trip for them all (while it is
# under way, this process's calls wait: measured, at 0.05 s a call waited 5 ms on average).
# Turns it does not use are lost to the others for no longer than this.
RESERVE_SECONDS = 0.2


class KeyedLimiter:
    """Allows `rate` requests per `period` seconds per key; refuses instead of waiting."""

    def __init__(self, rate: float, period: float = 1.0, max_keys: int = 10_000):
        self.rate = rate
        self.period = period
        self.max_keys = max_keys
        self._limiters: OrderedDict[str, AsyncLimiter] = OrderedDict()

    def _limiter(self, key: str) -> AsyncLimiter:
        limiter = self._limiters.get(key)
        if limiter is not None:
            self._limiters.move_to_end(key)  # the least recently seen keys go first
            return limiter
        limiter = self._limiters[key] = AsyncLimiter(self.rate, self.period)
        while len(self._limiters) > self.max_keys:
            self._limiters.popitem(last=False)
        return limiter

    def exhausted(self, key: str) -> bool:
        """True when the key has no allowance left (nothing is spent by asking)."""
        limiter = self._limiters.get(key)
        return limiter is not None and not limiter.has_capacity()

    def retry_after(self) -> int:
        return max(1, math.ceil(self.period / self.rate))

    async def check(self, key: str) -> None:
        limiter = self._limiter(key)
        if not limiter.has_capacity():
            retry_after = self.retry_after()
            raise RateLimited(f"too many requests, retry in {retry_after} s", retry_after)
        await limiter.acquire()  # has capacity: returns at once


class ServerClock:
    """When, on this process's monotonic clock, the database server read its own clock.

    A reservation's turns are due from the moment the server made it. Placed from when its
    answer was heard instead, a process that hears late (a busy event loop, a slow network)
    places them late, into the next process's turns, and the CRM sees calls closer than
    1/rate. The server's clock is mapped by the offset of the quickest recent round trip
    (its answer left the server soonest after the clock was read, so its midpoint is
    closest), and a reading is never placed before its request was sent or after its answer
    came. Samples older than WINDOW seconds are forgotten (the server's clock may be stepped)."""

    WINDOW = 30.0
    SAMPLES = 64

    def __init__(self) -> None:
        self._samples: deque[tuple[float, float, float]] = deque(maxlen=self.SAMPLES)

    def local(self, at: float, sent: float, heard: float) -> float:
        """The monotonic time of the server's reading `at`, made between `sent` and `heard`."""
        self._samples.append((heard, heard - sent, at - (sent + heard) / 2))
        while self._samples[0][0] < heard - self.WINDOW:
            self._samples.popleft()
        _, _, offset = min(self._samples, key=lambda sample: sample[1])
        return min(max(at - offset, sent), heard)


class SharedLimiter:
    """`async with limiter:` waits for a call's turn in a bucket kept in the database, so
    every process on every host together stays under `rate` calls a second (the aiolimiter
    interface the integrations use, backed by `tx.rates`).

    A turn costs a round trip and a commit, so where the rate allows several calls in
    RESERVE_SECONDS this process reserves that many turns at once and hands them out 1/rate
    apart, reserving the next ones while half of them are still ahead (so no call waits for
    that round trip). A turn not used by its time is dropped, never used late, so the calls
    never come closer together than the turns were. At 7 a second the turns are reserved one
    at a time, when a call wants one, as before."""

    def __init__(self, store: Store, name: str, rate: float):
        self.store = store
        self.name = name
        self.rate = rate
        self._count = max(1, int(rate * RESERVE_SECONDS))
        self._turns: deque[list[float]] = deque()  # [first turn (monotonic), how many]
        self._reserving: asyncio.Task[None] | None = None
        self._server = ServerClock()

    async def __aenter__(self) -> None:
        while (turn := self._turn()) is None:
            await asyncio.shield(self._reserve())  # a caller cancelled leaves it to the others
        if self._count > 1 and self._reserving is None and self._ahead() < RESERVE_SECONDS / 2:
            self._reserve().add_done_callback(_seen)  # a failure shows at the next wait
        delay = turn - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)  # until this call's turn

    def _reserve(self) -> asyncio.Task[None]:
        """The reservation under way, or a new one."""
        if self._reserving is None:
            self._reserving = asyncio.create_task(self._reserved())
        return self._reserving

    async def _reserved(self) -> None:
        name, rate, count = self.name, self.rate, self._count
        try:
            sent = time.monotonic()
            got = await self.store.write_alone(lambda tx: tx.rates.reserve(name, rate, count))
            reserved = self._server.local(got.at, sent, time.monotonic())
            self._turns.append([reserved + got.wait, count])
        finally:
            self._reserving = None

    def _turn(self) -> float | None:
        """The next reserved turn not yet past (those past are dropped), or None."""
        interval, now = 1.0 / self.rate, time.monotonic()
        while self._turns:
            run = self._turns[0]
            missed = min(int((now - run[0]) / interval), int(run[1]))
            if missed > 0:
                run[0] += missed * interval
                run[1] -= missed
            if run[1] >= 1:
                turn = run[0]
                run[0] += interval
                run[1] -= 1
                return turn
            self._turns.popleft()
        return None

    def _ahead(self) -> float:
        """Seconds until the last turn reserved."""
        if not self._turns:
            return 0.0
        first, left = self._turns[-1]
        return first + left / self.rate - time.monotonic()

    async def __aexit__(self, *exc: object) -> None:
        return None


def _seen(task: asyncio.Task[None]) -> None:
    """A reservation made ahead that failed: the next caller makes another and sees why."""
    if not task.cancelled():
        task.exception()


def share_limits(store: Store, integrations: dict[str, Any]) -> None:
    """On a shared store, each integration's per-process limiter becomes a shared one."""
    if not store.rate_limits_in_database:
        return
    for name, integration in integrations.items():
        rate = integration.limiter.max_rate / integration.limiter.time_period
        integration.limiter = SharedLimiter(store, f"crm:{name}", rate)
