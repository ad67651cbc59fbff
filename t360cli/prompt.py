"""The user message of a one-shot run, from the prompt words, piped stdin and ``-f`` files.

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


def read_file(path: Path, what: str) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UsageError(
                f"{what} {path} is {size / 2**20:.1f} MiB; the limit is "
                f"{MAX_FILE_BYTES // 2**20} MiB",
                "send a smaller excerpt",
            )
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    return _decode(data, f"{what} {path}")


def _fence(text: str) -> str:
    """A backtick fence longer than any run of backticks inside ``text``."""
    longest = run = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def compose(words: Sequence[str], stdin_text: str | None, files: Sequence[Path]) -> str:
    """The user message; empty when there is nothing to send."""
    stdin_text = stdin_text if stdin_text and stdin_text.strip() else None
    parts: list[str] = []
    if "-" in words:
        at = list(words).index("-")
        before, after = " ".join(words[:at]), " ".join(w for w in words[at + 1 :] if w != "-")
        parts = [p for p in (before, stdin_text, after) if p]
    else:
        parts = [p for p in (" ".join(words), stdin_text) if p]
    for path in files:
        body = read_file(path, "file")
        fence = _fence(body)
        newline = "" if body.endswith("\n") or not body else "\n"
        parts.append(f"{path}:\n{fence}\n{body}{newline}{fence}")
    return "\n\n".join(part.strip("\n") if part is stdin_text else part for part in parts)
