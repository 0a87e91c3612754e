"""Payment checks: which paid leads of a connection reconciliation asks its CRM about next."""

from __future__ import annotations

from common.model import LEAD_COLUMNS, Lead
from common.store.leads import lead_from_row
from common.store.sql import Sql

COLUMNS = ", ".join(f"leads.{column}" for column in LEAD_COLUMNS)


class PaymentChecks:
    def __init__(self, sql: Sql):
        self.sql = sql

    def due(self, connection: str, limit: int) -> list[Lead]:
        """Up to `limit` paid leads of this connection, never checked first, then the ones
        checked longest ago."""
        rows = self.sql.all(
            f"SELECT {COLUMNS} FROM leads LEFT JOIN payment_checks ON lead_id = leads.id"
            " WHERE leads.crm_connection = ? AND leads.status = 'paid'"
            " ORDER BY checked_at IS NOT NULL, checked_at, leads.id LIMIT ?",
            (connection, limit),
        )
        return [lead_from_row(row) for row in rows]

    def checked(self, lead_ids: list[str]) -> None:
        """These leads were asked about now (on the store's clock)."""
        if not lead_ids:
            return
        now = self.sql.now()
        self.sql.many(
            "INSERT INTO payment_checks (lead_id, checked_at) VALUES (?, ?)"
            " ON CONFLICT (lead_id) DO UPDATE SET checked_at = excluded.checked_at",
            [(lead_id, now) for lead_id in lead_ids],
        )
