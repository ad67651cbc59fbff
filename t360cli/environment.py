"""The world a run sees: streams and what they are connected to, variables, paths, clock.

``Environment.from_process()`` is called once per process, by ``__main__`` (which hands
it the connection it started opening), and the result is passed down through the boundary
in ``cli.py``; nothing deeper reads ``sys.stdout``, ``os.environ`` or the platform
directories itself, so tests hand in fakes (a terminal that is not one, a config
directory in a temporary folder, a fixed clock).
"""

from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, NamedTuple

from .safety import one_line, scrub

if TYPE_CHECKING:
    from .network import Warm

APP = "t360"


class Paths:
    """Where t360 keeps its files; the platform's directories unless given."""

    __slots__ = ("_dirs",)

    def __init__(
        self,
        *,
        config: Path | None = None,
        data: Path | None = None,
        state: Path | None = None,
        cache: Path | None = None,
    ) -> None:
        self._dirs = {"config": config, "data": data, "state": state, "cache": cache}

    def _dir(self, kind: str) -> Path:
        found = self._dirs[kind]
        if found is None:
            import platformdirs  # loads only when a path is needed

            found = self._dirs[kind] = getattr(platformdirs, f"user_{kind}_path")(APP)
        return found

    @property
    def config_dir(self) -> Path:
        return self._dir("config")

    @property
    def data_dir(self) -> Path:
        return self._dir("data")

    @property
    def state_dir(self) -> Path:
        return self._dir("state")

    @property
    def cache_dir(self) -> Path:
        return self._dir("cache")

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def history_db(self) -> Path:
        return self.data_dir / "history.db"


class Environment(NamedTuple):
    """The process's streams, variables, paths and clock, read once."""

    stdin: IO[str]
    stdout: IO[str]
    stderr: IO[str]
    stdin_isatty: bool
    stdout_isatty: bool
    stderr_isatty: bool
    vars: Mapping[str, str]
    paths: Paths
    #: Secrets this run knows (the API key once loaded): scrubbed from all it shows.
    secrets: set[str]
    #: Wall-clock time (history dates, budgets, --since); tests fix it.
    clock: Callable[[], float] = time.time
    #: Columns and rows when the streams are not a terminal that can say (tests).
    size: tuple[int, int] | None = None
    #: The gateway connection ``__main__`` started opening before the rest of start-up.
    warm: Warm | None = None

    @classmethod
    def from_process(cls, warm: Warm | None = None) -> Environment:
        stdin, stdout, stderr = (
            _or_nowhere(sys.stdin, "r"),
            _or_nowhere(sys.stdout, "w"),
            _or_nowhere(_diagnostics(sys.stderr), "w"),
        )
        return cls(
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            stdin_isatty=_isatty(stdin),
            stdout_isatty=_isatty(stdout),
            stderr_isatty=_isatty(stderr),
            vars=os.environ,
            paths=Paths(),
            secrets=set(),
            warm=warm,
        )

    @property
    def no_color(self) -> bool:
        return self.vars.get("NO_COLOR", "") != ""

    @property
    def force_color(self) -> bool:
        return self.vars.get("FORCE_COLOR", "") not in ("", "0")

    @property
    def dumb(self) -> bool:
        return self.vars.get("TERM", "") == "dumb"

    @property
    def debug(self) -> bool:
        return self.vars.get("T360_DEBUG", "") not in ("", "0")

    @property
    def columns(self) -> int:
        """The terminal's width now (it can change during a REPL session)."""
        if self.size is not None:
            return self.size[0]
        for stream in (self.stderr, self.stdout):
            try:
                return os.get_terminal_size(stream.fileno()).columns
            except (OSError, ValueError, AttributeError):
                continue
        try:
            return max(20, int(self.vars.get("COLUMNS", "")))
        except ValueError:
            return 80

    @property
    def stderr_color(self) -> bool:
        """Whether stderr gets ANSI styling (FORCE_COLOR reaches only stderr)."""
        if self.no_color:
            return False
        return self.force_color or (self.stderr_isatty and not self.dumb)

    def style(self, text: str, sgr: str) -> str:
        """``text`` wrapped in an SGR style (e.g. ``"2"`` dim) when stderr takes colour."""
        return f"\x1b[{sgr}m{text}\x1b[0m" if self.stderr_color else text

    def shown(self, text: str) -> str:
        """The display seam for one line of stderr: secrets scrubbed, escapes made inert."""
        return one_line(scrub(text, self.secrets))

    def warn(self, message: str) -> None:
        self.stderr.write(self.style(f"t360: {self.shown(message)}", "33") + "\n")
        self.stderr.flush()

    def error(self, message: str) -> None:
        self.stderr.write(self.style(f"t360: error: {self.shown(message)}", "31") + "\n")
        self.stderr.flush()


def _or_nowhere(stream: IO[str] | None, mode: str) -> IO[str]:
    """A standard stream, or the null device in its place when t360 was started with it
    closed (``<&-``, ``>&-``, ``2>&-``): no input, output that goes nowhere, and a run
    that ends as it would have, with its own exit code."""
    if stream is not None:
        return stream
    return Path(os.devnull).open(mode, encoding="utf-8")


class _Diagnostics(io.TextIOWrapper):
    """stderr, where a write the system will not take (``2> /dev/full``, a closed pipe)
    is dropped, with all later ones: diagnostics that cannot be shown never change how a
    run ends, or its exit code."""

    def write(self, text: str) -> int:
        try:
            return super().write(text)
        except OSError:
            self._nowhere()
            return len(text)

    def flush(self) -> None:
        try:
            super().flush()
        except OSError:
            self._nowhere()

    def close(self) -> None:
        """Flushed, never closed: the bytes underneath are sys.stderr's too."""
        self.flush()

    def _nowhere(self) -> None:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass


def _diagnostics(stream: IO[str] | None) -> IO[str] | None:
    """The process's stderr as _Diagnostics, over the same bytes (sys.stderr keeps them
    open)."""
    if not isinstance(stream, io.TextIOWrapper):  # closed, or an embedder's: as it is
        return stream
    return _Diagnostics(
        stream.buffer,
        encoding=stream.encoding,
        errors=stream.errors,
        line_buffering=stream.line_buffering,
        write_through=True,
    )


def _isatty(stream: IO[str] | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (ValueError, OSError):
        return False
