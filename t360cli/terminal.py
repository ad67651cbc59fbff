"""The writers that need no rich: plain answers, the spinner, reasoning, retry countdowns.

They are on the start-up path of every piped run, where importing rich would cost more
than the answer; ``render.py`` holds the rich ones.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from .environment import Environment
from .errors import ConfigError
from .safety import sanitize

if TYPE_CHECKING:  # only for type checking: a Protocol costs a millisecond to define
    from typing import Protocol

    class AnswerSink(Protocol):
        """Where the answer and the reasoning of one turn go while it streams."""

        def started(self, model: str) -> None: ...

        def text(self, text: str) -> None: ...

        def reasoning(self, text: str) -> None: ...

        def waiting(self, seconds: float, attempt: int, reason: str) -> None: ...

        def close(self) -> None: ...

    class View(Protocol):
        """What shows several answers at once (``t360 compare``), each by its place."""

        def add(self, index: int, text: str) -> None: ...

        def thinking(self, index: int) -> None: ...

        def waiting(self, index: int, seconds: float, attempt: int, reason: str) -> None: ...


class Spinner:
    """ "waiting for MODEL 3.2 s" on a terminal's stderr until the first token.

    It appears only after a quarter of a second, so a fast answer never flickers, and it
    is erased before anything else is written.
    """

    FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
    #: Seconds before the first frame (an answer quicker than this shows no spinner), and
    #: between frames.
    DELAY = 0.25
    INTERVAL = 0.1

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
        while not self._stop.wait(self.DELAY if frame == 0 else self.INTERVAL):
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
    message = f"{env.shown(reason)}; retry {attempt} in"
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


class ViewSink:
    """One answer's sink into a view of several (``t360 compare``): its text, its
    reasoning and its waits, each told to the view with the answer's place."""

    def __init__(self, view: View, index: int) -> None:
        self._view = view
        self._index = index

    def started(self, model: str) -> None:
        pass

    def text(self, text: str) -> None:
        self._view.add(self._index, text)

    def reasoning(self, text: str) -> None:
        self._view.thinking(self._index)

    def waiting(self, seconds: float, attempt: int, reason: str) -> None:
        self._view.waiting(self._index, seconds, attempt, reason)

    def close(self) -> None:
        pass


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


def run_editor(env: Environment, path: Path) -> None:
    """Open ``path`` in ``$VISUAL``/``$EDITOR`` (else vi), on the terminal: when stdin
    or stdout is a pipe, the editor gets ``/dev/tty``."""
    import shlex
    import subprocess

    editor = env.vars.get("VISUAL") or env.vars.get("EDITOR") or "vi"
    tty = None
    try:
        if not (env.stdin_isatty and env.stdout_isatty):
            # no terminal at all (a script's editor): the editor gets our streams as they are
            with contextlib.suppress(OSError):
                tty = Path("/dev/tty").open("r+b", buffering=0)  # noqa: SIM115 - closed below
        subprocess.run(
            [*shlex.split(editor), str(path)], check=True, stdin=tty, stdout=tty, env=dict(env.vars)
        )
    except (OSError, subprocess.CalledProcessError, ValueError) as exc:
        raise ConfigError(
            f"the editor {editor!r} failed: {exc}", "check $VISUAL or $EDITOR"
        ) from None
    finally:
        if tty is not None:
            tty.close()


def edit_text(env: Environment, initial: str) -> str:
    """Text written in the editor, starting from ``initial``; stripped ("" if emptied).

    The draft ends with a newline, as editors write files, so an editor (or a script)
    that appends a line does not glue it to the last word; it is stripped back after."""
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".md", delete=False, encoding="utf-8") as draft:
        draft.write(initial if not initial or initial.endswith("\n") else initial + "\n")
    path = Path(draft.name)
    try:
        run_editor(env, path)
        return path.read_text(encoding="utf-8", errors="replace").strip()
    finally:
        path.unlink(missing_ok=True)


def copy_to_clipboard(env: Environment, text: str) -> str:
    """Copy with the system's clipboard tool, or through the terminal (OSC 52)."""
    import base64
    import shutil
    import subprocess

    for command in (
        ["pbcopy"],
        ["wl-copy"],
        ["xclip", "-selection", "clipboard"],
        ["xsel", "--clipboard", "--input"],
    ):
        if shutil.which(command[0]):
            try:
                subprocess.run(
                    command, input=text.encode(), check=True, timeout=5, capture_output=True
                )
            except (OSError, subprocess.SubprocessError):
                continue
            return f"with {command[0]}"
    payload = base64.b64encode(text.encode()).decode()
    env.stdout.write(f"\x1b]52;c;{payload}\x07")
    env.stdout.flush()
    return "through the terminal (OSC 52)"


def has_controlling_terminal() -> bool:
    """Whether ``/dev/tty`` opens, so ``read_key`` can ask: not under ``setsid`` or a
    service, even when stdout is a terminal."""
    import os

    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
    except OSError:
        return False
    return True


def read_key(env: Environment, prompt: str) -> str:
    """One key pressed on the terminal (``/dev/tty``, so piped stdin does not matter),
    lower-cased; Esc is ``"\\x1b"``. Ctrl-C raises KeyboardInterrupt as usual."""
    import os
    import termios
    import tty

    try:
        with Path("/dev/tty").open("rb+", buffering=0) as terminal:
            fd = terminal.fileno()
            saved = termios.tcgetattr(fd)
            try:
                tty.setcbreak(fd)  # one key, no Enter; Ctrl-C still interrupts
                # asked only now: a key pressed as soon as the question shows is neither
                # echoed by the cooked terminal nor met outside the newline's finally
                env.stderr.write(prompt)
                env.stderr.flush()
                key = os.read(fd, 1)
                termios.tcflush(fd, termios.TCIFLUSH)  # the rest of an arrow key's sequence
            finally:
                termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    finally:  # a key, Ctrl-C or no terminal: whatever comes next starts on a line of its own
        env.stderr.write("\n")
        env.stderr.flush()
    return key.decode("utf-8", "replace").lower()


@contextlib.contextmanager
def typeahead(env: Environment) -> Iterator[None]:
    """While an answer streams on a terminal: the keys typed are not echoed into it, and
    wait, Ctrl-D among them, for the next prompt to read as if typed there.

    Between prompts the terminal is in cooked mode, which echoes keys where the answer is
    being written and takes Ctrl-D as the end of input, lost by the time the prompt
    reads. The line discipline's own editing and echo are turned off meanwhile (as the
    prompt's raw mode does), Ctrl-C still interrupts, and the mode is restored without
    flushing what was typed.
    """
    import termios

    try:
        fd = env.stdin.fileno()
        saved = termios.tcgetattr(fd) if env.stdin_isatty else None
    except (OSError, ValueError, termios.error):
        saved = None
    if saved is None:
        yield
        return
    quiet = list(saved)
    quiet[0] &= ~termios.ICRNL  # Enter stays the CR the prompt knows
    quiet[3] &= ~(termios.ECHO | termios.ICANON | termios.IEXTEN)
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)
