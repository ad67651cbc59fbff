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
#
# Drawn in a coordinate space about as wide as a page and scaled to the page's width
# (``width="100%"``), so their text reads at the page's own size. Every bar and mark has
# a tooltip (an SVG ``<title>``) saying what it stands for.

BAR, P50_COLOUR, P90_COLOUR, MUTED, RULE = "#4a7fb5", "#c0392b", "#e67e22", "#555", "#333"


def _el(tag: str, text: str = "", *, title: str = "", **attributes: object) -> str:
    """One SVG element (``font_size`` is written ``font-size``); ``title`` is its tooltip."""
    from html import escape

    def written(value: object) -> str:
        return f"{value:.1f}" if isinstance(value, float) else escape(str(value))

    pairs = "".join(f' {name.replace("_", "-")}="{written(v)}"' for name, v in attributes.items())
    inner = (f"<title>{escape(title)}</title>" if title else "") + escape(text)
    return f"<{tag}{pairs}>{inner}</{tag}>" if inner else f"<{tag}{pairs}/>"


def _svg(width: int, height: int, label: str, body: list[str]) -> str:
    from html import escape

    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(label)}" font-family="system-ui, sans-serif" '
        f'font-size="14">{"".join(body)}</svg>'
    )


def _answers(count: int) -> str:
    return f"{count:,} answer{'s' * (count != 1)}"


def _ms_said(value: float) -> str:
    return units.duration(value / 1000)


def svg_distribution(
    counts: Mapping[str, Sequence[tuple[int, int]]],
    marks: Mapping[str, tuple[float | None, float | None]],
) -> str:
    """The distribution as one inline SVG: a row of bars per model on one TTFT axis (ms,
    logarithmic past tenfold), each row on its own count scale (0 and its tallest bar
    written at its right), p50 and p90 as dashed lines; a tooltip on every bar (its TTFT
    range and count) and line."""
    width, left, right, row, tallest = 1200, 250, 70, 100, 70
    plot = width - left - right
    axis = make_axis([ms for rows in counts.values() for ms, _ in rows] or [1.0], plot // 10)
    step = plot / axis.cells
    body: list[str] = []
    for index, (model, rows) in enumerate(counts.items()):
        levels = [0] * axis.cells
        for ms, n in rows:
            levels[axis.cell(ms)] += n
        top = max(levels) or 1
        base = row * (index + 1)
        shown = model if len(model) <= 22 else model[:21] + "…"  # whole in its tooltip
        name_x = left - 14
        body.append(
            _el(
                "text",
                shown,
                title=model,
                x=name_x,
                y=base - 42,
                text_anchor="end",
                font_size=15,
                font_weight=600,
            )
        )
        answers = _answers(sum(n for _, n in rows))
        body.append(_el("text", answers, x=name_x, y=base - 22, text_anchor="end", fill=MUTED))
        body.append(_el("line", x1=left, y1=base, x2=left + plot, y2=base, stroke="#bbb"))
        for column, level in enumerate(levels):
            if level:
                span = f"TTFT {_ms_said(axis.value(column))} to {_ms_said(axis.value(column + 1))}"
                tall = level / top * tallest
                body.append(
                    _el(
                        "rect",
                        title=f"{span}: {_answers(level)}",
                        x=left + column * step,
                        y=base - tall,
                        width=step - 1,
                        height=tall,
                        fill=BAR,
                    )
                )
        for name, value, colour in zip(
            ("p50", "p90"), marks.get(model, (None, None)), (P50_COLOUR, P90_COLOUR), strict=True
        ):
            if value is not None:
                x = left + axis.fraction(value) * plot
                said = f"{name}: {_ms_said(value)}"
                top_y = base - tallest - 10
                body.append(
                    _el(
                        "line",
                        title=said,
                        x1=x,
                        y1=top_y,
                        x2=x,
                        y2=base,
                        stroke=colour,
                        stroke_width=2,
                        stroke_dasharray="4 3",
                    )
                )
                left_of = name == "p50"  # p50 written left of its line, p90 right of it
                body.append(
                    _el(
                        "text",
                        name,
                        x=x - 4 if left_of else x + 4,
                        y=top_y + 8,
                        text_anchor="end" if left_of else "start",
                        font_size=12,
                        fill=colour,
                    )
                )
        for y, label in ((base - tallest, f"{top:,}"), (base, "0")):
            body.append(_el("text", label, x=left + plot + 8, y=y + 4, font_size=12, fill=MUTED))
    rows_end = row * len(counts)
    middle = (rows_end + 10) / 2
    body.append(
        _el(
            "text",
            "answers",
            x=width - 10,
            y=middle,
            font_size=13,
            fill=MUTED,
            text_anchor="middle",
            transform=f"rotate(-90 {width - 10} {middle:.1f})",
        )
    )
    axis_y = rows_end + 8
    body.append(_el("line", x1=left, y1=axis_y, x2=left + plot, y2=axis_y, stroke=RULE))
    placed: list[float] = []
    ends = [(axis.low, "start"), (axis.value(axis.cells), "end")]
    for value, anchor in [*ends, *((v, "middle") for v in axis.round_values())]:
        x = left + axis.fraction(value) * plot
        if any(abs(x - other) < 56 for other in placed):
            continue  # too close to a label already there
        placed.append(x)
        body.append(_el("line", x1=x, y1=axis_y, x2=x, y2=axis_y + 5, stroke=RULE))
        body.append(_el("text", _ms(value), x=x, y=axis_y + 21, text_anchor=anchor, font_size=13))
    scale = "log scale" if axis.log else "linear scale"
    body.append(
        _el(
            "text",
            f"TTFT, time to first token (ms; {scale})",
            x=left + plot / 2,
            y=axis_y + 48,
            text_anchor="middle",
            font_weight=600,
        )
    )
    return _svg(width, rows_end + 70, "TTFT distribution per model", body)


def svg_daily(
    title: str,
    days: Sequence[str],
    values: Sequence[float | None],
    form: Callable[[float], str],
) -> str:
    """A small bar chart of one daily series: a bar a day (its date and value in its
    tooltip), dates along the bottom as many as fit, 0 and the largest value up the side."""
    width, height, left, right, top, bottom = 560, 210, 80, 12, 34, 42
    plot_w, plot_h = width - left - right, height - top - bottom
    known = [v for v in values if v is not None]
    peak = max(known, default=0.0) or 1.0
    slot = plot_w / max(1, len(days))
    bar = min(slot * 0.8, 48.0)  # a few days stay bars, not blocks
    base = top + plot_h
    body = [_el("text", title, x=0, y=18, font_size=15, font_weight=600)]
    body.append(_el("line", x1=left, y1=top, x2=left + plot_w, y2=top, stroke="#e4e4e4"))
    body.append(_el("line", x1=left, y1=base, x2=left + plot_w, y2=base, stroke=RULE))
    for y, label in ((top, form(peak) if known else ""), (base, form(0.0))):
        body.append(
            _el("text", label, x=left - 8, y=y + 5, text_anchor="end", font_size=12, fill=MUTED)
        )
    for index, (day, value) in enumerate(zip(days, values, strict=True)):
        said = f"{day}: {form(value) if value is not None else 'n/a'}"
        tall = (value or 0.0) / peak * plot_h
        body.append(
            _el(
                "rect",
                title=said,
                x=left + (index + 0.5) * slot - bar / 2,
                y=base - tall,
                width=bar,
                height=tall,
                fill=BAR,
            )
        )
    every = math.ceil(len(days) / max(1, plot_w // 90))  # a date every 90 units at most
    dated = list(range(0, len(days), every))
    if dated[-1] != len(days) - 1:  # the last day always, moved to if the gap is small
        dated[-1 if len(days) - 1 - dated[-1] < every / 2 else len(dated) :] = [len(days) - 1]
    for index in dated:
        body.append(
            _el(
                "text",
                days[index][5:],
                x=left + (index + 0.5) * slot,
                y=base + 20,
                text_anchor="middle",
                font_size=12,
            )
        )
    return _svg(width, height, title, body)
