"""One command line run: a one-shot ``t360 chat`` whose flags ``chat_argv`` can read goes
straight to ``run_chat`` without Typer; everything else goes through the Typer app
(``cli.run``). ``__main__`` calls it once the answers it gives itself (``--version``,
``--help``, TAB) are ruled out; the tests run t360 in-process through it too.
"""

from __future__ import annotations

from . import trace
from .environment import Environment


def run(args: list[str], env: Environment) -> int:
    """Run t360 on ``args``; the exit code."""
    if args[:1] == ["chat"]:
        from .chat_argv import parse

        params = parse(args[1:])
        if params is not None:  # read without Typer: a one-shot's 15-20 ms
            from .commands.chat_run import run_read

            trace.mark("flags read")
            return run_read(params, env)
    from .cli import run as run_app

    trace.mark("cli loaded")
    return run_app(args, env)
