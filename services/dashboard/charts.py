"""Server-rendered SVG line charts: no script, no CDN, works offline."""

from __future__ import annotations

from markupsafe import Markup, escape

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#6b7280")
WIDTH, HEIGHT, PAD = 720, 180, 28


def line_chart(days: list[str], series: dict[str, list[float]], label: str) -> Markup:
    """One polyline per series over `days`; a legend of the series names below."""
    top = max((max(values) for values in series.values() if values), default=0) or 1
    step = (WIDTH - 2 * PAD) / max(len(days) - 1, 1)

    def point(i: int, value: float) -> str:
        x = PAD + i * step
        y = HEIGHT - PAD - (value / top) * (HEIGHT - 2 * PAD)
        return f"{x:.1f},{y:.1f}"

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
        'stroke="#9ca3af"/>',
        f'<text x="{PAD}" y="{PAD - 10}" font-size="11" fill="#374151">{escape(_num(top))}</text>',
    ]
    if days:
        parts.append(
            f'<text x="{PAD}" y="{HEIGHT - 8}" font-size="11" fill="#374151">'
            f"{escape(days[0])}</text>"
        )
        parts.append(
            f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" font-size="11" fill="#374151" '
            f'text-anchor="end">{escape(days[-1])}</text>'
        )
    legend = []
    for n, (name, values) in enumerate(series.items()):
        colour = PALETTE[n % len(PALETTE)]
        points = " ".join(point(i, v) for i, v in enumerate(values))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}">'
            f"<title>{escape(name)}</title></polyline>"
        )
        legend.append(
            f'<li><svg width="12" height="12"><rect width="12" height="12" fill="{colour}"/>'
            f"</svg> {escape(name)}</li>"
        )
    parts.append("</svg>")
    return Markup("".join(parts) + '<ul class="legend">' + "".join(legend) + "</ul>")


def _num(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ")
