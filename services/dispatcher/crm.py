"""The send_to_crm task: route the lead to its connection and deliver it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

import aiohttp

from common import logs
from common.config import Settings
from common.contacts import mask_phone
from common.events import LeadCrmDeliveryFailed, LeadSentToCrm
from common.health import Health
from common.integrations.base import (
    AuthFailure,
    CrmIntegration,
    DeliveryFailure,
    PermanentFailure,
    TimedOut,
)
from common.model import Lead, Task
from common.store import Store
from services.dispatcher.alerts_raise import AlertTriggers
from services.dispatcher.outcomes import Done, Failed, Settler
from services.dispatcher.processor import Settle, TwoStep

log = logging.getLogger(__name__)


class CrmDelivery(TwoStep):
    def __init__(
        self,
        settings: Settings,
        store: Store,
        integrations: dict[str, CrmIntegration],
        http: aiohttp.ClientSession,
        on_outcome: Callable[[str, str], None],
        health: Health,
        alerts: AlertTriggers | None = None,
    ):
        self.settings = settings
        self.store = store
        self.integrations = integrations
        self.http = http
        self.on_outcome = on_outcome
        self.health = health
        self.alerts = alerts
        self.settler = Settler(store, settings.dispatcher)
        # Connections whose last call ran out of time, and their calls now in flight: such
        # a connection gets one call at a time until one is answered. A CRM that holds each
        # call until the time-out otherwise holds every slot, and the leads of every other
        # connection wait behind its backlog (16 slots, 20 s each: 1,000 leads, 21 minutes).
        self.unanswering: set[str] = set()
        self.in_flight: dict[str, int] = {}

    async def send(self, task: Task) -> Settle:
        lead_id = task.lead_id or ""
        lead = task.lead or await self.store.read(lambda tx: tx.leads.find(lead_id))
        if lead is None:
            return partial(self._unknown_lead, task)
        name = self.settings.route_for(lead.campaign_id)
        if name in self.unanswering and self.in_flight.get(name, 0) > 0:
            return partial(self._wait, task, name)
        if name is not None:
            self.in_flight[name] = self.in_flight.get(name, 0) + 1
        try:
            # Attempts count from 1 at the claim: a later one may follow an add that reached
            # the CRM while its answer was lost.
            outcome = await self._send(lead, name, retry=task.attempts > 1)
        finally:
            if name is not None:
                self.in_flight[name] -= 1
        return partial(self._settle, task, lead, name, outcome)

    async def _wait(self, task: Task, name: str) -> None:
        """Back to pending without spending an attempt: no call was made."""
        delay = self.settings.dispatcher.request_timeout
        note = f"connection {name!r} did not answer in time: one call at a time until it does"
        await self.store.write(lambda tx: tx.tasks.wait_if_held(task, delay, note))

    async def _unknown_lead(self, task: Task) -> None:
        log.error("task %s names an unknown lead %s", task.id, task.lead_id)
        reason = "the lead of this task does not exist"
        await self.store.write(lambda tx: tx.tasks.fail_if_held(task, reason))

    async def _settle(
        self, task: Task, lead: Lead, name: str | None, outcome: Done | Failed
    ) -> None:
        lead_id = lead.id  # the task's own (claimed with it, or found by its lead_id)
        status = await self.settler.settle(task, outcome)
        self.on_outcome(name or "-", status)
        if self.alerts is not None and isinstance(outcome, Failed):
            await self.alerts.delivered(name, lead_id, outcome.failure, status == "failed")
        # One line a delivery, off the event loop when nothing else listens (common.logs).
        logs.fields_line(
            log,
            logging.INFO,
            f"send_to_crm {status}",
            {
                "task_id": task.id,
                "lead_id": lead_id,
                "connection": name,
                "attempt": task.attempts,
                "phone": mask_phone(lead.phone),
                "error": outcome.failure.message if isinstance(outcome, Failed) else None,
            },
        )

    async def _send(self, lead: Lead, name: str | None, retry: bool) -> Done | Failed:
        if name is None:
            reason = f"no CRM route for campaign {lead.campaign_id!r} and no routing.default_crm"
            return Failed(PermanentFailure(reason), LeadCrmDeliveryFailed)
        integration = self.integrations[name]
        try:
            delivered = await integration.send_lead(self.http, lead, retry=retry)
        except DeliveryFailure as failure:
            if isinstance(failure, AuthFailure):  # retried for a day, but shown at once
                self.health.report(f"crm:{name}", f"connection {name!r}: {failure.message}")
            if isinstance(failure, TimedOut):
                self.unanswering.add(name)
            else:  # it answered, if only to refuse
                self.unanswering.discard(name)
            return Failed(failure, lambda reason: LeadCrmDeliveryFailed(reason, connection=name))
        self.unanswering.discard(name)
        self.health.report(f"crm:{name}", None)
        sent = LeadSentToCrm(
            connection=name,
            kind=integration.kind,
            crm_lead_id=delivered.crm_lead_id,
            merged=delivered.merged,
            problems=delivered.problems,
        )
        return Done(sent, {"crm_lead_id": delivered.crm_lead_id})
