"""``t360 chat``: one-shot answers and the REPL's entry. Glue only: flags -> options
(``ChatOptions``) -> a complete ``Chat`` (``build_chat``) -> the turn pipeline
(``Chat.ask``) -> report -> exit code.

No ``from __future__ import annotations`` here: Typer resolves every parameter's
annotation before the first request, and evaluated ones spare it 1.5 ms of parsing.
"""

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import typer

from t360cli.commands.build import Built, build_chat
from t360cli.commands.common import (
    AllowSecretsOption,
    ApiKeyOption,
    AttachOption,
    BaseUrlOption,
    ContinueOption,
    ConversationOption,
    DebugOption,
    DryRunOption,
    EditorOption,
    ExtractLastOption,
    ExtractOption,
    FileOption,
    IgnoreBudgetOption,
    JsonOption,
    MaxCostOption,
    MaxTokensOption,
    MaxToolRoundsOption,
    ModelOption,
    NoSaveOption,
    NoStdinOption,
    NoStreamOption,
    OptionOption,
    PasteOption,
    ProfileOption,
    PromptArgument,
    QuietOption,
    RawOption,
    RetriesOption,
    RoleOption,
    SchemaOption,
    SystemFileOption,
    SystemOption,
    TemperatureOption,
    TimeoutOption,
    ToolsOption,
    YesToolsOption,
    environment,
    preview,
    refresh_models,
)
from t360cli.commands.options import ChatOptions, gather
from t360cli.environment import Environment
from t360cli.errors import ExitCode, T360Error
from t360cli.report import emit_json, make_sink, outcome, report_error, report_turn
from t360cli.safety import dumps, sanitize
from t360cli.session import Chat
from t360cli.stats import Turn
from t360cli.structured import code_blocks, validate

if TYPE_CHECKING:
    from t360cli.terminal import AnswerSink


def chat(
    ctx: typer.Context,
    prompt: PromptArgument = None,
    model: ModelOption = None,
    system: SystemOption = None,
    system_file: SystemFileOption = None,
    files: FileOption = None,
    attach: AttachOption = None,
    temperature: TemperatureOption = None,
    max_tokens: MaxTokensOption = None,
    option: OptionOption = None,
    continue_: ContinueOption = False,
    conversation: ConversationOption = None,
    json_out: JsonOption = False,
    quiet: QuietOption = False,
    raw: RawOption = False,
    no_stream: NoStreamOption = False,
    no_save: NoSaveOption = False,
    no_stdin: NoStdinOption = False,
    timeout: TimeoutOption = None,
    retries: RetriesOption = None,
    profile: ProfileOption = None,
    role: RoleOption = None,
    editor: EditorOption = False,
    schema: SchemaOption = None,
    extract: ExtractOption = False,
    extract_last: ExtractLastOption = False,
    max_cost: MaxCostOption = None,
    ignore_budget: IgnoreBudgetOption = False,
    dry_run: DryRunOption = False,
    paste: PasteOption = False,
    allow_secrets: AllowSecretsOption = False,
    tools: ToolsOption = None,
    yes: YesToolsOption = False,
    max_tool_rounds: MaxToolRoundsOption = 10,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    debug: DebugOption = False,
) -> None:
    """Send a prompt and stream the answer; without one on a terminal, start a REPL."""
    o = gather(ChatOptions, locals())
    env = environment(ctx)
    built = build_chat(env, o, interactive=o.no_prompt and env.stdin_isatty)
    code = _run(env, o, built)
    if code is not ExitCode.OK:
        raise typer.Exit(code)


def _run(env: Environment, o: ChatOptions, built: Built) -> ExitCode:
    """The REPL, or the one-shot's answer (--dry-run: the request it would send); the
    chat closed after, whatever happens."""
    chat = built.chat
    try:
        try:
            if o.dry_run:  # never the REPL: --dry-run needs a prompt
                assert built.asked is not None
                return _dry_run(env, chat, built.asked.sent, built.setup.table)
            if o.max_cost is not None:
                refresh_models(env, chat)  # prices needed: ask /models if the cache is old
            if built.asked is None:
                from t360cli.repl import run_repl  # prompt_toolkit loads only for the REPL

                run_repl(
                    env, chat, raw=o.raw, quiet=o.quiet, setup=built.setup, role=built.role,
                    yes=o.yes,
                )  # fmt: skip
                return ExitCode.OK
            turn = chat.ask(built.asked, _sinks(env, o))
        except T360Error as error:
            if o.json_out:
                emit_json(env, Turn.failed(chat.settings.model, error))
            raise
    finally:
        chat.close()
    return _reported(env, o, chat, turn, built.shape)


def _sinks(env: Environment, o: ChatOptions) -> "Callable[[], AnswerSink]":
    """Where each request's answer goes: with -x, the answer on stderr (stdout is the
    code's), as JSON when stderr is no terminal."""
    code_only = o.extract or o.extract_last
    return functools.partial(
        make_sink,
        env._replace(stdout=env.stderr, stdout_isatty=env.stderr_isatty) if code_only else env,
        json_out=o.json_out or (code_only and not env.stderr_isatty),
        raw=o.raw,
        quiet=o.quiet,
    )


def _reported(
    env: Environment, o: ChatOptions, chat: Chat, turn: Turn, shape: dict[str, Any] | None
) -> ExitCode:
    """The turn on stdout (-x's code, --json's object) and stderr (footer, notices,
    error); its exit code, once --schema has checked the answer."""
    if (o.extract or o.extract_last) and turn.error is None:
        _print_code(env, turn.content, last=o.extract_last)
    if o.json_out:
        emit_json(env, turn)
    notes = chat.guard.notes() if chat.guard is not None else ()
    report_turn(env, turn, quiet=o.quiet, extra=notes)
    code = outcome(turn)
    if shape is not None and code is ExitCode.OK:
        validate(turn.content if turn.final is None else turn.final, shape)
    return code


def _print_code(env: Environment, answer: str, *, last: bool) -> None:
    """-x/--extract-last: the first (last) fenced block's content alone on stdout."""
    blocks = code_blocks(answer)
    if not blocks:
        env.warn("the answer has no fenced code block: nothing on stdout")
        return
    code = blocks[-1 if last else 0]
    env.stdout.write(sanitize(code) if env.stdout_isatty else code)
    env.stdout.flush()


def _dry_run(env: Environment, chat: Chat, message: str, table: Mapping[str, object]) -> ExitCode:
    """--dry-run: the request that would be sent, with the estimates; nothing sent. The
    exit code is the real run's when a guard would refuse it, with the same line."""
    obj, refused = preview(env, chat, message, table)
    env.stdout.write(dumps(obj, terminal=env.stdout_isatty, indent=2) + "\n")
    if refused is None:
        return ExitCode.OK
    report_error(env, refused)
    return refused.exit_code
