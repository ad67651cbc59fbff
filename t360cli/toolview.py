"""Tool calls on the terminal: the lines about them on stderr, and the question whether
one runs. The command or the REPL gives these to ``tools.Toolbox`` (as its ``show`` and
``approve``), which does no terminal I/O of its own."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .safety import sanitize
from .terminal import read_key

if TYPE_CHECKING:
    from .environment import Environment
    from .tools import Approve, Decision, Show

CHOICES = "run it? [y]es [n]o [a]lways "
#: Arguments shown in full before the question: at most this many lines, of at most
#: LINE characters each.
ARGUMENT_LINES = 60
LINE = 4000


def show_on(env: Environment) -> Show:
    """A line about the tools, made safe and dimmed on stderr; on a terminal, cut to
    one row of the screen."""

    def show(line: str) -> None:
        width = env.columns - 1 if env.stderr_isatty else 10_000
        text = sanitize(line)
        text = text if len(text) <= width else text[: max(1, width - 1)] + "…"
        env.stderr.write(env.style(text, "2") + "\n")
        env.stderr.flush()

    return show


def approve_on(env: Environment) -> Approve | None:
    """One key on the terminal decides whether a call runs: y, a (always) or n (also q,
    Esc, Ctrl-D, Enter); None when stderr is no terminal, so there is no one to ask. A
    call whose line was cut has its arguments shown in full first: nothing is hidden
    from the one who approves."""
    if not env.stderr_isatty:
        return None

    def approve(line: str, arguments: dict[str, Any]) -> Decision | None:
        if len(sanitize(line)) > env.columns - 1:
            _arguments_in_full(env, arguments)
        while True:
            try:
                key = read_key(env, env.style(CHOICES, "1"))
            except OSError:  # no terminal to read a key from after all
                return None
            if key == "y":
                return "yes"
            if key == "a":
                return "always"
            if key in ("n", "q", "\x1b", "\x04", "\n"):
                return "no"
            env.stderr.write(env.shown(f"{key!r} is not a choice") + "\n")

    return approve


def _arguments_in_full(env: Environment, arguments: object) -> None:
    """Arguments too long for the call's line, indented, before the question (at most
    ARGUMENT_LINES lines; the rest counted)."""
    lines = json.dumps(arguments, ensure_ascii=False, indent=2).splitlines()
    shown = [
        line if len(line) <= LINE else f"{line[:LINE]}… ({len(line) - LINE:,} more characters)"
        for line in lines[:ARGUMENT_LINES]
    ]
    if len(lines) > len(shown):
        shown.append(f"… {len(lines) - len(shown)} more lines")
    text = "\n".join(f"    {sanitize(line)}" for line in shown)
    env.stderr.write(env.style(text, "2") + "\n")
    env.stderr.flush()
