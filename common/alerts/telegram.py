"""A Telegram bot sending alerts: the Bot API's sendMessage, and what its errors mean.

From core.telegram.org/bots/api: "Making requests" (every answer is JSON with `ok`, and on
failure `error_code`, `description` and sometimes `parameters`), sendMessage (`chat_id`,
`text` of 1-4096 characters, `parse_mode` HTML), ResponseParameters (`retry_after`: flood
control, seconds to wait; `migrate_to_chat_id`: the group became a supergroup with this id).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import aiohttp

from common.alerts.messages import Message
from common.alerts.outcomes import Outcome, Refused, Sent, TryLater
from common.config import TelegramAlerts
from common.model import JsonObject

log = logging.getLogger(__name__)
PARSE_ERROR = "can't parse entities"
BLOCKED = ("blocked", "kicked", "deactivated", "not a member", "chat not found")


@dataclass(frozen=True)
class Answer:
    status: int
    body: JsonObject

    @property
    def description(self) -> str:
        return str(self.body.get("description") or f"HTTP {self.status}")

    def parameter(self, name: str) -> object:
        parameters = self.body.get("parameters")
        return parameters.get(name) if isinstance(parameters, dict) else None


class TelegramBot:
    def __init__(self, settings: TelegramAlerts, timeout: float):
        self.settings = settings
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    @property
    def _url(self) -> str:
        # The token is part of the path: this address is never logged or kept.
        base = str(self.settings.base_url).rstrip("/")
        return f"{base}/bot{self.settings.token.get_secret_value()}/sendMessage"

    async def send(self, http: aiohttp.ClientSession, chat_id: str, message: Message) -> Outcome:
        """Send; a moved chat is followed once, an unparsable text is sent again as plain."""
        html_body: JsonObject = {
            "chat_id": chat_id,
            "text": message.telegram_html(),
            "parse_mode": "HTML",
        }
        answer = await self._post(http, html_body)
        if isinstance(answer, TryLater):
            return answer
        moved = answer.parameter("migrate_to_chat_id")
        if answer.status == 400 and moved is not None:
            chat_id = str(moved)
            log.warning("telegram chat moved to a supergroup; following it")
            answer = await self._post(http, html_body | {"chat_id": chat_id})
            if isinstance(answer, TryLater):
                return answer
        if answer.status == 400 and PARSE_ERROR in answer.description.lower():
            log.warning("telegram could not parse the HTML; sending plain text")
            plain: JsonObject = {"chat_id": chat_id, "text": message.plain(4096)}
            answer = await self._post(http, plain)
            if isinstance(answer, TryLater):
                return answer
        return _outcome(answer, chat_id if moved is not None else None)

    async def _post(self, http: aiohttp.ClientSession, body: JsonObject) -> Answer | TryLater:
        try:
            async with http.post(
                self._url, json=body, timeout=self.timeout, allow_redirects=False
            ) as reply:
                try:
                    data = await reply.json(content_type=None)
                except ValueError:
                    data = None
                return Answer(reply.status, data if isinstance(data, dict) else {})
        except (TimeoutError, aiohttp.ClientError) as error:
            # The error's text may hold the address, and so the token: name its class only.
            return TryLater(f"Telegram unreachable: {error.__class__.__name__}")


def _outcome(answer: Answer, moved_to: str | None) -> Outcome:
    if answer.status == 200 and answer.body.get("ok") is True:
        return Sent(moved_to)
    description = answer.description
    if answer.status == 429:
        wait = answer.parameter("retry_after")
        return TryLater(description, float(wait) if isinstance(wait, int | float) else None)
    if answer.status >= 500:
        return TryLater(description)
    if answer.status == 403 or (
        answer.status == 400 and any(word in description.lower() for word in BLOCKED)
    ):
        return Refused(description, blocked=True)
    if answer.status == 401:
        return Refused(f"the bot token was refused: {description}")
    return Refused(description)
