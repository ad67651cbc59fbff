"""``t360 chat``'s flags read straight from argv, before Typer loads.

Typer costs a one-shot 15-20 ms before its request can leave (its import, the app, its
parser): a sixth of the time to the first answer byte. ``entry.run`` asks ``parse`` first;
what it reads is exactly what Typer would pass the ``chat`` function, and anything it
does not take as plainly valid it leaves to Typer (None), so every error message and
every corner stays Typer's own: an unknown or misspelt flag, ``-h``/``--help``, ``--``,
bundled short flags (``-qy``), a value glued to a short flag (``-mfast``), a value that
starts with ``-`` (but ``-`` itself, stdin), a number Typer would refuse, a flag given a
value, ``--system-file`` (click checks the file). A test compares the two readers over
many command lines. The table is generated from the Typer app (``argv_table.py``).
"""

from __future__ import annotations

from collections.abc import Sequence


def parse(args: Sequence[str]) -> dict[str, object] | None:
    """The ``chat`` function's parameters for ``args`` (the words after ``chat``), as
    Typer passes them; None when Typer must read them."""
    from .argv_table import ARGUMENT, DEFAULTS, OPTIONS

    given: dict[str, object] = {}
    repeated: dict[str, list[object]] = {}
    words: list[str] = []
    at = 0
    while at < len(args):
        arg = args[at]
        at += 1
        if arg == "-" or not arg.startswith("-"):
            words.append(arg)  # click's rule: "-" and what has no leading dash are words
            continue
        name, glued, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        found = OPTIONS.get(name)
        if found is None:
            return None
        field, kind, repeats, least = found
        if kind == "flag":
            if glued:
                return None
            given[field] = True
            continue
        if not glued:
            if at == len(args) or (args[at].startswith("-") and args[at] != "-"):
                return None
            inline = args[at]
            at += 1
        value = _converted(str(kind), inline, least)
        if value is None:
            return None
        if repeats:
            repeated.setdefault(str(field), []).append(value)
        else:
            given[str(field)] = value
    return {**DEFAULTS, **given, **repeated, ARGUMENT: words or None}


def _converted(kind: str, text: str, least: object) -> object | None:
    """``text`` as click converts it for ``kind``; None when click would refuse it (or
    when only Typer reads this kind)."""
    if kind == "str":
        return text
    try:
        if kind == "int":
            number = int(text)
            return None if isinstance(least, int) and number < least else number
        if kind == "float":
            return float(text)
    except ValueError:
        return None
    return None
