"""Entry point of the ``t360`` console script and ``python -m t360cli``.

``t360 --version`` is answered here, before Typer (and everything it imports) loads, so
it costs little more than the interpreter's own start-up.
"""

from __future__ import annotations

import sys

from . import version_line


def main() -> None:
    args = sys.argv[1:]
    if args == ["--version"]:
        try:
            sys.stdout.write(version_line() + "\n")
            sys.stdout.flush()
        except BrokenPipeError:  # ``t360 --version | false``: nothing to say
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    from .cli import run

    sys.exit(run(args))


if __name__ == "__main__":
    main()
