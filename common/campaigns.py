"""CampaignService: per-campaign counters kept in the same transaction as the events."""

from __future__ import annotations

import sqlite3

from common.db import Database


class CampaignService:
    def __init__(self, db: Database):
        self.db = db

    async def stats(self) -> list[sqlite3.Row]:
        return await self.db.fetchall("SELECT * FROM campaign_stats ORDER BY leads DESC")

    async def get(self, campaign_id: str) -> sqlite3.Row | None:
        return await self.db.fetchone(
            "SELECT * FROM campaign_stats WHERE campaign_id = ?", (campaign_id,)
        )
