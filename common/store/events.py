"""EventStore: the append-only log every change is written to first."""

from __future__ import annotations

from common.errors import ConcurrencyConflict
from common.events import StoredEvent
from common.model import Event, EventType, Metadata
from common.store.codec import event_data, event_of
from common.store.sql import Row, Sql, dumps, loads

COLUMNS = "position, stream_id, version, type, data, metadata, created_at"


def event_from_row(row: Row) -> Event:
    return Event(
        stream_id=row["stream_id"],
        version=row["version"],
        payload=event_of(EventType(row["type"]), loads(row["data"]) or {}),
        metadata=loads(row["metadata"]) or {},
        created_at=row["created_at"],
        position=row["position"],
    )


class EventStore:
    def __init__(self, sql: Sql, is_conflict: type[Exception]):
        self.sql = sql
        self._is_conflict = is_conflict  # the driver's unique-violation error

    def append(
        self,
        stream_id: str,
        expected_version: int,
        payload: StoredEvent,
        metadata: Metadata | None = None,
        *,
        position: bool = True,
        look: bool = True,
    ) -> Event:
        """Append version expected_version + 1, or raise ConcurrencyConflict.

        A new stream (expected 0) needs no look-up: UNIQUE(stream_id, version)
        refuses a second version 1. `position=False`: the event's position in the log is
        not read back (the Event says 0), so on PostgreSQL's pipeline the append waits for
        nothing; a refused version then shows at the batch's next wait, and the batch's run
        in savepoints raises the ConcurrencyConflict here. `look=False`: the caller read
        expected_version in this transaction (a lead's row keeps it beside its events), so
        the stream is not read again; a stale one is refused by the same UNIQUE.
        """
        data = dumps(event_data(payload))
        if expected_version and look:
            current = self.version(stream_id)
            if current != expected_version:
                raise ConcurrencyConflict(
                    f"stream {stream_id} is at version {current}, expected {expected_version}"
                )
        created_at = self.sql.now()
        metadata = metadata or {}
        self.sql.lock_event_order()
        statement = (
            "INSERT INTO events (stream_id, version, type, data, metadata, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)"
        )
        values = (stream_id, expected_version + 1, payload.type, data, dumps(metadata), created_at)
        at = 0
        try:
            if position:
                at = self.sql.insert(statement, values, key="position")
            else:
                self.sql.send(statement, values)
        except self._is_conflict as error:
            raise ConcurrencyConflict(f"stream {stream_id} moved on concurrently") from error
        return Event(stream_id, expected_version + 1, payload, metadata, created_at, at)

    def version(self, stream_id: str) -> int:
        """The stream's last version (0 for a stream with no event yet): what the next append
        expects, for a stream no projection row keeps the version of (a Direct campaign's)."""
        return int(
            self.sql.value(
                "SELECT coalesce(max(version), 0) FROM events WHERE stream_id = ?", (stream_id,)
            )
        )

    def read_stream(self, stream_id: str) -> list[Event]:
        rows = self.sql.all(
            f"SELECT {COLUMNS} FROM events WHERE stream_id = ? ORDER BY version", (stream_id,)
        )
        return [event_from_row(row) for row in rows]

    def read_all(self, after: int = 0, limit: int = 1000) -> list[Event]:
        rows = self.sql.all(
            f"SELECT {COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?",
            (after, limit),
        )
        return [event_from_row(row) for row in rows]

    def count(self) -> int:
        """How many events are stored: positions are commit-ordered, and may have gaps (on
        PostgreSQL), so the highest position is not the count; the backend answers."""
        return self.sql.event_count()

    def latest(self, limit: int = 10) -> list[Event]:
        rows = self.sql.all(
            f"SELECT {COLUMNS} FROM events ORDER BY position DESC LIMIT ?", (limit,)
        )
        return [event_from_row(row) for row in rows]
