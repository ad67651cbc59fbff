"""The Typer app (each command in commands/, loaded as needed) and the one boundary.

``run()`` is the boundary for every command. It builds the Environment once and hands it
to the command (``ctx.obj``); it owns the signals (SIGTERM and SIGHUP end a run like
Ctrl-C, with what was shown saved), the closed stdout pipe (exit 0, nothing on stderr),
and the mapping of errors to exit codes: every T360Error becomes one stderr line and its
code, a usage error from the parser exits 2, Ctrl-C 130, and anything unexpected is an
internal error (exit 1) reported in one line without a traceback (T360_DEBUG=1 shows it).
Commands below it only raise.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from . import version_line
from .environment import Environment
from .errors import ExitCode, T360Error, Terminated
from .report import report_error

#: Every command: its name, the module under commands/ that holds it, the attribute, and
#: whether it is a group of subcommands (a Typer app of its own).
COMMANDS: dict[str, tuple[str, str, bool]] = {
    "chat": ("chat", "chat", False),
    "models": ("models", "models", False),
    "config": ("config", "app", True),
    "history": ("history", "app", True),
    "stats": ("stats", "stats", False),
    "bench": ("bench", "bench", False),
    "compare": ("compare", "compare", False),
    "cmd": ("cmd", "cmd", False),
    "roles": ("roles", "roles", False),
    "tools": ("tools", "tools", False),
    "mock-server": ("mock", "mock_server", False),
}


def _show_version(ctx: typer.Context, value: bool) -> None:
    if value:
        env: Environment = ctx.obj
        env.stdout.write(version_line() + "\n")
        env.stdout.flush()
        raise typer.Exit()


def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Chat with the models of the Token360 gateway, from a terminal or a script."""


def build_app(only: str | None = None) -> typer.Typer:
    """The Typer app with every command, or with just the one about to run.

    Importing and building the other commands would cost every ``t360 chat`` 15 ms or
    more before its request is sent; help, completion and unknown names get them all.
    """
    app = typer.Typer(
        name="t360",
        help="Chat with the models of the Token360 gateway, from a terminal or a script.",
        no_args_is_help=True,
        add_completion=True,  # --install-completion, --show-completion; TAB support
        pretty_exceptions_enable=False,
        rich_markup_mode=None,  # plain help: rich would add 100 ms to every --help
        pretty_exceptions_show_locals=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    for name, (module, attribute, group) in COMMANDS.items():
        if only is None or only == name:
            target = getattr(importlib.import_module(f"t360cli.commands.{module}"), attribute)
            if group:
                app.add_typer(target, name=name)
            else:
                app.command(name)(target)
    return app


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


@contextmanager
def _signals() -> Iterator[None]:
    """SIGTERM and SIGHUP (terminal closed, ssh dropped) end the run like Ctrl-C."""
    previous: dict[int, Callable[..., object] | int | None] = {}
    try:
        for number in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            if number is not None:
                previous[number] = signal.signal(number, _terminate)
    except ValueError:  # not the main thread (an embedding test): leave signals alone
        pass
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def quiet_stdout(env: Environment) -> None:
    """After a closed pipe: point stdout at /dev/null so no later flush can fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, env.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def run(args: list[str], env: Environment | None = None) -> int:
    """Run the app on ``args``; the one place errors become exit codes."""
    env = env or Environment.from_process()
    app = build_app(args[0] if args and args[0] in COMMANDS else None)
    command = typer.main.get_command(app)
    try:
        # the parser prints help and --version to sys.stdout: the Environment's stdout is it
        with (
            _signals(),
            contextlib.redirect_stdout(env.stdout),
            command.make_context("t360", list(args), obj=env) as ctx,
        ):
            command.invoke(ctx)
    except typer.Exit as done:
        return done.exit_code
    except T360Error as error:
        report_error(env, error)
        return error.exit_code
    except typer.Abort:  # Ctrl-C or Ctrl-D at a question
        return ExitCode.INTERRUPTED
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except OSError as exc:
        if not isinstance(exc, BrokenPipeError) and exc.errno != errno.EPIPE:
            return _internal(env, exc)
        quiet_stdout(env)  # the reader went away (``| head``): nothing more to say
    except Exception as exc:
        if _parser_error(exc):  # bad flags, arguments: click's own usage line
            exc.show(file=env.stderr)  # type: ignore[attr-defined]
            return int(exc.exit_code)  # type: ignore[attr-defined]
        return _internal(env, exc)
    return ExitCode.OK


def _parser_error(exc: Exception) -> bool:
    """Whether ``exc`` is one of the parser's errors, by what click documents every such
    error to have (``show`` and an ``exit_code``) rather than by a class: Typer 0.28 carries
    a click of its own, earlier releases use click itself, and the class lives in each."""
    return callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int)


def _internal(env: Environment, exc: Exception) -> int:
    if env.debug:
        raise exc
    env.error(
        f"internal error: {type(exc).__name__}: {exc} "
        "(this is a bug: please report it; T360_DEBUG=1 shows the traceback)"
    )
    return ExitCode.INTERNAL
