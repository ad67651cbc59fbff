"""Bounded reads of untrusted input: stdin, ``-f`` files and folders, attachments,
``ca_bundle``, the output of ``api_key_cmd``.

One place gets the limits and the signals right:

- at most ``limit + 1`` bytes are ever read, whatever the file system says of a size
  (``/dev/zero`` says 0), so an over-long input is refused with memory near the limit;
- reads go in steps of at most 1 MiB from Python, so SIGTERM, SIGHUP and Ctrl-C are acted
  on between steps even while a fast writer (``yes |``) keeps the pipe full;
- a file is opened without blocking and must be a regular file, so a FIFO with no writer,
  a device or a directory is refused instead of hanging or flooding;
- a read from a process's pipe can carry a deadline.

Callers say what the input is (``what``) and which error a refusal is (a usage error for
what the user passed, a configuration error for settings).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import IO

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
