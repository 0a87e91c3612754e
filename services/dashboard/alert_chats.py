"""Telegram chats that refuse our bot, as the Connections page shows them (what Telegram
said, since when), and an admin's word that the bot is back: the chat is sent to again.

Clearing a block also ends the alert `alerts:telegram:<chat>` (common.alerts.raising), which
queues its "recovered" message to every destination, the chat itself included: that message
is the next one tried there. If Telegram still refuses, the dispatcher blocks the chat again
and, the alert being over, tells the problem anew."""

from __future__ import annotations

from aiohttp import web

from common import appkeys
from common.alerts import raising
from common.alerts.subjects import Channel, Destination
from common.audit import Action
from common.errors import NotFound
from common.store import Tx
from common.store.alerts import ChatState
from services.dashboard import audit, auth
from services.dashboard.pages import flash, words

LONGEST_ID = 64  # a chat id (-1001234567890) or a channel's @name is far shorter


def alert_key(chat_id: str) -> str:
    """The alert the dispatcher raises for a chat that refuses the bot."""
    return Destination(Channel.TELEGRAM, chat_id).key


async def blocked(request: web.Request) -> list[ChatState]:
    return await request.app[appkeys.STORE].read(lambda tx: tx.alerts.blocked_chats())


async def unblock(request: web.Request) -> web.StreamResponse:
    """An admin has added the bot back to the chat: send there again."""
    await auth.check_csrf(request)
    chat_id = request.match_info["chat_id"]
    settings = request.app[appkeys.SETTINGS]
    store = request.app[appkeys.STORE]
    stored = await store.read(lambda tx: tx.alerts.chat(chat_id))
    telegram = settings.alerts.telegram
    configured = telegram is not None and chat_id in telegram.chat_ids
    if len(chat_id) > LONGEST_ID or (stored.since is None and not configured):
        raise NotFound(f"no such alert chat: {chat_id[:LONGEST_ID]}")

    def unit(tx: Tx) -> bool:
        if not tx.alerts.unblock(chat_id):
            return False
        raising.recovered(tx, settings.alerts, alert_key(chat_id))
        return True

    said = audit.entry(request, Action.UNBLOCK_CHAT, chat_id, {"blocked": stored.blocked or ""})
    done = await audit.write(request, unit, said, if_done=True)
    t = words(request)
    await flash(
        request, t("flash_chat_unblocked" if done else "flash_chat_not_blocked", chat=chat_id)
    )
    raise web.HTTPFound(str(request.app.router["connections"].url_for()))
