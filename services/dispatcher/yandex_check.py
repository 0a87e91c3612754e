"""check_yandex_upload tasks: has Metrica processed the upload, and did it link the rows?

Metrica accepts a file at once and processes it later (up to 2 hours, its docs say). Its
answer counts rows (linked, user not found, goal not found) per upload, not per row, so a
lead learns "linked" when all of its upload was linked, "not linked" when none was, and
"partly linked" otherwise, with the counts on its timeline.
"""

from __future__ import annotations

import logging
from collections import defaultdict

import aiohttp

from common.config import Settings
from common.events import YandexConversionProcessed
from common.integrations.base import DeliveryFailure, PermanentFailure, TemporaryFailure
from common.integrations.yandex import Uploading
from common.model import Task
from common.store import Store
from common.tasks import CheckUpload
from services.dispatcher.costs import Reporter
from services.dispatcher.outcomes import Done, Failed, apply_each
from services.dispatcher.yandex import metrica

log = logging.getLogger(__name__)


class UploadChecks:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        http: aiohttp.ClientSession,
        report: Reporter = lambda about, problem: None,
    ):
        self.settings = settings
        self.store = store
        self.http = http
        self.report = report
        self.yandex = metrica(settings, store)

    async def __call__(self, tasks: list[Task]) -> None:
        by_upload: dict[str, list[Task]] = defaultdict(list)
        for task in tasks:
            assert isinstance(task.payload, CheckUpload)  # the processor hands this type alone
            by_upload[task.payload.upload_id].append(task)
        outcomes: dict[int, Done | Failed] = {}
        for upload_id, waiting in by_upload.items():
            outcome = await self._look(upload_id)
            outcomes |= {task.id: outcome for task in waiting}
        settings = self.settings.dispatcher
        await self.store.write(lambda tx: apply_each(tx, tasks, outcomes, settings))

    async def _look(self, upload_id: str) -> Done | Failed:
        def unknown(reason: str) -> YandexConversionProcessed:
            return YandexConversionProcessed(upload_id, "unknown", reason=reason)

        if not self.settings.yandex.enabled:
            failure = PermanentFailure("Yandex Metrica is no longer configured")
            return Failed(failure, unknown)
        try:
            uploading = await self.yandex.uploading(self.http, upload_id)
        except DeliveryFailure as failure:
            return Failed(failure, unknown)
        if not uploading.finished:
            waiting = TemporaryFailure(
                f"Metrica is still processing upload {upload_id} (status {uploading.status})",
                retry_after=self.settings.yandex.check_every,
            )
            return Failed(waiting, unknown)
        log.info(
            "Metrica processed an upload",
            extra={"upload_id": upload_id, "status": uploading.status, "linked": uploading.linked},
        )
        self.report("metrica:linking", _not_linking(uploading))
        return Done(_facts(uploading))


def _not_linking(uploading: Uploading) -> str | None:
    """A problem when Metrica linked none of an upload's rows (wrong goal, no visits)."""
    if uploading.linked != "none":
        return None
    return (
        f"Metrica linked none of the {uploading.line_quantity} conversions of upload"
        f" {uploading.id} (goal not found: {uploading.goal_not_found_quantity},"
        f" visitor not found: {uploading.user_not_found_quantity})"
    )


def _facts(uploading: Uploading) -> YandexConversionProcessed:
    return YandexConversionProcessed(
        upload_id=uploading.id,
        linked=uploading.linked,
        status=uploading.status,
        line_quantity=uploading.line_quantity,
        linked_quantity=uploading.linked_quantity,
        user_not_found_quantity=uploading.user_not_found_quantity,
        goal_not_found_quantity=uploading.goal_not_found_quantity,
    )
