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

    def newest(self, limit: int = 100, before_id: int | None = None) -> list[AuditEntry]:
        """Up to `limit` entries, newest first; older than `before_id` when given."""
        if before_id is None:
            rows = self.sql.all(
                f"SELECT {COLUMNS} FROM audit_log ORDER BY id DESC LIMIT ?", (limit,)
            )
        else:
            rows = self.sql.all(
                f"SELECT {COLUMNS} FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?",
                (before_id, limit),
            )
        return [_entry(row) for row in rows]


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
