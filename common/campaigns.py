"""CampaignService: per-campaign counters, kept in the same transaction as the events."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import fields
from typing import Any, TypedDict

from common.model import CampaignStats, campaign_key
from common.store import Tx

COUNTERS = tuple(f.name for f in fields(CampaignStats) if f.name != "campaign_id")


class DailyRow(TypedDict):
    """One campaign's counters on one day."""

    day: str
    campaign_id: str
    leads: int
    repeat_leads: int
    payments: int
    revenue_minor: int


def fold_campaigns(rows: list[CampaignStats]) -> list[CampaignStats]:
    """Rows of one campaign spelt in several cases (`Summer`, Tilda's `summer`) as one,
    under its busiest spelling; busiest first. The rows stay keyed as received, so replay
    and verify are unchanged; campaigns are compared without case where they are read."""
    groups: dict[str, list[CampaignStats]] = defaultdict(list)
    for row in rows:
        groups[campaign_key(row.campaign_id)].append(row)
    folded = []
    for group in groups.values():
        name = max(group, key=lambda row: (row.leads, row.campaign_id)).campaign_id
        sums = {c: sum(getattr(row, c) for row in group) for c in COUNTERS}
        folded.append(CampaignStats(campaign_id=name, **sums))
    return sorted(folded, key=lambda row: -row.leads)


def fold_daily(rows: list[Mapping[str, Any]]) -> list[DailyRow]:
    """Per-day rows with each campaign's spellings summed under its busiest one."""
    busiest: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        busiest[campaign_key(row["campaign_id"])][row["campaign_id"]] += row["leads"]
    names = {key: spellings.most_common(1)[0][0] for key, spellings in busiest.items()}
    days: dict[tuple[str, str], DailyRow] = {}
    for row in rows:
        name = names[campaign_key(row["campaign_id"])]
        zero = DailyRow(
            day=row["day"], campaign_id=name, leads=0, repeat_leads=0, payments=0, revenue_minor=0
        )
        day = days.setdefault((row["day"], name), zero)
        day["leads"] += int(row["leads"])
        # keys(): `in` on a sqlite3.Row looks among its values, not its names.
        has_repeats = "repeat_leads" in row.keys()  # noqa: SIM118
        day["repeat_leads"] += int(row["repeat_leads"]) if has_repeats else 0
        day["payments"] += int(row["payments"])
        day["revenue_minor"] += int(row["revenue_minor"])
    return list(days.values())


class CampaignService:
    @staticmethod
    def stats(tx: Tx) -> list[CampaignStats]:
        """Every campaign's counters (spellings of one campaign folded), busiest first."""
        return fold_campaigns(tx.stats.campaigns())

    @staticmethod
    def daily(tx: Tx, since: str) -> list[DailyRow]:
        """Per-day counters from `since` on, spellings of one campaign folded."""
        return fold_daily(tx.stats.daily(since))

    @staticmethod
    def totals(tx: Tx) -> dict[str, int]:
        """Leads, payments and revenue over all campaigns, and the event log's length."""
        return tx.stats.totals() | {"events": tx.events.count()}
