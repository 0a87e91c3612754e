"""Alert keys and Telegram chats as the alerts remember them: which problem is being told,
how many failures in a row a connection has had, which chat moved or refuses the bot.

Each change that decides whether a message goes out is one statement whose answer says so
(`fire` and `settle` return True only for the transaction that made the change), so several
dispatchers and the watcher never tell the same thing twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.store.sql import Row, Sql

COLUMNS = "key, firing, problem, streak, notified, since, updated_at"
CHAT_COLUMNS = "chat_id, moved_to, blocked, updated_at"


@dataclass(frozen=True)
class AlertState:
    key: str
    firing: bool
    problem: str
    streak: int
    notified: bool
    since: str


@dataclass(frozen=True)
class ChatState:
    chat_id: str
    moved_to: str | None = None
    blocked: str | None = None
    since: str | None = None  # when this was last written (UTC): when a blocked chat refused


class AlertStates:
    def __init__(self, sql: Sql):
        self.sql = sql

    def get(self, key: str) -> AlertState | None:
        row = self.sql.one(f"SELECT {COLUMNS} FROM alert_state WHERE key = ?", (key,))
        return None if row is None else _state(row)

    def firing(self) -> list[AlertState]:
        rows = self.sql.all(f"SELECT {COLUMNS} FROM alert_state WHERE firing = 1 ORDER BY key")
        return [_state(row) for row in rows]

    def fire(self, key: str, problem: str, notified: bool = True) -> bool:
        """Mark the key's problem as being told; True when it was not already (tell it)."""
        now = self.sql.now()
        row = self.sql.one(
            "INSERT INTO alert_state (key, firing, problem, notified, since, updated_at)"
            " VALUES (?, 1, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET firing = 1,"
            " problem = excluded.problem, notified = excluded.notified, since = excluded.since,"
            " updated_at = excluded.updated_at WHERE alert_state.firing = 0 RETURNING key",
            (key, problem, int(notified), now, now),
        )
        return row is not None

    def settle(self, key: str) -> bool:
        """The key's problem is over; True when it was being told (tell the recovery)."""
        now = self.sql.now()
        ended = self.sql.one(
            "UPDATE alert_state SET firing = 0, streak = 0, notified = 0, since = ?,"
            " updated_at = ? WHERE key = ? AND firing = 1 RETURNING key",
            (now, now, key),
        )
        self.sql.run(
            "UPDATE alert_state SET streak = 0, updated_at = ? WHERE key = ? AND streak > 0",
            (now, key),
        )
        return ended is not None

    def bump(self, key: str, problem: str) -> int:
        """One more failure in a row; the streak it makes."""
        now = self.sql.now()
        return int(
            self.sql.value(
                "INSERT INTO alert_state (key, problem, streak, since, updated_at)"
                " VALUES (?, ?, 1, ?, ?) ON CONFLICT (key) DO UPDATE SET"
                " streak = alert_state.streak + 1, updated_at = excluded.updated_at"
                " RETURNING streak",
                (key, problem, now, now),
            )
        )

    def notified(self, key: str) -> None:
        """The watcher's direct message about the key went out."""
        self.sql.run(
            "UPDATE alert_state SET notified = 1, updated_at = ? WHERE key = ?",
            (self.sql.now(), key),
        )

    def chat(self, chat_id: str) -> ChatState:
        row = self.sql.one(f"SELECT {CHAT_COLUMNS} FROM alert_chats WHERE chat_id = ?", (chat_id,))
        return ChatState(chat_id) if row is None else _chat(row)

    def blocked_chats(self) -> list[ChatState]:
        rows = self.sql.all(
            f"SELECT {CHAT_COLUMNS} FROM alert_chats WHERE blocked IS NOT NULL ORDER BY chat_id"
        )
        return [_chat(row) for row in rows]

    def keep_chat(self, chat: ChatState) -> None:
        self.sql.run(
            "INSERT INTO alert_chats (chat_id, moved_to, blocked, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (chat_id) DO UPDATE SET moved_to = excluded.moved_to,"
            " blocked = excluded.blocked, updated_at = excluded.updated_at",
            (chat.chat_id, chat.moved_to, chat.blocked, self.sql.now()),
        )

    def unblock(self, chat_id: str) -> bool:
        """A person says the bot is back in the chat: the next alert is sent there again (and
        if Telegram still refuses, the chat is blocked again). Where it moved is kept. True
        when the chat was blocked."""
        row = self.sql.one(
            "UPDATE alert_chats SET blocked = NULL, updated_at = ?"
            " WHERE chat_id = ? AND blocked IS NOT NULL RETURNING chat_id",
            (self.sql.now(), chat_id),
        )
        return row is not None


def _state(row: Row) -> AlertState:
    return AlertState(
        key=str(row["key"]),
        firing=bool(row["firing"]),
        problem=str(row["problem"]),
        streak=int(row["streak"]),
        notified=bool(row["notified"]),
        since=str(row["since"]),
    )


def _chat(row: Row) -> ChatState:
    return ChatState(str(row["chat_id"]), row["moved_to"], row["blocked"], str(row["updated_at"]))
