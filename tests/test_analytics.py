"""`t360 stats` and `t360 bench`: exact figures over a generated history, and live runs."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import time

import pytest

from t360cli.analytics import Filters, analyse, daily, parse_since, spend_per_day, ttft_counts
from t360cli.errors import UsageError
from t360cli.history import History
from t360cli.mockserver import MockServer
from t360cli.stats import Turn
from tests.helpers import chat_env, invoke, open_history, paths, run_t360

DAY = 86400.0
NOON = time.mktime(time.strptime("2026-11-20 12:00", "%Y-%m-%d %H:%M"))


def generate(history: History) -> None:
    """Model "alpha": 100 answers with TTFT 1..100 ms, latency TTFT + 100 ms, 10 tokens
    each, $0.01 each, providers P1/P2 alternating, 5 failed, on two days. Model "beta":
    4 answers with TTFT 10, 20, 30, 40 ms and no usage. One bench answer for alpha."""
    chat = history.create("alpha", None, "generated")
    bench = history.create("alpha", None, "bench", kind="bench")
    rows = []
    for i in range(1, 101):
        rows.append(
            (
                chat,
                "alpha",
                f"P{1 + i % 2}",
                float(i),
                i + 100.0,
                5,
                10,
                15,
                0.01,
                "boom" if i % 20 == 0 else None,
                "chat",
                NOON + (DAY if i > 60 else 0),
            )
        )
    for i in range(1, 5):
        rows.append(
            (chat, "beta", None, i * 10.0, i * 10.0 + 5, None, None, None, None, None, "chat", NOON)
        )
    rows.append((bench, "alpha", "P9", 5000.0, 6000.0, 1, 1, 2, 1.0, None, "bench", NOON))
    db = sqlite3.connect(history.path)
    with db:
        for row in rows:
            cursor = db.execute(
                "INSERT INTO messages (conversation_id, role, content, created)"
                " VALUES (?, 'assistant', 'x', ?)",
                (row[0], row[-1]),
            )
            db.execute(
                "INSERT INTO responses (message_id, conversation_id, model, provider, ttft_ms,"
                " latency_ms, prompt_tokens, completion_tokens, total_tokens, cost, error, kind,"
                " partial, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
                (cursor.lastrowid, *row),
            )
    db.close()


@pytest.fixture
def history() -> History:
    opened = open_history()
    generate(opened)
    return opened


def test_percentiles_and_totals_are_exact(history: History) -> None:
    alpha, beta = analyse(history, Filters()).by_model
    assert alpha.key == "alpha" and alpha.requests == 100 and alpha.errors == 5
    assert alpha.ttft_ms == {50: 50.0, 90: 90.0, 99: 99.0}
    assert alpha.latency_ms == {50: 150.0, 90: 190.0, 99: 199.0}
    assert alpha.tokens_per_second == pytest.approx(100.0)  # 10 tokens in 100 ms, each
    assert (alpha.prompt_tokens, alpha.completion_tokens) == (500, 1000)
    assert alpha.cost == pytest.approx(1.0) and alpha.error_rate == 0.05
    # nearest rank on four values: p50 is the 2nd, p90 and p99 the 4th
    assert beta.ttft_ms == {50: 20.0, 90: 40.0, 99: 40.0}
    assert beta.tokens_per_second is None and beta.cost is None


def test_by_provider_and_filters(history: History) -> None:
    providers = {s.key: s.requests for s in analyse(history, Filters()).by_provider}
    assert providers == {"P1": 50, "P2": 50, "(unknown)": 4}
    only_p1 = analyse(history, Filters(provider="P1")).by_model
    assert [(s.key, s.requests) for s in only_p1] == [("alpha", 50)]
    assert [s.key for s in analyse(history, Filters(model="beta")).by_model] == ["beta"]
    late = analyse(history, Filters(since=NOON + DAY / 2)).by_model
    assert [(s.key, s.requests) for s in late] == [("alpha", 40)]
    with_bench = analyse(history, Filters(include_bench=True)).by_model
    assert with_bench[0].requests == 101 and with_bench[0].ttft_ms[99] == 100.0


def test_spend_per_day_and_histogram(history: History) -> None:
    # what was spent, as the budgets count it: the bench answer's $1 too
    assert spend_per_day(history, Filters(), NOON) == [
        ("2026-11-20", pytest.approx(1.6)),
        ("2026-11-21", pytest.approx(0.4)),
    ]
    assert spend_per_day(history, Filters(model="beta"), NOON) == []
    counts = ttft_counts(history, Filters())
    assert sum(n for _, n in counts["alpha"]) == 100
    assert counts["beta"] == [(10, 1), (20, 1), (30, 1), (40, 1)]
    days = daily(history, Filters(), NOON)
    assert [(d.day, d.requests) for d in days] == [("2026-11-20", 64), ("2026-11-21", 40)]
    assert days[1].ttft_p50_ms == 80.0  # alpha's answers 61..100 on the second day
    assert days[1].latency_p90_ms == 196.0
    assert [d.cost for d in days] == [pytest.approx(1.6), pytest.approx(0.4)]


def test_the_budget_and_the_per_day_spend_are_one_figure() -> None:
    now = time.time()
    with open_history() as history:
        for kind, cost in (("chat", 0.002), ("bench", 0.001)):
            message = history.begin_turn(history.create("m", None, "t", kind=kind), "q", "m")
            turn = Turn("a", None, "m", "P", "stop", {"cost": cost}, None, 0.25, 0.5)
            history.finish_turn(message, turn)
    config = paths().config_file
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("budget_daily = 1.0\n")
    obj = json.loads(invoke("stats", "--json", clock=now).out)
    assert obj["budget"]["spent_today"] == obj["cost_per_day"][-1]["cost"] == 0.003
    assert obj["by_model"]["m"]["cost"] == 0.002  # the tables leave bench runs out
    shown = invoke("stats", tty=True, columns=100, clock=now).out
    assert "Budget: today $0.003 of $1" in shown
    assert re.search(r"spent +\S+ +\$0\.003 → \$0\.003", shown), shown


def test_scripts_get_figures_without_float_noise() -> None:
    with open_history() as history:
        for cost, ttft in ((0.1, 6.083166999815148), (0.2, 7.5)):
            message = history.begin_turn(history.create("m", None, "t"), "q", "m")
            turn = Turn(
                "a",
                None,
                "m",
                "P",
                "stop",
                {"cost": cost, "completion_tokens": 3},
                None,
                ttft / 1000,
                1.0,
            )
            history.finish_turn(message, turn)
    row = next(csv.DictReader(io.StringIO(run_t360("stats", "--csv").out)))
    assert row["cost"] == "0.3" and row["ttft_p50_ms"] == "6.1", row  # not 0.30000000000000004
    assert float(row["tokens_per_second"]) == round(float(row["tokens_per_second"]), 2)
    figures = json.loads(run_t360("stats", "--json").out)["by_model"]["m"]
    assert figures["cost"] == 0.3 and figures["ttft_p50_ms"] == 6.1


def test_parse_since() -> None:
    assert parse_since("7d", now=1_000_000.0) == 1_000_000.0 - 7 * DAY
    assert parse_since("30m", now=1_000.0) == -800.0
    assert parse_since("2026-11-20") == time.mktime(time.strptime("2026-11-20", "%Y-%m-%d"))
    with pytest.raises(UsageError, match="--since"):
        parse_since("last tuesday")


def test_stats_command_formats(history: History) -> None:
    history.close()
    obj = json.loads(run_t360("stats", "--json").out)
    assert obj["by_model"]["alpha"]["ttft_p90_ms"] == 90.0
    assert obj["by_provider"]["P2"]["requests"] == 50
    assert [d["day"] for d in obj["cost_per_day"]] == ["2026-11-20", "2026-11-21"]
    rows = list(csv.DictReader(io.StringIO(run_t360("stats", "--csv").out)))
    assert [(r["group"], r["key"], r["ttft_p50_ms"]) for r in rows[:2]] == [
        ("model", "alpha", "50.0"),
        ("model", "beta", "20.0"),
    ]
    table = run_t360("stats", "--since", "2026-11-01", "-m", "alpha").out.splitlines()
    assert table[0].startswith("By model")
    assert table[2].split()[:6] == ["alpha", "100", "5", "(5%)", "50", "90"]
    assert run_t360("stats", "--since", "yesterday").code == 2


def test_csv_cells_a_spreadsheet_would_run_are_made_inert() -> None:
    names = ['=HYPERLINK("https://evil.example","x")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]
    with open_history() as history:
        for name in names:  # as the gateway said: the model that answered and its provider
            message = history.begin_turn(history.create(name, None, "t"), "q", name)
            turn = Turn("a", None, name, name, "stop", {"total_tokens": 2}, None, 0.25, 0.5)
            history.finish_turn(message, turn)
    rows = list(csv.DictReader(io.StringIO(run_t360("stats", "--csv").out, newline="")))
    assert sorted(row["key"] for row in rows) == sorted(["'" + name for name in names] * 2)
    assert {(row["requests"], row["ttft_p50_ms"]) for row in rows} == {("1", "250.0")}


def test_stats_on_an_empty_history() -> None:
    result = run_t360("stats")
    assert result.code == 0 and result.out == "" and "nothing to show yet" in result.err
    assert json.loads(run_t360("stats", "--json").out) == {
        "by_model": {},
        "by_provider": {},
        "cost_per_day": [],
        "timing": "lived",
    }


def test_bench_measures_known_delays_side_by_side(server: MockServer) -> None:
    result = run_t360(
        "bench", "-m", "slow-first:300", "-m", "echo", "-n", "3", "--json", env=chat_env(server)
    )
    assert result.code == 0, result.err
    assert "sending 6 requests (3 per model, 1 at a time)" in result.err
    obj = json.loads(result.out)
    slow, fast = obj["slow-first:300"], obj["echo"]
    assert slow["ttft_p50_ms"] >= 300  # lower bounds only: a loaded machine is slower
    assert fast["ttft_p50_ms"] < slow["ttft_p50_ms"]
    assert slow["requests"] == fast["requests"] == 3 and slow["providers"] == ["MockProvider"]
    assert len(server.calls) == 6
    # saved as bench runs: left out of stats unless asked
    assert json.loads(run_t360("stats", "--json").out)["by_model"] == {}
    with_bench = json.loads(run_t360("stats", "--include-bench", "--json").out)
    assert with_bench["by_model"]["echo"]["requests"] == 3


def test_bench_counts_errors_and_runs_concurrently(server: MockServer) -> None:
    result = run_t360(
        "bench",
        "-m",
        "slow-first:1500",
        "-m",
        "error-mid",
        "-n",
        "4",
        "--concurrency",
        "4",
        "--json",
        env=chat_env(server),
    )
    obj = json.loads(result.out)
    assert obj["error-mid"]["errors"] == 4 and obj["error-mid"]["error_rate"] == 1.0
    assert obj["slow-first:1500"]["errors"] == 0
    assert server.peak >= 4  # four requests in flight at once, not one after the other


def test_bench_table_and_limit(server: MockServer) -> None:
    table = run_t360("bench", "-m", "echo", "-n", "2", env=chat_env(server))
    assert table.code == 0 and table.out.splitlines()[1].split()[:2] == ["echo", "2"]
    refused = run_t360("bench", "-m", "echo", "-n", "21", env=chat_env(server))
    assert refused.code == 2 and "--yes" in refused.err and len(server.calls) == 2


def test_a_request_that_failed_before_any_text_is_an_error_of_stats_not_a_conversation(
    server: MockServer,
) -> None:
    env = chat_env(server)
    assert invoke("chat", "-m", "echo", "kept", env=env).code == 0
    assert invoke("chat", "-m", "status:404", "lost", env=env).code == 4
    assert invoke("chat", "-m", "flaky:5", "--retries", "1", "lost", env=env).code == 4
    listed = json.loads(invoke("history", "list", "--json").out)
    assert [c["model"] for c in listed] == ["echo"]  # the failures are no conversations
    obj = json.loads(invoke("stats", "--json").out)
    errors = {m: (s["requests"], s["errors"], s["error_rate"]) for m, s in obj["by_model"].items()}
    # one error per failed request, however many attempts it took
    assert errors == {"echo": (1, 0, 0.0), "status:404": (1, 1, 1.0), "flaky:5": (1, 1, 1.0)}
    assert obj["by_provider"]["(unknown)"]["errors"] == 2
    with open_history() as history:
        failed = history.query("SELECT * FROM responses WHERE model = 'flaky:5'")[0]
    assert (failed["status"], failed["retries"], failed["message_id"]) == (503, 1, None)


def test_stats_times_are_lived_and_attempts_are_the_gateway_s(server: MockServer) -> None:
    assert invoke("chat", "-m", "rate-limit-ms", "hi", env=chat_env(server)).code == 0
    with open_history() as history:
        row = history.query("SELECT * FROM responses")[0]
    # the gateway asked for 250 ms before the retry: inside the lived TTFT, not the attempt's
    assert row["ttft_ms"] - row["attempt_ttft_ms"] >= 250 and row["retries"] == 1
    assert row["latency_ms"] - row["attempt_latency_ms"] >= 250
    lived = json.loads(invoke("stats", "--json").out)
    attempts = json.loads(invoke("stats", "--attempts", "--json").out)
    assert (lived["timing"], attempts["timing"]) == ("lived", "attempt")
    for obj, ttft, latency in (
        (lived, row["ttft_ms"], row["latency_ms"]),
        (attempts, row["attempt_ttft_ms"], row["attempt_latency_ms"]),
    ):
        for group in (obj["by_model"]["rate-limit-ms"], obj["by_provider"]["MockProvider"]):
            assert (group["ttft_p50_ms"], group["latency_p90_ms"]) == (
                round(ttft, 1),
                round(latency, 1),
            )
    table = invoke("stats", "--attempts").out
    assert "Times per attempt, as the gateway measures them" in table
    assert "Times per attempt" not in invoke("stats").out


def test_bench_measures_per_attempt_and_says_so(server: MockServer) -> None:
    result = invoke("bench", "-m", "rate-limit-ms", "-n", "1", "--json", env=chat_env(server))
    assert result.code == 0, result.err
    assert "Times per attempt, as the gateway measures them" in result.err
    with open_history() as history:
        row = history.query("SELECT * FROM responses")[0]
    assert row["ttft_ms"] - row["attempt_ttft_ms"] >= 250  # it waited for a retry
    measured = json.loads(result.out)["rate-limit-ms"]
    assert measured["ttft_p50_ms"] == round(row["attempt_ttft_ms"], 1)
    assert measured["latency_p50_ms"] == round(row["attempt_latency_ms"], 1)
    assert "per attempt" in " ".join(run_t360("bench", "--help").out.split())
