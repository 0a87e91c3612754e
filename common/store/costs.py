"""The `direct_costs` projection: each Direct campaign's figures per day, as last reported."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from common.events import DirectCostReported
from common.store.sql import Row, Sql

MICROS = 6  # cost_micros holds the cost x 10**6: Direct's own unit, so it is exact
COLUMNS = "day, direct_campaign_id, campaign_name, impressions, clicks, cost_micros, currency"
REPLACE = (
    f"INSERT INTO direct_costs ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (day, direct_campaign_id) DO UPDATE SET"
    " campaign_name = excluded.campaign_name, impressions = excluded.impressions,"
    " clicks = excluded.clicks, cost_micros = excluded.cost_micros,"
    " currency = excluded.currency"
)


def micros(cost: Decimal) -> int:
    """The cost in millionths; exact for every cost `CostService` records."""
    return int(cost.scaleb(MICROS).to_integral_value())


def replace_day(sql: Sql, cost: DirectCostReported) -> None:
    """The day's figures as Direct now reports them: set, never added to the earlier ones."""
    sql.run(
        REPLACE,
        (
            cost.day.isoformat(),
            cost.direct_campaign_id,
            cost.campaign_name,
            cost.impressions,
            cost.clicks,
            micros(cost.cost),
            cost.currency,
        ),
    )


def _reported(row: Row) -> DirectCostReported:
    return DirectCostReported(
        day=date.fromisoformat(row["day"]),
        direct_campaign_id=row["direct_campaign_id"],
        campaign_name=row["campaign_name"],
        impressions=int(row["impressions"]),
        clicks=int(row["clicks"]),
        cost=Decimal(int(row["cost_micros"])).scaleb(-MICROS),
        currency=row["currency"],
    )


class CostRows:
    def __init__(self, sql: Sql):
        self.sql = sql

    def get(self, day: date, direct_campaign_id: str) -> DirectCostReported | None:
        """What was last reported for this Direct campaign and day, if anything."""
        row = self.sql.one(
            f"SELECT {COLUMNS} FROM direct_costs WHERE day = ? AND direct_campaign_id = ?",
            (day.isoformat(), direct_campaign_id),
        )
        return None if row is None else _reported(row)

    def between(self, first: date, last: date) -> list[DirectCostReported]:
        """Every Direct campaign's figures on the days from `first` to `last`, both included;
        by day, then campaign."""
        rows = self.sql.all(
            f"SELECT {COLUMNS} FROM direct_costs WHERE day >= ? AND day <= ?"
            " ORDER BY day, direct_campaign_id",
            (first.isoformat(), last.isoformat()),
        )
        return [_reported(row) for row in rows]
