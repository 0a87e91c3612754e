"""Reconciliation cursors: how far each CRM connection's deal list has been read."""

from __future__ import annotations

from common.store.sql import Sql


class Cursors:
    def __init__(self, sql: Sql):
        self.sql = sql

    def get(self, connection: str) -> str | None:
        value = self.sql.value(
            "SELECT cursor FROM reconcile_cursors WHERE connection = ?", (connection,)
        )
        return None if value is None else str(value)

    def set(self, connection: str, cursor: str) -> None:
        self.sql.run(
            "INSERT INTO reconcile_cursors (connection, cursor, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (connection) DO UPDATE SET cursor = excluded.cursor,"
            " updated_at = excluded.updated_at",
            (connection, cursor, self.sql.now()),
        )
