"""What every leadrelay process serves the same way: errors, request ids, health, metrics."""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar, cast

import aiohttp
import orjson
import uvloop
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Middleware as AioMiddleware
from aiohttp.web_protocol import RequestPayloadError
from prometheus_client import CONTENT_TYPE_LATEST

from common import appkeys, logs
from common.config import ServerSettings, Settings, load_settings
from common.errors import BadRequest, DatabaseBusy, Forbidden, LeadrelayError, RateLimited
from common.health import Health
from common.metrics import BatchingCollector, Metrics
from common.model import Json
from common.proxies import trusted_forwarded
from common.serving import (
    ConnectionGuard,
    in_time,
    peer_address,
    serve_until_signalled,
)
from common.store import ZoneChanged, open_store
from common.store.sqlite.service_lock import ServiceHold

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]
T = TypeVar("T")
HEALTH_RETRY = 5  # seconds a monitor might wait before asking an unhealthy process again
# A request with these came through a proxy, on behalf of someone the peer address hides.
FORWARDED = frozenset({"X-Forwarded-For", "Forwarded", "X-Real-IP"})
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
HTTP_CODES = {
    400: "malformed",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def json_error(
    status: int,
    code: str,
    message: str,
    detail: object = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = {"error": code, "message": message, "detail": detail}
    return web.json_response(body, status=status, headers=headers)


def error_response(error: LeadrelayError) -> web.Response:
    headers = None
    if isinstance(error, RateLimited | DatabaseBusy):  # DatabaseUnavailable is one too
        headers = {"Retry-After": str(error.retry_after)}
    return json_error(error.status, error.code, error.message, error.detail, headers)


def error_answer(request: web.Request, error: Exception) -> web.Response:
    """The JSON error shape for a domain or HTTP error; input never yields a 500. A redirect
    (an HTTPException under 400) is raised again, for aiohttp to send as it is."""
    if isinstance(error, LeadrelayError):
        return error_response(error)
    if isinstance(error, HttpProcessingError):  # a body aiohttp cannot parse (a multipart part)
        status = error.code if 400 <= error.code < 500 else 400
        return json_error(status, "malformed", f"the body cannot be read: {error.message}")
    if isinstance(error, RequestPayloadError):  # e.g. Content-Encoding: gzip on a body that is not
        reason = str(error).split("message:")[-1].strip()  # "400, message:\n  Can not …"
        return json_error(400, "malformed", f"the body cannot be read: {reason}")
    if isinstance(error, web.HTTPException):
        if error.status < 400:
            raise error
        code = HTTP_CODES.get(error.status, "http_error")
        headers = {k: v for k, v in error.headers.items() if k in ("Allow", "Retry-After")}
        if error.status == 503:  # every 503 says when to come back
            headers.setdefault("Retry-After", "5")
        return json_error(error.status, code, error.reason, headers=headers)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return json_error(500, "internal", "internal error; it has been logged")


# A NUL character (U+0000) is meaningless in any text here, and PostgreSQL's text refuses it.
# A path that holds one (percent-encoded: the HTTP parser refuses a raw one) is refused before
# any handler sees it; a query string only where it is read (the dashboard's filters: ingest
# reads no query, and a lead is never refused for its address); a form's fields where read.
NUL = "%00"
NUL_IN_ADDRESS = "the address holds a NUL character (%00)"


def request_middleware(proxies: list[str]) -> AioMiddleware:
    """The one middleware (each layer costs a coroutine and a wrapper per request): it echoes a
    sane X-Request-ID or makes one (it goes into logs and event metadata), takes the client's
    address from X-Forwarded-For when one of our `proxies` sent the request, answers errors in
    the JSON error shape, counts the answer in /metrics and logs it."""
    forwarded = trusted_forwarded(proxies) if proxies else None

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get("X-Request-ID")
        rid = given if given and REQUEST_ID.match(given) else new_request_id()
        token = logs.request_id.set(rid)
        started = time.perf_counter()
        guard = request.app[appkeys.GUARD]
        guard.head_arrived(request.transport)  # the head is in: its deadline is met
        try:
            try:
                if NUL in request.raw_path and NUL in request.raw_path.split("?", 1)[0]:
                    raise BadRequest(NUL_IN_ADDRESS)
                if forwarded is not None and "X-Forwarded-For" in request.headers:
                    response = await forwarded(request, handler)
                else:
                    response = await handler(request)
            except Exception as error:
                response = error_answer(request, error)
        finally:
            logs.request_id.reset(token)
            guard.answered(request.transport)  # the next head on this connection has its own
        response.headers["X-Request-ID"] = rid
        _answered(request, response, rid, time.perf_counter() - started)
        return response

    return middleware


def _answered(request: web.Request, response: web.StreamResponse, rid: str, took: float) -> None:
    route = request.match_info.route.resource
    name = route.canonical if route is not None else "unmatched"
    request.app[appkeys.METRICS].answered(name, request.method, response.status, took)
    # The path only: query strings may carry webhook tokens. Successful requests are logged
    # at DEBUG: each handler that changes something logs its own outcome line at INFO.
    level = logging.INFO if response.status >= 400 else logging.DEBUG
    if log.isEnabledFor(level):
        extra = {"request_id": rid, "ms": round(took * 1000, 1)}
        log.log(level, "%s %s %s", request.method, request.path, response.status, extra=extra)


def header_text(request: web.Request, name: str) -> str | None:
    """A request header as text: bytes that are not UTF-8 (a Latin-1 User-Agent) become
    U+FFFD instead of the lone surrogates aiohttp keeps, which no JSON encoder accepts."""
    value = request.headers.get(name)
    if value is None or value.isascii():
        return value
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def request_id(request: web.Request) -> str:
    return logs.request_id.get() or new_request_id()


_ID_PREFIX = secrets.token_hex(8)  # this process, this start
_ID_COUNTER = itertools.count()


def new_request_id() -> str:
    """32 hex digits, unique across processes and restarts, without a random read each."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"


def json_response(
    body: object, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON answer written by orjson (several times faster than json), as bytes: no text
    to encode again."""
    return web.Response(
        body=orjson.dumps(body),
        status=status,
        headers=headers,
        content_type="application/json",
        charset="utf-8",
    )


async def healthz(request: web.Request) -> web.Response:
    """200 while the process can do its work; 503 with the reasons when it cannot."""
    app = request.app
    problems = await app[appkeys.HEALTH].rechecked()
    store = app.get(appkeys.STORE)
    if store is not None and (database := store.problem()):
        problems.append(f"the database refused the last write: {database}")
    body: dict[str, object] = {"status": "ok", "process": app[appkeys.METRICS].process_name}
    if not problems:
        return web.json_response(body)
    body |= {"status": "unhealthy", "problems": problems}
    return web.json_response(body, status=503, headers={"Retry-After": str(HEALTH_RETRY)})


async def metrics_view(request: web.Request) -> web.Response:
    """The Prometheus text, for a scraper on an address of `metrics_from` that no proxy
    forwarded: the series name campaigns and connections, which strangers need not see."""
    allowed = request.app[appkeys.GUARD].metrics_from
    forwarded = any(header in request.headers for header in FORWARDED)
    if forwarded or not allowed.holds(peer_address(request.transport)):
        raise Forbidden("metrics are served only to the addresses in metrics_from, unproxied")
    body = await request.app[appkeys.METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def in_body_time(request: web.Request, reading: Awaitable[T]) -> T:
    """Read the body (`request.read()`, `request.post()`) within the process's body_timeout:
    a 408 after it, so a client that trickles its body cannot hold a handler for ever."""
    if request.content.is_eof():  # all of it has arrived (a lead's usual few hundred bytes):
        return await reading  # reading cannot wait, so it needs no deadline of its own
    return await in_time(reading, request.app[appkeys.GUARD].settings.body_timeout)


async def json_body(request: web.Request) -> Json:
    raw = await in_body_time(request, request.read())
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:  # also nesting deeper than 1,024 levels
        raise BadRequest(f"body is not valid JSON: {error}") from error


def store_ctx(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    """Open (and migrate) the database for the app's lifetime, holding its service lock."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        # Held for the process's life, so `leadrelay restore` refuses while we run.
        hold = await asyncio.to_thread(ServiceHold, settings.database)
        try:
            store = await open_store(
                settings.database,
                settings.busy_timeout,
                settings.dispatcher.max_attempts,
                zone=settings.dashboard.zone,
            )
            app[appkeys.STORE] = store
            collector = BatchingCollector(store.batching)
            app[appkeys.METRICS].registry.register(collector)
            yield
            app[appkeys.METRICS].registry.unregister(collector)
            await store.close()
        finally:
            hold.release()

    return ctx


def http_session_ctx(timeout: float) -> Callable[[web.Application], AsyncIterator[None]]:
    """One shared aiohttp ClientSession with explicit timeouts, for outgoing calls."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        limits = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 5.0))
        async with aiohttp.ClientSession(timeout=limits) as http:
            app[appkeys.HTTP] = http
            yield

    return ctx


def base_app(
    settings: Settings,
    process_name: str,
    *,
    client_max_size: int = 64 * 1024,
    trusted_proxies: list[str] | None = None,
    middlewares: tuple[Middleware, ...] = (),
) -> web.Application:
    """An application with the shared middlewares, database, /healthz and /metrics; a
    client's address is read from X-Forwarded-For only if it came through `trusted_proxies`."""
    app = web.Application(
        client_max_size=client_max_size,
        # aiohttp's Middleware protocol names its parameters; ours are plain callables.
        middlewares=[
            request_middleware(trusted_proxies or []),
            *cast("tuple[AioMiddleware, ...]", middlewares),
        ],
    )
    app[appkeys.SETTINGS] = settings
    app[appkeys.METRICS] = Metrics(process_name)
    app[appkeys.HEALTH] = Health()
    app[appkeys.GUARD] = ConnectionGuard(getattr(settings, process_name))
    app.cleanup_ctx.append(store_ctx(settings))
    app.router.add_get("/healthz", healthz, name="healthz")
    app.router.add_get("/metrics", metrics_view, name="metrics")
    return app


def serve(app: web.Application, server: ServerSettings) -> None:
    # uvloop: the same asyncio API with less loop overhead per request and per thread hop
    # (bench/ingest_ceiling.py measures it, and runs its ceiling on uvloop too).
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(serve_until_signalled(app, server, app[appkeys.GUARD]))
    finally:
        loop.close()


def run_process(name: str, create_app: Callable[[Settings], web.Application]) -> None:
    """What `python -m services.<name>` does: read the configuration, log, serve."""
    settings = load_settings()
    logs.setup(name, settings.log_level)
    try:
        serve(create_app(settings), getattr(settings, name))
    except ZoneChanged as error:  # a person's decision, not a crash: no traceback
        log.critical("not starting: %s", error)
        raise SystemExit(2) from None
