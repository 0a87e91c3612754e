"""Application keys of the dispatcher process."""

from __future__ import annotations

from aiohttp import web

from services.dispatcher.cost_schedule import ImportSchedule
from services.dispatcher.processor import BackgroundTaskProcessor
from services.dispatcher.retention import RetentionSchedule

PROCESSOR = web.AppKey("processor", BackgroundTaskProcessor)
IMPORT_SCHEDULE = web.AppKey("import_schedule", ImportSchedule)
RETENTION_SCHEDULE = web.AppKey("retention_schedule", RetentionSchedule)
