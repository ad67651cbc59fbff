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
from collections.abc import Callable, Iterator, Mapping, Sequence
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
        return f"[{self.kind} {Path(self.name).name} {units.size(self.size)}]"


def _looks_like_text(data: bytes) -> bool:
    if b"\0" in data[:8192]:
        return False
    try:
        data[:8192].decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > 8180  # a character cut at the end of the sample
    return True


def from_bytes(name: str, data: bytes, text_flag: str = "-f") -> Attachment:
    """An attachment of ``data``; refused unless it is an image, a PDF or audio (text is
    pointed at ``text_flag``: ``-f``, or the REPL's ``/file``)."""
    import filetype

    found = filetype.guess(data[:8192])
    mime = found.mime if found is not None else None
    if mime in KINDS:
        import hashlib

        digest = hashlib.sha256(data).hexdigest()
        return Attachment(KINDS[mime], name, mime, len(data), digest, data)
    if mime is None and _looks_like_text(data):
        hint = "pipe it in without -a - to send it as the prompt"
        raise UsageError(
            f"{name} is a text file, not an attachment",
            hint if name == "stdin" else f"add it with {text_flag} {name}",
        )
    what = f"{mime} ({found.extension})" if found is not None else "an unknown binary type"
    raise UsageError(
        f"{name} is {what}, which cannot be attached",
        "attach a PNG, JPEG, GIF or WebP image, a PDF, or WAV or MP3 audio",
    )


def load(
    spec: str, stdin: IO[str], environ: Mapping[str, str], text_flag: str = "-f"
) -> Attachment:
    """What ``-a SPEC`` names: a file, ``-`` for stdin, ``clipboard``, or an http(s) URL
    (``./clipboard`` names a file of that name)."""
    if spec.startswith(("http://", "https://")):
        from urllib.parse import urlsplit

        if not urlsplit(spec).hostname:
            raise UsageError(f"-a {spec}: not a URL with a host")
        return Attachment("url", spec, None, 0, None, None)
    from . import bounded

    if spec == "clipboard":
        from .clipboard import paste

        pasted = paste(environ, MAX_ATTACHMENT)
        if pasted.image is None:
            raise UsageError("the clipboard holds text, not an image", "add it with --paste")
        return from_bytes("clipboard", pasted.image)
    if spec == "-":
        stream = getattr(stdin, "buffer", None)
        data = bounded.read_stream(stream, MAX_ATTACHMENT) if stream is not None else b""
        if len(data) > MAX_ATTACHMENT:
            raise bounded.over("the attachment on stdin", MAX_ATTACHMENT, "attach a smaller file")
        if not data:
            raise UsageError("-a - found nothing on stdin", "pipe the file in")
        return from_bytes("stdin", data)
    data = bounded.read_path(spec, "attachment", MAX_ATTACHMENT, hint="attach a smaller file")
    return from_bytes(spec, data, text_flag)


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


# -- -f DIR -------------------------------------------------------------------------------


class TextFile(NamedTuple):
    relative: str
    text: str
    size: int


#: The most a ``.gitignore`` may hold; a larger one is not read (its rules do not apply).
MAX_IGNORE = 1_000_000


class _Skipped:
    """What a folder walk left out, for the notice."""

    def __init__(self) -> None:
        self.binary = 0  # binary, unreadable or special files
        self.outside = 0  # links that leave the folder
        self.links = 0  # links to folders or to special files, and repeated links


def _ignore_rules(folder: Path) -> list[str] | None:
    """The lines of ``folder/.gitignore`` when it is a regular file of sane size."""
    from . import bounded

    try:
        data = bounded.read_path(folder / ".gitignore", ".gitignore", MAX_IGNORE)
    except UsageError:
        return None
    return data.decode("utf-8", errors="replace").splitlines()


def _walk(root: Path, skipped: _Skipped) -> Iterator[tuple[Path, Path]]:
    """(name, file to read) under ``root``: hidden and VCS folders and hidden files left
    out, and what a ``.gitignore`` at the root (or in a folder below it) matches.

    Links are never followed out of ``root``: a link to a file inside it is read once
    (the file it names is read under its own name when the walk meets it), a link that
    leaves it, or that names a folder or a special file, is skipped and counted. Folders
    that are links are not entered, so no walk loops.
    """
    import pathspec

    real_root = Path(os.path.realpath(root))
    seen: set[Path] = set()
    links: list[Path] = []
    specs: list[tuple[Path, pathspec.GitIgnoreSpec]] = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        rules = _ignore_rules(here)
        if rules is not None:
            specs.append((here, pathspec.GitIgnoreSpec.from_lines(rules)))

        def ignored(path: Path, is_dir: bool) -> bool:
            for base, spec in specs:
                if base in path.parents:
                    relative = path.relative_to(base).as_posix() + ("/" if is_dir else "")
                    if spec.match_file(relative):
                        return True
            return False

        kept = []
        for name in sorted(dirs):
            if name.startswith(".") or name in SKIPPED_DIRS or ignored(here / name, True):
                continue
            if (here / name).is_symlink():
                skipped.links += 1
                continue
            kept.append(name)
        dirs[:] = kept
        for name in sorted(files):
            path = here / name
            if name.startswith(".") or ignored(path, False):
                continue
            if path.is_symlink():
                links.append(path)
            else:
                seen.add(Path(os.path.realpath(path)))
                yield path, path
    for path in links:  # after the files, so a linked file is read under its own name
        target = Path(os.path.realpath(path))
        if not target.is_relative_to(real_root):
            skipped.outside += 1
        elif target in seen or not target.is_file():
            skipped.links += 1
        else:
            seen.add(target)
            yield path, target


def read_directory(root: Path, warn: Callable[[str], None]) -> list[TextFile]:
    """Every text file under ``root`` (binaries skipped), labelled with its relative path;
    refused (exit 2, the largest listed) as soon as they add up to more than 2 MB, so
    memory stays near the limit whatever the folder holds."""
    from . import bounded

    found: list[TextFile] = []
    skipped = _Skipped()
    total = 0
    for path, target in _walk(root, skipped):
        try:
            fd = bounded.open_regular(target, "file", follow=False)
        except UsageError:
            skipped.binary += 1  # special files, unreadable: not text to add
            continue
        try:
            head = bounded.read_fd(fd, min(8192, MAX_DIRECTORY - total))
            if not _looks_like_text(head[:8192]):
                skipped.binary += 1
                continue
            data = head + bounded.read_fd(fd, MAX_DIRECTORY - total - len(head))
            claimed = os.fstat(fd).st_size  # what the file says it holds: for the listing
        except OSError:
            skipped.binary += 1
            continue
        finally:
            os.close(fd)
        total += len(data)
        relative = path.relative_to(root).as_posix()
        if total > MAX_DIRECTORY:
            last = TextFile(relative, "", max(len(data), claimed))
            largest = sorted([*found, last], key=lambda f: -f.size)
            listed = ", ".join(f"{f.relative} ({units.size(f.size)})" for f in largest[:5])
            raise UsageError(
                f"{root} holds more than the {units.size(MAX_DIRECTORY)} limit of text",
                f"the largest read: {listed}; point -f at a smaller folder or add a .gitignore",
            )
        found.append(TextFile(relative, data.decode("utf-8", errors="replace"), len(data)))
    extra = [f"{skipped.binary} binary or unreadable skipped"] if skipped.binary else []
    if skipped.outside:
        extra.append(f"{_links(skipped.outside)} outside {root} skipped")
    if skipped.links:
        extra.append(f"{_links(skipped.links)} to folders, special or repeated files skipped")
    listed = "".join(f", {part}" for part in extra)
    warn(f"-f {root}: {len(found)} text files, {units.count(total)} bytes{listed}")
    return found


def _links(count: int) -> str:
    return f"{count} link{'s' * (count != 1)}"


# -- -f URL -------------------------------------------------------------------------------

#: The most of a web page that is read.
MAX_PAGE = 5_000_000


#: Codecs Python knows that are not character sets a page may declare.
_NOT_CHARSETS = frozenset(
    {"idna", "punycode", "undefined", "unicode_escape", "raw_unicode_escape", "mbcs", "oem"}
)


def _decode_page(body: bytes, charset: str) -> str:
    """The page's text in its declared character set when that is one, else UTF-8."""
    import codecs

    try:
        name = codecs.lookup(charset).name
    except LookupError:
        name = "utf-8"
    if name in _NOT_CHARSETS:
        name = "utf-8"
    try:
        return body.decode(name, errors="replace")
    except (LookupError, UnicodeError, TypeError):  # a bytes-to-bytes codec, say
        return body.decode("utf-8", errors="replace")


class _PlainText:
    """The text of an HTML page without a tree: what is left when a page nests too deeply
    for one (scripts, styles and their like dropped, blocks on lines of their own)."""

    SKIP = frozenset({"script", "style", "noscript", "template", "head", "svg"})

    def __init__(self) -> None:
        from html.parser import HTMLParser

        outer = self

        class Parser(HTMLParser):
            def handle_starttag(self, tag: str, attrs: object) -> None:
                outer.tag(tag, opening=True)

            def handle_endtag(self, tag: str) -> None:
                outer.tag(tag, opening=False)

            def handle_data(self, data: str) -> None:
                if not outer.hidden:
                    outer.parts.append(data)

        self.parser = Parser(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def tag(self, tag: str, *, opening: bool) -> None:
        if tag in self.SKIP:
            self.hidden = self.hidden + 1 if opening else max(0, self.hidden - 1)
        elif tag in ("p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"):
            self.parts.append("\n")

    def text(self, html: str) -> str:
        self.parser.feed(html)
        self.parser.close()
        lines = (" ".join(line.split()) for line in "".join(self.parts).splitlines())
        return "\n".join(line for line in lines if line)


def _markdown(text: str) -> str:
    """HTML as Markdown (scripts and styles dropped); a page nested too deeply for that
    (the converters recurse) as its plain text."""
    from bs4 import BeautifulSoup
    from markdownify import markdownify

    try:
        soup = BeautifulSoup(text, "html.parser")
        for element in soup(["script", "style", "noscript", "template", "head", "svg"]):
            element.decompose()
        markdown: str = markdownify(str(soup), heading_style="ATX")
    except RecursionError:
        return _PlainText().text(text)
    lines = [line.rstrip() for line in markdown.splitlines()]
    return "\n".join(line for i, line in enumerate(lines) if line or (i and lines[i - 1]))


def readable(content_type: str, body: bytes, url: str) -> str:
    """A fetched page as text: HTML as Markdown (scripts and styles dropped), plain text as
    it is; anything else refused with a hint to ``-a``."""
    kind = content_type.partition(";")[0].strip().lower()
    charset = "utf-8"
    for field in content_type.split(";")[1:]:
        key, _, value = field.strip().partition("=")
        if key.lower() == "charset" and value:
            charset = value.strip('"')
    text = _decode_page(body, charset)
    if kind in ("text/html", "application/xhtml+xml"):
        return _markdown(text)
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
    import re

    from .prompt import read_file

    texts: list[tuple[str, str]] = []
    for spec in specs:
        scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", spec)
        if scheme and scheme[1].lower() not in ("http", "https") and not Path(spec).exists():
            raise UsageError(
                f"-f {spec}: {scheme[1]}:// URLs are not fetched",
                "give an http(s) URL, or the path of a local file",
            )
        if scheme and scheme[1].lower() in ("http", "https"):
            content_type, body = fetch(spec)
            texts.append((spec, readable(content_type, body, spec)))
        elif Path(spec).is_dir():
            root = Path(spec)
            texts += [(f"{root / f.relative}", f.text) for f in read_directory(root, warn)]
        else:
            texts.append((spec, read_file(Path(spec), "file")))
    return texts
