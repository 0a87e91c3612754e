"""What every emulator shares: a record of requests and switchable faults."""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Faults:
    fail_rate: float = 0.0  # share of calls answered with a 5xx (or the API's own error)
    rate_limit: float | None = None  # calls per second before the API's 429 answer
    hang: bool = False  # never answer
    status: int | None = None  # answer every call with this status
    delay: float = 0.0  # seconds before answering (a slow CRM)
    # Answer every call with a 301 to this address, as a moved or renamed endpoint does
    # (a renamed Bitrix24 portal, a CRM behind a new domain). RFC 9110 §15.4: a client may
    # re-send a POST answered 301/302 as a GET, which aiohttp does; the Standard Webhooks
    # spec ("Delivery": only 2xx is a success) counts any 3xx as a failed delivery.
    redirect_to: str | None = None
    seed: int | None = None
    _recent: deque = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)

    def over_limit(self) -> bool:
        if self.rate_limit is None:
            return False
        now = time.monotonic()
        while self._recent and now - self._recent[0] > 1.0:
            self._recent.popleft()
        if len(self._recent) >= self.rate_limit:
            return True
        self._recent.append(now)
        return False

    def should_fail(self) -> bool:
        return self.random.random() < self.fail_rate


@dataclass
class Emulator:
    """State of one emulated service; `received` holds every accepted call's body."""

    faults: Faults = field(default_factory=Faults)
    received: list[Any] = field(default_factory=list)
    calls: int = 0
    refused: int = 0

    async def gate(self, limited: Callable[[], web.Response], failed: Callable[[], web.Response]):
        """Apply the faults; return an error response, or None to serve normally."""
        self.calls += 1
        if self.faults.delay:
            await asyncio.sleep(self.faults.delay)
        if self.faults.hang:
            await asyncio.Event().wait()
        if self.faults.redirect_to is not None:
            self.refused += 1
            raise web.HTTPMovedPermanently(self.faults.redirect_to)
        if self.faults.status is not None:
            self.refused += 1
            return web.json_response({"error": "forced"}, status=self.faults.status)
        if self.faults.over_limit():
            self.refused += 1
            return limited()
        if self.faults.should_fail():
            self.refused += 1
            return failed()
        return None


def control_routes(emulator: Emulator) -> list[web.RouteDef]:
    """POST /_control {fail_rate, rate_limit, hang, status}; GET /_received."""

    async def control(request: web.Request) -> web.Response:
        changes = await request.json()
        emulator.faults = Faults(**changes)
        return web.json_response({"ok": True})

    async def received(request: web.Request) -> web.Response:
        return web.json_response(emulator.received)

    return [web.post("/_control", control), web.get("/_received", received)]


async def start(app: web.Application, port: int = 0) -> tuple[web.AppRunner, str]:
    """Serve on 127.0.0.1; return the runner and the base URL."""
    # A short shutdown: a "hanging" handler must not hold the test's teardown for a minute.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{bound}"
