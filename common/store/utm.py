"""Reads of the leads by their UTM values, for the UTM report: one level at a time, within a
period of stored times and the values already chosen above that level."""

from __future__ import annotations

from collections.abc import Mapping

from common.store.sql import Row, Sql

# The UTM columns in drill-down order: source -> medium -> campaign -> content -> term.
UTM_COLUMNS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")


class UtmRows:
    def __init__(self, sql: Sql):
        self.sql = sql

    def level(
        self,
        column: str,
        since: str,
        until: str,
        chosen: Mapping[str, str | None],
        campaign: str | None = None,
    ) -> list[Row]:
        """The leads that came in [since, until), grouped by `column`'s value (`value`; None
        or '' for leads without one), by our campaign, status, and payment (`paid`,
        payment_currency, payment_amount), with how many (`leads`). `chosen` narrows to the
        values of the levels above (None: the leads without a value there); `campaign` to
        one of our campaigns. One range scan of the created_at index."""
        if column not in UTM_COLUMNS or not set(chosen) <= set(UTM_COLUMNS):
            raise ValueError(f"not a UTM column: {column}, {sorted(chosen)}")
        clauses, params = ["created_at >= ?", "created_at < ?"], [since, until]
        for name, value in chosen.items():
            if value is None:
                clauses.append(f"({name} IS NULL OR {name} = '')")
            else:
                clauses.append(f"{name} = ?")
                params.append(value)
        if campaign is not None:
            clauses.append("campaign_id = ?")
            params.append(campaign)
        return self.sql.all(
            f"SELECT {column} AS value, campaign_id, status, paid_at IS NOT NULL AS paid,"
            " payment_currency, payment_amount, count(*) AS leads FROM leads"
            f" WHERE {' AND '.join(clauses)}"
            f" GROUP BY {column}, campaign_id, status, paid_at IS NOT NULL, payment_currency,"
            " payment_amount",
            params,
        )
