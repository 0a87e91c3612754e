"""The words of the alert channels on the Connections page (a Telegram chat that refuses the
bot, and sending there again), in Russian and English: part of the one catalogue
(services.dashboard.i18n)."""

from __future__ import annotations

from collections.abc import Mapping

ALERT_CHATS: dict[str, dict[str, str | Mapping[str, str]]] = {
    "ru": {
        "alert_channels": "Каналы оповещений",
        "alert_channels_ok": "Все чаты Telegram принимают оповещения.",
        "chat_blocked": "Чат Telegram {chat} не принимает бота: оповещения туда не отправляются",
        "chat_blocked_said": "Ответ Telegram",
        "chat_blocked_since": "С какого времени",
        "chat_blocked_help": "Добавьте бота в чат снова (или разблокируйте его), затем нажмите"
        " «{button}»: следующее оповещение будет отправлено туда.",
        "chat_unblock": "Бот снова в чате",
        "chat_unblock_admin": "Снова отправлять в чат может администратор.",
        "flash_chat_unblocked": "Чат {chat} снова получает оповещения; если Telegram опять"
        " откажет, он будет отмечен здесь",
        "flash_chat_not_blocked": "Чат {chat} не заблокирован: ничего не изменено",
        "action_unblock_chat": "Снова отправлять оповещения в чат",
        "did_unblock_chat": "Чат Telegram снова получает оповещения",
        "problem_chat_open": "Подключения",
    },
    "en": {
        "alert_channels": "Alert channels",
        "alert_channels_ok": "Every Telegram chat accepts the alerts.",
        "chat_blocked": "Telegram chat {chat} refuses the bot: no alerts are sent there",
        "chat_blocked_said": "Telegram said",
        "chat_blocked_since": "Since",
        "chat_blocked_help": "Add the bot back to the chat (or unblock it), then press"
        " “{button}”: the next alert is sent there.",
        "chat_unblock": "The bot is back in the chat",
        "chat_unblock_admin": "An admin may send to the chat again.",
        "flash_chat_unblocked": "Chat {chat} receives alerts again; if Telegram refuses once"
        " more, it is shown here again",
        "flash_chat_not_blocked": "Chat {chat} is not blocked: nothing changed",
        "action_unblock_chat": "Sending alerts to a chat again",
        "did_unblock_chat": "Telegram chat receives alerts again",
        "problem_chat_open": "Connections",
    },
}
