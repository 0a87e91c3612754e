"""The dispatcher application factory: /healthz, /metrics and the task loop."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from common import appkeys
from common.config import Settings
from common.integrations.registry import build_integrations
from common.tasks import SEND_TO_CRM
from common.web import base_app, http_session_ctx
from services.dispatcher.crm import CrmDelivery
from services.dispatcher.keys import PROCESSOR
from services.dispatcher.processor import BackgroundTaskProcessor


def create_app(settings: Settings) -> web.Application:
    app = base_app(settings, "dispatcher")
    app.cleanup_ctx.append(http_session_ctx(settings.dispatcher.request_timeout))
    app.cleanup_ctx.append(task_loop)
    return app


async def task_loop(app: web.Application) -> AsyncIterator[None]:
    settings = app[appkeys.SETTINGS]
    outcomes = app[appkeys.METRICS].counter(
        "leadrelay_crm_deliveries_total",
        "send_to_crm attempts by connection and resulting task status",
        ("connection", "status"),
    )
    crm = CrmDelivery(
        settings,
        app[appkeys.DB],
        app[appkeys.LEADS],
        build_integrations(settings),
        app[appkeys.HTTP],
        lambda connection, status: outcomes.labels(connection, status).inc(),
    )
    processor = BackgroundTaskProcessor(
        app[appkeys.DB], app[appkeys.TASKS], {SEND_TO_CRM: crm}, settings.dispatcher
    )
    app[PROCESSOR] = processor
    processor.start()
    yield
    await processor.stop()
