"""The campaign report for a period of local days: leads, sales, revenue and lost leads beside
Yandex Direct's cost, clicks and impressions, and the measures made of them (cost per lead,
cost per sale, ROMI, lead -> sale %). The one computation the JSON API, the CSV export and
the overview page show.

Money stays exact (integer kopecks and micros, Decimal) and is rounded only in `measures`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from common.costs import CampaignMap, CostService
from common.days import bounds
from common.events import DirectCostReported
from common.model import campaign_key
from common.store import Tx
from common.store.costs import micros
from common.store.utm import UTM_COLUMNS

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

    def bounds(self, zone: ZoneInfo) -> tuple[str, str]:
        """The period as stored UTC times [since, until)."""
        return bounds(self.first, self.last, zone)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def previous(self) -> Period:
        """The period of as many days just before this one: what it is compared with."""
        return Period.ending(self.first - timedelta(days=1), self.days)


@dataclass(frozen=True)
class Scope:
    """What a report counts: every lead, or one campaign's (compared without case), or the
    leads of one utm_source ('' for those without one). Direct's costs are not known per
    source: a report of one source has none."""

    campaign: str | None = None
    source: str | None = None


def money(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(CENT, ROUND_HALF_UP)


def percent(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(TENTH, ROUND_HALF_UP)


@dataclass
class Figures:
    """What happened in a period (for one campaign, one day, or all): counts and exact
    money, and the currencies the money is in."""

    leads: int = 0
    repeat_leads: int = 0  # their phone or e-mail was on an earlier lead when they came
    sales: int = 0
    revenue_minor: int = 0  # kopecks, as daily_stats counts them
    lost: int = 0
    cost_micros: int = 0
    clicks: int = 0
    impressions: int = 0
    revenue_currencies: set[str] = field(default_factory=set)
    cost_currencies: set[str] = field(default_factory=set)

    def add(self, other: Figures) -> None:
        # Each count by name, not by a loop over COUNTS: a year's overview adds thousands of
        # cells, and getattr/setattr were most of its time.
        self.leads += other.leads
        self.repeat_leads += other.repeat_leads
        self.sales += other.sales
        self.revenue_minor += other.revenue_minor
        self.lost += other.lost
        self.cost_micros += other.cost_micros
        self.clicks += other.clicks
        self.impressions += other.impressions
        if other.revenue_currencies:
            self.revenue_currencies |= other.revenue_currencies
        if other.cost_currencies:
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
            "unique_leads": self.leads - self.repeat_leads,
            "repeat_leads": self.repeat_leads,
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
    days: list[tuple[str, Figures]]  # the days (or points, see campaign_report) with any figure
    # Each line's days (or points) with any figure, by the line's name: the overview's charts.
    line_days: dict[str, dict[str, Figures]] = field(default_factory=dict)


def campaign_report(
    tx: Tx,
    period: Period,
    overrides: Mapping[str, str],
    scope: Scope | None = None,
    points: Points | None = None,
) -> Report:
    """The report, read in one snapshot, in the store's days (`tx.zone`). Leads, sales,
    revenue and the revenue's currencies (those of the period's payments) come from
    `source_stats`, lost leads by the day they came from `utm_medium_stats`, costs by
    Direct's day: counters of the period's days, whatever the number of leads in it.

    `points` gathers the days into the points a chart draws (weeks, months): the report's
    `days` and `line_days` are then by point, summed by the database, and a long period
    reads and builds as many cells as its chart has points, not one per day and campaign.
    The lines and totals are the same whatever the points."""
    zone, scope = tx.zone, scope or Scope()
    since, until = period.bounds(zone)
    report = _Builder(zone, points)
    first, last = period.first.isoformat(), period.last.isoformat()
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    spans = points.spans if points else ()
    for row in tx.stats.by_source(first, last, scope.source, spans):
        figures = report.cell(row["campaign_id"], row["day"], pointed=bool(spans))
        leads, sales = int(row["leads"]), int(row["payments"])  # int(): PostgreSQL's numeric
        figures.leads += leads
        figures.repeat_leads += int(row["repeat_leads"])
        figures.sales += sales
        figures.revenue_minor += int(row["revenue_minor"])
        if sales > 0:  # a currency's row: the day's payments in it
            figures.revenue_currencies.add(row["currency"])
        spellings[campaign_key(row["campaign_id"])][row["campaign_id"]] += leads
    report.name_lines(spellings)
    for lost in tx.utm.lost(period.first, period.last, scope.source):
        report.cell(lost["campaign_id"], lost["day"]).lost += int(lost["lost"])
    if scope.source is None:
        costs = tx.costs.between(period.first, period.last)
        report.add_costs(costs, CostService.campaign_map(tx, overrides, since, until, costs))
    return report.build(period, scope.campaign)


@dataclass(frozen=True)
class Points:
    """The days of a period gathered into spans, each named: a chart's weeks or months, or
    the whole period as one."""

    spans: tuple[tuple[str, str], ...]  # (name, first day YYYY-MM-DD), in order of days

    @classmethod
    def whole(cls, period: Period) -> Points:
        return cls((("", period.first.isoformat()),))

    def of(self, day: str) -> str:
        """The name of the span a day (YYYY-MM-DD, in the period) is in."""
        return self.spans[bisect_right(self.spans, day, key=lambda span: span[1]) - 1][0]


class _Builder:
    """Figures by campaign line and day (a cell each), summed into lines, days and totals."""

    def __init__(self, zone: ZoneInfo, points: Points | None = None):
        self.zone = zone
        self.point = points.of if points else None
        self.points: dict[str, str] = {}  # each day's point, worked out once
        self.keys: dict[str, tuple[str, str]] = {}  # each spelling's line, folded once
        self.lines: dict[tuple[str, str], CampaignLine] = {}
        self.cells: dict[tuple[tuple[str, str], str], Figures] = {}

    def name_lines(self, spellings: Mapping[str, Counter[str]]) -> None:
        """Each of our campaigns named as its busiest spelling (as `fold_daily` names it)."""
        for key, counts in spellings.items():
            line = self.lines[("ours", key)]
            line.name = line.campaign_id = counts.most_common(1)[0][0]

    def cell(self, campaign_id: str, day: str, pointed: bool = False) -> Figures:
        """Our campaign's figures on a day (on the day's point; `pointed`: `day` is one)."""
        key = self.keys.get(campaign_id)
        if key is None:
            key = self.keys[campaign_id] = ("ours", campaign_key(campaign_id))
            if key not in self.lines:
                self.lines[key] = CampaignLine(campaign_id, campaign_id)
        return self._at(key, day, pointed)

    def _at(self, key: tuple[str, str], day: str, pointed: bool = False) -> Figures:
        if self.point is not None and not pointed:
            shown = self.points.get(day)
            if shown is None:
                shown = self.points[day] = self.point(day)
            day = shown
        figures = self.cells.get((key, day))
        if figures is None:
            figures = self.cells[key, day] = Figures()
        return figures

    def add_costs(self, costs: Iterable[DirectCostReported], mapping: CampaignMap) -> None:
        for cost in costs:  # by day: the latest name of a Direct campaign is kept
            day = cost.day.isoformat()
            ours = mapping.campaign_for(cost.direct_campaign_id, cost.campaign_name)
            if ours is None:
                key = ("direct", cost.direct_campaign_id)
                line = self.lines.setdefault(key, CampaignLine("", None))
                line.name, line.direct_name = f"Direct: {cost.campaign_name}", cost.campaign_name
                figures = self._at(key, day)
            else:
                figures = self.cell(ours, day)
                line = self.lines[("ours", campaign_key(ours))]
            if cost.direct_campaign_id not in line.direct_campaign_ids:
                line.direct_campaign_ids.append(cost.direct_campaign_id)
            figures.cost_micros += micros(cost.cost)
            figures.clicks += cost.clicks
            figures.impressions += cost.impressions
            figures.cost_currencies.add(cost.currency)

    def build(self, period: Period, campaign: str | None = None) -> Report:
        """The report of every line, or of one campaign's alone."""
        only = None if campaign is None else ("ours", campaign_key(campaign))
        totals = Figures()
        days: dict[str, Figures] = {}
        line_days: dict[str, dict[str, Figures]] = {}
        for (key, day), figures in self.cells.items():
            if only is not None and key != only:
                continue
            line = self.lines[key]
            line.figures.add(figures)
            line_days.setdefault(line.name, {})[day] = figures
            days.setdefault(day, Figures()).add(figures)
            totals.add(figures)
        campaigns = sorted(
            (line for key, line in self.lines.items() if only is None or key == only),
            key=lambda line: (-line.figures.leads, -line.figures.cost_micros, line.name),
        )
        return Report(period, campaigns, totals, sorted(days.items()), line_days)


# The UTM report and the per-day table (issue 18): the same measures by UTM value and by day.

UTM_LEVELS = UTM_COLUMNS  # source -> medium -> campaign -> content -> term


@dataclass
class UtmLine:
    """The leads of a period with one value at the report's level (None: without one).

    Sales and revenue are those of these leads (a cohort: a lead of the period paid by now),
    not the payments of the period. Cost is known only where the line holds exactly the
    period's leads of one of our campaigns (see `utm_report`)."""

    value: str | None
    figures: Figures = field(default_factory=Figures)
    campaigns: Counter[str] = field(default_factory=Counter)  # leads per our campaign
    cost_known: bool = False


@dataclass(frozen=True)
class UtmReport:
    period: Period
    level: str  # the UTM column the lines are values of
    chosen: dict[str, str | None]  # the values chosen above it (None: "(none)")
    campaign: str | None  # narrowed to one of our campaigns
    lines: list[UtmLine]  # most leads first
    totals: Figures


def utm_level(chosen: Mapping[str, str | None]) -> str:
    """The level shown below the chosen values: the first one not chosen (the last when all
    are)."""
    return next((name for name in UTM_LEVELS if name not in chosen), UTM_LEVELS[-1])


def utm_report(
    tx: Tx,
    period: Period,
    chosen: Mapping[str, str | None],
    campaign: str | None,
    overrides: Mapping[str, str],
) -> UtmReport:
    """One level of the UTM report, in one snapshot. Direct's costs belong to our campaigns,
    not to UTM values, so a line gets a cost only at the utm_campaign level, when its value
    is one of our campaigns (without case) and the line holds every lead that campaign had
    in the period: then the campaign's cost is the line's, exactly. Elsewhere it is unknown."""
    level = utm_level(chosen)
    lines: dict[str | None, UtmLine] = {}
    totals = Figures()
    above = {k: chosen[k] for k in chosen if k != level}
    for row in tx.utm.level(level, period.first, period.last, above, campaign):
        value = row["value"] or None
        line = lines.setdefault(value, UtmLine(value))
        counts = Figures(leads=int(row["leads"]), lost=int(row["lost"]), sales=int(row["sales"]))
        counts.revenue_minor = int(row["revenue_minor"])
        if counts.sales:
            counts.revenue_currencies = {str(row["currency"])}
        line.figures.add(counts)
        line.campaigns[campaign_key(row["campaign_id"])] += counts.leads
        totals.add(counts)
    if level == "utm_campaign":
        _attach_costs(lines.values(), campaign_report(tx, period, overrides))
    ordered = sorted(lines.values(), key=lambda line: (-line.figures.leads, line.value or ""))
    return UtmReport(period, level, dict(chosen), campaign, ordered, totals)


def _attach_costs(lines: Iterable[UtmLine], report: Report) -> None:
    ours = {
        campaign_key(line.campaign_id): line.figures
        for line in report.campaigns
        if line.campaign_id
    }
    for line in lines:
        key = campaign_key(line.value or "")
        figures = ours.get(key)
        if figures is None or not figures.cost_currencies:
            continue  # not one of our campaigns, or Direct reported no cost for it
        if set(line.campaigns) == {key} and line.figures.leads == figures.leads:
            line.cost_known = True
            line.figures.cost_micros = figures.cost_micros
            line.figures.clicks = figures.clicks
            line.figures.impressions = figures.impressions
            line.figures.cost_currencies = set(figures.cost_currencies)


def every_day(report: Report) -> list[tuple[date, Figures]]:
    """The per-day table: one line per local day of the period, in order, empty days too."""
    days = dict(report.days)
    count = (report.period.last - report.period.first).days + 1
    moments = (report.period.first + timedelta(days=n) for n in range(count))
    return [(day, days.get(day.isoformat(), Figures())) for day in moments]
