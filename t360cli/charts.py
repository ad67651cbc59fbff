"""Charts for ``t360 stats`` and ``t360 bench``, as plain text lines and as inline SVG.

Pure functions of already-aggregated numbers (``analytics``): no I/O, no rich. A chart is
never wider than the width it is given, so 40 columns stay readable.

- ``distribution``: per model, a histogram of TTFT with heights in block eighths, on one
  axis shared by every model (logarithmic when the values spread over more than 10x),
  with each model's p50 and p90 marked and its number of answers;
- ``trends``: per day, requests, median TTFT, p90 latency and spend as sparklines with
  their first and last values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from . import units

EIGHTHS = " ▁▂▃▄▅▆▇█"
P50, P90 = "▲", "△"


class Axis(NamedTuple):
    low: float
    high: float
    cells: int
    log: bool

    def fraction(self, value: float) -> float:
        """Where ``value`` lies along the axis, 0 at its low end, 1 at its high end."""
        if self.high <= self.low:
            return 0.0
        if self.log:
            return math.log(max(value, self.low) / self.low) / math.log(self.high / self.low)
        return (value - self.low) / (self.high - self.low)

    def cell(self, value: float) -> int:
        """The column of ``value`` (0 .. cells-1)."""
        return min(self.cells - 1, max(0, int(self.fraction(value) * self.cells)))

    def round_values(self) -> list[float]:
        """Round values inside the axis, for its tick labels: 1, 2 and 5 times a power of
        ten on a logarithmic axis, even steps of those on a linear one."""
        if self.high <= self.low:
            return []
        if self.log:
            powers = range(math.floor(math.log10(self.low)), math.ceil(math.log10(self.high)) + 1)
            found = (m * 10.0**e for e in powers for m in (1, 2, 5))
            return [v for v in found if self.low <= v <= self.high]
        step = 10.0 ** math.floor(math.log10((self.high - self.low) / 5))
        step *= next(m for m in (1, 2, 5, 10) if (self.high - self.low) / (step * m) <= 6)
        step = max(step, 1.0)  # whole milliseconds, as the bars count them
        first = math.ceil(self.low / step)
        return [n * step for n in range(first, math.floor(self.high / step) + 1)]

    def value(self, cell: float) -> float:
        """The value at the left edge of ``cell`` (fractions allowed)."""
        fraction = cell / self.cells
        if self.log:
            return float(self.low * (self.high / self.low) ** fraction)
        return self.low + (self.high - self.low) * fraction


def make_axis(values: Sequence[float], cells: int) -> Axis:
    """One axis for every model: logarithmic when the values spread over more than 10x."""
    low, high = max(min(values), 1.0), max(*values, 1.0)
    if high <= low:
        high = low + 1
    return Axis(low, high * 1.0001, max(1, cells), high / low > 10)


def bars(levels: Sequence[float]) -> str:
    """Heights in block eighths, scaled to the largest (a zero stays blank)."""
    top = max(levels, default=0) or 1
    return "".join(EIGHTHS[0 if level <= 0 else max(1, round(level / top * 8))] for level in levels)


def _ms(value: float) -> str:
    """An axis label: ms below a second (``300``), seconds above (``1.5s``, ``2s``)."""
    if value < 1000:
        return f"{value:.0f}"
    return f"{value / 1000:.1f}".removesuffix(".0") + "s"


def distribution(
    counts: Mapping[str, Sequence[tuple[int, int]]],
    marks: Mapping[str, tuple[float | None, float | None]],
    width: int,
) -> list[str]:
    """TTFT histograms of every model on one shared axis, at most ``width`` columns."""
    if not counts:
        return []
    indent = 2
    cells = max(8, width - indent)
    axis = make_axis([ms for rows in counts.values() for ms, _ in rows], cells)
    title = f"TTFT distribution (ms{', log scale' if axis.log else ''}; {P50} p50 {P90} p90)"
    lines = [_fit(title, width)]
    for model, rows in counts.items():
        levels = [0.0] * axis.cells
        for ms, n in rows:
            levels[axis.cell(ms)] += n
        total = sum(n for _, n in rows)
        lines.append(_fit(f"{model} · {total:,} answer{'s' * (total != 1)}", width))
        lines.append(" " * indent + bars(levels))
        marker = [" "] * axis.cells
        p50, p90 = marks.get(model, (None, None))
        for value, glyph in ((p90, P90), (p50, P50)):
            if value is not None:  # whole ms, as the bars count them
                marker[axis.cell(int(value))] = glyph
        lines.append((" " * indent + "".join(marker)).rstrip())
    lines.append(" " * indent + _ticks(axis))
    return lines


def _ticks(axis: Axis) -> str:
    """Tick labels along the axis: its two ends (the high one ending under the last
    column, so the highest bars are labelled), then round values under their columns,
    as many as fit with two spaces between labels."""
    line = [" "] * axis.cells
    taken: list[tuple[int, int]] = []

    def place(start: int, label: str) -> None:
        end = start + len(label)
        if (
            start >= 0
            and end <= axis.cells
            and all(end + 2 <= a or b + 2 <= start for a, b in taken)
        ):
            line[start:end] = label
            taken.append((start, end))

    low, high = _ms(axis.low), _ms(axis.value(axis.cells))
    place(0, low)
    place(axis.cells - len(high), high)
    for value in axis.round_values():
        place(axis.cell(value), _ms(value))
    return "".join(line).rstrip()


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"


def trends(
    days: Sequence[tuple[str, int, float | None, float | None, float | None]], width: int
) -> list[str]:
    """Per-day sparklines with their first and last values, at most ``width`` columns."""
    if not days:
        return []
    series: list[tuple[str, list[float | None], Callable[[float], str]]] = [
        ("requests", [float(d[1]) for d in days], lambda v: f"{v:,.0f}"),
        ("TTFT p50", [d[2] for d in days], lambda v: units.duration(v / 1000)),
        ("latency p90", [d[3] for d in days], lambda v: units.duration(v / 1000)),
        ("spent", [d[4] for d in days], units.cost),
    ]
    label_width = max(len(name) for name, _, _ in series)
    room = max(4, width - label_width - 4 - 24)
    shown_days = list(days)[-room:]
    lines = [_fit(f"Per day, {shown_days[0][0]} to {shown_days[-1][0]}", width)]
    for name, values, form in series:
        recent = values[-room:]
        known = [v for v in recent if v is not None]
        spark = bars([v if v is not None else 0 for v in recent])
        ends = f"{form(known[0])} → {form(known[-1])}" if known else "n/a"
        lines.append(_fit(f"  {name.ljust(label_width)}  {spark}  {ends}", width))
    return lines


# -- SVG, for the HTML report -------------------------------------------------------------


def svg_distribution(
    counts: Mapping[str, Sequence[tuple[int, int]]],
    marks: Mapping[str, tuple[float | None, float | None]],
) -> str:
    """The distribution as one inline SVG: a row of bars per model, a shared axis."""
    from html import escape

    cells, bar_width, row_height = 60, 8, 60
    axis = make_axis([ms for rows in counts.values() for ms, _ in rows] or [1.0], cells)
    width = 160 + cells * bar_width + 20
    height = row_height * len(counts) + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">'
    ]
    for index, (model, rows) in enumerate(counts.items()):
        levels = [0] * cells
        for ms, n in rows:
            levels[axis.cell(ms)] += n
        top = max(levels) or 1
        base = row_height * (index + 1)
        parts.append(f'<text x="0" y="{base - 20}" font-size="12">{escape(model)}</text>')
        for column, level in enumerate(levels):
            if level:
                bar = round(level / top * (row_height - 16), 1)
                parts.append(
                    f'<rect x="{160 + column * bar_width}" y="{base - bar}" '
                    f'width="{bar_width - 1}" height="{bar}" fill="#4a7fb5"/>'
                )
        for value, color in zip(
            marks.get(model, (None, None)), ("#d9534f", "#f0ad4e"), strict=True
        ):
            if value is not None:
                x = 160 + axis.cell(int(value)) * bar_width + bar_width / 2
                parts.append(
                    f'<line x1="{x}" y1="{base - row_height + 12}" x2="{x}" y2="{base}" '
                    f'stroke="{color}" stroke-width="2"/>'
                )
    for column in range(0, cells, max(1, cells // 6)):
        parts.append(
            f'<text x="{160 + column * bar_width}" y="{height - 8}" font-size="10">'
            f"{escape(_ms(axis.value(column)))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def svg_trend(values: Sequence[float | None], color: str = "#4a7fb5") -> str:
    """A small line chart of one daily series."""
    width, height = 240, 40
    known = [v for v in values if v is not None]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">'
    ]
    if known:
        low, high = min(known), max(known)
        span = (high - low) or 1
        step = width / max(1, len(values) - 1)
        points = " ".join(
            f"{round(i * step, 1)},{round(height - 4 - (v - low) / span * (height - 8), 1)}"
            for i, v in enumerate(values)
            if v is not None
        )
        parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"/>')
    parts.append("</svg>")
    return "".join(parts)
