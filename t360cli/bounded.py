"""Bounded reads of untrusted input: stdin, ``-f`` files and folders, attachments,
``ca_bundle``, the output of ``api_key_cmd``.

One place gets the limits and the signals right:

- at most ``limit + 1`` bytes are ever read, whatever the file system says of a size
  (``/dev/zero`` says 0), so an over-long input is refused with memory near the limit;
- reads go in steps of at most 1 MiB from Python, so SIGTERM, SIGHUP and Ctrl-C are acted
  on between steps even while a fast writer (``yes |``) keeps the pipe full;
- a file is opened without blocking and must be a regular file, so a FIFO with no writer,
  a device or a directory is refused instead of hanging or flooding;
- a read from a process's pipe can carry a deadline, and a command run for its output
  (``run``) ends, with whatever it started, when the deadline or the limit is passed.

Callers say what the input is (``what``) and which error a refusal is (a usage error for
what the user passed, a configuration error for settings).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, NamedTuple

from . import units
from .errors import T360Error, UsageError

#: The most one read step takes: small enough that signals are seen between steps.
STEP = 1 << 20


class Deadline(Exception):
    """A read with a deadline saw none of the rest arrive in time."""


def read_fd(fd: int, limit: int, deadline: float | None = None) -> bytes:
    """At most ``limit + 1`` bytes of ``fd`` (so a caller can tell "over the limit"), read
    in steps; with ``deadline`` (a ``time.monotonic()`` value), Deadline when it passes
    before the end."""
    import time

    chunks: list[bytes] = []
    left = limit + 1
    while left > 0:
        if deadline is not None:
            import select

            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise Deadline
        chunk = os.read(fd, min(left, STEP))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def read_stream(stream: IO[bytes], limit: int) -> bytes:
    """At most ``limit + 1`` bytes of a binary stream (piped stdin), in steps."""
    chunks: list[bytes] = []
    left = limit + 1
    while left > 0:
        chunk = stream.read(min(left, STEP))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def open_regular(
    path: Path | str,
    what: str,
    error: type[T360Error] = UsageError,
    *,
    follow: bool = True,
    hint: str | None = None,
) -> int:
    """A read-only descriptor of a regular file; ``error`` (one line, with ``hint``) when
    it cannot be opened or is a directory, a FIFO, a device or a socket. With
    ``follow=False`` a link in the last component is refused too."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}", hint) from None
    try:
        mode = os.fstat(fd).st_mode
    except OSError as exc:
        os.close(fd)
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}", hint) from None
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
        raise error(f"{what} {path} is {kind}", hint or "give a regular file")
    return fd


def over(what: str, limit: int, hint: str = "send an excerpt") -> UsageError:
    """The refusal of an input over its limit, the limit said as the README says it."""
    return UsageError(f"{what} is over {units.size(limit)}", hint)


def read_path(
    path: Path | str,
    what: str,
    limit: int,
    error: type[T360Error] = UsageError,
    hint: str | None = None,
) -> bytes:
    """A regular file's bytes, at most ``limit``; ``error`` (with ``hint``) when it is
    larger, not a regular file, or cannot be read."""
    fd = open_regular(path, what, error, hint=hint)
    try:
        data = read_fd(fd, limit)
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}", hint) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise error(f"{what} {path} is over {units.size(limit)}", hint or "send an excerpt")
    return data


class Ran(NamedTuple):
    status: int
    output: bytes  # at most limit + 1 bytes: longer means over the limit


def run(
    command: str | Sequence[str], environ: Mapping[str, str], limit: int, timeout: float
) -> Ran:
    """Run ``command`` (a shell line, or argv) for its stdout: at most ``limit + 1`` bytes
    read, Deadline when it is not over within ``timeout`` seconds. It runs in a session of
    its own with stdin closed, and its process group is killed if it is still running, so
    nothing it started outlives the call. OSError when it cannot start."""
    import contextlib
    import signal
    import subprocess
    import time

    deadline = time.monotonic() + timeout
    process = subprocess.Popen(
        command,
        shell=isinstance(command, str),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=dict(environ),
        start_new_session=True,
    )
    assert process.stdout is not None
    try:
        output = read_fd(process.stdout.fileno(), limit, deadline)
        if len(output) > limit:
            return Ran(-1, output)
        try:
            status = process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise Deadline from None
    finally:
        if process.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        process.stdout.close()
    return Ran(status, output)
