"""Per-key (client IP, login name) rate limits on top of aiolimiter's leaky bucket."""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict
from typing import Any

from aiolimiter import AsyncLimiter

from common.errors import RateLimited
from common.store import Store


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


class SharedLimiter:
    """`async with limiter:` waits for a token of a bucket kept in the database, so every
    process on every host together stays under `rate` calls a second (the aiolimiter
    interface the integrations use, backed by `tx.rates`)."""

    def __init__(self, store: Store, name: str, rate: float):
        self.store = store
        self.name = name
        self.rate = rate

    async def __aenter__(self) -> None:
        name, rate = self.name, self.rate
        while True:
            wait = await self.store.write_alone(lambda tx: tx.rates.take(name, rate))
            if not wait:
                return
            await asyncio.sleep(wait)  # until the bucket's next token is due

    async def __aexit__(self, *exc: object) -> None:
        return None


def share_limits(store: Store, integrations: dict[str, Any]) -> None:
    """On a shared store, each integration's per-process limiter becomes a shared one."""
    if not store.rate_limits_in_database:
        return
    for name, integration in integrations.items():
        rate = integration.limiter.max_rate / integration.limiter.time_period
        integration.limiter = SharedLimiter(store, f"crm:{name}", rate)
