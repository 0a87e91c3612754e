"""Reads of the counters kept beside the events: per campaign and per day."""

from __future__ import annotations

from collections.abc import Sequence

from common.model import CampaignStats
from common.store.sql import Row, Sql

STAT_COLUMNS = (
    "campaign_id, leads, leads_delivered, delivery_failed, payments, revenue_minor, lost,"
    " conversions_uploaded, conversions_linked"
)


class Stats:
    def __init__(self, sql: Sql):
        self.sql = sql

    def campaigns(self) -> list[CampaignStats]:
        """Every campaign's counters, busiest first."""
        rows = self.sql.all(f"SELECT {STAT_COLUMNS} FROM campaign_stats ORDER BY leads DESC")
        return [CampaignStats(**row) for row in rows]

    def totals(self) -> dict[str, int]:
        row = self.sql.one(
            "SELECT coalesce(sum(leads), 0) AS leads, coalesce(sum(payments), 0) AS payments,"
            " coalesce(sum(revenue_minor), 0) AS revenue_minor FROM campaign_stats"
        )
        assert row is not None  # an aggregate always has a row
        # int(): PostgreSQL sums are numeric (Decimal).
        return {name: int(row[name]) for name in ("leads", "payments", "revenue_minor")}

    def daily(self, since: str) -> list[Row]:
        """Per-day counters from `since` (YYYY-MM-DD) on: day, campaign_id, leads, payments,
        revenue_minor."""
        return self.sql.all(
            "SELECT day, campaign_id, leads, payments, revenue_minor FROM daily_stats"
            " WHERE day >= ? ORDER BY day",
            (since,),
        )

    def days(self, first: str, last: str) -> list[Row]:
        """Per-day counters of the days from `first` to `last` (YYYY-MM-DD), both included:
        day, campaign_id, leads, payments, revenue_minor."""
        return self.sql.all(
            "SELECT day, campaign_id, leads, payments, revenue_minor FROM daily_stats"
            " WHERE day >= ? AND day <= ? ORDER BY day",
            (first, last),
        )

    def by_source(
        self,
        first: str,
        last: str,
        source: str | None = None,
        spans: Sequence[tuple[str, str]] = (),
    ) -> list[Row]:
        """Per-day counters of the days from `first` to `last` (YYYY-MM-DD, both included),
        summed over the sources, or of one (`source`; '' for leads without one), by the
        currency of the sales ('' for the leads' own counts): day, campaign_id, currency,
        leads, repeat_leads, payments, revenue_minor. With `spans` ((name, first day) each,
        in order, covering the days) summed per span instead, its name as the `day`: a
        year's chart by week reads 53 rows a campaign, not 365."""
        where, params = "day >= ? AND day <= ?", [first, last]
        if source is not None:
            where, params = f"{where} AND utm_source = ?", [*params, source]
        point, named = ("day", []) if not spans else _span_of(spans)
        # The sums as the engine gives them (numeric, a Decimal, on PostgreSQL): a year's
        # thousands of rows are read once, by the report, which takes int() of them.
        return self.sql.all(
            f"SELECT {point} AS day, campaign_id, currency, sum(leads) AS leads,"
            " sum(repeat_leads) AS repeat_leads, sum(payments) AS payments,"
            " sum(revenue_minor) AS revenue_minor FROM source_stats"
            f" WHERE {where} GROUP BY 1, campaign_id, currency ORDER BY 1",
            [*named, *params],
        )

    def sources(self, first: str, last: str) -> list[str]:
        """The utm_sources of the leads and sales of the days from `first` to `last`."""
        rows = self.sql.all(
            "SELECT DISTINCT utm_source FROM source_stats WHERE day >= ? AND day <= ?"
            " ORDER BY utm_source",
            (first, last),
        )
        return [str(row["utm_source"]) for row in rows]


def _span_of(spans: Sequence[tuple[str, str]]) -> tuple[str, list[str]]:
    """The expression naming the span a `day` is in (the latest one starting on or before
    it) and its parameters: CASEs halving the spans, so a day of a year by week is placed
    in six comparisons rather than one per week."""
    if len(spans) == 1:
        return "?", [spans[0][0]]
    middle = len(spans) // 2
    early, early_params = _span_of(spans[:middle])
    late, late_params = _span_of(spans[middle:])
    expression = f"CASE WHEN day >= ? THEN {late} ELSE {early} END"
    return expression, [spans[middle][1], *late_params, *early_params]
