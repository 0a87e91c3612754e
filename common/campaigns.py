"""CampaignService: per-campaign counters, kept in the same transaction as the events."""

from __future__ import annotations

from common.model import CampaignStats
from common.store import Tx


class CampaignService:
    @staticmethod
    def stats(tx: Tx) -> list[CampaignStats]:
        """Every campaign's counters, busiest first."""
        return tx.stats.campaigns()

    @staticmethod
    def totals(tx: Tx) -> dict[str, int]:
        """Leads, payments and revenue over all campaigns, and the event log's length."""
        return tx.stats.totals() | {"events": tx.events.count()}
