"""Per-key (client IP, login name) rate limits on top of aiolimiter's leaky bucket."""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
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
        limiter = self._limiters.pop(key, None) or AsyncLimiter(self.rate, self.period)
        self._limiters[key] = limiter
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


class SharedLimiter:
    """`async with limiter:` waits for a call's turn in a bucket kept in the database, so
    every process on every host together stays under `rate` calls a second (the aiolimiter
    interface the integrations use, backed by `tx.rates`).

    A turn costs a round trip and a commit, so where the rate allows several calls in
    RESERVE_SECONDS this process reserves that many turns at once and hands them out 1/rate
    apart; a turn not used by its time is dropped, never used late, so the calls never come
    closer together than the turns were (7 a second reserves one at a time, as before)."""

    def __init__(self, store: Store, name: str, rate: float):
        self.store = store
        self.name = name
        self.rate = rate
        self._count = max(1, int(rate * RESERVE_SECONDS))
        self._next = 0.0  # when the next reserved turn is due (monotonic)
        self._left = 0  # reserved turns not yet handed out
        self._reserving = asyncio.Lock()

    async def __aenter__(self) -> None:
        async with self._reserving:
            turn = self._turn()
            if turn is None:
                name, rate, count = self.name, self.rate, self._count
                wait = await self.store.write_alone(lambda tx: tx.rates.reserve(name, rate, count))
                self._next, self._left = time.monotonic() + wait, count
                turn = self._turn()
        delay = (turn or 0.0) - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)  # until this call's turn

    def _turn(self) -> float | None:
        """The next reserved turn not yet past (those past are dropped), or None."""
        interval = 1.0 / self.rate
        missed = int((time.monotonic() - self._next) / interval)
        if missed > 0:
            dropped = min(missed, self._left)
            self._next += dropped * interval
            self._left -= dropped
        if not self._left:
            return None
        turn = self._next
        self._next += interval
        self._left -= 1
        return turn

    async def __aexit__(self, *exc: object) -> None:
        return None


def share_limits(store: Store, integrations: dict[str, Any]) -> None:
    """On a shared store, each integration's per-process limiter becomes a shared one."""
    if not store.rate_limits_in_database:
        return
    for name, integration in integrations.items():
        rate = integration.limiter.max_rate / integration.limiter.time_period
        integration.limiter = SharedLimiter(store, f"crm:{name}", rate)
