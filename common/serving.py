"""Serving a process on its port, with bounds that slow and hostile clients cannot stretch.

aiohttp bounds a request's size but not the time a client takes to send it, nor how many
connections stay open: a thousand clients that each send a header line a minute would hold
every file descriptor (the usual limit is 1,024) and no landing page could send a lead.
So each connection here
- is closed if a request's head (request line and headers) has not arrived within
  `header_timeout` seconds of the connection opening or of the previous answer;
- counts against `max_connections`; past it, a new connection is closed at once;
and a handler reading a body gets `body_timeout` seconds for it (see `read_body`), and a
shutdown waits at most `shutdown_timeout` seconds for requests in flight.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable
from typing import Any, TypeVar, cast

from aiohttp import web

from common.config import ServerSettings
from common.errors import LeadrelayError

log = logging.getLogger(__name__)
T = TypeVar("T")
NOTE_EVERY = 60.0  # seconds between log lines about closed connections


class RequestTimeout(LeadrelayError):
    status, code = 408, "request_timeout"


async def in_time(reading: Awaitable[T], seconds: float) -> T:
    """What reading a body gives, or a 408 if the body takes longer than `seconds`."""
    try:
        async with asyncio.timeout(seconds):
            return await reading
    except TimeoutError:
        raise RequestTimeout(f"the body did not arrive within {seconds:g} s") from None


class ConnectionGuard:
    """The protocol factory the listening socket uses: aiohttp's, with the bounds above."""

    def __init__(self, settings: ServerSettings):
        self.settings = settings
        self.factory: Any = None  # aiohttp's Server, once the runner is set up
        self.open: dict[asyncio.BaseTransport, asyncio.TimerHandle | None] = {}
        self.closed_slow = 0
        self.refused = 0
        self._noted = 0.0

    def __call__(self) -> asyncio.Protocol:
        if len(self.open) >= self.settings.max_connections:
            self.refused += 1
            self._note()
            return _Refuse()
        return _Guarded(self.factory(), self)

    # Called by the request middleware (common.web) around each request.
    def head_arrived(self, transport: asyncio.BaseTransport | None) -> None:
        timer = self.open.get(transport) if transport is not None else None
        if timer is not None:
            timer.cancel()
            self.open[transport] = None  # type: ignore[index]

    def answered(self, transport: asyncio.BaseTransport | None) -> None:
        if transport is not None and transport in self.open:
            self._arm(transport)

    def _arm(self, transport: asyncio.BaseTransport) -> None:
        loop = asyncio.get_running_loop()
        timer = loop.call_later(self.settings.header_timeout, self._too_slow, transport)
        self.open[transport] = timer

    def _too_slow(self, transport: asyncio.BaseTransport) -> None:
        self.closed_slow += 1
        self._note()
        # Frees the descriptor now; a slow client gets nothing more. (uvloop's transports are
        # not asyncio.WriteTransport instances, so no isinstance check.)
        cast(asyncio.WriteTransport, transport).abort()

    def _note(self) -> None:
        now = time.monotonic()
        if now - self._noted >= NOTE_EVERY:
            self._noted = now
            log.warning(
                "closed connections of slow or surplus clients",
                extra={"slow_heads": self.closed_slow, "over_limit": self.refused},
            )

    def forget(self, transport: asyncio.BaseTransport) -> None:
        timer = self.open.pop(transport, None)
        if timer is not None:
            timer.cancel()


class _Guarded(asyncio.Protocol):
    """aiohttp's protocol for one connection, with a deadline for each request head."""

    def __init__(self, inner: Any, guard: ConnectionGuard):
        self.inner = inner
        self.guard = guard

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.guard._arm(transport)
        self.transport = transport
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        result: bool | None = self.inner.eof_received()
        return result

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.forget(self.transport)
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


class _Refuse(asyncio.Protocol):
    """Over the connection limit: say so and close."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.WriteTransport instances: no isinstance here.
        transport = cast(asyncio.WriteTransport, transport)
        transport.write(
            b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n"
            b"Content-Length: 0\r\nConnection: close\r\n\r\n"
        )
        transport.close()


async def serve_until_signalled(
    app: web.Application, settings: ServerSettings, guard: ConnectionGuard
) -> None:
    """Listen until SIGTERM or SIGINT, then stop within `shutdown_timeout`."""
    runner = web.AppRunner(
        app,
        access_log=None,
        keepalive_timeout=settings.keepalive_timeout,
        shutdown_timeout=settings.shutdown_timeout,
    )
    await runner.setup()
    guard.factory = runner.server
    loop = asyncio.get_running_loop()
    server = await loop.create_server(guard, settings.host, settings.port, reuse_address=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        server.close()
        await runner.cleanup()
