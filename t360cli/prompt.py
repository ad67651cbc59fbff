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

#: A file or piped stdin larger than this is refused rather than sent (it would cost a
#: fortune in tokens).
MAX_FILE_BYTES = 4_000_000


def _decode(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{what} is not UTF-8 text (bad byte at offset {exc.start})",
            "send text, or convert it first (e.g. with iconv)",
        ) from None


def read_stdin(stdin: IO[str]) -> str:
    """Piped stdin as text, at most MAX_FILE_BYTES (the caller checks it is not a
    terminal); read in steps, so a signal is acted on while it flows."""
    from .bounded import over, read_stream

    stream = getattr(stdin, "buffer", None)
    if stream is None:  # a text stream with no bytes below it (an embedding caller)
        text = stdin.read(MAX_FILE_BYTES + 1)
        if len(text) > MAX_FILE_BYTES:
            raise over("stdin", MAX_FILE_BYTES)
        return text
    data = read_stream(stream, MAX_FILE_BYTES)
    if len(data) > MAX_FILE_BYTES:
        raise over("stdin", MAX_FILE_BYTES)
    return _decode(data, "stdin")


def read_file(path: Path, what: str) -> str:
    """A text file's content, within MAX_FILE_BYTES."""
    from .bounded import read_path

    return _decode(read_path(path, what, MAX_FILE_BYTES), f"{what} {path}")


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
