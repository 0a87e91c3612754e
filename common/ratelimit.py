"""Per-key (client IP, login name) rate limits on top of aiolimiter's leaky bucket."""

from __future__ import annotations

import math
from collections import OrderedDict

from aiolimiter import AsyncLimiter

from common.errors import RateLimited


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
