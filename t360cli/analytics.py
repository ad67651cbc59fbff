"""Latency and cost analytics over the saved history, computed in SQL.

Times are the user's by default (TTFT and latency from the first attempt of a request,
retries and their waits inside); with ``Filters.attempts``, the gateway's (from the
attempt that answered). Every request counts, a failed one too: those that failed before
any answer text are saved as metrics alone, outside any conversation.

Percentiles are nearest-rank: the p-th percentile of n values is the value at rank
ceil(p/100 * n) in ascending order, so every reported figure is a latency that really
happened. Each is one walk along a covering index (schemas 2 and 7); the sums come from one
sequential pass grouped in SQL; no Python loop ever runs over the answers themselves.

What was spent on a day is one figure wherever it is shown (the budgets, the per-day
trend, ``cost_per_day``): the cost of every request saved that local calendar day,
``t360 bench`` runs included, since they cost money too.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from typing import Any

from . import units
from .errors import UsageError
from .history import History

PERCENTILES = (50, 90, 99)


@dataclass(frozen=True)
class Filters:
    """Which answers count (models are the ids that were asked for), and which times."""

    since: float | None = None  # unix time
    model: str | None = None
    provider: str | None = None
    include_bench: bool = False
    conversations: tuple[str, ...] = ()  # only these (one bench run)
    attempts: bool = False  # times per attempt, as the gateway measures them

    @property
    def timing(self) -> tuple[str, str]:
        """The columns TTFT and latency are read from."""
        if self.attempts:
            return "attempt_ttft_ms", "attempt_latency_ms"
        return "ttft_ms", "latency_ms"


@dataclass(frozen=True)
class Summary:
    key: str
    requests: int
    errors: int
    ttft_ms: dict[int, float | None]
    latency_ms: dict[int, float | None]
    tokens_per_second: float | None
    #: None when no answer in the group reported usage (never shown as 0).
    prompt_tokens: int | None
    completion_tokens: int | None
    cost: float | None

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": round(self.error_rate, 4),
            **{f"ttft_p{p}_ms": units.rounded(self.ttft_ms[p], 1) for p in PERCENTILES},
            **{f"latency_p{p}_ms": units.rounded(self.latency_ms[p], 1) for p in PERCENTILES},
            "tokens_per_second": units.rounded(self.tokens_per_second, 2),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost": units.rounded_cost(self.cost),
        }


def parse_since(text: str, now: float | None = None) -> float:
    """``7d``, ``12h``, ``30m``, ``2w`` ago, or a date ``2026-11-01``; as unix time."""
    now = time.time() if now is None else now
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*", text)
    if match:
        unit = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}[match.group(2)]
        return now - float(match.group(1)) * unit
    try:
        return time.mktime(time.strptime(text.strip(), "%Y-%m-%d"))
    except ValueError:
        raise UsageError(
            f"cannot read --since {text!r}", "use 30m, 12h, 7d, 2w or a date like 2026-11-01"
        ) from None


def _where(filters: Filters) -> tuple[str, list[Any]]:
    clauses = ["1 = 1"]
    values: list[Any] = []
    if filters.conversations:
        clauses.append(f"r.conversation_id IN ({', '.join('?' * len(filters.conversations))})")
        values.extend(filters.conversations)
    elif not filters.include_bench:
        clauses.append("r.kind IN ('chat', 'cmd')")  # what people asked; not bench runs
    if filters.since is not None:
        clauses.append("r.created >= ?")
        values.append(filters.since)
    if filters.model is not None:
        clauses.append("r.model = ?")
        values.append(filters.model)
    if filters.provider is not None:
        if filters.provider == UNKNOWN:
            clauses.append("r.provider IS NULL")
        else:
            clauses.append("r.provider = ?")
            values.append(filters.provider)
    return " AND ".join(clauses), values


UNKNOWN = "(unknown)"


def _percentiles(
    history: History, key: str, column: str, where: str, values: list[Any]
) -> dict[str | None, dict[int, float | None]]:
    """Nearest-rank percentiles of ``column`` per ``key``: for each group, one index walk
    to the value at each rank (the indexes of schema 2 cover these queries)."""
    found: dict[str | None, dict[int, float | None]] = {}
    counts = history.query(
        f"SELECT {key} AS key, COUNT(*) AS n FROM responses r"
        f" WHERE {where} AND r.{column} IS NOT NULL GROUP BY {key}",
        values,
    )
    for row in counts:  # a turn still streaming has neither TTFT nor latency yet
        found[row["key"]] = {
            p: history.query(
                f"SELECT r.{column} FROM responses r WHERE {where} AND r.{column} IS NOT NULL"
                f" AND {key} IS ? ORDER BY r.{column} LIMIT 1 OFFSET ?",
                [*values, row["key"], (p * row["n"] + 99) // 100 - 1],
            )[0][0]
            for p in PERCENTILES
        }
    return found


_SUMS = ("requests", "errors", "gen_tokens", "gen_ms", "prompt_tokens", "completion_tokens", "cost")


@dataclass(frozen=True)
class Report:
    by_model: list[Summary]
    by_provider: list[Summary]


def analyse(history: History, filters: Filters) -> Report:
    """The tables of ``t360 stats``, from one scan of the matching answers (grouped by
    model and provider in SQL) and an index walk per percentile."""
    where, values = _where(filters)
    groups = history.query(
        f"""
        SELECT r.model AS model, r.provider AS provider,
               COUNT(*) AS requests,
               SUM(r.error IS NOT NULL AND r.error != 'interrupted') AS errors,
               SUM(r.completion_tokens) FILTER (WHERE r.latency_ms > r.ttft_ms) AS gen_tokens,
               SUM(COALESCE(r.generation_ms, r.latency_ms - r.ttft_ms)) FILTER (
                   WHERE r.latency_ms > r.ttft_ms AND r.completion_tokens IS NOT NULL
               ) AS gen_ms,
               SUM(r.prompt_tokens) AS prompt_tokens,
               SUM(r.completion_tokens) AS completion_tokens,
               SUM(r.cost) AS cost
        FROM responses r NOT INDEXED  -- one sequential pass beats 100,000 index lookups
        WHERE {where} AND r.latency_ms IS NOT NULL
        GROUP BY r.model, r.provider
        """,
        values,
    )

    def rolled(column: str) -> dict[Any, dict[str, Any]]:
        """The groups' sums added up per ``column`` (a loop over groups, not answers)."""
        totals: dict[Any, dict[str, Any]] = {}
        for group in groups:
            into = totals.setdefault(group[column], dict.fromkeys(_SUMS))
            for name in _SUMS:
                if group[name] is not None:
                    into[name] = (into[name] or 0) + group[name]
        return totals

    def summaries(column: str) -> list[Summary]:
        key = f"r.{column}"
        ttft = _percentiles(history, key, filters.timing[0], where, values)
        latency = _percentiles(history, key, filters.timing[1], where, values)
        empty = dict.fromkeys(PERCENTILES)
        found = [
            Summary(
                key=name if name is not None else UNKNOWN,
                requests=sums["requests"],
                errors=sums["errors"] or 0,
                ttft_ms=ttft.get(name, empty),
                latency_ms=latency.get(name, empty),
                tokens_per_second=(
                    sums["gen_tokens"] / (sums["gen_ms"] / 1000) if sums["gen_ms"] else None
                ),
                prompt_tokens=sums["prompt_tokens"],
                completion_tokens=sums["completion_tokens"],
                cost=sums["cost"],
            )
            for name, sums in rolled(column).items()
        ]
        return sorted(found, key=lambda s: (-s.requests, s.key))

    return Report(summaries("model"), summaries("provider"))


def ttft_counts(history: History, filters: Filters) -> dict[str, list[tuple[int, int]]]:
    """Per model, how many answers had each TTFT (whole ms), in ascending order: a
    loop over distinct milliseconds, never over the answers themselves."""
    where, values = _where(filters)
    ttft = filters.timing[0]
    counts: dict[str, list[tuple[int, int]]] = {}
    for row in history.query(
        f"""
        SELECT r.model AS model, CAST(r.{ttft} AS INTEGER) AS ms, COUNT(*) AS n
        FROM responses r WHERE {where} AND r.{ttft} IS NOT NULL
        GROUP BY r.model, ms ORDER BY r.model, ms
        """,
        values,
    ):
        counts.setdefault(row["model"], []).append((row["ms"], row["n"]))
    return counts


@dataclass(frozen=True)
class Day:
    """One local calendar day of the trend."""

    day: str
    requests: int
    ttft_p50_ms: float | None
    latency_p90_ms: float | None
    #: What was spent that day, bench runs included (``spend_per_day``).
    cost: float | None


def _day(now: float) -> str:
    """SQL for the local calendar day of an answer, as a day number (the UTC offset in
    effect at ``now``)."""
    offset = -time.altzone if time.localtime(now).tm_isdst > 0 else -time.timezone
    return f"CAST((r.created + {int(offset)}) / 86400 AS INTEGER)"


def _date(day: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(day * 86400))


def _spent(history: History, filters: Filters, now: float) -> dict[int, float]:
    """What was spent per local day (day numbers): see ``spend_per_day``."""
    where, values = _where(replace(filters, include_bench=True))
    day = _day(now)
    rows = history.query(
        f"SELECT {day} AS day, SUM(r.cost) AS cost FROM responses r WHERE {where}"
        " GROUP BY day HAVING cost IS NOT NULL ORDER BY day",
        values,
    )
    return {row["day"]: float(row["cost"]) for row in rows}


def spend_per_day(history: History, filters: Filters, now: float) -> list[tuple[str, float]]:
    """What was spent each local calendar day, as the budgets count it: the cost of every
    saved request, ``t360 bench`` runs included whatever ``include_bench`` says (it is
    money spent); the other filters (since, model, provider) apply."""
    return [(_date(day), cost) for day, cost in _spent(history, filters, now).items()]


def daily(history: History, filters: Filters, now: float) -> list[Day]:
    """Per local day: requests, median TTFT and p90 latency of the matching answers
    (nearest rank, SQL), and what was spent (``spend_per_day``)."""
    where, values = _where(filters)
    ttft, latency = filters.timing
    day = _day(now)
    counted = {
        row["day"]: row["n"]
        for row in history.query(
            f"SELECT {day} AS day, COUNT(*) AS n FROM responses r"
            f" WHERE {where} AND r.latency_ms IS NOT NULL GROUP BY day",
            values,
        )
    }
    spent = _spent(history, filters, now)
    return [
        Day(
            _date(number),
            counted.get(number, 0),
            _rank(history, ttft, 50, where, values, f"{day} = {number}"),
            _rank(history, latency, 90, where, values, f"{day} = {number}"),
            spent.get(number),
        )
        for number in sorted(counted.keys() | spent.keys())
    ]


def _rank(
    history: History, column: str, p: int, where: str, values: list[Any], also: str
) -> float | None:
    """The nearest-rank p-th percentile of ``column`` among the matching answers."""
    clause = f"{where} AND {also} AND r.{column} IS NOT NULL"
    total = history.query(f"SELECT COUNT(*) FROM responses r WHERE {clause}", values)[0][0]
    if not total:
        return None
    rows = history.query(
        f"SELECT r.{column} FROM responses r WHERE {clause} ORDER BY r.{column} LIMIT 1 OFFSET ?",
        [*values, (p * total + 99) // 100 - 1],
    )
    return float(rows[0][0])


def providers(history: History, filters: Filters) -> dict[str, list[str]]:
    """The providers seen for each requested model."""
    return _seen(history, filters, "provider")


def served(history: History, filters: Filters) -> dict[str, list[str]]:
    """For each requested model, the other model ids the gateway said answered it."""
    return _seen(history, filters, "served_model")


def _seen(history: History, filters: Filters, column: str) -> dict[str, list[str]]:
    where, values = _where(filters)
    seen: dict[str, list[str]] = {}
    for row in history.query(
        f"""
        SELECT DISTINCT r.model AS model, r.{column} AS value
        FROM responses r WHERE {where} AND r.{column} IS NOT NULL AND r.{column} != r.model
        ORDER BY r.model, r.{column}
        """,
        values,
    ):
        seen.setdefault(row["model"], []).append(row["value"])
    return seen
