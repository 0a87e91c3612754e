"""Rows of the audit log: appended, never changed; read newest first."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from common.store.sql import Row, Sql

COLUMNS = "id, at, actor, action, target, address, details"


@dataclass(frozen=True)
class AuditEntry:
    """One action: who (`actor`), what (`action`) to what (`target`), from where (`address`),
    and short texts about it (`details`). `at` and `id` are the store's when read back."""

    actor: str
    action: str
    target: str = ""
    address: str = ""
    details: Mapping[str, str] = field(default_factory=dict)
    at: str = ""
    id: int = 0


@dataclass(frozen=True)
class AuditFilter:
    """Which entries a page or an export shows: one actor's, one action's, and those at
    or after `since` and before `until` (stored UTC times); None is any."""

    actor: str | None = None
    action: str | None = None
    since: str | None = None
    until: str | None = None

    def where(self) -> tuple[list[str], list[object]]:
        asked = (
            ("actor = ?", self.actor),
            ("action = ?", self.action),
            ("at >= ?", self.since),
            ("at < ?", self.until),
        )
        found = [(clause, value) for clause, value in asked if value]
        return [clause for clause, _ in found], [value for _, value in found]


class AuditRows:
    def __init__(self, sql: Sql):
        self.sql = sql

    def add(self, entry: AuditEntry) -> None:
        self.sql.run(
            "INSERT INTO audit_log (at, actor, action, target, address, details)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                entry.at or self.sql.now(),
                entry.actor,
                entry.action,
                entry.target,
                entry.address,
                json.dumps(dict(entry.details), ensure_ascii=False, sort_keys=True),
            ),
        )

    def newest(
        self, limit: int = 100, before_id: int | None = None, where: AuditFilter | None = None
    ) -> list[AuditEntry]:
        """Up to `limit` entries, newest first; older than `before_id` when given; only
        those `where` names."""
        clauses, params = (where or AuditFilter()).where()
        if before_id is not None:
            clauses.append("id < ?")
            params.append(before_id)
        found = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = self.sql.all(
            f"SELECT {COLUMNS} FROM audit_log{found} ORDER BY id DESC LIMIT ?", (*params, limit)
        )
        return [_entry(row) for row in rows]

    def actors(self, most: int = 200) -> list[str]:
        """Who has entries, by name: the page's choice of actor."""
        rows = self.sql.all("SELECT DISTINCT actor FROM audit_log ORDER BY actor LIMIT ?", (most,))
        return [row["actor"] for row in rows]


def _entry(row: Row) -> AuditEntry:
    details = json.loads(row["details"])
    return AuditEntry(
        actor=row["actor"],
        action=row["action"],
        target=row["target"],
        address=row["address"],
        details={str(k): str(v) for k, v in details.items()},
        at=row["at"],
        id=int(row["id"]),
    )
