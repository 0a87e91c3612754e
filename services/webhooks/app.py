"""The webhooks application factory."""

from __future__ import annotations

from aiohttp import web

from common import appkeys
from common.config import Settings
from common.integrations.registry import build_integrations
from common.ratelimit import share_limits
from common.web import base_app, http_session_ctx
from services.webhooks import views
from services.webhooks.keys import HANDLED, INTEGRATIONS
from services.webhooks.unmatched import check_unmatched_room

BODY_LIMIT = 256 * 1024
DEAL_READ_TIMEOUT = 5.0  # Bitrix24 waits for our answer while we read the deal


def create_app(settings: Settings) -> web.Application:
    app = base_app(settings, "webhooks", client_max_size=BODY_LIMIT)
    app.cleanup_ctx.append(http_session_ctx(DEAL_READ_TIMEOUT))
    app[INTEGRATIONS] = build_integrations(settings)
    app[HANDLED] = app[appkeys.METRICS].counter(
        "leadrelay_webhooks_total",
        "CRM webhooks handled, by connection and answer",
        ("crm", "status"),
    )
    app.router.add_post("/api/v1/webhooks/crm/{crm_id}", views.crm_webhook, name="crm_webhook")
    app.on_startup.append(_share_limits)  # after the store is open (cleanup_ctx runs first)
    app.on_startup.append(check_unmatched_room)
    return app


async def _share_limits(app: web.Application) -> None:
    share_limits(app[appkeys.STORE], app[INTEGRATIONS])
