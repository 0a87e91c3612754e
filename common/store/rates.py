"""Token buckets in the database, for rate limits shared by every process on every host
(amoCRM allows 7 requests a second per account, not per dispatcher)."""

from __future__ import annotations

from dataclasses import dataclass

from common.store.sql import Sql


@dataclass(frozen=True)
class Reservation:
    wait: float  # seconds from `at` to the first turn reserved; the others follow 1/rate apart
    at: float  # the server's clock (Unix seconds) when it reserved them


class RateBuckets:
    def __init__(self, sql: Sql):
        self.sql = sql

    def take(self, name: str, rate: float) -> float:
        """Take one token from bucket `name` (refilled at `rate` a second, holding at most
        one: calls are spaced 1/rate apart, with no burst, so no one-second window at the
        CRM sees more than `rate` of them, give or take the network's jitter); return 0,
        or the seconds until a token is due (nothing taken).

        PostgreSQL only: the upsert locks the bucket's row, so takers on any host queue
        on it and each sees the others' takes."""
        capacity = 1.0
        # A bucket's level need not survive a crash (a lost take costs one call's spacing):
        # its commit does not wait for the disk, so a take is a round trip, not an fsync.
        self.sql.run("SET LOCAL synchronous_commit = off")
        tokens = float(
            self.sql.value(
                "INSERT INTO rate_buckets AS b (name, tokens, updated_at)"
                " VALUES (?, ?, clock_timestamp())"
                " ON CONFLICT (name) DO UPDATE SET"
                " tokens = least(?, b.tokens"
                " + ? * extract(epoch FROM clock_timestamp() - b.updated_at)),"
                " updated_at = clock_timestamp()"
                " RETURNING tokens",
                (name, capacity, capacity, rate),
            )
        )
        if tokens < 1.0:
            return (1.0 - tokens) / rate
        self.sql.run("UPDATE rate_buckets SET tokens = tokens - 1 WHERE name = ?", (name,))
        return 0.0

    def reserve(self, name: str, rate: float, count: int) -> Reservation:
        """Reserve the next `count` calls of bucket `name` (refilled at `rate` a second,
        holding at most one): the bucket may go into debt, so the calls of every taker stay
        spaced 1/rate apart, one after another. Return the seconds until the first of them is
        due; the others follow 1/rate apart. One statement, whatever `count`: a process
        calling often reserves many at once instead of a round trip each (`take` with no
        wait is `reserve` of one when a token is there). With it, the server's clock when it
        reserved them: the turns are due by that clock, not by when the answer was heard."""
        self.sql.send("SET LOCAL synchronous_commit = off")  # as in `take`
        row = self.sql.one(
            "INSERT INTO rate_buckets AS b (name, tokens, updated_at)"
            " VALUES (?, 1 - ?, clock_timestamp())"
            " ON CONFLICT (name) DO UPDATE SET"
            " tokens = least(1, b.tokens"
            " + ? * extract(epoch FROM clock_timestamp() - b.updated_at)) - ?,"
            " updated_at = clock_timestamp()"
            " RETURNING tokens + ? AS level, extract(epoch FROM b.updated_at) AS at",
            (name, count, rate, count, count),
        )
        assert row is not None  # an upsert returns its row
        wait = max(0.0, (1.0 - float(row["level"])) / rate)
        return Reservation(wait, float(row["at"]))
