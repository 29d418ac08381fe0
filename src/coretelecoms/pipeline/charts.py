"""Small inline-SVG charts for the run report: the report is one HTML file that opens offline,
so charts are drawn as SVG markup in the page (no script, no image files, no plotting library).

Every chart has a title, labelled axes or bars and the figure printed on or next to each mark,
and an empty input draws a visible "nothing to show" panel instead of a blank area.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence

PALETTE = ("#2563eb", "#f97316", "#16a34a", "#dc2626", "#9333ea", "#0891b2", "#ca8a04", "#db2777")
"""Series colours, in order (colour-blind-friendly enough to tell four series apart)."""

_FONT = "font-family='system-ui, sans-serif'"
_MUTED = "#6b7280"


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _num(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def _frame(width: int, height: int, title: str, body: str) -> str:
    return (
        f"<svg class='chart' width='{width}' "
        f"height='{height}' viewBox='0 0 {width} {height}' role='img' aria-label='{_esc(title)}'>"
        f"<title>{_esc(title)}</title>"
        f"<text x='0' y='16' {_FONT} font-size='14' font-weight='600' fill='#111827'>"
        f"{_esc(title)}</text>{body}</svg>"
    )


def empty(title: str, message: str, width: int = 520, height: int = 120) -> str:
    """A titled panel saying why there is nothing to draw."""
    body = (
        f"<rect x='0.5' y='28.5' width='{width - 1}' height='{height - 30}' fill='#f9fafb' "
        f"stroke='#e5e7eb'/><text x='{width / 2}' y='{(height + 28) / 2 + 4}' "
        f"text-anchor='middle' {_FONT} font-size='13' fill='{_MUTED}'>{_esc(message)}</text>"
    )
    return _frame(width, height, title, body)


def bar_chart(
    title: str,
    items: Sequence[tuple[str, float]],
    *,
    unit: str = "",
    width: int = 520,
    color: str | Sequence[str] = PALETTE[0],
    value_format: Callable[[float], str] | None = None,
    empty_message: str = "no rows",
) -> str:
    """Horizontal bars, one per (label, value) in the given order, the value printed at the end.

    ``color`` is one colour or one per bar (to set one bar apart, e.g. the model among baselines).
    """
    if not items:
        return empty(title, empty_message, width)
    fmt = value_format or _num
    colors = [color] * len(items) if isinstance(color, str) else list(color)
    label_w = min(int(width * 0.55), 14 + 7 * max(len(label) for label, _ in items))
    bar_h, gap, top = 20, 6, 30
    plot_w = width - label_w - 70
    peak = max(v for _, v in items) or 1.0
    rows = []
    for i, (label, value) in enumerate(items):
        y = top + i * (bar_h + gap)
        w = max(1.0, plot_w * value / peak) if value > 0 else 0.0
        rows.append(
            f"<text x='{label_w - 8}' y='{y + 14}' text-anchor='end' {_FONT} font-size='12' "
            f"fill='#374151'>{_esc(label)}</text>"
            f"<rect x='{label_w}' y='{y}' width='{w:.1f}' height='{bar_h}' rx='2' "
            f"fill='{colors[i % len(colors)]}'>"
            f"<title>{_esc(label)}: {_esc(fmt(value))}{_esc(unit)}</title></rect>"
            f"<text x='{label_w + w + 6:.1f}' y='{y + 14}' {_FONT} font-size='12' "
            f"fill='#111827'>{_esc(fmt(value))}{_esc(unit)}</text>"
        )
    height = top + len(items) * (bar_h + gap) + 4
    return _frame(width, height, title, "".join(rows))


def _legend(names: Sequence[str], x: float, y: float, width: float) -> tuple[str, float]:
    """Legend entries left to right, wrapping at ``width``; returns the markup and its height."""
    out, cursor = [], x
    for i, name in enumerate(names):
        color = PALETTE[i % len(PALETTE)]
        entry = 16 + 7 * len(name) + 18
        if cursor > x and cursor + entry - 18 > width:
            cursor, y = x, y + 18
        out.append(
            f"<rect x='{cursor:.1f}' y='{y - 10}' width='12' height='12' rx='2' fill='{color}'/>"
            f"<text x='{cursor + 16:.1f}' y='{y}' {_FONT} font-size='12' fill='#374151'>"
            f"{_esc(name)}</text>"
        )
        cursor += entry
    return "".join(out), y


def nice_peak(value: float) -> float:
    """The axis top: the smallest 1, 2, 2.5 or 5 x 10^k (times 4 ticks) at or above ``value``."""
    if value <= 0:
        return 1.0
    step = value / 4
    magnitude = 10 ** math.floor(math.log10(step))
    for factor in (1, 2, 2.5, 5, 10):
        if step <= factor * magnitude:
            return 4 * factor * magnitude
    return 4 * 10 * magnitude  # pragma: no cover - the loop always returns


def _y_axis(peak: float, left: float, top: float, plot_h: float, plot_w: float) -> str:
    out = []
    for k in range(5):
        value = peak * k / 4
        y = top + plot_h - plot_h * k / 4
        out.append(
            f"<line x1='{left}' x2='{left + plot_w}' y1='{y:.1f}' y2='{y:.1f}' "
            f"stroke='#e5e7eb'/><text x='{left - 6}' y='{y + 4:.1f}' text-anchor='end' "
            f"{_FONT} font-size='11' fill='{_MUTED}'>{_esc(_num(value))}</text>"
        )
    return "".join(out)


def _x_labels(labels: Sequence[str], left: float, step: float, y: float) -> str:
    every = max(1, -(-60 // max(1, int(step))))  # ~60 px per label: thin out dense axes
    return "".join(
        f"<text x='{left + step * (i + 0.5):.1f}' y='{y}' text-anchor='middle' {_FONT} "
        f"font-size='11' fill='{_MUTED}'>{_esc(label)}</text>"
        for i, label in enumerate(labels)
        if i % every == 0
    )


def stacked_columns(
    title: str,
    labels: Sequence[str],
    series: dict[str, Sequence[float]],
    *,
    width: int = 520,
    height: int = 240,
    empty_message: str = "no rows",
) -> str:
    """Vertical columns per label, one stacked segment per series, total printed on top."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    if not labels or not any(totals):
        return empty(title, empty_message, width)
    legend, legend_y = _legend(list(series), 52, 38, width)
    left, top, bottom = 52, legend_y + 14, 24
    height += legend_y - 38
    plot_w, plot_h = width - left - 8, height - top - bottom
    peak = nice_peak(max(totals) * 1.08)
    step = plot_w / len(labels)
    col_w = min(48.0, step * 0.7)
    body = [legend, _y_axis(peak, left, top, plot_h, plot_w)]
    for i, label in enumerate(labels):
        x = left + step * i + (step - col_w) / 2
        base = top + plot_h
        for k, (name, values) in enumerate(series.items()):
            h = plot_h * values[i] / peak
            if h <= 0:
                continue
            base -= h
            body.append(
                f"<rect x='{x:.1f}' y='{base:.1f}' width='{col_w:.1f}' height='{h:.1f}' "
                f"fill='{PALETTE[k % len(PALETTE)]}'><title>{_esc(label)} {_esc(name)}: "
                f"{_esc(_num(values[i]))}</title></rect>"
            )
        body.append(
            f"<text x='{x + col_w / 2:.1f}' y='{base - 4:.1f}' text-anchor='middle' {_FONT} "
            f"font-size='11' fill='#111827'>{_esc(_num(totals[i]))}</text>"
        )
    body.append(_x_labels(labels, left, step, height - 6))
    return _frame(width, height, title, "".join(body))


def line_chart(
    title: str,
    labels: Sequence[str],
    series: dict[str, Sequence[float]],
    *,
    width: int = 520,
    height: int = 240,
    empty_message: str = "no rows",
) -> str:
    """One line per series over the labels (months, days), a dot on every point."""
    if not labels or not any(any(v) for v in series.values()):
        return empty(title, empty_message, width)
    legend, legend_y = _legend(list(series), 52, 38, width)
    left, top, bottom = 52, legend_y + 14, 24
    height += legend_y - 38
    plot_w, plot_h = width - left - 8, height - top - bottom
    peak = nice_peak(max(max(v) for v in series.values()) * 1.05)
    step = plot_w / len(labels)
    body = [legend, _y_axis(peak, left, top, plot_h, plot_w)]
    for k, (name, values) in enumerate(series.items()):
        color = PALETTE[k % len(PALETTE)]
        points = [
            (left + step * (i + 0.5), top + plot_h - plot_h * v / peak)
            for i, v in enumerate(values)
        ]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        body.append(f"<polyline points='{path}' fill='none' stroke='{color}' stroke-width='2.5'/>")
        body.extend(
            f"<circle cx='{x:.1f}' cy='{y:.1f}' r='3.5' fill='{color}'><title>"
            f"{_esc(labels[i])} {_esc(name)}: {_esc(_num(values[i]))}</title></circle>"
            for i, (x, y) in enumerate(points)
        )
    body.append(_x_labels(labels, left, step, height - 6))
    return _frame(width, height, title, "".join(body))
