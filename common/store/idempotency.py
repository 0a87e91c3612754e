"""Idempotency keys: a retried submission gets the first answer, not a second lead."""

from __future__ import annotations

from common.errors import IdempotencyConflict
from common.model import JsonObject
from common.store.sql import Sql, dumps, later, loads


def _cutoff(sql: Sql, hours: int) -> str:
    """The oldest time a key still answers at: `hours` before the store's now."""
    return later(sql.now(), -hours * 3600)


class IdempotencyKeys:
    def __init__(self, sql: Sql):
        self.sql = sql

    def lookup(self, key: str, request_hash: str, hours: int) -> JsonObject | None:
        """The stored answer for this key, None if unseen or expired; 409 if the body differs."""
        row = self.sql.one(
            "SELECT request_hash, response FROM idempotency_keys WHERE key = ? AND created_at >= ?",
            (key, _cutoff(self.sql, hours)),
        )
        if row is None:
            return None
        if row["request_hash"] != request_hash:
            raise IdempotencyConflict("this Idempotency-Key was used with a different body")
        answer: JsonObject = loads(row["response"])
        return answer

    def remember(self, key: str, request_hash: str, response: JsonObject, hours: int) -> None:
        self.sql.run(
            "INSERT INTO idempotency_keys (key, request_hash, response, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET"
            " request_hash = excluded.request_hash, response = excluded.response,"
            " created_at = excluded.created_at",
            (key, request_hash, dumps(response), self.sql.now()),
        )
        # Sweep a few expired keys on each write so the table stays bounded.
        self.sql.run(
            "DELETE FROM idempotency_keys WHERE key IN"
            " (SELECT key FROM idempotency_keys WHERE created_at < ? LIMIT 50)",
            (_cutoff(self.sql, hours),),
        )
