"""Webhook receipts: every authenticated CRM webhook, kept for audit and deduplication."""

from __future__ import annotations

from common.model import JsonObject
from common.store.sql import Sql, dumps

BODY_LIMIT = 20_000


class Receipts:
    def __init__(self, sql: Sql):
        self.sql = sql

    def seen(self, connection: str, message_id: str) -> bool:
        found = self.sql.one(
            "SELECT 1 FROM webhook_receipts WHERE connection = ? AND message_id = ?",
            (connection, message_id),
        )
        return found is not None

    def keep(self, connection: str, message_id: str | None, body: bytes, answer: JsonObject) -> int:
        """Keep the webhook with what it did; return the receipt's id."""
        return int(
            self.sql.insert(
                "INSERT INTO webhook_receipts"
                " (connection, message_id, received_at, outcome, lead_id, detail, body)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    connection,
                    message_id,
                    self.sql.now(),
                    answer.get("status", "ok"),
                    answer.get("lead_id"),
                    dumps(answer),
                    body.decode("utf-8", errors="replace")[:BODY_LIMIT],
                ),
            )
        )

    def update(self, receipt_id: int, answer: JsonObject) -> None:
        self.sql.run(
            "UPDATE webhook_receipts SET outcome = ?, lead_id = ?, detail = ? WHERE id = ?",
            (answer.get("status", "ok"), answer.get("lead_id"), dumps(answer), receipt_id),
        )
