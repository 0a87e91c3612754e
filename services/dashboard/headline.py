"""What the overview shows of a period's report: the headline cards, each beside the previous
period's value, and the charts of one measure each (the total and the busiest campaigns),
by day, by week or by month as the period is long."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup

from common.report import CampaignLine, Figures, Report, Shown
from services.dashboard.charts import Axis, Series, line_chart, value_table
from services.dashboard.i18n import Words

# The cards, in order: the measure's key in Figures.measures(), and how it is written.
CARDS = (
    ("leads", "count"),
    ("unique_leads", "count"),
    ("repeat_leads", "count"),
    ("sales", "count"),
    ("revenue", "money"),
    ("lead_to_sale", "percent"),
    ("cost", "money"),
    ("cpl", "money"),
    ("cost_per_sale", "money"),
    ("romi", "percent"),
)
CHARTS = ("leads", "sales", "revenue", "cost")
CHART_CAMPAIGNS = 3  # beside the total: more lines than that cannot be told apart


@dataclass(frozen=True)
class Card:
    key: str
    value: str
    previous: str
    change: str  # "+12 %", "−3", "" when there is nothing to compare with
    direction: str  # "up", "down" or "" (no change, or none to compare)


def cards(report: Report, previous: Report, t: Words) -> list[Card]:
    now, before = report.totals.measures(), previous.totals.measures()
    return [
        Card(
            key,
            _show(now[key], kind, t),
            _show(before[key], kind, t),
            *_change(now[key], before[key], kind, t),
        )
        for key, kind in CARDS
    ]


def _show(value: Shown, kind: str, t: Words) -> str:
    if value is None or isinstance(value, list | bool):
        return "—"
    if kind == "money":
        return t.money(value)
    if kind == "percent":
        return t.percent(float(value))
    return t.number(value)


def _change(now: Shown, before: Shown, kind: str, t: Words) -> tuple[str, str]:
    """The change from the previous period: in per cent points for a percentage, in per
    cent of the previous value otherwise (none when that was nothing)."""
    if not isinstance(now, int | Decimal) or not isinstance(before, int | Decimal):
        return "", ""
    if isinstance(now, bool) or isinstance(before, bool):
        return "", ""
    difference = Decimal(now) - Decimal(before)
    direction = "up" if difference > 0 else "down" if difference < 0 else ""
    sign = "+" if difference > 0 else "−" if difference < 0 else ""
    if kind == "percent":
        return f"{sign}{t.number(abs(difference))} {t('points')}", direction
    if not before:
        return "", direction
    share = abs(difference) * 100 / Decimal(before)
    return f"{sign}{t.percent(float(share.quantize(Decimal('1'))))}", direction


@dataclass(frozen=True)
class Chart:
    key: str
    caption: str
    svg: Markup
    table: Markup


def charts(report: Report, t: Words) -> list[Chart]:
    """A chart per measure over the period (local days), by day, week or month (Axis): the
    total and the busiest campaigns. The report is by the axis's points (campaign_report's
    `point`), or by day; only the points with any figure are read; money is summed exactly
    (kopecks, micros) and made a float once per point."""
    axis = Axis.of(report.period)
    index = {label: n for n, label in enumerate(axis.labels)}
    # A point's label is its own point (Axis.label), so a report by day or by point will do.
    points = {day: index[axis.label(day)] for day, _ in report.days}
    found = []
    for key in CHARTS:

        def sums(days: Iterable[tuple[str, Figures]], key: str = key) -> list[float]:
            return _sums(days, points, len(axis.labels), key)

        series = [Series(t("total"), sums(report.days))]

        def size(line: CampaignLine, key: str = key) -> int:
            return -_measure(line.figures, key)

        busiest = sorted(report.campaigns, key=size)
        for line in busiest[:CHART_CAMPAIGNS]:
            if _measure(line.figures, key):
                series.append(Series(line.name, sums(report.line_days.get(line.name, {}).items())))

        written: dict[float, str] = {}  # the same value written once (Babel is slow)

        def show(amount: float, key: str = key, written: dict[float, str] = written) -> str:
            if amount not in written:
                money = key in SCALE
                written[amount] = t.money(Decimal(str(amount))) if money else t.number(amount)
            return written[amount]

        caption = t(f"chart_{key}")
        if axis.grain != "day":
            caption = t(f"chart_by_{axis.grain}", measure=t(f"card_{key}"))
        titles = [axis.title(n) for n in range(len(axis.labels))]
        svg = line_chart(axis.labels, series, caption, show, titles)
        found.append(Chart(key, caption, svg, value_table(titles, series, show)))
    return found


def _sums(
    days: Iterable[tuple[str, Figures]], points: Mapping[str, int], size: int, key: str
) -> list[float]:
    """A measure's values at each of `size` points: the days' (or points') figures summed."""
    totals = [0] * size
    for day, figures in days:
        totals[points[day]] += _measure(figures, key)
    scale = SCALE.get(key, 1)
    return [value / scale for value in totals]


SCALE = {"revenue": 100, "cost": 1_000_000}  # the money's minor units (Figures' fields)


def _measure(figures: Figures, key: str) -> int:
    """The measure in whole units: a count, kopecks of revenue, micros of cost."""
    if key == "revenue":
        return figures.revenue_minor
    if key == "cost":
        return figures.cost_micros
    return int(getattr(figures, key))
