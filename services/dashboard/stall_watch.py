"""The stalled-queue watcher: outside the dispatcher and outside the queue, since it must
speak when the dispatcher is down. Every round it reads since when the oldest due task has
waited; past `stalled_after_minutes` it sends the alert straight to every channel, and
"recovered" once the queue drains, de-duplicated through the alert_state table shared by
every process (so several dashboards tell it once).

It runs in the dashboard: one per deployment, not on the internet-facing path (a slow
Telegram never delays a CRM's webhook), and it is the process a person looks at.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
from aiohttp import web

from common import appkeys, clock
from common.alerts.channels import Channels
from common.alerts.messages import Message
from common.alerts.outcomes import Sent
from common.alerts.subjects import destinations
from common.alerts.words import words
from common.config import Settings
from common.store import Store, Tx

log = logging.getLogger(__name__)
KEY = "queue:stalled"
LONGEST_ROUND = 60.0  # seconds between looks at most


def problem_of(oldest_due: str | None, settings: Settings) -> str | None:
    if oldest_due is None:
        return None
    waited = clock.now() - clock.parse(oldest_due)
    if waited <= timedelta(minutes=settings.alerts.stalled_after_minutes):
        return None
    minutes = f"{waited.total_seconds() / 60:.0f}"
    return words(settings.alerts.language)["stalled"].format(minutes=minutes)


class StallWatch:
    def __init__(
        self, settings: Settings, store: Store, channels: Channels, http: aiohttp.ClientSession
    ):
        self.settings = settings
        self.said = words(settings.alerts.language)
        self.store = store
        self.channels = channels
        self.http = http
        self.every = min(LONGEST_ROUND, settings.alerts.stalled_after_minutes * 60 / 4)

    async def run(self) -> None:
        while True:
            try:
                await self.once()
            except Exception:
                log.exception("the stalled-queue watcher failed a round; will look again")
            await asyncio.sleep(self.every)  # the watcher's schedule, not a synchronisation

    async def once(self) -> None:
        oldest = await self.store.read(lambda tx: tx.tasks.oldest_due())
        problem = problem_of(oldest, self.settings)
        message = await self.store.write(lambda tx: self._decide(tx, problem))
        if message is not None:
            await self._send(message)

    def _decide(self, tx: Tx, problem: str | None) -> Message | None:
        """The message due now, if any: a new (or not yet sent) stall, or its recovery."""
        if problem is not None:
            state = tx.alerts.get(KEY)
            if tx.alerts.fire(KEY, problem, notified=False) or (state and not state.notified):
                return Message(self.said["problem"].format(problem=problem), (f"({KEY})",))
            return None
        if tx.alerts.settle(KEY):
            moving = self.said["moving"]
            return Message(self.said["recovered"].format(problem=moving), (f"({KEY})",))
        return None

    async def _send(self, message: Message) -> None:
        http = self.http
        sent = 0
        for destination in destinations(self.settings.alerts):
            outcome = await self.channels.send(self.store, http, destination, message)
            sent += isinstance(outcome, Sent)
            if not isinstance(outcome, Sent):
                log.warning("stalled-queue alert not sent", extra={"channel": destination.channel})
        if sent:
            await self.store.write(lambda tx: tx.alerts.notified(KEY))


async def stall_watch(app: web.Application) -> AsyncIterator[None]:
    """A cleanup_ctx: the watcher runs while the dashboard does, when a channel is set."""
    settings = app[appkeys.SETTINGS]
    if not destinations(settings.alerts):
        yield
        return
    timeout = aiohttp.ClientTimeout(total=settings.dispatcher.request_timeout)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        watch = StallWatch(settings, app[appkeys.STORE], Channels(settings), http)
        loop = asyncio.create_task(watch.run())
        yield
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
