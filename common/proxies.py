"""Believe X-Forwarded-For only when the direct peer is one of our own proxies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import lru_cache
from ipaddress import ip_address, ip_network

from aiohttp import web
from aiohttp_remotes import XForwardedRelaxed

from common.web import Handler

Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]


def trusted_forwarded(proxies: list[str]) -> Middleware:
    networks = [ip_network(proxy, strict=False) for proxy in proxies]
    # One proxy hop: the client is the address our proxy appended last.
    relaxed = XForwardedRelaxed(num=1)

    @lru_cache(maxsize=4096)  # a busy landing sends from few addresses: parse each once
    def is_proxy(peer: str | None) -> bool:
        try:
            return peer is not None and any(ip_address(peer) in net for net in networks)
        except ValueError:  # a unix socket or an odd transport
            return False

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if "X-Forwarded-For" in request.headers and is_proxy(request.remote):
            return await relaxed.middleware(request, handler)
        return await handler(request)

    return middleware
