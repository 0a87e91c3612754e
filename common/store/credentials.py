"""CRM OAuth tokens kept in the database, with a claim so one process at a time refreshes."""

from __future__ import annotations

from dataclasses import dataclass, field

from common import clock
from common.model import OAuthTokens
from common.store.sql import Row, Sql, as_dict, later

COLUMNS = (
    "connection, access_token, refresh_token, expires_at, version, refreshed_at,"
    " refreshing_until, last_error"
)


@dataclass(frozen=True)
class StoredTokens:
    """A connection's current pair, and how long it has left by the store's clock."""

    connection: str
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: str
    version: int
    refreshed_at: str
    refreshing_until: str | None
    last_error: str | None
    seconds_left: float  # until expires_at, read with the row (negative: expired)


class CrmCredentials:
    def __init__(self, sql: Sql):
        self.sql = sql

    def get(self, connection: str) -> StoredTokens | None:
        row = self.sql.one(
            f"SELECT {COLUMNS} FROM crm_credentials WHERE connection = ?", (connection,)
        )
        return None if row is None else self._tokens(row)

    def all(self) -> list[StoredTokens]:
        """Every connection's pair, by name (the dashboard shows their state, never them)."""
        rows = self.sql.all(f"SELECT {COLUMNS} FROM crm_credentials ORDER BY connection")
        return [self._tokens(row) for row in rows]

    def put(self, connection: str, tokens: OAuthTokens) -> int:
        """Store a pair got from an authorization code (replacing any); its new version."""
        now = self.sql.now()
        version = int(
            self.sql.value(
                "SELECT coalesce(max(version), 0) + 1 FROM crm_credentials WHERE connection = ?",
                (connection,),
            )
        )
        self.sql.run(
            f"INSERT INTO crm_credentials ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)"
            " ON CONFLICT (connection) DO UPDATE SET access_token = excluded.access_token,"
            " refresh_token = excluded.refresh_token, expires_at = excluded.expires_at,"
            " version = excluded.version, refreshed_at = excluded.refreshed_at,"
            " refreshing_until = NULL, last_error = NULL",
            (
                connection,
                tokens.access_token,
                tokens.refresh_token,
                later(now, tokens.expires_in),
                version,
                now,
            ),
        )
        return version

    def claim(self, connection: str, version: int, seconds: float) -> bool:
        """Take the right to spend this version's refresh token for `seconds`: true for one
        caller only, however many ask at once (compare-and-swap on the version and on a
        claim run out; SQLite's one writer and PostgreSQL's row lock serialise the UPDATE,
        and PostgreSQL re-reads the row's WHERE after the lock)."""
        now = self.sql.now()
        return (
            self.sql.run(
                "UPDATE crm_credentials SET refreshing_until = ? WHERE connection = ?"
                " AND version = ? AND (refreshing_until IS NULL OR refreshing_until < ?)",
                (later(now, seconds), connection, version, now),
            )
            == 1
        )

    def replace(self, connection: str, version: int, tokens: OAuthTokens) -> bool:
        """The refreshed pair in place of `version`'s, releasing the claim; false if the
        row moved on (a new authorization meanwhile), which then stays."""
        now = self.sql.now()
        return (
            self.sql.run(
                "UPDATE crm_credentials SET access_token = ?, refresh_token = ?, expires_at = ?,"
                " version = version + 1, refreshed_at = ?, refreshing_until = NULL,"
                " last_error = NULL WHERE connection = ? AND version = ?",
                (
                    tokens.access_token,
                    tokens.refresh_token,
                    later(now, tokens.expires_in),
                    now,
                    connection,
                    version,
                ),
            )
            == 1
        )

    def refused(self, connection: str, version: int, error: str) -> None:
        """The refresh failed: release the claim and keep why, for the dashboard."""
        self.sql.run(
            "UPDATE crm_credentials SET refreshing_until = NULL, last_error = ?"
            " WHERE connection = ? AND version = ?",
            (error, connection, version),
        )

    def _tokens(self, row: Row) -> StoredTokens:
        left = (clock.parse(row["expires_at"]) - clock.parse(self.sql.now())).total_seconds()
        return StoredTokens(**as_dict(row), seconds_left=left)
