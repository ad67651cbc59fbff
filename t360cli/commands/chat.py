"""``t360 chat``: one-shot answers and the REPL's entry. Glue only: flags -> settings ->
request -> the turn pipeline (``session``) -> report.

No ``from __future__ import annotations`` here: Typer resolves every parameter's
annotation before the first request, and evaluated ones spare it 1.5 ms of parsing.
"""

import functools
from collections.abc import Mapping
from typing import Annotated, NamedTuple

import typer

from t360cli.attachments import Attachment
from t360cli.commands.common import (
    AllowSecretsOption,
    ApiKeyOption,
    AttachOption,
    BaseUrlOption,
    DebugOption,
    DryRunOption,
    FileOption,
    IgnoreBudgetOption,
    JsonOption,
    MaxCostOption,
    MaxTokensOption,
    ModelOption,
    NoSaveOption,
    NoStdinOption,
    OptionOption,
    PasteOption,
    ProfileOption,
    PromptArgument,
    QuietOption,
    RetriesOption,
    RoleOption,
    Setup,
    SystemFileOption,
    SystemOption,
    TemperatureOption,
    TimeoutOption,
    check_max_cost,
    compose_message,
    environment,
    exclusive,
    known_key,
    make_guard,
    preview,
    refresh_models,
    request_flags,
    require_key,
    secrets_check,
)
from t360cli.conversation import Exchange, question
from t360cli.environment import Environment
from t360cli.errors import ExitCode, T360Error, UsageError
from t360cli.report import emit_json, make_sink, outcome, report_error, report_turn
from t360cli.request import RequestOptions, parse_options
from t360cli.safety import dumps, sanitize
from t360cli.session import Chat
from t360cli.stats import Turn
from t360cli.structured import code_blocks, parse_schema, response_format, validate


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
    continue_: Annotated[
        bool, typer.Option("-c", "--continue", help="Continue the most recent conversation.")
    ] = False,
    conversation: Annotated[
        str | None,
        typer.Option(
            "--conversation",
            help="Continue the conversation with this id.",
        ),
    ] = None,
    json_out: JsonOption = False,
    quiet: QuietOption = False,
    raw: Annotated[bool, typer.Option("--raw", help="No markdown rendering.")] = False,
    no_stream: Annotated[
        bool, typer.Option("--no-stream", help="Ask for the whole answer at once.")
    ] = False,
    no_save: NoSaveOption = False,
    no_stdin: NoStdinOption = False,
    timeout: TimeoutOption = None,
    retries: RetriesOption = None,
    profile: ProfileOption = None,
    role: RoleOption = None,
    editor: Annotated[
        bool, typer.Option("--editor", help="Write the prompt in $VISUAL or $EDITOR first.")
    ] = False,
    schema: Annotated[
        str | None,
        typer.Option(
            "--schema",
            help="Answer JSON matching this: JSON Schema text, a file, or 'name, age int'.",
        ),
    ] = None,
    extract: Annotated[
        bool, typer.Option("-x", "--extract", help="Print only the first fenced code block.")
    ] = False,
    extract_last: Annotated[
        bool, typer.Option("--extract-last", help="Print only the last fenced code block.")
    ] = False,
    max_cost: MaxCostOption = None,
    ignore_budget: IgnoreBudgetOption = False,
    dry_run: DryRunOption = False,
    paste: PasteOption = False,
    allow_secrets: AllowSecretsOption = False,
    tools: Annotated[
        list[str] | None,
        typer.Option(
            "-T",
            "--tools",
            help="Offer the tools of this MCP server (repeatable; 'all': every one).",
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("-y", "--yes", help="Run the tools the model calls without asking.")
    ] = False,
    max_tool_rounds: Annotated[
        int,
        typer.Option("--max-tool-rounds", min=1, help="Most rounds of tool calls in one answer."),
    ] = 10,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    debug: DebugOption = False,
) -> None:
    """Send a prompt and stream the answer; without one on a terminal, start a REPL."""
    env = environment(ctx)
    interactive = not (prompt or files or attach or editor or paste) and env.stdin_isatty
    toolbox = session = None
    asked = model or ""  # the model --json names on an error: the settings' once known
    try:
        exclusive(
            ("--system", "--system-file", system is not None, system_file is not None),
            ("--continue", "--conversation", continue_, conversation is not None),
            ("-x", "--extract-last", extract, extract_last),
        )
        if interactive:
            _need_prompt(
                {
                    "--json": json_out,
                    "--schema": schema is not None,
                    "-x": extract or extract_last,
                    "--dry-run": dry_run,
                }
            )
        check_max_cost(max_cost)
        previous = _previous(env, continue_, conversation)
        flags = request_flags(
            api_key=api_key,
            base_url=base_url,
            model=model,
            system=system,
            system_file=system_file,
            timeout=timeout,
            retries=retries,
            debug=debug,
            profile=profile,
        )
        options = parse_options(option or [])
        if tools and "tools" in options:  # t360 could not run the calls of the -o ones
            raise UsageError("give either -T or -o tools=…, not both")
        shape = parse_schema(schema) if schema is not None else None
        if shape is not None:
            options = {**options, "response_format": response_format(shape)}  # flag beats -o
        setup = Setup(
            env,
            flags,
            {"model": previous.model, "system": previous.system} if previous else None,
            RequestOptions(temperature, max_tokens, options, not no_stream),
        )
        settings, request, chosen = setup(role)
        asked = settings.model
        if tools:
            from t360cli.session import debug_log
            from t360cli.tools import Toolbox, choose
            from t360cli.toolview import approve_on, show_on

            servers = choose(setup.table, tools)
            settings = known_key(env, settings)  # kept from the servers: known before they start
            debug_to = debug_log(env, settings)
            toolbox = Toolbox(
                env, servers, settings=settings, yes=yes, quiet=quiet,
                approve=approve_on(env), show=show_on(env), debug=debug_to,
            )  # fmt: skip
            toolbox.start()  # the servers start while the rest is prepared
        message, attached = "", list[Attachment]()
        if not dry_run:  # the key in use (from api_key_cmd, the keychain) is a known secret
            settings = known_key(env, settings)
        secrets = secrets_check(env, settings, setup.table, allow=allow_secrets)
        if not interactive:
            message, attached = compose_message(
                env, settings, chosen, prompt or [], files or [], attach or [], editor, no_stdin,
                secrets, paste,
            )  # fmt: skip
        if not dry_run:
            settings = require_key(env, settings)
        session = Chat(
            env,
            settings,
            request,
            save=not no_save,
            conversation_id=previous.id if previous else None,
            exchanges=previous.context if previous else [],
        )
        session.tools, session.max_tool_rounds = toolbox, max_tool_rounds
        session.secrets = secrets
        session.guard = make_guard(
            env, settings, setup.table, max_cost=max_cost, ignore_budget=ignore_budget
        )
        if dry_run:
            _dry_run(env, session, message, setup.table)  # on error, the servers stop below
            session.close()
            return
        if max_cost is not None:
            refresh_models(env, session)  # prices needed: ask /models if the cache is old
    except BaseException as error:  # Ctrl-C while stdin is read too: no server left behind
        if toolbox is not None:
            toolbox.close()
        if session is not None:  # a refused /models request: its connection too
            session.close()
        if json_out and isinstance(error, T360Error):
            emit_json(env, Turn.failed(asked, error))
        raise
    try:
        if interactive:
            from t360cli.repl import run_repl  # prompt_toolkit loads only for the REPL

            run_repl(
                env,
                session,
                raw=raw,
                quiet=quiet,
                setup=setup,
                role=chosen,
                yes=yes,
            )
            return
        code_only = extract or extract_last
        sinks = functools.partial(
            make_sink,
            env._replace(stdout=env.stderr, stdout_isatty=env.stderr_isatty) if code_only else env,
            json_out=json_out or (code_only and not env.stderr_isatty),
            raw=raw,
            quiet=quiet,
        )
        try:
            turn = session.ask(question(message, attached), sinks)
        except T360Error as error:
            if json_out:
                emit_json(env, Turn.failed(session.settings.model, error))
            raise
    finally:
        session.close()
    if code_only and turn.error is None:
        _print_code(env, turn.content, last=extract_last)
    if json_out:
        emit_json(env, turn)
    notes = session.guard.notes() if session.guard is not None else ()
    report_turn(env, turn, quiet=quiet, extra=notes)
    code = outcome(turn)
    if shape is not None and code is ExitCode.OK:
        validate(turn.content if turn.final is None else turn.final, shape)
    if code is not ExitCode.OK:
        raise typer.Exit(code)


def _need_prompt(flags: dict[str, bool]) -> None:
    for flag, given in flags.items():
        if given:
            raise UsageError(f"{flag} needs a prompt", "pass one as an argument, or pipe it in")


def _print_code(env: Environment, answer: str, *, last: bool) -> None:
    """-x/--extract-last: the first (last) fenced block's content alone on stdout."""
    blocks = code_blocks(answer)
    if not blocks:
        env.warn("the answer has no fenced code block: nothing on stdout")
        return
    code = blocks[-1 if last else 0]
    env.stdout.write(sanitize(code) if env.stdout_isatty else code)
    env.stdout.flush()


def _dry_run(env: Environment, session: Chat, message: str, table: Mapping[str, object]) -> None:
    """--dry-run: the request that would be sent, with the estimates; nothing sent."""
    obj, refused = preview(env, session, message, table)
    env.stdout.write(dumps(obj, terminal=env.stdout_isatty, indent=2) + "\n")
    if refused is not None:  # the real run would be refused: the same line and exit code
        report_error(env, refused)
        raise typer.Exit(refused.exit_code)


class _Previous(NamedTuple):
    id: str
    model: str
    system: str | None
    context: list[Exchange]


def _previous(env: Environment, latest: bool, prefix: str | None) -> _Previous | None:
    """The saved conversation to continue: the latest one, or the one with this id."""
    if not latest and prefix is None:
        return None
    from t360cli.history import History

    with History.open(env.paths.history_db) as history:
        conversation_id = history.resolve(prefix) if prefix is not None else history.latest()
        if conversation_id is None:
            raise UsageError("there is no saved conversation to continue yet")
        saved = history.get(conversation_id)
        return _Previous(saved.id, saved.model, saved.system, history.context(conversation_id))
