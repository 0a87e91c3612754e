"""The time zone daily_stats' days were counted in, kept beside them (`projection_settings`)."""

from __future__ import annotations

from common.store.sql import Sql

NAME = "timezone"


class ZoneChanged(RuntimeError):
    """The days stored were counted in another zone than the one configured."""

    def __init__(self, recorded: str, configured: str):
        super().__init__(
            f"the days in this database (daily_stats) were counted in {recorded}, but"
            f" dashboard.timezone is {configured}: run `leadrelay rebuild` to count them again"
            f" in {configured} (it records the new zone), or set dashboard.timezone back to"
            f" {recorded}"
        )
        self.recorded, self.configured = recorded, configured


class RecordedZone:
    def __init__(self, sql: Sql):
        self.sql = sql

    def get(self) -> str | None:
        value = self.sql.value("SELECT value FROM projection_settings WHERE name = ?", (NAME,))
        return None if value is None else str(value)

    def claim(self, zone: str) -> str:
        """The zone recorded, recording `zone` first if there is none (a new database, or
        one from before zones were recorded). Two processes starting at once record once."""
        self.sql.run(
            "INSERT INTO projection_settings (name, value, recorded_at) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO NOTHING",
            (NAME, zone, self.sql.now()),
        )
        recorded = self.get()
        assert recorded is not None  # inserted above, or there already
        return recorded

    def record(self, zone: str) -> None:
        """The days have just been counted in `zone` (by a rebuild)."""
        self.sql.run(
            "INSERT INTO projection_settings (name, value, recorded_at) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value,"
            " recorded_at = excluded.recorded_at",
            (NAME, zone, self.sql.now()),
        )
