"""``t360 bench``: TTFT, latency and throughput of models side by side, with live requests.

Every request runs the one-shot pipeline (``run_turn``) with nothing shown, and is saved
to the history tagged as a bench run, so the report is the same SQL as ``t360 stats``,
restricted to this run (and ``stats`` leaves bench runs out unless asked). Times are per
attempt, as the gateway measures them (``stats --attempts``): a retry's wait is the
gateway's refusal, not the model's speed.
"""

from __future__ import annotations

import statistics
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

import typer

from t360cli import units
from t360cli.commands.common import (
    environment,
    gateway_settings,
)
from t360cli.commands.params import (
    ApiKeyOption,
    BaseUrlOption,
    DebugOption,
    PlainJsonOption,
    ProfileOption,
)
from t360cli.commands.stats import COLUMNS, PER_ATTEMPT, PRIORITY, cells, label
from t360cli.config import Settings, aliases_in, read_config
from t360cli.conversation import question
from t360cli.environment import Environment
from t360cli.errors import UsageError
from t360cli.request import RequestOptions, build_payload
from t360cli.safety import dumps
from t360cli.session import debug_log, journal_for, run_turn
from t360cli.stats import Turn
from t360cli.terminal import NullSink

#: More requests than this per model need --yes: they cost money.
LIMIT = 20
DEFAULT_PROMPT = "Reply with one short sentence about the sea."


ModelsOption = Annotated[
    list[str],
    typer.Option("-m", "--model", help="A model to measure (repeatable)."),
]
CountOption = Annotated[int, typer.Option("-n", help="Requests per model.", min=1)]
ConcurrencyOption = Annotated[
    int, typer.Option("--concurrency", min=1, max=16, help="Requests in flight at once.")
]
PromptOption = Annotated[str, typer.Option("--prompt", help="The prompt sent.")]
EachMaxTokensOption = Annotated[
    int | None, typer.Option("--max-tokens", min=1, help="Cap each answer.")
]
YesOption = Annotated[
    bool, typer.Option("-y", "--yes", help=f"Allow more than {LIMIT} requests per model.")
]


def bench(
    ctx: typer.Context,
    models: ModelsOption,
    count: CountOption = 5,
    concurrency: ConcurrencyOption = 1,
    prompt: PromptOption = DEFAULT_PROMPT,
    max_tokens: EachMaxTokensOption = None,
    yes: YesOption = False,
    json_out: PlainJsonOption = False,
    profile: ProfileOption = None,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    debug: DebugOption = False,
) -> None:
    """Send N short requests per model and compare TTFT, latency, speed and cost.

    Times are per attempt, as the gateway measures them: failed attempts and retry waits
    are left out.
    """
    env = environment(ctx)
    if count > LIMIT and not yes:
        raise UsageError(
            f"-n {count} sends {count * len(models)} paid requests",
            f"add --yes to send more than {LIMIT} per model",
        )
    flags = {"api_key": api_key, "base_url": base_url, "debug": debug or None, "profile": profile}
    settings = gateway_settings(env, flags)
    aliases = aliases_in(read_config(env))
    models = list(dict.fromkeys(aliases.get(model, model) for model in models))
    total = count * len(models)
    env.stderr.write(
        env.shown(
            f"sending {total} request{'s' * (total != 1)} ({count} per model, "
            f"{concurrency} at a time) to {settings.base_url}"
        )
        + f"\n{PER_ATTEMPT}\n"
    )
    request = RequestOptions(max_tokens=max_tokens)
    runs = _measure(env, settings, models, count, concurrency, prompt, request)
    _report(env, models, runs, json_out=json_out)


def _measure(
    env: Environment,
    settings: Settings,
    models: list[str],
    count: int,
    concurrency: int,
    prompt: str,
    request: RequestOptions,
) -> dict[str, str]:
    """``count`` requests per model, ``concurrency`` at a time, each saved to a bench
    conversation of its model's; those conversations' ids, by model."""
    from t360cli.client import Gateway
    from t360cli.history import History

    with History.open(env.paths.history_db) as history:
        runs = {m: history.create(m, None, f"bench: {prompt}", kind="bench") for m in models}
    progress = _Progress(env, models, count)
    gateway = Gateway(
        settings, environ=env.vars, log=debug_log(env, settings), connections=concurrency
    )

    def one(model: str) -> None:
        payload = build_payload(model, [{"role": "user", "content": prompt}], request)
        asked = question(prompt)
        journal = journal_for(
            env, asked, model=model, system=None, conversation_id=runs[model], kind="bench"
        )
        turn = run_turn(env, gateway, payload, NullSink(env, show_extras=False), journal)
        progress.advance(model, turn)

    jobs = [model for _ in range(count) for model in models]
    try:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            for future in [pool.submit(one, model) for model in jobs]:
                future.result()
    finally:
        gateway.close()
        progress.close()
    return runs


def _report(env: Environment, models: list[str], runs: dict[str, str], *, json_out: bool) -> None:
    """The figures of this run's requests, per model: the stats table (and on a terminal
    the TTFT distribution), or one JSON object."""
    from t360cli.analytics import Filters, analyse, providers, served, ttft_counts
    from t360cli.history import History

    filters = Filters(conversations=tuple(runs.values()), attempts=True)
    with History.open(env.paths.history_db) as history:
        summaries = {s.key: s for s in analyse(history, filters).by_model}
        seen = providers(history, filters)
        served_ids = served(history, filters)
        counts = ttft_counts(history, filters) if env.stdout_isatty else {}
    ordered = [summaries[m] for m in models if m in summaries]
    if json_out:
        obj = {
            s.key: {
                **s.as_json(),
                "providers": seen.get(s.key, []),
                "served_as": served_ids.get(s.key, []),
                "run": runs[s.key],
            }
            for s in ordered
        }
        env.stdout.write(dumps(obj, terminal=env.stdout_isatty) + "\n")
        return
    from t360cli.render import print_table

    print_table(
        env,
        ["model", *COLUMNS, "providers"],
        [
            [label(s.key, served_ids), *cells(s), ", ".join(seen.get(s.key, [])) or "n/a"]
            for s in ordered
        ],
        [*PRIORITY, len(COLUMNS) + 1],
    )
    if counts:  # the same distribution view as t360 stats, for the models measured
        from t360cli.charts import distribution
        from t360cli.render import print_lines

        marks = {s.key: (s.ttft_ms[50], s.ttft_ms[90]) for s in ordered}
        print_lines(env, ["", *distribution(counts, marks, env.columns)])


class _Progress:
    """Per model: done/total, errors and the running p50 TTFT, on a terminal's stderr
    (silence elsewhere)."""

    def __init__(self, env: Environment, models: list[str], count: int) -> None:
        self._lock = threading.Lock()
        self._turns: dict[str, list[Turn]] = {model: [] for model in models}
        self._view = None
        if env.stderr_isatty and not env.dumb:
            from t360cli.render import ModelProgress

            self._view = ModelProgress(env, models, count)

    def advance(self, model: str, turn: Turn) -> None:
        with self._lock:
            turns = self._turns[model]
            turns.append(turn)
            if self._view is not None:
                ttfts = [t.attempt_ttft for t in turns if t.attempt_ttft is not None]
                p50 = units.duration(statistics.median(ttfts)) if ttfts else "n/a"
                errors = sum(t.error is not None for t in turns)
                self._view.update(model, len(turns), errors, p50)

    def close(self) -> None:
        if self._view is not None:
            self._view.close()
