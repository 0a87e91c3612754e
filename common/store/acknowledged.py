"""Configuration problems acknowledged by an admin: hidden while they say the same, for a
while."""

from __future__ import annotations

from dataclasses import dataclass

from common.store.sql import Sql, as_dict


@dataclass(frozen=True)
class Acknowledged:
    problem: str  # which problem: "webhook:amo", "credentials:amo" …
    state: str  # what it said when acknowledged
    actor: str
    note: str
    at: str
    until: str


class AcknowledgedProblems:
    def __init__(self, sql: Sql):
        self.sql = sql

    def put(self, seen: Acknowledged) -> None:
        """Acknowledge (again): the newest acknowledgement of a problem is the one kept."""
        self.sql.run(
            "INSERT INTO acknowledged_problems (problem, state, actor, note, at, until)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (problem) DO UPDATE SET"
            " state = excluded.state, actor = excluded.actor, note = excluded.note,"
            " at = excluded.at, until = excluded.until",
            (seen.problem, seen.state, seen.actor, seen.note, seen.at, seen.until),
        )

    def current(self, now: str) -> dict[str, Acknowledged]:
        """The acknowledgements not yet run out, by problem."""
        rows = self.sql.all(
            "SELECT problem, state, actor, note, at, until FROM acknowledged_problems"
            " WHERE until > ?",
            (now,),
        )
        return {row["problem"]: Acknowledged(**as_dict(row)) for row in rows}
