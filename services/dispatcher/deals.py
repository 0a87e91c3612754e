"""resolve_crm_deal tasks: Bitrix24 deal notices the webhooks service could not finish."""

from __future__ import annotations

import logging

import aiohttp

from common import deals
from common.config import Settings
from common.errors import InvalidField
from common.integrations.base import CrmIntegration, DeliveryFailure, PermanentFailure
from common.model import Metadata, Task
from common.store import Store
from common.tasks import ResolveDeal
from services.dispatcher.outcomes import Failed, settle

log = logging.getLogger(__name__)


class DealResolution:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        integrations: dict[str, CrmIntegration],
        http: aiohttp.ClientSession,
    ):
        self.settings = settings
        self.store = store
        self.integrations = integrations
        self.http = http

    async def __call__(self, tasks: list[Task]) -> None:
        for task in tasks:
            await self.resolve(task)

    async def resolve(self, task: Task) -> None:
        assert isinstance(task.payload, ResolveDeal)  # the processor hands this type alone
        integration = self.integrations.get(task.payload.connection)
        if integration is None:
            reason = f"no CRM connection named {task.payload.connection!r}"
            await self.store.write(lambda tx: tx.tasks.fail_if_held(task, reason))
            return
        metadata: Metadata = {"source": f"webhook:{integration.name}", "task_id": task.id}
        try:
            answer = await deals.resolve(
                self.store, integration, self.http, task.id, task.payload, metadata
            )
        except InvalidField as error:  # the deal's amount or currency is unusable
            outcome = Failed(PermanentFailure(error.message))
        except DeliveryFailure as failure:
            outcome = Failed(failure)
        else:
            log.info("deal resolved", extra={"task_id": task.id, "answer": answer})
            return
        await settle(self.store, task, None, outcome, self.settings.dispatcher)
