"""The one boundary every run goes through, with or without Typer: errors become exit
codes here and nowhere else.

``guarded`` owns the signals (SIGTERM and SIGHUP end a run like Ctrl-C, with what was
shown saved), the closed stdout pipe (exit 0, nothing on stderr), output the system will
not take (``> /dev/full``: one line, exit 3), and the mapping of
errors to exit codes: every T360Error becomes one stderr line and its code, Ctrl-C 130,
and anything unexpected is an internal error (exit 1) reported in one line without a
traceback (T360_DEBUG=1 shows it). Commands below it only raise. No Typer here: a
one-shot reaches it before Typer loads (``entry.run`` -> ``chat_run.run_read``), and
``cli.run`` runs the Typer app inside it.
"""

from __future__ import annotations

import errno
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .environment import Environment
from .errors import UNWRITABLE, ExitCode, T360Error, Terminated, unwritable
from .report import report_error


def guarded(env: Environment, action: Callable[[], int]) -> int:
    """Run ``action`` (it returns the exit code); every error it raises as its code."""
    try:
        with _signals():
            return action()
    except T360Error as error:
        report_error(env, error)
        return error.exit_code
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except OSError as exc:
        if isinstance(exc, BrokenPipeError) or exc.errno == errno.EPIPE:
            quiet_stdout(env)  # the reader went away (``| head``): nothing more to say
            return ExitCode.OK
        if exc.errno not in UNWRITABLE:
            return _internal(env, exc)
        quiet_stdout(env)  # what is still buffered cannot be written either
        report_error(env, unwritable(exc))
        return ExitCode.CONFIG
    except Exception as exc:
        return _internal(env, exc)


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


@contextmanager
def _signals() -> Iterator[None]:
    """SIGTERM and SIGHUP (terminal closed, ssh dropped) end the run like Ctrl-C."""
    previous: dict[int, Callable[..., object] | int | None] = {}
    try:
        for number in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            if number is not None:
                previous[number] = signal.signal(number, _terminate)
    except ValueError:  # not the main thread (an embedding test): leave signals alone
        pass
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def quiet_stdout(env: Environment) -> None:
    """After a closed pipe: point stdout at /dev/null so no later flush can fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, env.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _internal(env: Environment, exc: Exception) -> int:
    if env.debug:
        raise exc
    env.error(
        f"internal error: {type(exc).__name__}: {exc} "
        "(this is a bug: please report it; T360_DEBUG=1 shows the traceback)"
    )
    return ExitCode.INTERNAL
