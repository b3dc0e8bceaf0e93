"""Usage as a bar chart in SVG, drawn on the server: no chart library, nothing for the browser to fetch."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

from app.tenants.schemas import UsageRow

WIDTH, HEIGHT, PAD, LABEL = 640, 180, 28, 16
MAX_BARS = 31


def usage_chart(rows: Sequence[UsageRow], title: str) -> Markup:
    """Net credits (charged less refunded) per period, oldest on the left; the last MAX_BARS periods."""
    points = sorted((r.period, max(r.credits_charged - r.credits_refunded, 0)) for r in rows)[-MAX_BARS:]
    top = max((v for _, v in points), default=0) or 1
    slot = (WIDTH - 2 * PAD) / max(len(points), 1)
    plot = HEIGHT - PAD - LABEL
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{PAD}" y1="{PAD + plot}" x2="{WIDTH - PAD}" y2="{PAD + plot}" class="axis"/>',
    ]
    if points:
        parts.append(f'<text x="{PAD}" y="{PAD - 8}" class="scale">{top} credits</text>')
    else:
        parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">No usage yet</text>')
    for i, (period, value) in enumerate(points):
        height = plot * value / top
        x = PAD + i * slot + slot * 0.15
        parts.append(
            f'<rect x="{x:.1f}" y="{PAD + plot - height:.1f}" width="{slot * 0.7:.1f}" height="{height:.1f}" '
            f'class="bar"><title>{escape(period)}: {value} credits</title></rect>'
        )
        if len(points) <= 12 or i in (0, len(points) - 1):
            parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{HEIGHT - 6}" text-anchor="middle" '
                         f'class="label">{escape(period)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every interpolated string is escaped above)
