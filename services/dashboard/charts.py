"""Server-rendered SVG line charts: no script, no CDN, works offline.

A chart is drawn 360 units wide, about what it is shown at on a phone (a 390 px screen less
the page's margins), so its 12-unit text is 11-12 px there and grows with the box on a wide
screen (the stylesheet caps the box at 560 px, 19 px text). Each day of the total is a point
whose title (shown on hover) says the day and the value; the values are also in a table
under the chart, for a keyboard, a screen reader or a copy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from markupsafe import Markup, escape

PALETTE = ("#111827", "#2563eb", "#dc2626", "#16a34a", "#d97706")  # the total first, in ink
WIDTH, HEIGHT = 360, 200
LEFT, RIGHT, TOP, BOTTOM = 8, 8, 22, 30
FONT = 12


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float]


def line_chart(
    days: list[str], series: list[Series], label: str, show: Callable[[float], str]
) -> Markup:
    """One polyline per series over `days` (the first series, the total, with its points),
    the top value and the first, middle and last day as labels; a legend and a table."""
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
                    f"<title>{escape(days[i])}: {escape(show(value))}</title></circle>"
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
