"""The send_to_crm task: route the lead to its connection and deliver it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import aiohttp

from common.config import Settings
from common.contacts import mask_phone
from common.integrations.base import CrmIntegration, DeliveryFailure, PermanentFailure
from common.model import EventType, Lead, Task
from common.store import Store
from services.dispatcher.outcomes import Done, Failed, settle

log = logging.getLogger(__name__)


class CrmDelivery:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        integrations: dict[str, CrmIntegration],
        http: aiohttp.ClientSession,
        on_outcome: Callable[[str, str], None],
    ):
        self.settings = settings
        self.store = store
        self.integrations = integrations
        self.http = http
        self.on_outcome = on_outcome

    async def __call__(self, tasks: list[Task]) -> None:
        for task in tasks:
            await self.deliver(task)

    async def deliver(self, task: Task) -> None:
        lead_id = task.payload["lead_id"]
        lead = task.lead or await self.store.read(lambda tx: tx.leads.find(lead_id))
        if lead is None:
            log.error("task %s names an unknown lead %s", task.id, lead_id)
            reason = "the lead of this task does not exist"
            await self.store.write(lambda tx: tx.tasks.fail(task.id, reason))
            return
        name = self.settings.route_for(lead.campaign_id)
        outcome = await self._send(lead, name)
        status = await settle(self.store, task, lead_id, outcome, self.settings.dispatcher)
        self.on_outcome(name or "-", status)
        log.info(
            "send_to_crm %s",
            status,
            extra={
                "task_id": task.id,
                "lead_id": lead_id,
                "connection": name,
                "attempt": task.attempts,
                "phone": mask_phone(lead.phone),
                "error": outcome.failure.message if isinstance(outcome, Failed) else None,
            },
        )

    async def _send(self, lead: Lead, name: str | None) -> Done | Failed:
        failed = EventType.LEAD_CRM_DELIVERY_FAILED
        if name is None:
            reason = f"no CRM route for campaign {lead.campaign_id!r} and no routing.default_crm"
            return Failed(PermanentFailure(reason), failed)
        integration = self.integrations[name]
        try:
            delivered = await integration.send_lead(self.http, lead)
        except DeliveryFailure as failure:
            return Failed(failure, failed, {"connection": name})
        data: dict[str, Any] = {
            "connection": name,
            "kind": integration.kind,
            "crm_lead_id": delivered.crm_lead_id,
        }
        if delivered.merged:
            data["merged"] = True  # the CRM joined it to a CRM lead it already had
        if delivered.problems:
            data["problems"] = list(delivered.problems)
        return Done(EventType.LEAD_SENT_TO_CRM, data, {"crm_lead_id": delivered.crm_lead_id})
