"""Unmatched payments: won deals that name no lead of ours, kept for a person to attach, or to
dismiss as not ours (a test deal, a CRM's demo data) and bring back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from common.store.sql import Row, Sql

COLUMNS = (
    "id, connection, crm_ref, amount, currency, paid_at, received_at, status, lead_id, attached_at,"
    " dismissed_at, dismissed_reason"
)
# What the cap counts: a connection's payments waiting for a person (its own index, 0027).
OPEN_COUNT = "SELECT count(*) FROM unmatched_payments WHERE connection = ? AND status = 'open'"


@dataclass(frozen=True)
class UnmatchedPayment:
    id: int
    connection: str
    crm_ref: str
    amount: str
    currency: str
    paid_at: str
    received_at: str
    status: str
    lead_id: str | None
    attached_at: str | None
    dismissed_at: str | None
    dismissed_reason: str | None


def _from_row(row: Row) -> UnmatchedPayment:
    return UnmatchedPayment(**row)


class UnmatchedPayments:
    def __init__(self, sql: Sql):
        self.sql = sql

    def keep(
        self,
        connection: str,
        crm_ref: str,
        amount: str,
        currency: str,
        paid_at: str,
        cap: int | None = None,
    ) -> int | None:
        """Keep it (once per CRM deal: a repeated webhook changes nothing); its id. None when
        it is new and the connection already holds `cap` open ones: nothing is kept."""
        new = cap is not None and self._kept(connection, crm_ref) is None
        if new and cap is not None and self.open_count(connection) >= cap:
            return None
        self.sql.run(
            "INSERT INTO unmatched_payments"
            " (connection, crm_ref, amount, currency, paid_at, received_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (connection, crm_ref) DO NOTHING",
            (connection, crm_ref, amount, currency, paid_at, self.sql.now()),
        )
        return self._kept(connection, crm_ref)

    def _kept(self, connection: str, crm_ref: str) -> int | None:
        found = self.sql.one(
            "SELECT id FROM unmatched_payments WHERE connection = ? AND crm_ref = ?",
            (connection, crm_ref),
        )
        return None if found is None else int(found["id"])

    def open_count(self, connection: str) -> int:
        """How many of the connection's payments wait for a person (the cap counts these:
        an attached or dismissed one makes room)."""
        return int(self.sql.value(OPEN_COUNT, (connection,)))

    def get(self, payment_id: int) -> UnmatchedPayment | None:
        row = self.sql.one(f"SELECT {COLUMNS} FROM unmatched_payments WHERE id = ?", (payment_id,))
        return None if row is None else _from_row(row)

    def open(self, limit: int = 200) -> list[UnmatchedPayment]:
        return self._listed("open", "received_at DESC", limit)

    def dismissed(self, limit: int = 200) -> list[UnmatchedPayment]:
        """The payments a person said are not ours, the latest dismissed first."""
        return self._listed("dismissed", "dismissed_at DESC, id DESC", limit)

    def _listed(
        self, status: Literal["open", "dismissed"], order: str, limit: int
    ) -> list[UnmatchedPayment]:
        # The status written in, not bound: the planner then knows unmatched_open serves it.
        rows = self.sql.all(
            f"SELECT {COLUMNS} FROM unmatched_payments WHERE status = '{status}'"
            f" ORDER BY {order} LIMIT ?",
            (limit,),
        )
        return [_from_row(row) for row in rows]

    def attach(self, payment_id: int, lead_id: str) -> bool:
        """Mark it attached to the lead; False if it was not open."""
        changed = self.sql.run(
            "UPDATE unmatched_payments SET status = 'attached', lead_id = ?, attached_at = ?"
            " WHERE id = ? AND status = 'open'",
            (lead_id, self.sql.now(), payment_id),
        )
        return changed == 1

    def dismiss(self, payment_id: int, reason: str) -> bool:
        """Set an open payment aside as not ours, saying why; False if it was not open. A
        repeated webhook of its deal finds it kept (UNIQUE) and leaves it dismissed."""
        changed = self.sql.run(
            "UPDATE unmatched_payments SET status = 'dismissed', dismissed_at = ?,"
            " dismissed_reason = ? WHERE id = ? AND status = 'open'",
            (self.sql.now(), reason, payment_id),
        )
        return changed == 1

    def reopen(self, payment_id: int) -> bool:
        """Bring a dismissed payment back to the open ones; False if it was not dismissed."""
        changed = self.sql.run(
            "UPDATE unmatched_payments SET status = 'open', dismissed_at = NULL,"
            " dismissed_reason = NULL WHERE id = ? AND status = 'dismissed'",
            (payment_id,),
        )
        return changed == 1
