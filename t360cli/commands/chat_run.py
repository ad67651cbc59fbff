"""What ``t360 chat`` does once its flags are read, by Typer (``commands/chat.py``) or,
for a one-shot, before Typer loads (``chat_argv``, from ``entry.run``): the chat built,
then the REPL or one answer, reported; the exit code. Typer is not imported here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from t360cli.boundary import guarded, quiet_stdout
from t360cli.commands.build import Built, build_chat
from t360cli.commands.common import preview, refresh_models
from t360cli.commands.options import ChatOptions, gather
from t360cli.environment import Environment
from t360cli.errors import ExitCode, T360Error
from t360cli.report import emit_json, make_sink, outcome, report_error, report_turn
from t360cli.safety import dumps, sanitize
from t360cli.session import Chat
from t360cli.stats import Turn

if TYPE_CHECKING:
    from t360cli.terminal import AnswerSink


def run_read(params: dict[str, object], env: Environment) -> int:
    """``t360 chat`` with the flags ``chat_argv`` read (``entry.run``), through the same
    boundary as every run, without Typer."""
    return guarded(env, lambda: run_chat(env, gather(ChatOptions, params)))


def run_chat(env: Environment, o: ChatOptions) -> ExitCode:
    """``t360 chat`` with these options: the chat built, then the REPL or the one-shot's
    answer; its exit code."""
    return _run(env, o, build_chat(env, o, interactive=o.no_prompt and env.stdin_isatty))


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


def _sinks(env: Environment, o: ChatOptions) -> Callable[[], AnswerSink]:
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
    error); its exit code, once --schema has checked the answer. A reader gone from
    stdout ends a good run quietly (exit 0), but a failed turn keeps its own code."""
    code = outcome(turn)
    try:
        if (o.extract or o.extract_last) and turn.error is None:
            _print_code(env, turn.content, last=o.extract_last)
        if o.json_out:
            emit_json(env, turn)
    except BrokenPipeError:
        if code is ExitCode.OK:
            raise
        quiet_stdout(env)
    notes = chat.guard.notes() if chat.guard is not None else ()
    report_turn(env, turn, quiet=o.quiet, extra=notes)
    if shape is not None and code is ExitCode.OK:
        from t360cli.structured import validate  # --schema only

        validate(turn.content if turn.final is None else turn.final, shape)
    return code


def _print_code(env: Environment, answer: str, *, last: bool) -> None:
    """-x/--extract-last: the first (last) fenced block's content alone on stdout."""
    from t360cli.structured import code_blocks

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
