"""Helpers for running the installed t360 the way a user or a script does."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
