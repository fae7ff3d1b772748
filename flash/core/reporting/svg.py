"""Charts for the run report as SVG text: line charts (curves) and heatmaps (confusion matrices).

Drawn by hand rather than with matplotlib: importing and driving matplotlib costs most of a second, which every
fit paid for its report; an SVG is a few kilobytes of text, sharp at any zoom, and the browser lays out its text.

Example:
    >>> chart = line_charts([Panel("losses", {"train_loss": [(0, 1.0), (10, 0.5)]}, xlabel="step")])
    >>> chart.startswith("<svg") and "train_loss" in chart
    True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

import numpy as np

COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
WIDTH, HEIGHT = 440, 300
LEFT, RIGHT, TOP, BOTTOM = 58, 14, 30, 42  # the plot area's margins inside a panel
FONT = 'font-family="sans-serif" font-size="11"'


@dataclass
class Panel:
    """One chart: named series of ``(x, y)`` points (NaN values leave a gap), titled, with axis labels.
    ``limits``: ``((x_low, x_high), (y_low, y_high))``, by default the data's range."""

    title: str
    series: Mapping[str, Sequence[tuple[float, float]]]
    xlabel: str = ""
    ylabel: str = ""
    limits: tuple[tuple[float, float], tuple[float, float]] | None = None


def line_charts(panels: Sequence[Panel]) -> str:
    """The panels side by side in one SVG image."""
    parts = [_panel(panel, offset=i * WIDTH) for i, panel in enumerate(panels)]
    return _svg(WIDTH * len(panels), HEIGHT, "".join(parts))


def heatmap(values: np.ndarray, row_names: Sequence[str], col_names: Sequence[str], *, title: str,
            xlabel: str, ylabel: str, show_values: bool | None = None) -> str:
    """``values`` in [0, 1] as cells from white to dark blue, the value written in each cell when there are
    at most 12 columns (or as ``show_values`` says). Rows top to bottom, columns left to right."""
    rows, cols = values.shape
    cell = max(14, min(64, 480 // max(rows, cols, 1)))
    left, top = 16 + 7 * min(max((len(n) for n in row_names), default=1), 16), 34
    width, height = left + cols * cell + 20, top + rows * cell + 24 + 7 * min(max(map(len, col_names), default=1), 16)
    show = cols <= 12 if show_values is None else show_values
    out = [f'<text x="{left + cols * cell / 2:.1f}" y="18" text-anchor="middle" {FONT} font-weight="bold">'
           f"{escape(title)}</text>"]
    for (row, col), value in np.ndenumerate(np.nan_to_num(values.astype(float))):
        x, y = left + col * cell, top + row * cell
        out.append(f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{_blue(value)}" stroke="#fff"/>')
        if show:
            colour = "#fff" if value > 0.5 else "#000"
            out.append(f'<text x="{x + cell / 2:.1f}" y="{y + cell / 2 + 4:.1f}" text-anchor="middle" '
                       f'font-family="sans-serif" font-size="{min(11, cell // 3)}" fill="{colour}">{value:.2f}</text>')
    for row, name in enumerate(row_names):
        out.append(f'<text x="{left - 4}" y="{top + row * cell + cell / 2 + 4:.1f}" text-anchor="end" {FONT}>'
                   f"{escape(_short(name))}</text>")
    bottom = top + rows * cell
    for col, name in enumerate(col_names):
        x = left + col * cell + cell / 2
        out.append(f'<text x="{x:.1f}" y="{bottom + 12}" text-anchor="end" transform="rotate(-45 {x:.1f} '
                   f'{bottom + 12})" {FONT}>{escape(_short(name))}</text>')
    out.append(f'<text x="{left + cols * cell / 2:.1f}" y="{height - 4}" text-anchor="middle" {FONT}>'
               f"{escape(xlabel)}</text>")
    out.append(f'<text x="12" y="{top + rows * cell / 2:.1f}" text-anchor="middle" transform="rotate(-90 12 '
               f'{top + rows * cell / 2:.1f})" {FONT}>{escape(ylabel)}</text>')
    return _svg(width, height, "".join(out))


def ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round values (steps of 1, 2 or 5 times a power of ten) from ``low`` to ``high``.

    Example:
        >>> ticks(0.0, 1.0)
        [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    """
    span = high - low
    if not span > 0:
        return [low]
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9) * step
    return [round(first + i * step, 12) for i in range(int((high - first) / step + 1e-9) + 1)]


# ------------------------------------------------------------------------------------------------ drawing
def _panel(panel: Panel, offset: float) -> str:
    points = [(x, y) for series in panel.series.values() for x, y in series if math.isfinite(y)]
    (x_low, x_high), (y_low, y_high) = panel.limits or (_range([x for x, _ in points]), _range([y for _, y in points]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def sx(x: float) -> float:
        return offset + LEFT + (x - x_low) / (x_high - x_low) * plot_w

    def sy(y: float) -> float:
        return TOP + plot_h - (y - y_low) / (y_high - y_low) * plot_h

    out = [f'<text x="{offset + LEFT + plot_w / 2:.1f}" y="18" text-anchor="middle" {FONT} font-weight="bold">'
           f"{escape(panel.title)}</text>",
           f'<rect x="{offset + LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888"/>']
    for x in ticks(x_low, x_high):
        out.append(f'<line x1="{sx(x):.1f}" y1="{TOP}" x2="{sx(x):.1f}" y2="{TOP + plot_h}" stroke="#e5e5e5"/>'
                   f'<text x="{sx(x):.1f}" y="{TOP + plot_h + 14}" text-anchor="middle" {FONT}>{_label(x)}</text>')
    for y in ticks(y_low, y_high):
        out.append(f'<line x1="{offset + LEFT}" y1="{sy(y):.1f}" x2="{offset + LEFT + plot_w}" y2="{sy(y):.1f}" '
                   f'stroke="#e5e5e5"/><text x="{offset + LEFT - 4}" y="{sy(y) + 4:.1f}" text-anchor="end" {FONT}>'
                   f"{_label(y)}</text>")
    out.append(f'<text x="{offset + LEFT + plot_w / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle" {FONT}>'
               f"{escape(panel.xlabel)}</text>")
    if panel.ylabel:
        out.append(f'<text x="{offset + 12}" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" '
                   f'transform="rotate(-90 {offset + 12} {TOP + plot_h / 2:.1f})" {FONT}>{escape(panel.ylabel)}</text>')
    for i, (name, series) in enumerate(panel.series.items()):
        colour = COLOURS[i % len(COLOURS)]
        for run in _finite_runs(series):
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in run)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.6"/>')
            if len(series) < 30:
                out += [f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.4" fill="{colour}"/>' for x, y in run]
        out.append(f'<rect x="{offset + LEFT + 8}" y="{TOP + 8 + 14 * i}" width="10" height="3" fill="{colour}"/>'
                   f'<text x="{offset + LEFT + 22}" y="{TOP + 13 + 14 * i}" {FONT}>{escape(name)}</text>')
    return "".join(out)


def _finite_runs(series: Sequence[tuple[float, float]]) -> list[list[tuple[float, float]]]:
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in series:
        if math.isfinite(y):
            runs[-1].append((x, y))
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]


def _range(values: list[float]) -> tuple[float, float]:
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    if high - low < 1e-12:
        pad = abs(low) * 0.1 or 0.5
        return low - pad, high + pad
    pad = (high - low) * 0.05
    return low - pad, high + pad


def _label(value: float) -> str:
    return f"{value:.4g}"


def _short(name: str, limit: int = 16) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _blue(value: float) -> str:
    """White at 0, dark blue (#08306b) at 1."""
    value = min(max(value, 0.0), 1.0)
    r, g, b = (round(255 + (end - 255) * value) for end in (0x08, 0x30, 0x6B))
    return f"#{r:02x}{g:02x}{b:02x}"


def _svg(width: float, height: float, body: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}"><rect width="100%" height="100%" fill="#fff"/>{body}</svg>\n')
