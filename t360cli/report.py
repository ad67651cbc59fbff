"""What is printed about a turn once it ends: JSON, notices, the footer, the error line.

One-shot runs and the REPL report turns the same way; only the footer's length differs.
"""

from __future__ import annotations

import json

from .config import scrub
from .errors import T360Error
from .stats import Turn
from .terminal import Environment, sanitize


def report_error(env: Environment, error: T360Error) -> None:
    """The one stderr line for an error: what happened, and what to do."""
    line = sanitize(scrub(error.line())).replace("\n", " ")
    env.stderr.write(env.style(f"t360: error: {line}", "31") + "\n")
    env.stderr.flush()


def emit_json(env: Environment, turn: Turn) -> None:
    """The ``--json`` object, alone on stdout."""
    obj = turn.as_json()
    if obj["error"] is not None:
        obj["error"]["message"] = scrub(obj["error"]["message"])
    env.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    env.stdout.flush()


def report_turn(env: Environment, turn: Turn, *, quiet: bool, compact: bool = False) -> None:
    """Tool calls, the cut-answer notice, the stats footer and the error, on stderr."""
    if turn.tool_calls and not quiet:
        for call in turn.tool_calls:
            function = call["function"]
            env.stderr.write(
                sanitize(f"tool call: {function['name']}({function['arguments']})") + "\n"
            )
    if turn.finish_reason == "length":
        env.warn("the answer was cut: it reached the token limit (raise --max-tokens)")
    if not quiet:
        env.stderr.write(env.style(turn.footer(compact=compact), "2") + "\n")
    env.stderr.flush()
    if turn.error is not None:
        report_error(env, turn.error)
