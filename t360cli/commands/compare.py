"""``t360 compare``: the same prompt to several models at once, answers side by side.

Glue only: the prompt is built as ``chat`` builds a one-shot's (``commands.common``), the
comparison runs in ``t360cli.compare``, and the exit code is the first failing model's.

No ``from __future__ import annotations`` here: Typer resolves every parameter's
annotation, and evaluated ones spare it the parsing.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer

from t360cli.commands.common import (
    Setup,
    check_max_cost,
    compose_message,
    environment,
    exclusive,
    make_guard,
    preview,
    refresh_models,
    require_key,
    secrets_check,
)
from t360cli.commands.options import PromptOptions, gather
from t360cli.commands.params import (
    AllowSecretsOption,
    ApiKeyOption,
    AttachOption,
    BaseUrlOption,
    CompareModelsOption,
    DebugOption,
    DryRunOption,
    FileOption,
    IgnoreBudgetOption,
    JsonOption,
    MaxCostOption,
    MaxTokensOption,
    NoSaveOption,
    NoStdinOption,
    OptionOption,
    PasteOption,
    ProfileOption,
    PromptArgument,
    QuietOption,
    RetriesOption,
    RoleOption,
    SystemFileOption,
    SystemOption,
    TemperatureOption,
    TimeoutOption,
)
from t360cli.compare import FEWEST, Comparison, report_ranking, view_for
from t360cli.config import Settings, aliases_in
from t360cli.conversation import Exchange, question
from t360cli.environment import Environment
from t360cli.errors import ExitCode, T360Error, UsageError
from t360cli.report import emit_answers, report_error
from t360cli.safety import dumps
from t360cli.stats import Turn

if TYPE_CHECKING:
    from t360cli.client import Gateway
    from t360cli.guards import Guard


@dataclass(frozen=True, eq=False, repr=False)
class CompareOptions(PromptOptions):
    """``t360 compare``: the models asked."""

    models: list[str] | None = None


def compare(
    ctx: typer.Context,
    prompt: PromptArgument = None,
    models: CompareModelsOption = None,
    system: SystemOption = None,
    system_file: SystemFileOption = None,
    files: FileOption = None,
    attach: AttachOption = None,
    paste: PasteOption = False,
    temperature: TemperatureOption = None,
    max_tokens: MaxTokensOption = None,
    option: OptionOption = None,
    json_out: JsonOption = False,
    quiet: QuietOption = False,
    no_save: NoSaveOption = False,
    no_stdin: NoStdinOption = False,
    timeout: TimeoutOption = None,
    retries: RetriesOption = None,
    profile: ProfileOption = None,
    role: RoleOption = None,
    max_cost: MaxCostOption = None,
    ignore_budget: IgnoreBudgetOption = False,
    dry_run: DryRunOption = False,
    allow_secrets: AllowSecretsOption = False,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    debug: DebugOption = False,
) -> None:
    """Send the same prompt to several models at once; their answers side by side.

    Each answer ends with its stats, then one line ranks them. Each model's answer is
    saved as a conversation of its own (t360 chat --conversation ID continues it).
    """
    o = gather(CompareOptions, locals())
    env = environment(ctx)
    built = _build(env, o)
    if built is None:  # --dry-run: shown, nothing sent
        return
    comparison, sending, guard = built
    try:
        view = view_for(env, comparison.models, json_out=o.json_out, quiet=o.quiet)
        result = comparison.run(sending, view)
    finally:
        comparison.close()
    if o.json_out:
        emit_answers(env, result.turns)
    if not o.quiet:
        report_ranking(env, comparison.models, result, guard.notes())
    costs = [turn.cost for turn in result.turns if turn.cost is not None]
    if costs:
        guard.after(sum(costs))  # over --max-cost in all (the estimates were low): said
    code = result.exit_code()
    if code is not ExitCode.OK:
        raise typer.Exit(code)


def _build(env: Environment, o: CompareOptions) -> "tuple[Comparison, Exchange, Guard] | None":
    """The comparison, its question and its guard, every request checked before any is
    sent (None once --dry-run has shown them). On a failure the connection is closed,
    and with --json the failure is every model's answer."""
    asked, comparison, gateway = list(o.models or []), None, None
    try:
        exclusive(("--system", "--system-file", o.system is not None, o.system_file is not None))
        check_max_cost(o.max_cost)
        setup = Setup(env, o.flags(), None, o.request())
        settings, request, chosen = setup(o.role)
        asked = _models(asked, aliases_in(setup.table))
        secrets = secrets_check(env, settings, setup.table, allow=o.allow_secrets)
        message, attached = compose_message(
            env, settings, chosen, o.prompt or [], o.files or [], o.attach or [], False,
            o.no_stdin, secrets, o.paste,
        )  # fmt: skip
        if not o.dry_run:
            settings = require_key(env, settings)
        gateway = None if o.dry_run else _gateway(env, settings, len(asked))
        comparison = Comparison(env, settings, request, asked, gateway, save=not o.no_save)
        guard = make_guard(
            env, settings, setup.table, max_cost=o.max_cost, ignore_budget=o.ignore_budget
        )
        comparison.guards(guard, env.warn)
        if o.dry_run:
            _dry_run(env, comparison, message, setup.table)
            return None
        if o.max_cost is not None:
            refresh_models(env, comparison.chats[0])  # prices needed: ask /models if old
        sending = question(message, attached)
        comparison.prepare(sending)
    except BaseException as error:  # Ctrl-C while stdin is read too: the connection closed
        if comparison is not None:
            comparison.close()
        elif gateway is not None:  # the comparison could not be made around it
            gateway.close()
        if o.json_out and isinstance(error, T360Error):
            emit_answers(env, [Turn.failed(model, error) for model in asked])
        raise
    return comparison, sending, guard


def _models(given: Sequence[str], aliases: Mapping[str, str]) -> list[str]:
    """The models to compare, aliases resolved: at least two, each once."""
    if len(given) < FEWEST:
        raise UsageError(
            f"compare needs {FEWEST} models or more, got {len(given)}",
            "give each with -m: t360 compare -m MODEL -m MODEL PROMPT",
        )
    models = [aliases.get(model, model) for model in given]
    for index, model in enumerate(models):
        if model in models[:index]:
            raise UsageError(f"{model} is given twice", "give each model once")
    return models


def _gateway(env: Environment, settings: Settings, models: int) -> "Gateway":
    """The one connection pool of the comparison, a connection per model; nothing is
    opened before the requests, so that no model starts on a warmer connection."""
    from t360cli.client import Gateway
    from t360cli.session import debug_log

    return Gateway(settings, environ=env.vars, log=debug_log(env, settings), connections=models)


def _dry_run(
    env: Environment, comparison: Comparison, message: str, table: Mapping[str, object]
) -> None:
    """--dry-run: every request that would be sent, with the estimates; nothing sent."""
    shown = [preview(env, chat, message, table) for chat in comparison.chats]
    obj = {"requests": [request for request, _ in shown]}
    env.stdout.write(dumps(obj, terminal=env.stdout_isatty, indent=2) + "\n")
    for model, (_, refused) in zip(comparison.models, shown, strict=True):
        if refused is not None:  # the real run would be refused: the same line and code
            report_error(env, refused, model)
            raise typer.Exit(refused.exit_code)
