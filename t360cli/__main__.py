"""Entry point of the ``t360`` console script and ``python -m t360cli``.

``t360 --version``, ``--help`` and TAB completion are answered here, before Typer (and
everything it imports) loads, so they cost little more than the interpreter's own
start-up. For ``t360 chat``, the connection to the gateway starts opening here too, while
the rest loads; and a one-shot whose flags ``chat_argv`` can read runs without Typer.
"""

from __future__ import annotations

import os
import sys

from . import trace, version_line


def main() -> None:
    trace.mark("entry")
    args = sys.argv[1:]
    if "_T360_COMPLETE" in os.environ:  # TAB: answered from a table, before Typer loads
        from . import completion

        completion.main()
        return
    if args and args[-1] in ("--help", "-h") and _help(args[:-1]):
        return
    if args == ["--version"]:
        _write(version_line() + "\n")
        return
    _skip_httpx_cli()
    from .startup import prewarm

    warm = prewarm(args, os.environ)  # connect to the gateway while the rest loads
    from .entry import run
    from .environment import Environment

    sys.exit(run(args, Environment.from_process(warm)))


def _help(path: list[str]) -> bool:
    """Print a command's help from the generated table, when it is the help Typer would
    print: a terminal 80 columns wide or more (click's widest help), or output that is not
    a terminal. ``T360_TYPER_HELP`` asks Typer itself (the table's generator does)."""
    if "T360_TYPER_HELP" in os.environ:
        return False
    from .help_table import HELP

    page = HELP.get(tuple(path))
    if page is None:
        return False
    try:
        columns = int(os.environ.get("COLUMNS") or os.get_terminal_size(sys.stdout.fileno())[0])
    except (OSError, ValueError):
        columns = 80  # not a terminal: click formats for 80
    if columns < 80:
        return False
    _write(page)
    return True


def _write(text: str) -> None:
    """Write a fast path's answer: a closed pipe (``t360 --version | false``) ends it
    quietly; any other failure (``> /dev/full``) with one line, exit 3."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as exc:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more to say
        if isinstance(exc, BrokenPipeError):
            return
        from .errors import unwritable

        error = unwritable(exc)
        sys.stderr.write(f"t360: error: {error.line()}\n")
        sys.exit(error.exit_code)


def _skip_httpx_cli() -> None:
    """httpx imports its own command-line tool when it loads (click, rich and pygments:
    about 30 ms) whenever those are installed (encode/httpx#3547); t360 never runs it,
    so a stand-in takes its place."""
    import types

    def httpx_cli() -> None:
        raise SystemExit("the httpx command line is not loaded in t360")

    if "httpx" not in sys.modules:
        stand_in = types.ModuleType("httpx._main")
        stand_in.main = httpx_cli  # type: ignore[attr-defined]
        sys.modules.setdefault("httpx._main", stand_in)


if __name__ == "__main__":
    main()
