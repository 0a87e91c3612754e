"""send_alert tasks: make the message from the lead or problem as it is now and send it to
the one destination the task names; retried with backoff (never sooner than Telegram's
retry_after), failed for good when the destination refuses."""

from __future__ import annotations

import logging

import aiohttp

from common.alerts.channels import Channels
from common.alerts.messages import message_for
from common.alerts.outcomes import Refused, Sent, TryLater
from common.alerts.subjects import Channel, Destination, full_contacts
from common.config import Settings
from common.contacts import mask_email
from common.health import Health
from common.model import Task
from common.store import Store
from common.tasks import SendAlert
from services.dispatcher.outcomes import backoff

log = logging.getLogger(__name__)


class AlertSending:
    def __init__(
        self, settings: Settings, store: Store, http: aiohttp.ClientSession, health: Health
    ):
        self.settings = settings
        self.store = store
        self.http = http
        self.health = health
        self.channels = Channels(settings)

    async def __call__(self, tasks: list[Task]) -> None:
        for task in tasks:
            await self.send(task)

    async def send(self, task: Task) -> None:
        alert = task.payload
        assert isinstance(alert, SendAlert)  # the processor hands this type alone
        channel = Channel(alert.channel)
        destination = Destination(channel, alert.to)
        lead_id = task.lead_id or ""
        lead = task.lead
        if lead is None and lead_id:
            lead = await self.store.read(lambda tx: tx.leads.find(lead_id))
        full = full_contacts(self.settings.alerts, channel)
        message = message_for(alert, lead, lead_id, full, self.settings.alerts.language)
        outcome = await self.channels.send(self.store, self.http, destination, message)
        shown_to = alert.to if channel == Channel.TELEGRAM else mask_email(alert.to)
        about = {"task_id": task.id, "channel": channel, "to": shown_to, "kind": alert.kind}
        match outcome:
            case Sent():
                await self.store.write(lambda tx: tx.tasks.complete(task.id, {"sent": True}))
                log.info("alert sent", extra=about)
                # It took a message: whatever stopped it (a chat that refused the bot, sent to
                # again from the dashboard) is over, on this process's /healthz too.
                self.health.report(destination.key, None)
            case TryLater(reason=reason, retry_after=wait) if not task.exhausted:
                delay = backoff(task.attempts, self.settings.dispatcher, wait)
                await self.store.write(lambda tx: tx.tasks.retry_if_held(task, delay, reason))
                log.warning("alert not sent; will try again", extra=about | {"reason": reason})
            case TryLater(reason=reason) | Refused(reason=reason):
                await self.store.write(lambda tx: tx.tasks.fail_if_held(task, reason))
                log.warning("alert not sent", extra=about | {"reason": reason})
                if isinstance(outcome, Refused) and outcome.blocked:
                    self.health.report(
                        destination.key,
                        f"alerts to {channel} {shown_to} stopped: {reason}",
                    )
