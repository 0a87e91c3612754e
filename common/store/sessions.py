"""Dashboard sessions the server honours: opened at login, closed at logout or expiry."""

from __future__ import annotations

import hashlib

from common.store.sql import Sql, later


def _key(session_id: str) -> str:
    """Only a hash is stored: a copy of the database does not hand out live sessions."""
    return hashlib.sha256(session_id.encode()).hexdigest()


class DashboardSessions:
    def __init__(self, sql: Sql):
        self.sql = sql

    def open(self, session_id: str, username: str, seconds: float) -> None:
        now = self.sql.now()
        self.sql.run("DELETE FROM dashboard_sessions WHERE expires_at <= ?", (now,))
        self.sql.run(
            "INSERT INTO dashboard_sessions (id, username, created_at, expires_at)"
            " VALUES (?, ?, ?, ?)",
            (_key(session_id), username, now, later(now, seconds)),
        )

    def user(self, session_id: str) -> str | None:
        """Whose session this is, while it is open and not expired."""
        value = self.sql.value(
            "SELECT username FROM dashboard_sessions WHERE id = ? AND expires_at > ?",
            (_key(session_id), self.sql.now()),
        )
        return None if value is None else str(value)

    def close(self, session_id: str) -> None:
        self.sql.run("DELETE FROM dashboard_sessions WHERE id = ?", (_key(session_id),))
