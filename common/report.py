"""The campaign report for a period of local days: leads, sales, revenue and lost leads beside
Yandex Direct's cost, clicks and impressions, and the measures made of them (cost per lead,
cost per sale, ROMI, lead -> sale %). The one computation the JSON API, the CSV export and
the overview page show.

Money stays exact (integer kopecks and micros, Decimal) and is rounded only in `measures`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal

from common import clock
from common.campaigns import fold_daily
from common.costs import CampaignMap, CostService
from common.events import DirectCostReported
from common.model import campaign_key
from common.store import Tx
from common.store.costs import micros

CENT, TENTH = Decimal("0.01"), Decimal("0.1")
Shown = int | Decimal | bool | list[str] | None


@dataclass(frozen=True)
class Period:
    """Local days from `first` to `last`, both included."""

    first: date
    last: date

    @classmethod
    def ending(cls, last: date, days: int) -> Period:
        return cls(last - timedelta(days=days - 1), last)

    def bounds(self, zone: tzinfo) -> tuple[str, str]:
        """The period as stored UTC times [since, until): from local midnight of the first
        day to local midnight after the last."""
        since = datetime.combine(self.first, time(), zone)
        until = datetime.combine(self.last + timedelta(days=1), time(), zone)
        return clock.iso(since), clock.iso(until)


def money(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(CENT, ROUND_HALF_UP)


def percent(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(TENTH, ROUND_HALF_UP)


@dataclass
class Figures:
    """What happened in a period (for one campaign, one day, or all): counts and exact
    money, and the currencies the money is in."""

    leads: int = 0
    sales: int = 0
    revenue_minor: int = 0  # kopecks, as daily_stats counts them
    lost: int = 0
    cost_micros: int = 0
    clicks: int = 0
    impressions: int = 0
    revenue_currencies: set[str] = field(default_factory=set)
    cost_currencies: set[str] = field(default_factory=set)

    def add(self, other: Figures) -> None:
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.revenue_currencies |= other.revenue_currencies
        self.cost_currencies |= other.cost_currencies

    @property
    def revenue(self) -> Decimal:
        return Decimal(self.revenue_minor).scaleb(-2)

    @property
    def cost(self) -> Decimal:
        return Decimal(self.cost_micros).scaleb(-6)

    def _per(self, count: int) -> Decimal | None:
        return self.cost / count if self.cost_micros and count else None

    @property
    def romi(self) -> Decimal | None:
        """(revenue - cost) / cost, in per cent; None without a cost, or when the cost and the
        revenue are not in one currency (a sum of two currencies says nothing)."""
        currencies = self.cost_currencies | self.revenue_currencies
        if not self.cost_micros or len(currencies) != 1:
            return None
        return 100 * (self.revenue - self.cost) / self.cost

    @property
    def unpaid_cost(self) -> bool:
        """Money spent and nothing earned: the row to look at first."""
        return self.cost_micros > 0 and self.revenue_minor <= 0

    def measures(self) -> dict[str, Shown]:
        """The figures and measures, rounded for showing (money to kopecks, per cents to a
        tenth); None where a measure has no meaning (nothing to divide by, or no cost)."""
        return {
            "leads": self.leads,
            "sales": self.sales,
            "revenue": money(self.revenue),
            "lost": self.lost,
            "lead_to_sale": percent(Decimal(100 * self.sales) / self.leads) if self.leads else None,
            "cost": money(self.cost),
            "clicks": self.clicks,
            "impressions": self.impressions,
            "cpl": money(self._per(self.leads)),
            "cost_per_sale": money(self._per(self.sales)),
            "romi": percent(self.romi),
            "revenue_currencies": sorted(self.revenue_currencies),
            "cost_currencies": sorted(self.cost_currencies),
            "unpaid_cost": self.unpaid_cost,
        }


COUNTS = tuple(f.name for f in fields(Figures) if f.type == "int")


@dataclass
class CampaignLine:
    """One of our campaigns, or a Direct campaign attached to none of ours."""

    name: str  # our campaign_id, or "Direct: <its name>"
    campaign_id: str | None  # None for a Direct campaign attached to none of ours
    direct_campaign_ids: list[str] = field(default_factory=list)
    direct_name: str = ""  # that Direct campaign's name, when campaign_id is None
    figures: Figures = field(default_factory=Figures)


@dataclass(frozen=True)
class Report:
    period: Period
    campaigns: list[CampaignLine]  # most leads first, then most cost
    totals: Figures
    days: list[tuple[str, Figures]]  # the days with any figure, in order


def campaign_report(tx: Tx, period: Period, zone: tzinfo, overrides: Mapping[str, str]) -> Report:
    """The report, read in one snapshot. Leads, sales and revenue come from `daily_stats`
    (by its days), lost leads by the local day they came, costs by Direct's day."""
    since, until = period.bounds(zone)
    costs = tx.costs.between(period.first, period.last)
    mapping = CostService.campaign_map(tx, overrides, since, until, costs)
    report = _Builder(zone)
    for day in fold_daily(tx.stats.days(period.first.isoformat(), period.last.isoformat())):
        figures = report.add(day["campaign_id"], day["day"])
        figures.leads, figures.sales = day["leads"], day["payments"]
        figures.revenue_minor = day["revenue_minor"]
    for lost in tx.leads.lost_between(since, until):
        report.add(lost["campaign_id"], report.local_day(lost["created_at"])).lost = 1
    for paid in tx.leads.paid_between(since, until):
        figures = report.add(paid["campaign_id"], report.local_day(paid["paid_at"]))
        figures.revenue_currencies = {(paid["payment_currency"] or "").upper()} - {""}
    report.add_costs(costs, mapping)
    return report.build(period)


class _Builder:
    """Adds figures to their campaign's line and their day."""

    def __init__(self, zone: tzinfo):
        self.zone = zone
        self.lines: dict[tuple[str, str], CampaignLine] = {}
        self.days: dict[str, Figures] = {}
        self._pending: list[tuple[CampaignLine, str, Figures]] = []

    def local_day(self, moment: str) -> str:
        return clock.parse(moment).astimezone(self.zone).date().isoformat()

    def add(self, campaign_id: str, day: str) -> Figures:
        """New figures for our campaign on a day, added once filled in (see `build`)."""
        line = self.lines.setdefault(
            ("ours", campaign_key(campaign_id)), CampaignLine(campaign_id, campaign_id)
        )
        figures = Figures()
        self._pending.append((line, day, figures))
        return figures

    def add_costs(self, costs: Iterable[DirectCostReported], mapping: CampaignMap) -> None:
        for cost in costs:  # by day: the latest name of a Direct campaign is kept
            ours = mapping.campaign_for(cost.direct_campaign_id, cost.campaign_name)
            if ours is None:
                key = ("direct", cost.direct_campaign_id)
                line = self.lines.setdefault(key, CampaignLine("", None))
                line.name, line.direct_name = f"Direct: {cost.campaign_name}", cost.campaign_name
                figures = Figures()
                self._pending.append((line, cost.day.isoformat(), figures))
            else:
                figures = self.add(ours, cost.day.isoformat())
                line = self.lines[("ours", campaign_key(ours))]
            if cost.direct_campaign_id not in line.direct_campaign_ids:
                line.direct_campaign_ids.append(cost.direct_campaign_id)
            figures.cost_micros, figures.clicks = micros(cost.cost), cost.clicks
            figures.impressions, figures.cost_currencies = cost.impressions, {cost.currency}

    def build(self, period: Period) -> Report:
        totals = Figures()
        for line, day, figures in self._pending:
            line.figures.add(figures)
            self.days.setdefault(day, Figures()).add(figures)
            totals.add(figures)
        campaigns = sorted(
            self.lines.values(),
            key=lambda line: (-line.figures.leads, -line.figures.cost_micros, line.name),
        )
        return Report(period, campaigns, totals, sorted(self.days.items()))
