"""``t360 stats --html FILE``: one self-contained page (inline SVG; no script, style sheet
or font from the network) with the same tables and charts as the terminal, to share with
people who do not live in a terminal. Every value from the history is escaped."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from html import escape

from . import units
from .analytics import Day
from .charts import svg_daily, svg_distribution

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; font-size: 15px; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { padding: 0.25em 0.8em; text-align: right; border-bottom: 1px solid #ddd; }
th:first-child, td:first-child { text-align: left; overflow-wrap: anywhere; }
svg { display: block; width: 100%; height: auto; }
.days { display: grid; grid-template-columns: repeat(auto-fit, minmax(30em, 1fr)); gap: 2em; }
.note { color: #555; }
"""


def _table(title: str, columns: Sequence[str], rows: Sequence[tuple[str, list[str]]]) -> str:
    head = "".join(f"<th>{escape(name)}</th>" for name in columns)
    body = "".join(
        "<tr>"
        + f"<td>{escape(key)}</td>"
        + "".join(f"<td>{escape(v)}</td>" for v in values)
        + "</tr>"
        for key, values in rows
    )
    return f"<h2>{escape(title)}</h2><table><tr>{head}</tr>{body}</table>"


def _trends(days: Sequence[Day]) -> str:
    """Per day: a small bar chart per series once there are two days; one day's figures
    in a table."""
    if not days:
        return ""
    series: list[tuple[str, list[float | None], Callable[[float], str]]] = [
        ("Requests", [float(d.requests) for d in days], lambda v: f"{v:,.0f}"),
        ("TTFT p50", [d.ttft_p50_ms for d in days], lambda v: units.duration(v / 1000)),
        ("Latency p90", [d.latency_p90_ms for d in days], lambda v: units.duration(v / 1000)),
        ("Spent (bench runs included)", [d.cost for d in days], units.cost),
    ]
    if len(days) == 1:
        figures = [form(v[0]) if v[0] is not None else units.NA for _, v, form in series]
        rows = [(days[0].day, figures)]
        return _table(f"Per day, {days[0].day}", ["day", *(n for n, _, _ in series)], rows)
    charts = "".join(svg_daily(name, [d.day for d in days], v, form) for name, v, form in series)
    span = f"{escape(days[0].day)} to {escape(days[-1].day)}"
    hint = '<p class="note">A bar a day; hover a bar for its date and figure.</p>'
    return f'<h2>Per day, {span}</h2>{hint}<div class="days">{charts}</div>'


def page(
    by_model: Sequence[tuple[str, list[str]]],
    by_provider: Sequence[tuple[str, list[str]]],
    columns: Sequence[str],
    counts: Mapping[str, Sequence[tuple[int, int]]],
    marks: Mapping[str, tuple[float | None, float | None]],
    days: Sequence[Day],
    budget: str | None,
    now: float,
) -> str:
    made = time.strftime("%Y-%m-%d %H:%M", time.localtime(now))
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"/>',
        "<title>t360 stats</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>t360 stats</h1>",
        f'<p class="note">Made {escape(made)} from the local history.</p>',
        _table("By model (times in ms)", ["model", *columns], by_model),
        _table("By provider", ["provider", *columns], by_provider),
    ]
    if counts:
        parts += [
            "<h2>TTFT distribution</h2>",
            '<p class="note">Bars: answers per TTFT range, on one axis for every model, each '
            "row on its own count scale; hover a bar for its range and count. Red line: p50; "
            "orange: p90.</p>",
            svg_distribution(counts, marks),
        ]
    parts.append(_trends(days))
    if budget:
        parts.append(f"<p>{escape(budget)}</p>")
    parts.append("</body></html>\n")
    return "".join(parts)
