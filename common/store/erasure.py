"""The store's verbs of erasure: find a person's leads, rewrite their events in place, and
take the person out of the rows beside the projections (idempotency answers, webhook
receipts, task texts). What counts as the person is `common.personal`'s to say."""

from __future__ import annotations

from collections.abc import Iterable

from common.model import Event
from common.personal import ERASED, without_strings
from common.store.codec import event_data
from common.store.leads import LIKE
from common.store.sql import Sql, dumps


def _contains(needle: str) -> str:
    """A LIKE pattern for text holding `needle` (lower-cased) anywhere, its % _ \\ literal."""
    escaped = needle.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _mentioning(column: str, needles: Iterable[str]) -> tuple[str, list[str]]:
    """A condition true where `column` (folded) holds any of `needles`, and its parameters."""
    patterns = [_contains(n) for n in sorted(needles)]
    clause = " OR ".join(f"lower({column}) {LIKE}" for _ in patterns)
    return f"({clause})" if patterns else "0 = 1", patterns


class Erasures:
    def __init__(self, sql: Sql):
        self.sql = sql

    def leads_of(self, phone: str | None, email_key: str | None, needles: set[str]) -> list[str]:
        """The leads that hold this phone (E.164) or e-mail (folded): on their row, through the
        indexes, or anywhere in their events (a repeat sent with another e-mail, say), which
        reads the whole log."""
        found: set[str] = set()
        if phone:
            found |= {
                r["id"] for r in self.sql.all("SELECT id FROM leads WHERE phone = ?", (phone,))
            }
        if email_key:
            rows = self.sql.all("SELECT id FROM leads WHERE email_key = ?", (email_key,))
            found |= {r["id"] for r in rows}
        if needles:
            clause, params = _mentioning("events.data", needles)
            rows = self.sql.all(
                "SELECT DISTINCT leads.id FROM events JOIN leads ON leads.id = events.stream_id"
                f" WHERE {clause}",
                params,
            )
            found |= {r["id"] for r in rows}
        return sorted(found)

    def rewrite(self, event: Event) -> None:
        """Replace a stored event's data by `event.payload`'s, in place: same position,
        version, time and metadata."""
        self.sql.run(
            "UPDATE events SET data = ? WHERE position = ?",
            (dumps(event_data(event.payload)), event.position),
        )

    def forget_answers(self, lead_id: str) -> int:
        """Drop the idempotency answers that named the lead (they may quote its warnings);
        a retry under such a key after the erasure is taken as a new submission."""
        return self.sql.run(
            "DELETE FROM idempotency_keys WHERE response LIKE ?", (_contains(lead_id),)
        )

    def scrub_receipts(self, lead_id: str, needles: set[str]) -> int:
        """Webhook receipts about the lead lose their body (a CRM's notice may carry the
        contact); any other receipt whose body or answer holds one of `needles` too."""
        clause, params = _mentioning("body", needles)
        rows = self.sql.all(
            f"SELECT id, lead_id, body, detail FROM webhook_receipts WHERE lead_id = ? OR {clause}",
            (lead_id, *params),
        )
        changed = 0
        for row in rows:
            body = ERASED if row["lead_id"] == lead_id else without_strings(row["body"], needles)
            detail = without_strings(row["detail"], needles)
            if (body, detail) != (row["body"], row["detail"]):
                changed += self.sql.run(
                    "UPDATE webhook_receipts SET body = ?, detail = ? WHERE id = ?",
                    (body, detail, row["id"]),
                )
        return changed

    def scrub_tasks(self, lead_id: str, needles: set[str]) -> int:
        """The lead's tasks keep their payloads, errors and results without the contact
        strings (a CRM's error may quote the phone it refused)."""
        changed = 0
        rows = self.sql.all(
            "SELECT id, payload, last_error, result FROM tasks WHERE lead_id = ?", (lead_id,)
        )
        for row in rows:
            texts = {name: row[name] for name in ("payload", "last_error", "result")}
            scrubbed = {
                k: v if v is None else without_strings(v, needles) for k, v in texts.items()
            }
            if scrubbed != texts:
                changed += self.sql.run(
                    "UPDATE tasks SET payload = ?, last_error = ?, result = ? WHERE id = ?",
                    (*scrubbed.values(), row["id"]),
                )
        return changed

    def expired(self, before: str, limit: int) -> list[str]:
        """Up to `limit` leads created before `before` and not erased yet, the oldest first
        (the partial index `leads_to_erase` holds only those)."""
        rows = self.sql.all(
            "SELECT id FROM leads WHERE erased_at IS NULL AND created_at < ?"
            " ORDER BY created_at LIMIT ?",
            (before, limit),
        )
        return [row["id"] for row in rows]

    def old_receipts(self, before: str) -> int:
        """Receipts of webhooks older than `before` lose their bodies (retention)."""
        return self.sql.run(
            "UPDATE webhook_receipts SET body = ? WHERE received_at < ? AND body <> ?",
            (ERASED, before, ERASED),
        )
