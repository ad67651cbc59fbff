"""The user message of a one-shot run, from the prompt words, piped stdin and ``-f`` texts.

Layout (documented in the README): the prompt words joined by spaces; then, after a blank
line, the piped stdin text; then each file in a fenced block labelled with its path. A
prompt word ``-`` puts the stdin text at that place instead of after the words.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import IO

from .errors import UsageError

#: A file larger than this is refused rather than sent (it would cost a fortune in tokens).
MAX_FILE_BYTES = 4 * 1024 * 1024


def _decode(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{what} is not UTF-8 text (bad byte at offset {exc.start})",
            "send text, or convert it first (e.g. with iconv)",
        ) from None


def read_stdin(stdin: IO[str]) -> str:
    """All of piped stdin as text (the caller checks it is not a terminal)."""
    stream = getattr(stdin, "buffer", None)
    data = stream.read() if stream is not None else stdin.read().encode("utf-8")
    return _decode(data, "stdin")


def read_limited(path: Path, what: str, limit: int) -> bytes:
    """A regular file's bytes, at most ``limit``: refused (exit 2) when it is larger,
    not a regular file (a device, a FIFO, a directory), or cannot be read.

    The size the file system reports is not trusted (``/dev/zero`` says 0): at most
    ``limit + 1`` bytes are read, whatever it says. The file is opened without blocking,
    so a FIFO with no writer is refused instead of hanging.
    """
    import os
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
            raise UsageError(f"{what} {path} is {kind}", "give a regular file")
        chunks: list[bytes] = []
        left = limit + 1
        size = os.fstat(fd).st_size
        first = min(left, size + 1) if size else min(left, 1 << 20)  # no realloc, mostly
        while left > 0 and (chunk := os.read(fd, first if not chunks else min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if len(data) > limit:
        raise UsageError(
            f"{what} {path} is larger than the limit of {limit / 2**20:g} MiB",
            "send a smaller excerpt",
        )
    return data


def read_file(path: Path, what: str) -> str:
    """A text file's content, within MAX_FILE_BYTES."""
    return _decode(read_limited(path, what, MAX_FILE_BYTES), f"{what} {path}")


def check_argument(text: str, what: str = "the prompt") -> str:
    """Command-line text that is not valid UTF-8 arrives with surrogate escapes: refused."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UsageError(
            f"{what} is not valid UTF-8 (bad byte at character {exc.start + 1})",
            "fix the terminal's or the script's encoding",
        ) from None
    return text


def _fence(text: str) -> str:
    """A backtick fence longer than any run of backticks inside ``text``."""
    longest = run = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def compose(words: Sequence[str], stdin_text: str | None, files: Sequence[tuple[str, str]]) -> str:
    """The user message; empty when there is nothing to send (or only white space).
    ``files`` are (label, text) pairs: a file's path, a directory's files, a page's URL."""
    for word in words:
        check_argument(word)
    stdin_text = stdin_text if stdin_text and stdin_text.strip() else None
    parts: list[str] = []
    if "-" in words:
        at = list(words).index("-")
        before, after = " ".join(words[:at]), " ".join(w for w in words[at + 1 :] if w != "-")
        parts = [p for p in (before, stdin_text, after) if p]
    else:
        parts = [p for p in (" ".join(words), stdin_text) if p]
    for label, body in files:
        fence = _fence(body)
        newline = "" if body.endswith("\n") or not body else "\n"
        parts.append(f"{label}:\n{fence}\n{body}{newline}{fence}")
    message = "\n\n".join(part.strip("\n") if part is stdin_text else part for part in parts)
    return message if message.strip() else ""
