"""Reads of utm_stats for the UTM report: one level at a time, within a period of local days
and the values already chosen above that level."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from common.store.sql import Row, Sql

# The UTM columns in drill-down order: source -> medium -> campaign -> content -> term.
UTM_COLUMNS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")


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
        campaigns. One range of utm_stats' days, whatever the number of leads in it."""
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
            f" FROM utm_stats WHERE {' AND '.join(clauses)}"
            f" GROUP BY {column}, campaign_id, currency",
            params,
        )
