"""A Telegram Bot API server for sendMessage, as core.telegram.org/bots/api describes it.

Switches for what the real API does that the alerts must handle:
- `flood`: answer 429 this many times with parameters.retry_after (ResponseParameters:
  "the number of seconds left to wait before the request can be repeated");
- `blocked`: chats answering 403 "Forbidden: bot was blocked by the user" (the Bot API's
  error description for a user who blocked the bot; "bot was kicked" for a group);
- `migrated`: a group upgraded to a supergroup answers 400 with
  parameters.migrate_to_chat_id (ResponseParameters) and takes messages at the new id only;
- `reject_html`: 400 "Bad Request: can't parse entities: ..." for any text sent with a
  parse_mode ("Formatting options": bad markup is refused, not shown).
Every answer is {"ok": ..., "result" | "error_code", "description", "parameters"?}
("Making requests").
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TEXT_LIMIT = 4096  # sendMessage: text, "1-4096 characters after entities parsing"


@dataclass
class TelegramState:
    token: str
    flood: int = 0
    retry_after: int = 1
    blocked: set[str] = field(default_factory=set)
    migrated: dict[str, str] = field(default_factory=dict)
    reject_html: bool = False
    received: list[dict[str, Any]] = field(default_factory=list)  # accepted messages
    calls: list[dict[str, Any]] = field(default_factory=list)  # every request body
    paths: list[str] = field(default_factory=list)

    def texts(self, chat_id: str | None = None) -> list[str]:
        return [m["text"] for m in self.received if chat_id is None or m["chat_id"] == chat_id]


def _error(status: int, description: str, **parameters: Any) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)


def _parsed(text: str, parse_mode: object) -> str:
    """The text as Telegram counts it: after the HTML entities are parsed."""
    return html.unescape(re.sub(r"<[^>]*>", "", text)) if parse_mode == "HTML" else text


def create_app(state: TelegramState) -> web.Application:
    async def send_message(request: web.Request) -> web.Response:
        state.paths.append(request.path)
        if request.match_info["token"] != state.token:
            return _error(401, "Unauthorized")  # a wrong token, as the real API answers
        body = await request.json()
        state.calls.append(body)
        chat = str(body.get("chat_id", ""))
        text = str(body.get("text", ""))
        if state.flood > 0:
            state.flood -= 1
            return _error(
                429,
                f"Too Many Requests: retry after {state.retry_after}",
                retry_after=state.retry_after,
            )
        if chat in state.blocked:
            return _error(403, "Forbidden: bot was blocked by the user")
        if chat in state.migrated:
            return _error(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                migrate_to_chat_id=int(state.migrated[chat]),
            )
        if not text or len(_parsed(text, body.get("parse_mode"))) > TEXT_LIMIT:
            return _error(
                400,
                "Bad Request: message is too long"
                if text
                else "Bad Request: message text is empty",
            )
        if state.reject_html and body.get("parse_mode"):
            return _error(400, "Bad Request: can't parse entities: unsupported start tag")
        state.received.append(body)
        message = {"message_id": len(state.received), "chat": {"id": chat}, "text": text}
        return web.json_response({"ok": True, "result": message})

    app = web.Application()
    app.router.add_post("/bot{token}/sendMessage", send_message)
    return app
