"""What the overview shows of a period's report: the headline cards, each beside the previous
period's value, and the charts of one measure each (the total and the busiest campaigns)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from markupsafe import Markup

from common.report import Figures, Report, Shown
from services.dashboard.charts import Series, line_chart, value_table
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
    svg: Markup
    table: Markup


def charts(report: Report, t: Words) -> list[Chart]:
    """A chart per measure over every day of the period (local days)."""
    period = report.period
    days = [(period.first + timedelta(days=n)).isoformat() for n in range(period.days)]
    found = []
    for key in CHARTS:

        def value(figures: Figures | None, key: str = key) -> float:
            return 0.0 if figures is None else float(_measure(figures, key))

        by_day = dict(report.days)
        series = [Series(t("total"), [value(by_day.get(day)) for day in days])]
        busiest = sorted(report.campaigns, key=lambda line: -value(line.figures))
        for line in busiest[:CHART_CAMPAIGNS]:
            if value(line.figures):
                own = report.line_days.get(line.name, {})
                series.append(Series(line.name, [value(own.get(day)) for day in days]))

        def show(amount: float, key: str = key) -> str:
            return t.money(Decimal(str(amount))) if key in ("revenue", "cost") else t.number(amount)

        label = t(f"chart_{key}")
        found.append(
            Chart(key, line_chart(days, series, label, show), value_table(days, series, show))
        )
    return found


def _measure(figures: Figures, key: str) -> Decimal | int:
    if key == "revenue":
        return figures.revenue
    if key == "cost":
        return figures.cost
    return int(getattr(figures, key))
