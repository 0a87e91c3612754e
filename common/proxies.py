"""Believe X-Forwarded-For only when the direct peer is one of our own proxies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp_remotes import XForwardedRelaxed

from common.serving import Networks

Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]


def trusted_forwarded(proxies: list[str]) -> Middleware:
    is_proxy = Networks(proxies).holds
    # One proxy hop: the client is the address our proxy appended last.
    relaxed = XForwardedRelaxed(num=1)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if "X-Forwarded-For" in request.headers and is_proxy(request.remote):
            return await relaxed.middleware(request, handler)
        return await handler(request)

    return middleware
