"""CostService: Yandex Direct's costs as events, and which of our campaigns each Direct
campaign's cost belongs to.

The mapping is worked out when a report is read, not when a cost is recorded: it follows
`direct.campaigns` and the leads as they are now, so a changed mapping needs no rebuild, and
the events and `direct_costs` keep what Direct said, nothing of ours.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from common.events import DirectCostReported
from common.model import CostRow, Metadata, campaign_key
from common.store import Tx

STREAM_PREFIX = "direct:"
MICRO = Decimal("0.000001")  # Direct's own unit of money (returnMoneyInMicros)


def cost_stream(direct_campaign_id: str) -> str:
    """The stream of a Direct campaign's costs: one per campaign, beside the leads' streams."""
    return STREAM_PREFIX + direct_campaign_id


def _exact(cost: Decimal) -> Decimal:
    """The cost as `direct_costs` keeps it (whole micros), so a repeated import compares
    equal to what it recorded the first time."""
    if not cost.is_finite() or cost < 0:
        raise ValueError(f"a cost of {cost} is not an amount of money")
    exponent = cost.as_tuple().exponent
    return cost.quantize(MICRO) if isinstance(exponent, int) and exponent < -6 else cost


class CostService:
    @staticmethod
    def record(
        tx: Tx, rows: Iterable[CostRow], currency: str, metadata: Metadata | None = None
    ) -> int:
        """Record Direct's figures: a DIRECT_COST_REPORTED for each (day, Direct campaign)
        whose figures differ from those recorded, projected at once; return how many. The
        event holds the whole day, so a re-import replaces it; figures that did not change
        append nothing, so the hourly import of today does not grow the log."""
        changed = 0
        versions: dict[str, int] = {}
        for row in rows:
            event = DirectCostReported(
                day=row.day,
                direct_campaign_id=row.direct_campaign_id,
                campaign_name=row.campaign_name,
                impressions=row.impressions,
                clicks=row.clicks,
                cost=_exact(row.cost),
                currency=currency,
            )
            if tx.costs.get(row.day, row.direct_campaign_id) == event:
                continue
            stream = cost_stream(row.direct_campaign_id)
            version = versions.get(stream)
            if version is None:
                version = tx.events.version(stream)
            appended = tx.events.append(stream, version, event, metadata)
            tx.project(appended)
            versions[stream] = appended.version
            changed += 1
        return changed

    @staticmethod
    def campaign_map(
        tx: Tx,
        overrides: Mapping[str, str],
        since: str,
        until: str,
        direct: Iterable[DirectCostReported],
    ) -> CampaignMap:
        """The mapping for the Direct campaigns in `direct`, over the leads that came in
        [since, until): the utm_campaign look-up is read only if a campaign needs it."""
        found = CampaignMap(
            overrides={campaign_key(key): ours for key, ours in sorted(overrides.items())},
            ours={campaign_key(c.campaign_id): c.campaign_id for c in tx.stats.campaigns()},
        )
        if all(found.campaign_for(c.direct_campaign_id, c.campaign_name) for c in direct):
            return found
        return CampaignMap(found.overrides, found.ours, _by_utm(tx, since, until))

    @staticmethod
    def replace_range(
        tx: Tx,
        first: date,
        last: date,
        rows: Iterable[CostRow],
        currency: str,
        metadata: Metadata | None = None,
    ) -> int:
        """Make a report of the days `first`..`last` the whole truth about them: `record` its
        rows, and a (day, Direct campaign) recorded before in that range but absent from
        the report now has no figures (Direct leaves out rows without activity), recorded
        as zeros. Return how many changed. Only for a report read whole: a line that could
        not be read would otherwise zero a day that had a cost."""
        rows = list(rows)
        reported = {(row.day, row.direct_campaign_id) for row in rows}
        gone = [
            CostRow(cost.day, cost.direct_campaign_id, cost.campaign_name, 0, 0, Decimal(0))
            for cost in tx.costs.between(first, last)
            if (cost.day, cost.direct_campaign_id) not in reported
        ]
        return CostService.record(tx, [*rows, *gone], currency, metadata)


def _by_utm(tx: Tx, since: str, until: str) -> dict[str, str]:
    """Each utm_campaign (folded) of the period's leads -> the campaign most of them are in."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    spelling: dict[str, str] = {}
    for row in tx.leads.utm_campaigns(since, until):
        key = campaign_key(row["campaign_id"])
        counts[campaign_key(row["utm_campaign"])][key] += int(row["leads"])
        spelling.setdefault(key, row["campaign_id"])
    return {
        utm: spelling[max(campaigns, key=lambda key: (campaigns[key], key))]
        for utm, campaigns in counts.items()
    }


@dataclass(frozen=True)
class CampaignMap:
    """Which of our campaigns a Direct campaign's cost belongs to; everything keyed without
    case (`campaign_key`)."""

    overrides: Mapping[str, str]  # `direct.campaigns`: a Direct id or name -> our campaign_id
    ours: Mapping[str, str]  # our campaigns that have leads
    by_utm: Mapping[str, str] | None = None  # utm_campaign -> the campaign of its leads

    def campaign_for(self, direct_campaign_id: str, name: str) -> str | None:
        """The first rule that knows it, the Direct id before the name in each: an override,
        our campaign of that id or name, the campaign of the leads whose utm_campaign is the
        id or name; None when none does (its cost is shown on a row of its own)."""
        for rule in (self.overrides, self.ours, self.by_utm or {}):
            for candidate in (direct_campaign_id, name):
                if found := rule.get(campaign_key(candidate)):
                    return found
        return None
