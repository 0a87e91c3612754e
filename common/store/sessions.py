"""Dashboard sessions the server honours: opened at login, closed at logout or expiry."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from common.model import Role
from common.store.sql import Sql, later


@dataclass(frozen=True)
class SessionUser:
    """Who a session belongs to, as the server recorded it at login."""

    name: str
    role: Role


def _key(session_id: str) -> str:
    """Only a hash is stored: a copy of the database does not hand out live sessions."""
    return hashlib.sha256(session_id.encode()).hexdigest()


class DashboardSessions:
    def __init__(self, sql: Sql):
        self.sql = sql

    def open(self, session_id: str, user: SessionUser, seconds: float) -> None:
        now = self.sql.now()
        self.sql.run("DELETE FROM dashboard_sessions WHERE expires_at <= ?", (now,))
        self.sql.run(
            "INSERT INTO dashboard_sessions (id, username, role, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (_key(session_id), user.name, user.role.value, now, later(now, seconds)),
        )

    def user(self, session_id: str) -> SessionUser | None:
        """Whose session this is, while it is open and not expired."""
        row = self.sql.one(
            "SELECT username, role FROM dashboard_sessions WHERE id = ? AND expires_at > ?",
            (_key(session_id), self.sql.now()),
        )
        return None if row is None else SessionUser(row["username"], Role(row["role"]))

    def close(self, session_id: str) -> None:
        self.sql.run("DELETE FROM dashboard_sessions WHERE id = ?", (_key(session_id),))

    def close_all(self, username: str | None = None) -> int:
        """Close every session (of `username`, if given); how many were open."""
        if username is None:
            return self.sql.run("DELETE FROM dashboard_sessions")
        return self.sql.run("DELETE FROM dashboard_sessions WHERE username = ?", (username,))
