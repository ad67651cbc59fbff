"""The Typer app (each command in commands/, loaded as needed) and the error boundary.

``run()`` is the boundary: every T360Error becomes one stderr line and its exit code,
Ctrl-C becomes 130, a closed stdout pipe ends quietly, and anything unexpected is an
internal error (exit 1) reported without a traceback (set T360_DEBUG=1 to see one).
Commands below it only raise.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Annotated

import typer

from . import version_line
from .config import scrub
from .errors import ExitCode, T360Error
from .report import report_error
from .terminal import Environment

#: Every command: its name, the module under commands/ that holds it, the attribute, and
#: whether it is a group of subcommands (a Typer app of its own).
COMMANDS: dict[str, tuple[str, str, bool]] = {
    "chat": ("chat", "chat", False),
    "models": ("models", "models", False),
    "config": ("config", "app", True),
    "history": ("history", "app", True),
    "stats": ("stats", "stats", False),
    "bench": ("bench", "bench", False),
    "mock-server": ("mock", "mock_server", False),
}


def _show_version(value: bool) -> None:
    if value:
        sys.stdout.write(version_line() + "\n")
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


def run(args: list[str]) -> int:
    """Run the app on ``args``; the one place errors become exit codes."""
    env = Environment.from_process()
    try:
        app = build_app(args[0] if args and args[0] in COMMANDS else None)
        app(args=args, prog_name="t360")
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else ExitCode.INTERNAL)
    except T360Error as error:
        report_error(env, error)
        return error.exit_code
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except Exception as exc:
        if os.environ.get("T360_DEBUG"):
            raise
        env.stderr.write(
            f"t360: internal error: {type(exc).__name__}: {scrub(str(exc))} "
            "(this is a bug: please report it; T360_DEBUG=1 shows the traceback)\n"
        )
        return ExitCode.INTERNAL
    return ExitCode.OK
