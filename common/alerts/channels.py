"""Sending one message to one destination, shared by the dispatcher's send_alert tasks and
the stalled-queue watcher: a chat Telegram moved is followed, a chat that refuses the bot is
left alone (both remembered in the database), each channel kept under its rate."""

from __future__ import annotations

import logging

import aiohttp
from aiolimiter import AsyncLimiter

from common.alerts.email import Mailer
from common.alerts.messages import Message
from common.alerts.outcomes import Outcome, Refused, Sent
from common.alerts.subjects import Channel, Destination, configured
from common.alerts.telegram import TelegramBot
from common.config import Settings
from common.store import Store
from common.store.alerts import ChatState

log = logging.getLogger(__name__)
# The Bot API FAQ ("My bot is hitting limits"): about one message a second in a chat, no more
# than 20 a minute in a group. SMTP servers count per connection: one letter a second.
TELEGRAM_RATE = (20, 60.0)
EMAIL_RATE = (1, 1.0)


class Channels:
    def __init__(self, settings: Settings):
        self.settings = settings.alerts
        alerts, timeout = settings.alerts, settings.dispatcher.request_timeout
        self.bot = TelegramBot(alerts.telegram, timeout) if alerts.telegram else None
        self.mailer = Mailer(alerts.email) if alerts.email else None
        self._limits: dict[Destination, AsyncLimiter] = {}
        self._email_limit = AsyncLimiter(*EMAIL_RATE)

    def _limit(self, destination: Destination) -> AsyncLimiter:
        if destination.channel == Channel.EMAIL:
            return self._email_limit
        return self._limits.setdefault(destination, AsyncLimiter(*TELEGRAM_RATE))

    async def send(
        self, store: Store, http: aiohttp.ClientSession, destination: Destination, message: Message
    ) -> Outcome:
        if not configured(self.settings, destination):
            return Refused(f"{destination.channel} {destination.to} is no longer configured")
        async with self._limit(destination):
            if destination.channel == Channel.EMAIL:
                assert self.mailer is not None  # configured
                return await self.mailer.send(destination.to, message)
            return await self._telegram(store, http, destination.to, message)

    async def _telegram(
        self, store: Store, http: aiohttp.ClientSession, chat_id: str, message: Message
    ) -> Outcome:
        assert self.bot is not None  # configured
        chat = await store.read(lambda tx: tx.alerts.chat(chat_id))
        if chat.blocked:
            return Refused(f"chat {chat_id} refuses the bot: {chat.blocked}", blocked=True)
        outcome = await self.bot.send(http, chat.moved_to or chat_id, message)
        changed: ChatState | None = None
        if isinstance(outcome, Sent) and outcome.moved_to:
            changed = ChatState(chat_id, moved_to=outcome.moved_to)
        elif isinstance(outcome, Refused) and outcome.blocked:
            changed = ChatState(chat_id, moved_to=chat.moved_to, blocked=outcome.reason)
        if changed is not None:
            kept = changed
            await store.write(lambda tx: tx.alerts.keep_chat(kept))
            log.warning(
                "telegram chat changed",
                extra={"chat_id": chat_id, "moved_to": kept.moved_to, "blocked": kept.blocked},
            )
        return outcome
