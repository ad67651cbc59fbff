"""Entry point of the ``t360`` console script and ``python -m t360cli``.

``t360 --version`` is answered here, before Typer (and everything it imports) loads, so
it costs little more than the interpreter's own start-up. For ``t360 chat``, the
connection to the gateway starts opening here too, while Typer and the rest load.
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
    import os

    from .startup import prewarm

    warm = prewarm(args, os.environ)  # connect to the gateway while the rest loads
    from .cli import run
    from .environment import Environment

    sys.exit(run(args, Environment.from_process(warm)))


if __name__ == "__main__":
    main()
