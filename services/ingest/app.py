"""The ingest application factory."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp_cors
from aiohttp import web

from common import appkeys
from common.config import Settings
from common.metrics import Fold, FoldedCounter
from common.model import campaign_key
from common.ratelimit import KeyedLimiter
from common.web import base_app
from services.ingest import views
from services.ingest.keys import LEADS_CREATED, RATE_LIMITER

BODY_LIMIT = 64 * 1024
ResponseHook = Callable[[web.Request, web.StreamResponse], Awaitable[object]]


def create_app(settings: Settings) -> web.Application:
    ingest = settings.ingest
    app = base_app(
        settings,
        "ingest",
        client_max_size=BODY_LIMIT,
        trusted_proxies=ingest.trusted_proxies,
    )
    app[RATE_LIMITER] = KeyedLimiter(ingest.rate_limit_per_minute, 60.0)
    created = app[appkeys.METRICS].counter(
        "leadrelay_leads_created_total", "Leads accepted", ("campaign",)
    )
    fold = Fold(ingest.metrics_campaigns, settings.routing.campaigns, campaign_key)
    app[LEADS_CREATED] = FoldedCounter(created, fold)
    leads = app.router.add_post("/api/v1/leads", views.create_lead, name="create_lead")
    app.router.add_get("/api/v1/openapi.json", views.openapi, name="openapi")

    hooks = list(app.on_response_prepare)
    cors = aiohttp_cors.setup(app)
    cross_origin_only(app, [hook for hook in app.on_response_prepare if hook not in hooks])
    options = aiohttp_cors.ResourceOptions(
        allow_credentials=False,
        allow_headers=("Content-Type", "Idempotency-Key", "X-Request-ID"),
        expose_headers=("X-Request-ID",),
        allow_methods=("POST",),
        max_age=3600,
    )
    cors.add(leads, {origin: options for origin in ingest.cors_origins})
    return app


def cross_origin_only(app: web.Application, hooks: list[ResponseHook]) -> None:
    """Run aiohttp-cors's hook on an answer only when the request has an Origin: without one
    (a server's post, Tilda's) it ends at once (CORS 6.1.1), but only after looking up the
    route's configuration, a fiftieth of a lead's time."""
    for hook in hooks:
        app.on_response_prepare.remove(hook)

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        if "Origin" in request.headers:
            for hook in hooks:
                await hook(request, response)

    app.on_response_prepare.append(on_prepare)
