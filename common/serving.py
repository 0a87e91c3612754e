"""Serving a process on its port, with bounds that slow and hostile clients cannot stretch.

aiohttp bounds a request's size but not the time a client takes to send it, nor how many
connections stay open: a thousand clients that each send a header line a minute would hold
every file descriptor (the usual limit is 1,024) and no landing page could send a lead.
So each connection here
- is closed if a request's head (request line and headers) has not arrived within
  `header_timeout` seconds of the connection opening or of the previous answer;
- counts against `max_connections`, and against `max_connections_per_address` for its
  client's address (unless that is one of `trusted_proxies`); past either, it is answered
  a 503 with a JSON body and Retry-After before any HTTP is read, and closed;
and a handler reading a body gets `body_timeout` seconds for it (see `read_body`), and a
shutdown waits at most `shutdown_timeout` seconds for requests in flight.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import time
from collections import Counter
from collections.abc import Awaitable
from functools import lru_cache
from ipaddress import IPv6Address, ip_address, ip_network
from typing import Any, TypeVar, cast

import orjson
from aiohttp import web

from common.config import ServerSettings
from common.errors import LeadrelayError

log = logging.getLogger(__name__)
T = TypeVar("T")
# CPython examines its youngest generation once 700 more container objects are made than freed.
# A request makes and drops a few hundred (dicts, coroutines, futures); with 32 in flight the
# count passed 700 every few dozen leads, each pass walking the young objects, every tenth one
# the middle generation too, and now and then all of the heap (35 ms with the loop stopped).
# Measured on ingest under wrk: about 12 us a lead on the loop. Past start-up the objects a
# request makes are freed by their counts, not by the collector, so it is asked far less often.
YOUNG_GENERATION = 10_000
NOTE_EVERY = 60.0  # seconds between log lines about closed connections
REFUSED_LINGER = 1.0  # seconds a refused connection may take to read its 503 and close


class RequestTimeout(LeadrelayError):
    status, code = 408, "request_timeout"


async def in_time(reading: Awaitable[T], seconds: float) -> T:
    """What reading a body gives, or a 408 if the body takes longer than `seconds`."""
    try:
        async with asyncio.timeout(seconds):
            return await reading
    except TimeoutError:
        raise RequestTimeout(f"the body did not arrive within {seconds:g} s") from None


class Networks:
    """Whether an address is in a list of networks (`trusted_proxies`, `metrics_from`)."""

    def __init__(self, networks: list[str]):
        self.networks = [ip_network(net, strict=False) for net in networks]
        # A busy landing sends from few addresses: parse each once.
        self.holds = lru_cache(maxsize=4096)(self._holds)

    def _holds(self, address: str | None) -> bool:
        try:
            ip = ip_address(address or "")
        except ValueError:  # a unix socket or an odd transport
            return False
        if isinstance(ip, IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # a dual-stack socket's ::ffff:203.0.113.7
        return any(ip in net for net in self.networks)


@lru_cache(maxsize=4096)
def client_of(address: str) -> str:
    """Whom `max_connections_per_address` counts: an IPv4 address, or an IPv6 address's /64
    (one host commonly holds a whole /64, so single IPv6 addresses are free to it)."""
    try:
        ip = ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, IPv6Address) and ip.ipv4_mapped is None:
        return str(ip_network(f"{ip}/64", strict=False))
    return address


def peer_address(transport: asyncio.BaseTransport | None) -> str | None:
    """The connection's own peer (never a header): an IP address, or None."""
    peer = transport.get_extra_info("peername") if transport is not None else None
    return peer[0] if isinstance(peer, tuple) and peer else None


def unavailable(code: str, message: str, retry_after: int) -> bytes:
    """A whole 503 answer, written before HTTP is parsed: the same JSON error shape."""
    body = orjson.dumps({"error": code, "message": message, "detail": {"retry_after": retry_after}})
    head = (
        f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        f"Retry-After: {retry_after}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


class ConnectionGuard:
    """The protocol factory the listening socket uses: aiohttp's, with the bounds above."""

    _loop: asyncio.AbstractEventLoop  # the serving loop, from the first connection on

    def __init__(self, settings: ServerSettings):
        self.settings = settings
        self.factory: Any = None  # aiohttp's Server, once the runner is set up
        # Each open connection's deadline for its next request head (loop time; None while
        # a request is being answered), and the one timer that watches it.
        self.open: dict[asyncio.BaseTransport, float | None] = {}
        self.timers: dict[asyncio.BaseTransport, asyncio.TimerHandle] = {}
        self.per_address: Counter[str] = Counter()
        self.proxies = Networks(settings.trusted_proxies)
        self.metrics_from = Networks(settings.metrics_from)  # common.web's /metrics
        self.closed_slow = 0
        self.refused = 0
        self.lingering = 0  # refused connections reading their 503
        self._noted = 0.0

    def __call__(self) -> asyncio.Protocol:
        return _Guarded(self)

    def admit(self, transport: asyncio.BaseTransport, address: str | None) -> bytes | None:
        """Take the connection in (None), or the 503 to answer it with."""
        if len(self.open) >= self.settings.max_connections:
            problem = f"the server holds its limit of {self.settings.max_connections} connections"
        elif (
            address is not None
            and self.per_address[client_of(address)] >= self.settings.max_connections_per_address
            and not self.proxies.holds(address)
        ):
            limit = self.settings.max_connections_per_address
            problem = f"your address holds its limit of {limit} open connections"
        else:
            if address is not None:
                self.per_address[client_of(address)] += 1
            self._arm(transport)
            return None
        self.refused += 1
        self._note()
        return unavailable("too_many_connections", f"{problem}; try again later", 1)

    # Called by the request middleware (common.web) around each request. They only move the
    # deadline: a timer per request (cancel one, make one) cost more than the rest of the
    # guard. The connection's timer, when it fires, closes it or waits for the new deadline.
    def head_arrived(self, transport: asyncio.BaseTransport | None) -> None:
        if transport is not None and transport in self.open:
            self.open[transport] = None

    def answered(self, transport: asyncio.BaseTransport | None) -> None:
        if transport is not None and transport in self.open:
            self.open[transport] = self._loop.time() + self.settings.header_timeout

    def _arm(self, transport: asyncio.BaseTransport) -> None:
        self._loop = asyncio.get_running_loop()
        due = self._loop.time() + self.settings.header_timeout
        self.open[transport] = due
        self.timers[transport] = self._loop.call_at(due, self._due, transport)

    def _due(self, transport: asyncio.BaseTransport) -> None:
        if transport not in self.open:
            return
        due = self.open[transport]
        if due is None:  # answering a request: its head came in time; look again later
            due = self._loop.time() + self.settings.header_timeout
        elif due <= self._loop.time():
            self._too_slow(transport)
            return
        self.timers[transport] = self._loop.call_at(due, self._due, transport)

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

    def forget(self, transport: asyncio.BaseTransport, address: str | None) -> None:
        self.open.pop(transport, None)
        timer = self.timers.pop(transport, None)
        if timer is not None:
            timer.cancel()
        if address is not None:
            client = client_of(address)
            self.per_address[client] -= 1
            if self.per_address[client] <= 0:
                del self.per_address[client]


class _Guarded(asyncio.Protocol):
    """aiohttp's protocol for one connection, with a deadline for each request head; or,
    over a limit, a 503 and the end of the connection."""

    def __init__(self, guard: ConnectionGuard):
        self.guard = guard
        self.inner: Any = None  # aiohttp's protocol, once the connection is admitted
        self.linger: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.address = peer_address(transport)
        refusal = self.guard.admit(transport, self.address)
        if refusal is not None:
            self._refuse(cast(asyncio.WriteTransport, transport), refusal)
            return
        self.inner = self.guard.factory()
        self.inner.connection_made(transport)

    def _refuse(self, transport: asyncio.WriteTransport, answer: bytes) -> None:
        # Closing with the client's request unread would send a reset, which may destroy
        # the answer before the client reads it: send it, half-close, and close once the
        # request has been read (or the client closes, or REFUSED_LINGER seconds pass).
        transport.write(answer)
        if self.guard.lingering >= self.guard.settings.max_connections or not (
            transport.can_write_eof()
        ):  # a flood of refusals must not hold descriptors of its own: close now
            transport.close()
            return
        transport.write_eof()
        self.guard.lingering += 1
        self.linger = asyncio.get_running_loop().call_later(REFUSED_LINGER, transport.abort)

    def data_received(self, data: bytes) -> None:
        if self.inner is not None:
            self.inner.data_received(data)
        else:  # refused: what the client sent is read, so closing now is a FIN, not a reset
            self.transport.close()

    def eof_received(self) -> bool | None:
        if self.inner is None:
            return False  # the transport closes itself
        result: bool | None = self.inner.eof_received()
        return result

    def connection_lost(self, exc: Exception | None) -> None:
        if self.inner is None:
            if self.linger is not None:
                self.linger.cancel()
                self.guard.lingering -= 1
            return
        self.guard.forget(self.transport, self.address)
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()


def settle_collector() -> None:
    """Once the process has started: what start-up made (modules, settings, the app, the store)
    lives as long as the process, so it is set aside from the collector's passes (gc.freeze),
    and the youngest generation is examined every YOUNG_GENERATION objects instead of 700."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION, middle, oldest)


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
    settle_collector()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        server.close()
        await runner.cleanup()
