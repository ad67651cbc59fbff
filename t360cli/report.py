"""Where a turn's output goes, and what is printed about it once it ends.

One-shot runs and the REPL show turns the same way: the answer into a sink chosen for
the streams (JSON at the end, plain text, or live markdown), then notices, the footer
and the error line on stderr; only the footer's length differs. The footer's text and
the ``--json`` object are ``figures``'s, made from the ``stats.Turn`` that measured them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .errors import ExitCode, T360Error
from .figures import footer, turn_json
from .safety import dumps
from .stats import Turn
from .terminal import NullSink, PlainSink

if TYPE_CHECKING:
    from .environment import Environment
    from .terminal import AnswerSink


def make_sink(env: Environment, *, json_out: bool, raw: bool, quiet: bool) -> AnswerSink:
    """Where this run's answer goes: JSON at the end, plain text, or live markdown."""
    if json_out:
        return NullSink(env, show_extras=not quiet)
    if not env.stdout_isatty:
        return PlainSink(env, terminal=False, show_extras=not quiet)
    if raw or env.dumb:
        return PlainSink(env, terminal=True, show_extras=not quiet)
    from .render import MarkdownSink  # rich loads only for a terminal

    return MarkdownSink(env, show_extras=not quiet)


def outcome(turn: Turn) -> ExitCode:
    """The exit code a turn ends a run with: its error's, 130 when it was interrupted,
    else 0 (an answer cut by the token limit included)."""
    if turn.error is not None:
        return turn.error.exit_code
    if turn.interrupted:
        return ExitCode.INTERRUPTED
    return ExitCode.OK


def report_error(env: Environment, error: T360Error, model: str | None = None) -> None:
    """The one stderr line for an error: what happened, and what to do (``model``: the
    one it happened to, when several answer)."""
    env.error(f"{model}: {error.line()}" if model else error.line())


def emit_json(env: Environment, turn: Turn) -> None:
    """The ``--json`` object, alone on stdout: strict JSON, secrets scrubbed."""
    _emit(env, _as_json(env, turn))


def emit_answers(env: Environment, turns: Sequence[Turn]) -> None:
    """``compare --json``: ``{"answers": [...]}``, each the ``--json`` object of a turn."""
    _emit(env, {"answers": [_as_json(env, turn) for turn in turns]})


def _as_json(env: Environment, turn: Turn) -> dict[str, Any]:
    obj = turn_json(turn)
    if obj["error"] is not None:
        obj["error"]["message"] = env.shown(obj["error"]["message"])
    return obj


def _emit(env: Environment, obj: dict[str, Any]) -> None:
    env.stdout.write(dumps(obj, terminal=env.stdout_isatty) + "\n")
    env.stdout.flush()


def report_turn(
    env: Environment,
    turn: Turn,
    *,
    quiet: bool,
    compact: bool = False,
    extra: tuple[str, ...] = (),
    model: str | None = None,
) -> None:
    """Tool calls, the cut-answer notice, the stats footer (with ``extra`` fields such as
    the budget left) and the error, on stderr (``model``: the one that answered, named in
    the lines that would not name it, when several answer)."""
    if turn.tool_calls and turn.tool_runs is None and not quiet:  # not run: shown here
        for call in turn.tool_calls:
            function = call["function"]
            name = function["name"] or "(unnamed tool)"
            env.stderr.write(env.shown(f"tool call: {name}({function['arguments']})"))
            env.stderr.write("\n")
    if turn.finish_reason == "length":
        cut = "the answer was cut: it reached the token limit (raise --max-tokens)"
        env.warn(f"{model}: {cut}" if model else cut)
    if not quiet:
        width = env.columns - 1 if env.stderr_isatty else 10_000  # never wrapped on a screen
        line = footer(turn, compact=compact, width=width, extra=extra)
        if line:
            env.stderr.write(env.style(env.shown(line), "2") + "\n")
    env.stderr.flush()
    if turn.error is not None:
        report_error(env, turn.error, model)
