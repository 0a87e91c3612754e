"""The dispatcher application factory: /healthz, /metrics and the task loop."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from common import appkeys
from common.config import Settings
from common.integrations.registry import build_integrations
from common.payments import PaymentService
from common.tasks import RESOLVE_DEAL, SEND_TO_CRM, SEND_TO_YANDEX
from common.web import base_app, http_session_ctx
from services.dispatcher.crm import CrmDelivery
from services.dispatcher.deals import DealResolution
from services.dispatcher.keys import PROCESSOR
from services.dispatcher.processor import BackgroundTaskProcessor
from services.dispatcher.yandex import YandexConversions


def create_app(settings: Settings) -> web.Application:
    app = base_app(settings, "dispatcher")
    app.cleanup_ctx.append(http_session_ctx(settings.dispatcher.request_timeout))
    app.cleanup_ctx.append(task_loop)
    return app


async def task_loop(app: web.Application) -> AsyncIterator[None]:
    settings = app[appkeys.SETTINGS]
    integrations = build_integrations(settings)
    outcomes = app[appkeys.METRICS].counter(
        "leadrelay_crm_deliveries_total",
        "send_to_crm attempts by connection and resulting task status",
        ("connection", "status"),
    )
    crm = CrmDelivery(
        settings,
        app[appkeys.DB],
        app[appkeys.LEADS],
        integrations,
        app[appkeys.HTTP],
        lambda connection, status: outcomes.labels(connection, status).inc(),
    )
    uploads = app[appkeys.METRICS].counter(
        "leadrelay_conversion_uploads_total", "Metrica uploads by result", ("result",)
    )
    yandex = YandexConversions(
        settings, app[appkeys.DB], app[appkeys.HTTP], lambda result: uploads.labels(result).inc()
    )
    deals = DealResolution(
        settings,
        app[appkeys.DB],
        PaymentService(app[appkeys.TASKS]),
        integrations,
        app[appkeys.HTTP],
    )
    processor = BackgroundTaskProcessor(
        app[appkeys.DB],
        app[appkeys.TASKS],
        {SEND_TO_CRM: crm, SEND_TO_YANDEX: yandex, RESOLVE_DEAL: deals},
        settings.dispatcher,
        batch_types=frozenset({SEND_TO_YANDEX}),
    )
    app[PROCESSOR] = processor
    open_tasks = app[appkeys.METRICS].gauge(
        "leadrelay_tasks", "Tasks not yet completed, by status", ("status",)
    )

    async def count_tasks() -> None:
        for status, count in (await app[appkeys.TASKS].open_counts()).items():
            open_tasks.labels(status).set(count)

    app[appkeys.METRICS].before_scrape.append(count_tasks)
    processor.start()
    yield
    await processor.stop()
