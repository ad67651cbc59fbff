"""Helpers for running the installed t360 the way a user or a script does."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from t360cli.environment import Environment, Paths
from t360cli.mockserver import MockServer

#: The installed console script, next to the interpreter running the tests.
T360 = str(Path(sys.executable).parent / "t360")
KEY = "sk-test-4f9c2a7b1d3e5f60"


@dataclass
class Result:
    code: int
    stdout: bytes
    stderr: bytes

    @property
    def out(self) -> str:
        return self.stdout.decode()

    @property
    def err(self) -> str:
        return self.stderr.decode()


def run_t360(
    *args: str,
    input: bytes = b"",
    env: Mapping[str, str] | None = None,
) -> Result:
    """t360 as a script runs it (stdin empty unless given, nothing a terminal), in this
    process through its boundary: most tests need no process of their own, and spawning
    one costs more than the test. ``run_process`` is for what only a process shows
    (``__main__``'s early connection, signals, real pipes)."""
    return invoke(*args, input=input, env=env)


def run_process(
    *args: str,
    input: bytes | None = b"",
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> Result:
    """Run the installed t360 in real pipes; stdin is empty unless given."""
    proc = subprocess.run(
        [T360, *args],
        input=input,
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def invoke(
    *args: str,
    input: str | bytes = b"",
    env: Mapping[str, str] | None = None,
    tty: bool = False,
    stdin_tty: bool = False,
    columns: int = 80,
    clock: float | None = None,
) -> Result:
    """Run t360 in this process as ``__main__`` does (``entry.run``: a one-shot chat
    without Typer when its flags allow, else the Typer app), with fake streams.

    ``tty`` makes stdout and stderr claim to be a terminal; ``stdin_tty`` stdin. The
    variables are this process's (the isolated test dirs) plus ``env``.
    """
    import io

    from t360cli.entry import run

    data = input.encode() if isinstance(input, str) else input
    stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    stderr = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    environment = Environment(
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        stdin_isatty=stdin_tty,
        stdout_isatty=tty,
        stderr_isatty=tty,
        vars={**os.environ, **(env or {})},
        paths=Paths(),
        secrets=set(),
        size=(columns, 24),
        **({"clock": lambda: clock} if clock is not None else {}),
    )
    code = run(list(args), environment)
    return Result(code, _bytes(stdout), _bytes(stderr))


def repl_run(
    *lines: str, args: tuple[str, ...] = (), env: Mapping[str, str] | None = None
) -> Result:
    """A REPL session in this process: ``t360 chat ARGS`` with stdin a terminal, the lines
    typed through prompt_toolkit's pipe input, then Ctrl-D. What the REPL prints (answers
    and its own messages) comes back as with ``invoke``; what only a terminal shows
    (Ctrl-C, completion menus, redraws) is for the pty tests."""
    from prompt_toolkit.application import create_app_session
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    with create_pipe_input() as typed, create_app_session(input=typed, output=DummyOutput()):
        typed.send_text("".join(f"{line}\r" for line in lines) + "\x04")
        return invoke("chat", *args, env=env, stdin_tty=True)


def fake_environment(
    *,
    stdout: Any = None,
    stderr: Any = None,
    tty: bool = False,
    vars: Mapping[str, str] | None = None,
    columns: int = 80,
) -> Environment:
    """An Environment over StringIO streams (or the ones given), claiming ``tty``."""
    import io

    return Environment(
        stdin=io.StringIO(),
        stdout=stdout if stdout is not None else io.StringIO(),
        stderr=stderr if stderr is not None else io.StringIO(),
        stdin_isatty=False,
        stdout_isatty=tty,
        stderr_isatty=False,
        vars=dict(vars or {}),
        paths=Paths(),
        secrets=set(),
        size=(columns, 24),
    )


def _bytes(stream: Any) -> bytes:
    stream.flush()
    return bytes(stream.buffer.getvalue())


def chat_env(server: MockServer, **extra: str) -> dict[str, str]:
    return {"T360_API_KEY": KEY, "T360_BASE_URL": server.url, **extra}


@dataclass
class TtyRun:
    code: int | None
    signal: int | None
    data: bytes

    def screen(self, columns: int = 80, rows: int = 24) -> list[str]:
        """Every line a terminal emulator shows, scrollback first, trailing blanks cut."""
        import pyte

        screen = pyte.HistoryScreen(columns, rows, history=100_000)
        pyte.ByteStream(screen).feed(self.data)
        history = [
            "".join(char.data for char in line.values()).rstrip() for line in screen.history.top
        ]
        lines = history + [line.rstrip() for line in screen.display]
        while lines and not lines[-1]:
            lines.pop()
        return lines


def spawn_t360(
    *args: str,
    env: Mapping[str, str] | None = None,
    columns: int = 80,
    rows: int = 24,
    encoding: str | None = None,
) -> Any:
    """t360 in a real pseudo-terminal (stdin, stdout and stderr all on it)."""
    import pexpect

    return pexpect.spawn(
        T360,
        list(args),
        env={**os.environ, "TERM": "xterm-256color", **(env or {})},
        dimensions=(rows, columns),
        timeout=30,
        encoding=encoding,
        codec_errors="replace",
    )


def run_tty(
    *args: str, env: Mapping[str, str] | None = None, columns: int = 80, rows: int = 24
) -> TtyRun:
    import pexpect

    child = spawn_t360(*args, env=env, columns=columns, rows=rows)
    child.expect(pexpect.EOF)
    data: bytes = child.before
    child.close()
    return TtyRun(child.exitstatus, child.signalstatus, data)


def paths() -> Paths:
    """This test's directories (the isolated XDG folders of conftest)."""
    return Paths()


def open_history() -> Any:
    from t360cli.history import History

    return History.open(paths().history_db)


def peak_memory_kib(*args: str, env: dict[str, str]) -> tuple[int, int]:
    """Exit code and peak RSS of one t360 run, measured by a fresh parent process."""
    code = (
        "import resource, subprocess, sys\n"
        "rc = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL,\n"
        "                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode\n"
        "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, T360, *args],
        capture_output=True,
        timeout=120,
        check=True,
        env={**os.environ, **env},
    )
    rc, peak = proc.stdout.split()
    return int(rc), int(peak)


@contextmanager
def refused_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses every connection while the block runs: bound but
    never listening, so no other test or process can listen on it meanwhile (and no
    client gets it as its own port). No SO_REUSEADDR: that would let a server bind it."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False), for
    states nothing notifies (another process's signal handlers, a pipe's fill)."""
    interval = 0.01
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / interval) + 1):
        if condition():
            return True
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    return condition()


def catches(pid: int, signum: int) -> bool:
    """Whether process ``pid`` has a handler for ``signum`` (Linux: SigCgt in
    /proc/PID/status); ProcessLookupError once it has ended."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        raise ProcessLookupError(pid) from None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    if fields["State"].strip().startswith("Z"):
        raise ProcessLookupError(pid)
    return bool(int(fields["SigCgt"], 16) & (1 << (signum - 1)))


def wait_for_handler(pid: int, signum: int, timeout: float = 30.0) -> None:
    """Wait until process ``pid`` catches ``signum``: sent earlier, the signal's default
    action would end a process still starting up."""
    name = signal.Signals(signum).name
    assert wait_until(lambda: catches(pid, signum), timeout), (
        f"process {pid} installed no {name} handler within {timeout:g} s"
    )


def first_line(stream: IO[bytes], within: float = 30.0) -> str:
    """The first line a process writes to ``stream``, once it is there (AssertionError
    if it is not within ``within`` seconds, or the process ends first)."""
    import select

    deadline = time.monotonic() + within
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([stream], [], [], left)[0]:
            raise AssertionError(f"no line in {within:g} s: {line!r}")
        byte = os.read(stream.fileno(), 1)
        if not byte:
            raise AssertionError(f"the process ended before its first line: {line!r}")
        line += byte
    return line.decode().strip()
