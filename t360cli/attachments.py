"""Attachments (``-a``, REPL ``/attach``): images, PDFs and audio sent as content parts,
their type read from their bytes; and what ``-f`` adds beyond a file: every text file
under a directory, or a web page as readable text.

An attachment is read with a hard limit (20 MB + 1 byte, whatever the file system says)
and refused, with one line and exit 2, when it is text (``-f`` is for that), a binary of
another kind, missing, unreadable, a directory, or too large. An http(s) URL is passed
to the model as an image URL, not downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, NamedTuple

from . import units
from .errors import UsageError

#: The largest attachment sent (bytes), and the most ``-f DIR`` adds in all.
MAX_ATTACHMENT = 20_000_000
MAX_DIRECTORY = 2_000_000
#: What can be attached: MIME type -> kind of content part (and the audio format).
KINDS = {
    "image/png": "image",
    "image/jpeg": "image",
    "image/gif": "image",
    "image/webp": "image",
    "application/pdf": "pdf",
    "audio/x-wav": "audio",
    "audio/wav": "audio",
    "audio/mpeg": "audio",
}
SKIPPED_DIRS = {".git", ".hg", ".svn", ".bzr", "__pycache__", "node_modules", ".venv"}


class Attachment(NamedTuple):
    kind: str  # "image", "pdf", "audio" or "url"
    name: str  # the file name, "stdin", or the URL
    mime: str | None
    size: int
    sha256: str | None  # None for a URL
    data: bytes | None  # None for a URL; loaded on demand from the history store

    def label(self) -> str:
        """How it is listed: ``[image red.png 1.2 KB]``."""
        if self.kind == "url":
            return f"[image {self.name}]"
        return f"[{self.kind} {Path(self.name).name} {_size(self.size)}]"


def _size(count: int) -> str:
    for unit, scale in (("MB", 1_000_000), ("KB", 1_000)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} B"


def _looks_like_text(data: bytes) -> bool:
    if b"\0" in data[:8192]:
        return False
    try:
        data[:8192].decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > 8180  # a character cut at the end of the sample
    return True


def from_bytes(name: str, data: bytes) -> Attachment:
    """An attachment of ``data``; refused unless it is an image, a PDF or audio."""
    import filetype

    found = filetype.guess(data[:8192])
    mime = found.mime if found is not None else None
    if mime in KINDS:
        import hashlib

        digest = hashlib.sha256(data).hexdigest()
        return Attachment(KINDS[mime], name, mime, len(data), digest, data)
    if mime is None and _looks_like_text(data):
        raise UsageError(f"{name} is a text file, not an attachment", f"add it with -f {name}")
    what = f"{mime} ({found.extension})" if found is not None else "an unknown binary type"
    raise UsageError(
        f"{name} is {what}, which cannot be attached",
        "attach a PNG, JPEG, GIF or WebP image, a PDF, or WAV or MP3 audio",
    )


def load(spec: str, stdin: IO[str]) -> Attachment:
    """What ``-a SPEC`` names: a file, ``-`` for stdin, or an http(s) URL."""
    if spec.startswith(("http://", "https://")):
        from urllib.parse import urlsplit

        if not urlsplit(spec).hostname:
            raise UsageError(f"-a {spec}: not a URL with a host")
        return Attachment("url", spec, None, 0, None, None)
    if spec == "-":
        stream = getattr(stdin, "buffer", None)
        data = stream.read(MAX_ATTACHMENT + 1) if stream is not None else b""
        if len(data) > MAX_ATTACHMENT:
            raise UsageError(f"the attachment on stdin is larger than {MAX_ATTACHMENT:,} bytes")
        if not data:
            raise UsageError("-a - found nothing on stdin", "pipe the file in")
        return from_bytes("stdin", data)
    from .prompt import read_limited

    return from_bytes(spec, read_limited(Path(spec), "attachment", MAX_ATTACHMENT))


def part(attachment: Attachment) -> dict[str, Any]:
    """The content part that sends it (OpenAI-compatible, see token360-api.md)."""
    if attachment.kind == "url":
        return {"type": "image_url", "image_url": {"url": attachment.name}}
    import base64

    assert attachment.data is not None
    encoded = base64.b64encode(attachment.data).decode("ascii")
    if attachment.kind == "image":
        return {
            "type": "image_url",
            "image_url": {"url": f"data:{attachment.mime};base64,{encoded}"},
        }
    if attachment.kind == "pdf":
        name = Path(attachment.name).name if attachment.name != "stdin" else "document.pdf"
        return {
            "type": "file",
            "file": {"filename": name, "file_data": f"data:application/pdf;base64,{encoded}"},
        }
    audio = "mp3" if attachment.mime == "audio/mpeg" else "wav"
    return {"type": "input_audio", "input_audio": {"data": encoded, "format": audio}}


def content(text: str, attached: Sequence[Attachment]) -> str | list[dict[str, Any]]:
    """A user message's content: the text alone, or the text first, then the parts."""
    if not attached:
        return text
    return [{"type": "text", "text": text}, *(part(a) for a in attached)]


def text_of(value: object) -> str:
    """The text of a message's content, whether a string or a list of parts."""
    if isinstance(value, list):
        return "".join(
            str(p.get("text", "")) for p in value if isinstance(p, dict) and p.get("type") == "text"
        )
    return str(value)


# -- -f DIR -------------------------------------------------------------------------------


class TextFile(NamedTuple):
    relative: str
    text: str
    size: int


def _walk(root: Path) -> Iterator[Path]:
    """Files under ``root``, hidden and VCS folders and hidden files left out, and what a
    ``.gitignore`` at the root (or in a folder below it) matches."""
    import pathspec

    specs: list[tuple[Path, pathspec.GitIgnoreSpec]] = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        ignore = here / ".gitignore"
        if ignore.is_file():
            with ignore.open(encoding="utf-8", errors="replace") as handle:
                specs.append((here, pathspec.GitIgnoreSpec.from_lines(handle)))

        def ignored(path: Path, is_dir: bool) -> bool:
            for base, spec in specs:
                if base in path.parents:
                    relative = path.relative_to(base).as_posix() + ("/" if is_dir else "")
                    if spec.match_file(relative):
                        return True
            return False

        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and d not in SKIPPED_DIRS and not ignored(here / d, True)
        )
        for name in sorted(files):
            path = here / name
            if not name.startswith(".") and not ignored(path, False):
                yield path


def read_directory(root: Path, warn: Callable[[str], None]) -> list[TextFile]:
    """Every text file under ``root`` (binaries skipped), labelled with its relative path;
    refused (exit 2, the largest listed) when they add up to more than 2 MB."""
    from .prompt import read_limited

    found: list[TextFile] = []
    skipped = 0
    for path in _walk(root):
        try:
            data = read_limited(path, "file", MAX_DIRECTORY)
        except UsageError:
            skipped += 1  # special files, unreadable or alone too large: not text to add
            continue
        if not _looks_like_text(data):
            skipped += 1
            continue
        text = data.decode("utf-8", errors="replace")
        found.append(TextFile(path.relative_to(root).as_posix(), text, len(data)))
    total = sum(f.size for f in found)
    if total > MAX_DIRECTORY:
        largest = sorted(found, key=lambda f: -f.size)[:5]
        listed = ", ".join(f"{f.relative} ({_size(f.size)})" for f in largest)
        raise UsageError(
            f"{root} holds {_size(total)} of text, more than the {_size(MAX_DIRECTORY)} limit",
            f"the largest: {listed}; point -f at a smaller folder or add a .gitignore",
        )
    extra = f", {skipped} binary or unreadable skipped" if skipped else ""
    warn(f"-f {root}: {len(found)} text files, {units.count(total)} bytes{extra}")
    return found


# -- -f URL -------------------------------------------------------------------------------

#: The most of a web page that is read.
MAX_PAGE = 5_000_000


def readable(content_type: str, body: bytes, url: str) -> str:
    """A fetched page as text: HTML as Markdown (scripts and styles dropped), plain text as
    it is; anything else refused with a hint to ``-a``."""
    kind = content_type.partition(";")[0].strip().lower()
    charset = "utf-8"
    for field in content_type.split(";")[1:]:
        key, _, value = field.strip().partition("=")
        if key.lower() == "charset" and value:
            charset = value.strip('"')
    try:
        text = body.decode(charset, errors="replace")
    except LookupError:
        text = body.decode("utf-8", errors="replace")
    if kind in ("text/html", "application/xhtml+xml"):
        from bs4 import BeautifulSoup
        from markdownify import markdownify

        soup = BeautifulSoup(text, "html.parser")
        for element in soup(["script", "style", "noscript", "template", "head", "svg"]):
            element.decompose()
        markdown: str = markdownify(str(soup), heading_style="ATX")
        lines = [line.rstrip() for line in markdown.splitlines()]
        return "\n".join(line for i, line in enumerate(lines) if line or (i and lines[i - 1]))
    if kind.startswith("text/") or kind in ("application/json", "application/xml"):
        return text
    raise UsageError(
        f"{url} is {kind or 'of no stated type'}, not a page of text",
        f"attach images, PDFs and audio with -a {url}",
    )


def gather(
    specs: Sequence[str],
    fetch: Callable[[str], tuple[str, bytes]],
    warn: Callable[[str], None],
) -> list[tuple[str, str]]:
    """What ``-f`` adds, as (label, text): a file; every text file under a directory; a
    web page (``fetch`` gets it through the gateway's network settings)."""
    from .errors import StreamError
    from .prompt import read_file

    texts: list[tuple[str, str]] = []
    for spec in specs:
        if spec.startswith(("http://", "https://")):
            try:
                content_type, body = fetch(spec)
            except StreamError as exc:
                raise UsageError(exc.message, "point -f at a smaller page") from None
            texts.append((spec, readable(content_type, body, spec)))
        elif Path(spec).is_dir():
            root = Path(spec)
            texts += [(f"{root / f.relative}", f.text) for f in read_directory(root, warn)]
        else:
            texts.append((spec, read_file(Path(spec), "file")))
    return texts
