"""The send_to_crm task: route the lead to its connection and deliver it."""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp

from common.config import Settings
from common.contacts import mask_phone
from common.db import Database
from common.errors import LeadNotFound
from common.events import EventType
from common.integrations.base import CrmIntegration, DeliveryFailure, PermanentFailure
from common.leads import LeadService
from common.tasks import Task, TaskQueue
from services.dispatcher.outcomes import Done, Failed, settle

log = logging.getLogger(__name__)


class CrmDelivery:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        leads: LeadService,
        integrations: dict[str, CrmIntegration],
        http: aiohttp.ClientSession,
        on_outcome,
    ):
        self.settings = settings
        self.db = db
        self.leads = leads
        self.integrations = integrations
        self.http = http
        self.on_outcome = on_outcome

    async def __call__(self, tasks: list[Task]) -> None:
        for task in tasks:
            await self.deliver(task)

    async def deliver(self, task: Task) -> None:
        lead_id = task.payload["lead_id"]
        try:
            lead = dict(await self.leads.get(lead_id))
        except LeadNotFound:
            log.error("task %s names an unknown lead %s", task.id, lead_id)
            reason = "the lead of this task does not exist"
            await self.db.transaction(lambda tx: TaskQueue.fail(tx, task.id, reason))
            return
        lead["extra"] = json.loads(lead["extra"] or "{}")
        name = self.settings.route_for(lead["campaign_id"])
        outcome = await self._send(lead, name)
        status = await settle(self.db, task, lead_id, outcome, self.settings.dispatcher)
        self.on_outcome(name or "-", status)
        log.info(
            "send_to_crm %s",
            status,
            extra={
                "task_id": task.id,
                "lead_id": lead_id,
                "connection": name,
                "attempt": task.attempts,
                "phone": mask_phone(lead.get("phone")),
                "error": getattr(outcome, "failure", None) and outcome.failure.message,
            },
        )

    async def _send(self, lead: dict[str, Any], name: str | None) -> Done | Failed:
        failed = EventType.LEAD_CRM_DELIVERY_FAILED
        if name is None:
            reason = f"no CRM route for campaign {lead['campaign_id']!r} and no routing.default_crm"
            return Failed(PermanentFailure(reason), failed)
        integration = self.integrations[name]
        try:
            crm_lead_id = await integration.send_lead(self.http, lead)
        except DeliveryFailure as failure:
            return Failed(failure, failed, {"connection": name})
        data = {"connection": name, "kind": integration.kind, "crm_lead_id": crm_lead_id}
        return Done(EventType.LEAD_SENT_TO_CRM, data, {"crm_lead_id": crm_lead_id})
