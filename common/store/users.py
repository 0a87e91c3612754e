"""Named dashboard users: a name, a role and a password hash (never the password)."""

from __future__ import annotations

from dataclasses import dataclass, field

from common.model import Role
from common.store.sql import Row, Sql

COLUMNS = "name, role, password_hash, created_at"


@dataclass(frozen=True)
class DashboardUser:
    name: str
    role: Role
    password_hash: str = field(repr=False)
    created_at: str


class DashboardUsers:
    def __init__(self, sql: Sql):
        self.sql = sql

    def add(self, name: str, role: Role, password_hash: str) -> bool:
        """A new user; False (and nothing changed) if the name is taken."""
        return (
            self.sql.run(
                f"INSERT INTO dashboard_users ({COLUMNS}) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (name) DO NOTHING",
                (name, role.value, password_hash, self.sql.now()),
            )
            == 1
        )

    def remove(self, name: str) -> bool:
        return self.sql.run("DELETE FROM dashboard_users WHERE name = ?", (name,)) == 1

    def get(self, name: str) -> DashboardUser | None:
        row = self.sql.one(f"SELECT {COLUMNS} FROM dashboard_users WHERE name = ?", (name,))
        return None if row is None else _user(row)

    def all(self) -> list[DashboardUser]:
        return [
            _user(row)
            for row in self.sql.all(f"SELECT {COLUMNS} FROM dashboard_users ORDER BY name")
        ]

    def count(self, role: Role | None = None) -> int:
        """How many users there are (of `role`, if given)."""
        if role is None:
            return int(self.sql.value("SELECT count(*) FROM dashboard_users"))
        sql = "SELECT count(*) FROM dashboard_users WHERE role = ?"
        return int(self.sql.value(sql, (role.value,)))


def _user(row: Row) -> DashboardUser:
    return DashboardUser(row["name"], Role(row["role"]), row["password_hash"], row["created_at"])
