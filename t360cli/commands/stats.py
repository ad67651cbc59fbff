"""``t360 stats``: TTFT, latency, throughput, tokens and cost over the saved history."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Annotated, NamedTuple

import typer

from t360cli import units
from t360cli.analytics import (
    PERCENTILES,
    Day,
    Filters,
    Summary,
    analyse,
    daily,
    parse_since,
    served,
    spend_per_day,
    ttft_counts,
)
from t360cli.charts import distribution, trends
from t360cli.commands.common import (
    budget,
    environment,
)
from t360cli.commands.params import (
    PlainJsonOption,
)
from t360cli.config import load_settings
from t360cli.environment import Environment
from t360cli.errors import UsageError
from t360cli.guards import Budget
from t360cli.safety import dumps, sanitize

#: Which columns of a stats table matter most (0 is the model or provider), for a narrow
#: terminal: the last go first.
PRIORITY = [0, 1, 3, 6, 11, 2, 4, 8, 7, 10, 9, 5]

COLUMNS = [
    "reqs",
    "errors",
    "TTFT p50",
    "p90",
    "p99",
    "total p50",
    "p90",
    "tok/s",
    "in",
    "out",
    "cost",
]


def cells(summary: Summary) -> list[str]:
    """A summary's figures as table cells (``n/a`` where unknown)."""
    return [
        f"{summary.requests:,}",
        f"{summary.errors:,} ({summary.error_rate:.0%})" if summary.errors else "0",
        *(units.milliseconds(summary.ttft_ms[p]) for p in PERCENTILES),
        *(units.milliseconds(summary.latency_ms[p]) for p in PERCENTILES[:2]),
        units.speed(summary.tokens_per_second),
        units.count(summary.prompt_tokens),
        units.count(summary.completion_tokens),
        units.cost(summary.cost),
    ]


def label(model: str, served_ids: dict[str, list[str]]) -> str:
    """A requested model id, with the ids that actually answered when they differ."""
    others = served_ids.get(model)
    return f"{model} (served as {', '.join(others)})" if others else model


SinceOption = Annotated[
    str | None, typer.Option("--since", help="Only answers since: 30m, 12h, 7d, 2w or a date.")
]
OnlyModelOption = Annotated[
    str | None,
    typer.Option("-m", "--model", help="Only this model."),
]
ProviderOption = Annotated[str | None, typer.Option("--provider", help="Only this provider.")]
IncludeBenchOption = Annotated[
    bool, typer.Option("--include-bench", help="Count `t360 bench` runs too.")
]
CsvOption = Annotated[bool, typer.Option("--csv", help="CSV rows, one per model and provider.")]
HtmlOption = Annotated[
    Path | None,
    typer.Option("--html", help="Also write a self-contained HTML report to this file."),
]
AttemptsOption = Annotated[
    bool,
    typer.Option(
        "--attempts",
        help="TTFT and latency per attempt, as the gateway measures them (retries and"
        " their waits left out).",
    ),
]


class _Figures(NamedTuple):
    """What the history says, for the filters: the summaries and what the views draw."""

    by_model: list[Summary]
    by_provider: list[Summary]
    days: list[tuple[str, float]]
    served_ids: dict[str, list[str]]
    counts: dict[str, list[tuple[int, int]]]
    per_day: list[Day]
    spend: Budget | None

    @property
    def marks(self) -> dict[str, tuple[float | None, float | None]]:
        return {s.key: (s.ttft_ms[50], s.ttft_ms[90]) for s in self.by_model}

    def rows(self) -> tuple[list[tuple[str, list[str]]], list[tuple[str, list[str]]]]:
        """The table rows, by model (with the ids that answered) and by provider."""
        return (
            [(label(s.key, self.served_ids), cells(s)) for s in self.by_model],
            [(s.key, cells(s)) for s in self.by_provider],
        )


def stats(
    ctx: typer.Context,
    since: SinceOption = None,
    model: OnlyModelOption = None,
    provider: ProviderOption = None,
    include_bench: IncludeBenchOption = False,
    json_out: PlainJsonOption = False,
    csv_out: CsvOption = False,
    html: HtmlOption = None,
    attempts: AttemptsOption = False,
) -> None:
    """Per model and per provider: TTFT and latency percentiles (ms), speed, tokens, cost.

    Times are as you lived them: from sending a request's first attempt, retries and their
    waits inside. Failed requests count, as errors.
    """
    env = environment(ctx)
    filters = Filters(
        since=parse_since(since, env.clock()) if since else None,
        model=model,
        provider=provider,
        include_bench=include_bench,
        attempts=attempts,
    )
    figures = _figures(
        env, filters, json_out=json_out, charted=env.stdout_isatty or html is not None
    )
    if html is not None:
        _write_html(env, html, figures)
    if json_out:
        _write_json(env, figures, attempts=attempts)
    elif csv_out:
        _write_csv(env, figures)
    elif not figures.by_model:
        env.stderr.write("no answers in the history match; nothing to show yet\n")
    else:
        _print(env, figures, attempts=attempts)


def _figures(env: Environment, filters: Filters, *, json_out: bool, charted: bool) -> _Figures:
    from t360cli.history import History

    settings = load_settings(env, {})
    budgeted = settings.budget_daily is not None or settings.budget_monthly is not None
    spend = budget(env, settings) if budgeted else None
    with History.open(env.paths.history_db) as history:
        report = analyse(history, filters)
        return _Figures(
            report.by_model,
            report.by_provider,
            spend_per_day(history, filters, env.clock()) if json_out else [],
            served(history, filters),
            ttft_counts(history, filters) if charted else {},
            daily(history, filters, env.clock()) if charted else [],
            spend,
        )


def _write_html(env: Environment, html: Path, figures: _Figures) -> None:
    from t360cli.htmlreport import page

    by_model, by_provider = figures.rows()
    spend = figures.spend
    text = page(
        by_model,
        by_provider,
        COLUMNS,
        figures.counts,
        figures.marks,
        figures.per_day,
        spent_line(spend) if spend is not None else None,
        env.clock(),
    )
    try:
        html.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {html}: {exc.strerror or exc}") from None
    env.stderr.write(env.shown(f"report written to {html}") + "\n")


def _write_json(env: Environment, figures: _Figures, *, attempts: bool) -> None:
    served_ids = figures.served_ids
    obj: dict[str, object] = {
        "by_model": {
            s.key: {**s.as_json(), "served_as": served_ids.get(s.key, [])} for s in figures.by_model
        },
        "by_provider": {s.key: s.as_json() for s in figures.by_provider},
        "cost_per_day": [{"day": d, "cost": units.rounded_cost(c)} for d, c in figures.days],
        "timing": "attempt" if attempts else "lived",
    }
    if figures.spend is not None:
        spent = figures.spend._asdict().items()
        obj["budget"] = {name: units.rounded_cost(value) for name, value in spent}
    env.stdout.write(dumps(obj, terminal=env.stdout_isatty) + "\n")


def _write_csv(env: Environment, figures: _Figures) -> None:
    buffer = io.StringIO()
    # Text quoted, numbers bare: a CR inside a name cannot split a row, and a
    # spreadsheet tells the two apart.
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
    for group, rows in (("model", figures.by_model), ("provider", figures.by_provider)):
        for summary in rows:
            if buffer.tell() == 0:
                writer.writerow(["group", "key", *summary.as_json()])
            writer.writerow(map(_inert, [group, summary.key, *summary.as_json().values()]))
    text = buffer.getvalue()
    env.stdout.write(sanitize(text) if env.stdout_isatty else text)


def _print(env: Environment, figures: _Figures, *, attempts: bool) -> None:
    """The tables, the TTFT distribution, the trends and the budget, on a terminal."""
    from t360cli.render import print_stats

    width = env.columns
    lines = distribution(figures.counts, figures.marks, width)
    trend = trends(
        [(d.day, d.requests, d.ttft_p50_ms, d.latency_p90_ms, d.cost) for d in figures.per_day],
        width,
    )
    if trend:
        lines += ["", *trend]
    if figures.spend is not None:
        lines += ["", spent_line(figures.spend)]
    if attempts:  # which times these are, above the charts drawn from them
        lines = [PER_ATTEMPT, *lines]
    by_model, by_provider = figures.rows()
    print_stats(env, COLUMNS, by_model, by_provider, lines, PRIORITY)


#: The note under times measured per attempt (``--attempts``, ``t360 bench``).
PER_ATTEMPT = "Times per attempt, as the gateway measures them; retries and waits left out."


#: What makes a spreadsheet read a cell as a formula (OWASP's CSV injection list).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _inert(cell: object) -> object:
    """A CSV cell no spreadsheet will run: text starting like a formula (a model or
    provider name the gateway chose, ``=HYPERLINK(...)``) gets a leading ``'``, as OWASP
    advises; numbers stay numbers."""
    if isinstance(cell, str) and cell.startswith(_FORMULA_START):
        return "'" + cell
    return cell


def spent_line(spend: Budget) -> str:
    """Spend against the budgets, in words."""
    parts = []
    if spend.daily is not None:
        parts.append(f"today {units.cost(spend.spent_today)} of {units.cost(spend.daily)}")
    if spend.monthly is not None:
        parts.append(f"this month {units.cost(spend.spent_month)} of {units.cost(spend.monthly)}")
    return "Budget: " + ", ".join(parts)
