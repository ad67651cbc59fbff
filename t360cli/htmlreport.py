"""``t360 stats --html FILE``: one self-contained page (inline SVG; no script, style sheet
or font from the network) with the same tables and charts as the terminal, to share with
people who do not live in a terminal. Every value from the history is escaped."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from html import escape

from .analytics import Day
from .charts import svg_distribution, svg_trend
from .units import cost as format_cost
from .units import milliseconds

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { padding: 0.2em 0.8em; text-align: right; border-bottom: 1px solid #ddd; }
th:first-child, td:first-child { text-align: left; }
.note { color: #666; }
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
    if not days:
        return ""
    series: list[tuple[str, list[float | None], Callable[[float], str]]] = [
        ("requests", [float(d.requests) for d in days], lambda v: f"{v:,.0f}"),
        ("TTFT p50 (ms)", [d.ttft_p50_ms for d in days], milliseconds),
        ("latency p90 (ms)", [d.latency_p90_ms for d in days], milliseconds),
        ("cost", [d.cost for d in days], format_cost),
    ]
    rows = []
    for name, values, form in series:
        known = [v for v in values if v is not None]
        ends = f"{form(known[0])} → {form(known[-1])}" if known else "n/a"
        rows.append(
            f"<tr><td>{escape(name)}</td><td>{svg_trend(values)}</td><td>{escape(ends)}</td></tr>"
        )
    span = f"{escape(days[0].day)} to {escape(days[-1].day)}"
    return f"<h2>Per day, {span}</h2><table>{''.join(rows)}</table>"


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
            '<p class="note">Bars: answers per TTFT range, on one axis for every model. '
            "Red line: p50; orange: p90.</p>",
            svg_distribution(counts, marks),
        ]
    parts.append(_trends(days))
    if budget:
        parts.append(f"<p>{escape(budget)}</p>")
    parts.append("</body></html>\n")
    return "".join(parts)
