"""Server-rendered SVG line charts: no script, no CDN, works offline.

A chart is drawn 360 units wide, about what it is shown at on a phone (a 390 px screen less
the page's margins), so its 12-unit text is 11-12 px there and grows with the box on a wide
screen (the stylesheet caps the box at 560 px, 19 px text). Each point of the total (a day,
a week or a month) has a title (shown on hover) saying which and the value; the values are
also in a table under the chart, for a keyboard, a screen reader or a copy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from markupsafe import Markup, escape

from common.report import Period, Points

PALETTE = ("#111827", "#2563eb", "#dc2626", "#16a34a", "#d97706")  # the total first, in ink
WIDTH, HEIGHT = 360, 200
LEFT, RIGHT, TOP, BOTTOM = 8, 8, 22, 30
FONT = 12


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float]


# A chart's points: a day each up to WEEKLY days (a month), a week each (seven days from the
# period's first) up to MONTHLY (two years), a calendar month each beyond: 90 days are 13
# points and a year 53, not 365, so a long period costs about what a month does (each point
# is written, with its value, in the chart and its table), and its points stay apart enough
# to read on a phone.
WEEKLY, MONTHLY = 31, 731


@dataclass(frozen=True)
class Axis:
    """The points of a period's charts: each one's label, and a day's point."""

    grain: str  # "day", "week" or "month"
    labels: list[str]  # a day: YYYY-MM-DD; a week: its first day; a month: YYYY-MM
    first: date

    @classmethod
    def of(cls, period: Period) -> Axis:
        first, days = period.first, period.days
        if days <= WEEKLY:
            grain, step = "day", 1
        elif days <= MONTHLY:
            grain, step = "week", 7
        else:
            months = (period.last.year - first.year) * 12 + period.last.month - first.month
            labels = [_month(first, n) for n in range(months + 1)]
            return cls("month", labels, first)
        labels = [(first + timedelta(days=n)).isoformat() for n in range(0, days, step)]
        return cls(grain, labels, first)

    def label(self, day: str) -> str:
        """The point a day (YYYY-MM-DD, in the period) falls on, as its label; a label is
        its own point's."""
        if self.grain == "day":
            return day
        if self.grain == "month":
            return day[:7]
        return self.labels[(date.fromisoformat(day) - self.first).days // 7]

    def points(self) -> Points | None:
        """The points as the report gathers days into them (None: by day, as it reads)."""
        if self.grain == "day":
            return None
        firsts = [self.first.isoformat()] + [f"{label}-01" for label in self.labels[1:]]
        if self.grain == "week":
            firsts = self.labels
        return Points(tuple(zip(self.labels, firsts, strict=True)))

    def title(self, n: int) -> str:
        """A point as its hover title names it: the day, the week's days, or the month."""
        if self.grain != "week":
            return self.labels[n]
        start = date.fromisoformat(self.labels[n])
        return f"{start} – {start + timedelta(days=6)}"


def _month(first: date, n: int) -> str:
    year, month = divmod(first.month - 1 + n, 12)
    return f"{first.year + year:04d}-{month + 1:02d}"


def line_chart(
    days: list[str],
    series: list[Series],
    label: str,
    show: Callable[[float], str],
    titles: list[str] | None = None,
) -> Markup:
    """One polyline per series over `days` (the points: days, or the first days of weeks or
    months; the first series, the total, with its points, each titled by `titles`, the days
    by default), the top value and the first, middle and last point as labels; a legend."""
    titles = titles or days
    top = max((max(s.values) for s in series if s.values), default=0) or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(days) - 1, 1)

    def xy(i: int, value: float) -> tuple[float, float]:
        return LEFT + i * step, TOP + plot_h - (value / top) * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{WIDTH - RIGHT}" y2="{TOP}" stroke="#e5e7eb"/>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" '
        'stroke="#9ca3af"/>',
        _text(LEFT, TOP - 6, show(top), "start"),
    ]
    for i, anchor in ((0, "start"), (len(days) // 2, "middle"), (len(days) - 1, "end")):
        if 0 <= i < len(days) and (anchor != "middle" or len(days) > 2):
            parts.append(_text(xy(i, 0)[0], HEIGHT - 10, _short(days[i]), anchor))
    legend = []
    for n, line in enumerate(series):
        colour = PALETTE[n % len(PALETTE)]
        points = " ".join("{:.1f},{:.1f}".format(*xy(i, v)) for i, v in enumerate(line.values))
        width = 2.5 if n == 0 else 1.5
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="{width}" points="{points}">'
            f"<title>{escape(line.name)}</title></polyline>"
        )
        if n == 0:
            for i, value in enumerate(line.values):
                x, y = xy(i, value)
                parts.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                    f"<title>{escape(titles[i])}: {escape(show(value))}</title></circle>"
                )
        legend.append(
            f'<li><span class="swatch" style="background:{colour}"></span>{escape(line.name)}</li>'
        )
    parts.append("</svg>")
    return Markup("".join(parts) + '<ul class="legend">' + "".join(legend) + "</ul>")


def value_table(days: list[str], series: list[Series], show: Callable[[float], str]) -> Markup:
    """The chart's values, a row per day with any, a column per series."""
    head = "".join(f"<th>{escape(s.name)}</th>" for s in series)
    rows = [
        f"<tr><td>{escape(day)}</td>"
        + "".join(f'<td class="num">{escape(show(s.values[i]))}</td>' for s in series)
        + "</tr>"
        for i, day in enumerate(days)
        if any(s.values[i] for s in series)
    ]
    return Markup(
        f'<table class="values"><thead><tr><th></th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _text(x: float, y: float, text: str, anchor: str) -> str:
    return (
        f'<text x="{x:.1f}" y="{y}" font-size="{FONT}" fill="#374151" '
        f'text-anchor="{anchor}">{escape(text)}</text>'
    )


def _short(day: str) -> str:
    """A day on the axis: DD.MM (the year is the period's)."""
    return f"{day[8:10]}.{day[5:7]}" if len(day) == 10 else day
