"""``t360 chat``: one-shot answers and the REPL's entry."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Any, NamedTuple, NoReturn

import typer

from t360cli.commands.common import (
    ApiKeyOption,
    BaseUrlOption,
    DebugOption,
    complete_conversation,
    complete_model,
    require_key,
)
from t360cli.config import Settings, load_settings
from t360cli.errors import ExitCode, T360Error, UsageError
from t360cli.prompt import compose, read_file, read_stdin
from t360cli.report import emit_json, report_turn
from t360cli.session import Chat
from t360cli.stats import Turn
from t360cli.terminal import Environment, make_sink


def _parse_options(pairs: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"-o expects KEY=VALUE, got {pair!r}", "for example -o top_p=0.9")
        try:
            options[key.strip()] = json.loads(value)
        except ValueError:
            options[key.strip()] = value
    return options


def _on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _finish(env: Environment, turn: Turn, *, json_out: bool, quiet: bool) -> NoReturn:
    """Report the turn after the answer, then exit with its code."""
    if json_out:
        emit_json(env, turn)
    report_turn(env, turn, quiet=quiet)
    if turn.error is not None:
        raise typer.Exit(turn.error.exit_code)
    raise typer.Exit(ExitCode.INTERRUPTED if turn.interrupted else ExitCode.OK)


def chat(
    prompt: Annotated[
        list[str] | None,
        typer.Argument(help="The prompt (words are joined by spaces; '-' reads stdin there)."),
    ] = None,
    model: Annotated[
        str | None, typer.Option("-m", "--model", help="Model id.", autocompletion=complete_model)
    ] = None,
    system: Annotated[str | None, typer.Option("-s", "--system", help="System prompt.")] = None,
    system_file: Annotated[
        Path | None, typer.Option("--system-file", help="Read the system prompt from a file.")
    ] = None,
    files: Annotated[
        list[Path] | None,
        typer.Option("-f", "--file", help="Add a file's content to the message (repeatable)."),
    ] = None,
    temperature: Annotated[
        float | None, typer.Option("--temperature", min=0.0, help="Sampling temperature.")
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", min=1, help="Longest answer, in tokens.")
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option("-o", "--option", help="Extra request field KEY=VALUE (JSON if it parses)."),
    ] = None,
    continue_: Annotated[
        bool, typer.Option("-c", "--continue", help="Continue the most recent conversation.")
    ] = False,
    conversation: Annotated[
        str | None,
        typer.Option(
            "--conversation",
            help="Continue the conversation with this id.",
            autocompletion=complete_conversation,
        ),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON object with the answer and stats.")
    ] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No stats footer.")] = False,
    raw: Annotated[bool, typer.Option("--raw", help="No markdown rendering.")] = False,
    no_stream: Annotated[
        bool, typer.Option("--no-stream", help="Ask for the whole answer at once.")
    ] = False,
    no_save: Annotated[
        bool, typer.Option("--no-save", help="Keep this exchange out of the history.")
    ] = False,
    no_stdin: Annotated[bool, typer.Option("-n", "--no-stdin", help="Ignore stdin.")] = False,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="Longest silence tolerated while waiting, in seconds."),
    ] = None,
    retries: Annotated[
        int | None, typer.Option("--retries", help="Retries before the first token (default 2).")
    ] = None,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    debug: DebugOption = False,
) -> None:
    """Send a prompt and stream the answer; without one on a terminal, start a REPL."""
    env = Environment.from_process()
    settings: Settings | None = None
    try:
        if system is not None and system_file is not None:
            raise UsageError("give either --system or --system-file, not both")
        if continue_ and conversation is not None:
            raise UsageError("give either --continue or --conversation, not both")
        if system_file is not None:
            system = read_file(system_file, "system file")
        interactive = not prompt and not files and env.stdin_isatty
        if interactive and json_out:
            raise UsageError("--json needs a prompt", "pass one as an argument, or pipe it in")
        previous = _previous(continue_, conversation) if continue_ or conversation else None
        if previous is not None:  # the conversation's own model and system, unless overridden
            model = model or previous.model
            system = system if system is not None else previous.system
        settings, warnings = load_settings(
            {
                "api_key": api_key,
                "base_url": base_url,
                "model": model,
                "system": system,
                "timeout": timeout,
                "retries": retries,
                "debug": debug or None,
            }
        )
        for warning in warnings:
            env.warn(warning)
        message = ""
        if not interactive:
            stdin_text = None if no_stdin or env.stdin_isatty else read_stdin(env.stdin)
            message = compose(prompt or [], stdin_text, files or [])
            if not message:
                raise UsageError(
                    "no prompt given", "pass it as an argument, or pipe text in on stdin"
                )
        require_key(env, settings)
        session = Chat(
            settings,
            temperature=temperature,
            max_tokens=max_tokens,
            options=_parse_options(option or []),
            stream=not no_stream,
            save=not no_save,
            conversation_id=previous.id if previous else None,
            messages=previous.context if previous else [],
        )
    except T360Error as error:
        if json_out:
            name = settings.model if settings else (model or "")
            emit_json(env, Turn("", None, name, None, None, None, None, None, 0.0, error=error))
        raise
    if interactive:
        from t360cli.repl import run_repl  # prompt_toolkit loads only for the REPL

        run_repl(env, session, raw=raw, quiet=quiet, recent=previous.recent if previous else [])
        raise typer.Exit(ExitCode.OK)
    signal.signal(signal.SIGTERM, _on_sigterm)
    sink = make_sink(env, json_out=json_out, raw=raw, quiet=quiet)
    try:
        turn = session.ask(message, sink, env.warn)
    except BrokenPipeError:  # the reader went away (``| head``): nothing more to say
        _quiet_stdout()
        raise typer.Exit(ExitCode.OK) from None
    _finish(env, turn, json_out=json_out, quiet=quiet)


class _Previous(NamedTuple):
    id: str
    model: str
    system: str | None
    context: list[dict[str, Any]]
    recent: list[tuple[str, str]]


def _previous(latest: bool, prefix: str | None) -> _Previous:
    """The saved conversation to continue: the latest one, or the one with this id."""
    from t360cli.history import History

    with History.open() as history:
        conversation_id = history.resolve(prefix) if prefix is not None else history.latest()
        if conversation_id is None:
            raise UsageError("there is no saved conversation to continue yet")
        saved = history.get(conversation_id)
        recent = [
            (m.role, m.content)
            for m in history.messages(conversation_id)
            if m.role in ("user", "assistant")
        ]
        return _Previous(
            saved.id, saved.model, saved.system, history.context(conversation_id), recent[-6:]
        )


def _quiet_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so the final flush cannot fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
