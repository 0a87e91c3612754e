"""CampaignService: per-campaign counters kept in the same transaction as the events."""

from __future__ import annotations

from typing import Any

from common.db import Database


class CampaignService:
    def __init__(self, db: Database):
        self.db = db

    async def stats(self) -> list[dict[str, Any]]:
        """Every campaign's counters, busiest first, with its lead → payment conversion %."""
        rows = await self.db.fetchall("SELECT * FROM campaign_stats ORDER BY leads DESC")
        return [
            dict(row) | {"conversion": conversion(row["payments"], row["leads"])} for row in rows
        ]

    async def totals(self) -> dict[str, int]:
        row = await self.db.fetchone(
            "SELECT coalesce(sum(leads), 0), coalesce(sum(payments), 0),"
            " coalesce(sum(revenue_minor), 0) FROM campaign_stats"
        )
        return {"leads": row[0], "payments": row[1], "revenue_minor": row[2]}


def conversion(payments: int, leads: int) -> float:
    return round(100 * payments / leads, 1) if leads else 0.0
