"""The streams t360 writes to, what they are connected to, and the writers that need no rich.

``Environment`` holds stdin/stdout/stderr and their terminal flags, read once; nothing
deeper reads ``sys.stdout`` directly, so tests can hand in fakes. The plain answer
writers, terminal-safety sanitising and stderr styling live here because they are on the
start-up path of every piped run, where importing rich would cost more than the answer.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from typing import IO, TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # only for type checking: a Protocol costs a millisecond to define
    from typing import Protocol

    class AnswerSink(Protocol):
        """Where the answer and the reasoning of one turn go while it streams."""

        def started(self, model: str) -> None: ...

        def text(self, text: str) -> None: ...

        def reasoning(self, text: str) -> None: ...

        def waiting(self, seconds: float, attempt: int, reason: str) -> None: ...

        def close(self) -> None: ...


# C0 controls except tab (09) and newline (0a), DEL, and C1 controls.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode control pictures: ESC -> U+241B
    if code == 0x7F:
        return "\u2421"
    return "\ufffd"


def sanitize(text: str) -> str:
    """Text made safe for a terminal: every control but newline and tab is made visible.

    ESC, OSC, CSI and friends can move the cursor, retitle the window or write the
    clipboard; shown as control pictures they are inert. CRLF becomes a newline.
    """
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    return _CONTROL.sub(_picture, text)


class Environment(NamedTuple):
    """The process's streams and what they are connected to, read once."""

    stdin: IO[str]
    stdout: IO[str]
    stderr: IO[str]
    stdin_isatty: bool
    stdout_isatty: bool
    stderr_isatty: bool
    no_color: bool
    force_color: bool
    dumb: bool

    @classmethod
    def from_process(cls) -> Environment:
        env = os.environ
        return cls(
            stdin=sys.stdin,
            stdout=sys.stdout,
            stderr=sys.stderr,
            stdin_isatty=_isatty(sys.stdin),
            stdout_isatty=_isatty(sys.stdout),
            stderr_isatty=_isatty(sys.stderr),
            no_color="NO_COLOR" in env and env["NO_COLOR"] != "",
            force_color=env.get("FORCE_COLOR", "") not in ("", "0"),
            dumb=env.get("TERM", "") == "dumb",
        )

    @property
    def stderr_color(self) -> bool:
        """Whether stderr gets ANSI styling (FORCE_COLOR reaches only stderr)."""
        if self.no_color:
            return False
        return self.force_color or (self.stderr_isatty and not self.dumb)

    def style(self, text: str, sgr: str) -> str:
        """``text`` wrapped in an SGR style (e.g. ``"2"`` dim) when stderr takes colour."""
        return f"\x1b[{sgr}m{text}\x1b[0m" if self.stderr_color else text

    def warn(self, message: str) -> None:
        self.stderr.write(self.style(f"t360: {message}", "33") + "\n")
        self.stderr.flush()


def _isatty(stream: IO[str] | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (ValueError, OSError):
        return False


class Spinner:
    """ "waiting for MODEL 3.2 s" on a terminal's stderr until the first token.

    It appears only after a quarter of a second, so a fast answer never flickers, and it
    is erased before anything else is written.
    """

    FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

    def __init__(self, env: Environment, *, show: bool) -> None:
        self.env = env
        self.show = show and env.stderr_isatty and not env.dumb
        self._label = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drawn = False

    def start(self, label: str | None = None) -> None:
        if not self.show or self._thread is not None:
            return
        self._label = label or self._label
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="t360-spinner", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        began = time.monotonic()
        frame = 0
        while not self._stop.wait(0.25 if frame == 0 else 0.1):
            glyph = self.FRAMES[frame % len(self.FRAMES)]
            line = f"{glyph} {self._label} {time.monotonic() - began:.1f} s"
            self.env.stderr.write(f"\r\x1b[2K{self.env.style(line, '2')}")
            self.env.stderr.flush()
            self._drawn = True
            frame += 1

    def wait(self, seconds: float, attempt: int, reason: str, *, quiet: bool) -> None:
        """Wait before a retry: the countdown takes the spinner's place meanwhile."""
        self.stop()
        countdown(self.env, seconds, attempt, reason, quiet=quiet)
        self.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        if self._drawn:
            self._drawn = False
            self.env.stderr.write("\r\x1b[2K")
            self.env.stderr.flush()


class ReasoningView:
    """Reasoning text shown dimmed on stderr as it streams, when stderr is a terminal."""

    def __init__(self, env: Environment, *, show: bool) -> None:
        self.env = env
        self.show = show and env.stderr_isatty
        self._open = False

    def write(self, text: str) -> None:
        if self.show:
            self._open = True
            self.env.stderr.write(self.env.style(sanitize(text), "2"))
            self.env.stderr.flush()

    def end(self) -> None:
        """Close the reasoning with a blank line before the answer starts."""
        if self._open:
            self._open = False
            self.env.stderr.write("\n\n")
            self.env.stderr.flush()


class PlainSink:
    """The answer written as it arrives: byte-exact to a pipe, sanitised to a terminal.

    Each chunk is flushed at once, so a reader downstream sees it without delay. The
    answer always ends with a newline. Reasoning shows only before the answer starts,
    so the two never interleave on one screen.
    """

    def __init__(self, env: Environment, *, terminal: bool, show_extras: bool) -> None:
        self.env = env
        self._terminal = terminal
        self._out = getattr(env.stdout, "buffer", None)
        self._reasoning = ReasoningView(env, show=show_extras)
        self._spinner = Spinner(env, show=show_extras)
        self._quiet = not show_extras
        self._last = ""

    def started(self, model: str) -> None:
        self._spinner.start(f"waiting for {model}")

    def text(self, text: str) -> None:
        if not self._last:
            self._spinner.stop()
            self._reasoning.end()
        if self._terminal:
            text = sanitize(text)
        self._last = text
        out = self._out
        if out is not None:
            out.write(text.encode("utf-8", "surrogateescape"))
            out.flush()
        else:
            self.env.stdout.write(text)
            self.env.stdout.flush()

    def reasoning(self, text: str) -> None:
        if not self._last:
            self._spinner.stop()
            self._reasoning.write(text)

    def waiting(self, seconds: float, attempt: int, reason: str) -> None:
        self._spinner.wait(seconds, attempt, reason, quiet=self._quiet)

    def close(self) -> None:
        self._spinner.stop()
        self._reasoning.end()
        if self._last and not self._last.endswith("\n"):
            self.text("\n")


def countdown(env: Environment, seconds: float, attempt: int, reason: str, *, quiet: bool) -> None:
    """Wait before retry ``attempt``: a live countdown on a terminal's stderr, one notice
    line when stderr is not a terminal, nothing when quiet."""
    end = time.monotonic() + seconds
    message = f"{sanitize(reason)}; retry {attempt} in"
    if quiet or not env.stderr_isatty:
        if not quiet:
            env.warn(f"{message} {seconds:.1f} s")
        time.sleep(seconds)
        return
    try:
        while (left := end - time.monotonic()) > 0:
            env.stderr.write(f"\r\x1b[2K{env.style(f'{message} {left:.0f} s', '33')}")
            env.stderr.flush()
            time.sleep(min(left, 0.25))
    finally:
        env.stderr.write("\r\x1b[2K")
        env.stderr.flush()


class NullSink:
    """For --json: nothing streams; the object at the end carries everything."""

    def __init__(self, env: Environment, *, show_extras: bool) -> None:
        self.env = env
        self.quiet = not show_extras
        self._spinner = Spinner(env, show=show_extras)

    def started(self, model: str) -> None:
        self._spinner.start(f"waiting for {model}")

    def text(self, text: str) -> None:
        self._spinner.stop()

    def reasoning(self, text: str) -> None:
        self._spinner.stop()

    def waiting(self, seconds: float, attempt: int, reason: str) -> None:
        self._spinner.wait(seconds, attempt, reason, quiet=self.quiet)

    def close(self) -> None:
        self._spinner.stop()


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
