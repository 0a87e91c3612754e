"""Reads of utm_stats for the UTM report: one level at a time, within a period of local days
and the values already chosen above that level. The two upper levels, and the overview's lost
leads, read utm_medium_stats: the same counts without the three lower UTM values."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from common.store.sql import Row, Sql

# The UTM columns in drill-down order: source -> medium -> campaign -> content -> term.
UTM_COLUMNS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
# The columns utm_medium_stats keeps (migration 0025).
UPPER_COLUMNS = UTM_COLUMNS[:2]


class UtmRows:
    def __init__(self, sql: Sql):
        self.sql = sql

    def level(
        self,
        column: str,
        first: date,
        last: date,
        chosen: Mapping[str, str | None],
        campaign: str | None = None,
    ) -> list[Row]:
        """The leads of the local days `first` .. `last` (their cohorts, in the store's zone),
        by `column`'s value (`value`; '' for leads without one), our campaign and the currency
        of their sales (`currency`, '' for the unpaid): how many (`leads`), lost, paid
        (`sales`) and the revenue of those (`revenue_minor`). `chosen` narrows to the values
        of the levels above (None: the leads without a value there); `campaign` to one of our
        campaigns. One range of days of utm_medium_stats (for the upper two levels) or of
        utm_stats within the chosen utm_source and utm_medium, whatever the leads in it."""
        if column not in UTM_COLUMNS or not set(chosen) <= set(UTM_COLUMNS):
            raise ValueError(f"not a UTM column: {column}, {sorted(chosen)}")
        clauses = ["day >= ?", "day <= ?"]
        params = [first.isoformat(), last.isoformat()]
        for name, value in chosen.items():
            clauses.append(f"{name} = ?")
            params.append(value or "")
        if campaign is not None:
            clauses.append("campaign_id = ?")
            params.append(campaign)
        return self.sql.all(
            f"SELECT {column} AS value, campaign_id, currency, sum(leads) AS leads,"
            " sum(lost) AS lost, sum(sales) AS sales, sum(revenue_minor) AS revenue_minor"
            f" FROM {self._table(column, chosen)} WHERE {' AND '.join(clauses)}"
            f" GROUP BY {column}, campaign_id, currency",
            params,
        )

    @staticmethod
    def _table(column: str, chosen: Mapping[str, str | None]) -> str:
        upper = column in UPPER_COLUMNS and set(chosen) <= set(UPPER_COLUMNS)
        return "utm_medium_stats" if upper else "utm_stats"

    def lost(self, first: date, last: date, source: str | None = None) -> list[Row]:
        """day, campaign_id and how many (`lost`) of the leads that came that local day are
        lost; of one utm_source ('' for none) when asked. The days' few rows of
        utm_medium_stats."""
        where, params = "day >= ? AND day <= ? AND lost <> 0", [first.isoformat(), last.isoformat()]
        if source is not None:
            where, params = f"{where} AND utm_source = ?", [*params, source]
        return self.sql.all(
            f"SELECT day, campaign_id, sum(lost) AS lost FROM utm_medium_stats WHERE {where}"
            " GROUP BY day, campaign_id",
            params,
        )
