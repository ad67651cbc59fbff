"""The Typer app (each command in commands/, loaded as needed), run through the one
boundary (``boundary.guarded``). Here only what is Typer's: its exits (``typer.Exit``,
``typer.Abort`` at a question, exit 130) and its parser's errors (click's own usage line,
exit 2). ``entry.run`` runs a one-shot ``t360 chat`` without this module when
``chat_argv`` can read its flags.
"""

from __future__ import annotations

import contextlib
import importlib
from typing import Annotated

import typer

from . import version_line
from .boundary import guarded
from .environment import Environment
from .errors import ExitCode

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


def run(args: list[str], env: Environment | None = None) -> int:
    """Run the app on ``args``; the exit code."""
    env = env or Environment.from_process()
    return guarded(env, lambda: _typer_run(args, env))


def _typer_run(args: list[str], env: Environment) -> int:
    app = build_app(args[0] if args and args[0] in COMMANDS else None)
    command = typer.main.get_command(app)
    try:
        # the parser prints help and --version to sys.stdout: the Environment's stdout is it
        with (
            contextlib.redirect_stdout(env.stdout),
            command.make_context("t360", list(args), obj=env) as ctx,
        ):
            command.invoke(ctx)
    except typer.Exit as done:
        return done.exit_code
    except typer.Abort:  # Ctrl-C or Ctrl-D at a question
        return ExitCode.INTERRUPTED
    except Exception as exc:
        if _parser_error(exc):  # bad flags, arguments: click's own usage line
            exc.show(file=env.stderr)  # type: ignore[attr-defined]
            return int(exc.exit_code)  # type: ignore[attr-defined]
        raise
    return ExitCode.OK


def _parser_error(exc: Exception) -> bool:
    """Whether ``exc`` is one of the parser's errors, by what click documents every such
    error to have (``show`` and an ``exit_code``) rather than by a class: Typer 0.28 carries
    a click of its own, earlier releases use click itself, and the class lives in each."""
    return callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int)
