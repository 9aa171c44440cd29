"""Evaluations per variation drawn as an inline SVG stacked bar chart (one bar per hour or day),
with a legend naming the variations and the same numbers as a table, for the flag page.

No JavaScript: the picture is drawn here, on the server. Each bar segment carries
`data-start` (Unix ms), `data-variation` (-1: no variation) and `data-count`, and a <title>
a pointer or a screen reader shows; the table below the chart is the text alternative.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from markupsafe import Markup, escape

__all__ = ["PALETTE", "chart"]

#: Colours of variations 0, 1, 2, ... (then repeated); answers without a variation are grey.
PALETTE = ("#2451c6", "#e07a10", "#17803d", "#9b3fc4", "#c4314b", "#0f8a9b", "#7a6a12", "#5b6470")
NONE_COLOUR = "#9aa4b1"
WIDTH, HEIGHT = 720, 180
LEFT, BOTTOM, TOP = 52, 22, 8


def _colour(variation: int) -> str:
    return NONE_COLOUR if variation < 0 else PALETTE[variation % len(PALETTE)]


def _label(variation: int, names: list[str]) -> str:
    if variation < 0:
        return "No variation (error or the code's default)"
    name = names[variation] if variation < len(names) else ""
    return f"{name} (variation {variation})" if name else f"Variation {variation}"


def _time(ms: int, size: str, *, long: bool = False) -> str:
    t = _dt.datetime.fromtimestamp(ms / 1000, _dt.UTC)
    if size == "hour":
        return t.strftime("%b %d %H:00 UTC" if long else "%H:00")
    return t.strftime("%a %b %d %Y" if long else "%b %d")


def _nice(top: int) -> int:
    """A round axis maximum at or above `top`."""
    if top <= 4:
        return max(top, 1)
    magnitude = 10 ** (len(str(top)) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if top <= step * magnitude:
            return int(step * magnitude)
    return top


def chart(name: str, title: str, buckets: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    """`{"svg": Markup, "legend": [{"variation", "label", "colour", "total"}], "rows":
    [{"start", "label", "counts": [per legend entry], "total"}], "total"}` of buckets
    `{"start", "size", "variations": {variation: count}}` (oldest first, zeros included)."""
    used = sorted({v for b in buckets for v, n in b["variations"].items() if n})
    legend = [
        {"variation": v, "label": _label(v, names), "colour": _colour(v),
         "total": sum(b["variations"].get(v, 0) for b in buckets)}
        for v in used
    ]  # fmt: skip
    totals = [sum(b["variations"].values()) for b in buckets]
    top = _nice(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    n = max(len(buckets), 1)
    slot = plot_w / n
    bar = max(slot * 0.78, 1.0)
    parts = [
        f'<svg class="usage-chart" id="chart-{escape(name)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-labelledby="chart-{escape(name)}-title" '
        f'data-max="{top}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-{escape(name)}-title">{escape(title)}: '
        f"{sum(totals):,} evaluations</title>",
    ]
    for fraction in (0, 0.5, 1):
        y = TOP + plot_h - fraction * plot_h
        value = top * fraction
        text = f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{text}</text>'
        )
    label_every = {24: 6, 7: 1, 30: 5}.get(len(buckets), max(1, len(buckets) // 6))
    for i, b in enumerate(buckets):
        x = LEFT + i * slot + (slot - bar) / 2
        y = TOP + plot_h
        for v in used:
            count = b["variations"].get(v, 0)
            if not count:
                continue
            h = count / top * plot_h
            y -= h
            tip = f"{_label(v, names)}: {count:,} · {_time(b['start'], b['size'], long=True)}"
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{max(h, 0.5):.1f}" '
                f'fill="{_colour(v)}" data-start="{b["start"]}" data-variation="{v}" '
                f'data-count="{count}"><title>{escape(tip)}</title></rect>'
            )
        if i % label_every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle" '
                f'class="axis">{escape(_time(b["start"], b["size"]))}</text>'
            )
    if not sum(totals):
        parts.append(
            f'<text x="{LEFT + plot_w / 2:.0f}" y="{TOP + plot_h / 2:.0f}" text-anchor="middle" '
            'class="empty">No evaluations counted in this period</text>'
        )
    parts.append("</svg>")
    rows = [
        {"start": b["start"], "label": _time(b["start"], b["size"], long=True),
         "counts": [b["variations"].get(e["variation"], 0) for e in legend], "total": t}
        for b, t in zip(buckets, totals, strict=True)
        if t
    ]  # fmt: skip
    # Every piece of text in `parts` went through escape(); the rest are numbers and colours.
    svg = Markup("".join(parts))  # noqa: S704
    return {"svg": svg, "legend": legend, "rows": rows, "total": sum(totals)}
