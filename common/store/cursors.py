"""Reconciliation cursors: each CRM connection's reading (window, place, problems) as JSON."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from common import clock
from common.reconciling import Reading
from common.store.sql import Sql, dumps


class Cursors:
    def __init__(self, sql: Sql):
        self.sql = sql

    def get(self, connection: str) -> Reading:
        value = self.sql.value(
            "SELECT cursor FROM reconcile_cursors WHERE connection = ?", (connection,)
        )
        return Reading() if value is None else decode(str(value))

    def set(self, connection: str, reading: Reading) -> None:
        self.sql.run(
            "INSERT INTO reconcile_cursors (connection, cursor, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (connection) DO UPDATE SET cursor = excluded.cursor,"
            " updated_at = excluded.updated_at",
            (connection, encode(reading), self.sql.now()),
        )

    def all(self) -> dict[str, Reading]:
        rows = self.sql.all("SELECT connection, cursor FROM reconcile_cursors ORDER BY connection")
        return {str(row["connection"]): decode(str(row["cursor"])) for row in rows}


def encode(reading: Reading) -> str:
    def moment(value: datetime | None) -> str | None:
        return None if value is None else clock.iso(value)

    document = {
        "since": moment(reading.since),
        "until": moment(reading.until),
        "place": reading.place,
        "failures": reading.failures,
        "problem": reading.problem,
        "skipped": reading.skipped,
        "webhook": reading.webhook,
    }
    return dumps(document)


def decode(text: str) -> Reading:
    """A stored reading; the bare text an earlier version kept (the latest change time it
    had seen: amoCRM's Unix seconds, Bitrix24's DATE_MODIFY) is where the next window starts."""
    if not text.startswith("{"):
        return Reading(since=_legacy(text))
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError:
        return Reading()  # unreadable: look again from the first-look point, paid-once holds
    if not isinstance(document, dict):
        return Reading()
    place = document.get("place")
    return Reading(
        since=_moment(document.get("since")),
        until=_moment(document.get("until")),
        place=place if isinstance(place, dict) else None,
        failures=_count(document.get("failures")),
        problem=_text(document.get("problem")),
        skipped=_count(document.get("skipped")),
        webhook=_text(document.get("webhook")),
    )


def _legacy(text: str) -> datetime | None:
    if text.isascii() and text.isdigit():
        return datetime.fromtimestamp(int(text), UTC)
    return _moment(text)


def _moment(value: object) -> datetime | None:
    try:
        return clock.parse(str(value)) if value else None
    except ValueError:
        return None


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
