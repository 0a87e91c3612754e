"""The dispatcher application factory: /healthz, /metrics, the task loop, reconciliation,
the schedule of Direct cost imports and retention's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from common import appkeys
from common.alerts.subjects import Channel, Destination
from common.config import Settings
from common.crm_tokens import stored_credentials
from common.integrations.registry import build_integrations
from common.model import TaskType
from common.ratelimit import share_limits
from common.web import base_app, http_session_ctx
from services.dispatcher.alerts import AlertSending
from services.dispatcher.alerts_raise import AlertTriggers
from services.dispatcher.cost_schedule import ImportSchedule
from services.dispatcher.costs import CostImports
from services.dispatcher.crm import CrmDelivery
from services.dispatcher.deals import DealResolution
from services.dispatcher.keys import IMPORT_SCHEDULE, PROCESSOR, RETENTION_SCHEDULE
from services.dispatcher.processor import BackgroundTaskProcessor, stall_limit
from services.dispatcher.reconcile import DealReconciliation
from services.dispatcher.retention import RetentionRuns, RetentionSchedule
from services.dispatcher.yandex import YandexConversions
from services.dispatcher.yandex_check import UploadChecks


def create_app(settings: Settings) -> web.Application:
    app = base_app(settings, "dispatcher")
    app.cleanup_ctx.append(http_session_ctx(settings.dispatcher.request_timeout))
    app.cleanup_ctx.append(task_loop)
    return app


async def task_loop(app: web.Application) -> AsyncIterator[None]:
    settings, store, http = app[appkeys.SETTINGS], app[appkeys.STORE], app[appkeys.HTTP]
    metrics = app[appkeys.METRICS]
    integrations = build_integrations(settings, stored_credentials(store))
    share_limits(store, integrations)  # on PostgreSQL: one budget for every dispatcher
    outcomes = metrics.counter(
        "leadrelay_crm_deliveries_total",
        "send_to_crm attempts by connection and resulting task status",
        ("connection", "status"),
    )
    uploads = metrics.counter(
        "leadrelay_conversion_uploads_total", "Metrica uploads by result", ("result",)
    )
    # Always a handler, so an import queued before [direct] was removed fails with the reason.
    costs = CostImports(settings, store, http, app[appkeys.HEALTH].report)
    health = app[appkeys.HEALTH]
    alerts = AlertTriggers(settings, store)
    health.listeners.append(alerts.reported)
    processor = BackgroundTaskProcessor(
        store,
        {
            TaskType.SEND_TO_CRM: CrmDelivery(
                settings,
                store,
                integrations,
                http,
                lambda connection, status: outcomes.labels(connection, status).inc(),
                health,
                alerts,
            ),
            TaskType.SEND_TO_YANDEX: YandexConversions(
                settings, store, http, lambda result: uploads.labels(result).inc()
            ),
            TaskType.RESOLVE_DEAL: DealResolution(settings, store, integrations, http),
            TaskType.CHECK_YANDEX_UPLOAD: UploadChecks(settings, store, http, alerts.reported),
            TaskType.IMPORT_DIRECT_COSTS: costs,
            TaskType.ERASE_EXPIRED: RetentionRuns(settings, store),
            TaskType.SEND_ALERT: AlertSending(settings, store, http, health),
        },
        settings.dispatcher,
        batch_types=frozenset({TaskType.SEND_TO_YANDEX, TaskType.CHECK_YANDEX_UPLOAD}),
        rounds=app[appkeys.HEALTH].watch(
            "the task loop", stall_limit(settings.dispatcher, settings.busy_timeout)
        ),
    )
    app[PROCESSOR] = processor
    open_tasks = metrics.gauge("leadrelay_tasks", "Tasks not yet completed, by status", ("status",))

    async def count_tasks() -> None:
        for status, count in (await store.read(lambda tx: tx.tasks.open_counts())).items():
            open_tasks.labels(status).set(count)

    metrics.before_scrape.append(count_tasks)
    for chat in await store.read(lambda tx: tx.alerts.blocked_chats()):
        health.report(
            Destination(Channel.TELEGRAM, chat.chat_id).key,
            f"Telegram chat {chat.chat_id}: {chat.blocked}",
        )
    processor.start()
    loops = [
        asyncio.create_task(DealReconciliation(store, integration, http, health.report).run(every))
        for integration in integrations.values()
        if (every := integration.reconcile_every)
    ]
    if alerts.enabled:
        loops.append(asyncio.create_task(alerts.watch_credentials()))
    if settings.direct.enabled and settings.direct.import_every:
        schedule = app[IMPORT_SCHEDULE] = ImportSchedule(settings, store, costs.reports)
        loops.append(asyncio.create_task(schedule.run()))
    if settings.privacy.erase_after_days:
        retention = app[RETENTION_SCHEDULE] = RetentionSchedule(settings, store)
        loops.append(asyncio.create_task(retention.run()))
    yield
    for loop in loops:
        loop.cancel()
    await asyncio.gather(*loops, return_exceptions=True)
    await processor.stop()
    await alerts.stop()
