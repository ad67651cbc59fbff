"""The clipboard as input (``--paste``, ``-a clipboard``, REPL ``/paste``), read with the
platform's own tool: ``wl-paste`` (Wayland), ``xclip`` or ``xsel`` (X11), ``pbpaste``
(macOS), PowerShell's ``Get-Clipboard`` (Windows). An image is read in the type the tool
offers (``wl-paste --list-types``, xclip's ``TARGETS``); everything else is text.

Bounded like every input: at most 20 MB (an image) or 4 MB (text) is read, within 5 s,
and the tool is ended with whatever it started. No tool at all is exit 2 naming what was
looked for.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping
from typing import NamedTuple

from .errors import UsageError

#: Image types taken from the clipboard, in order of preference.
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
#: How long a clipboard tool may take.
TIMEOUT = 5.0


class Pasted(NamedTuple):
    text: str | None  # the clipboard's text, when it holds no image
    image: bytes | None  # an image's bytes, when it holds one


class _Tool(NamedTuple):
    name: str
    text: list[str]  # argv printing the text
    types: list[str] | None  # argv listing the types on offer (None: text only)
    image: list[str] | None  # argv printing the type named by {type}


_TOOLS = {
    "wl-paste": _Tool(
        "wl-paste", ["wl-paste", "--no-newline"], ["wl-paste", "--list-types"],
        ["wl-paste", "--no-newline", "--type", "{type}"],
    ),
    "xclip": _Tool(
        "xclip", ["xclip", "-selection", "clipboard", "-o"],
        ["xclip", "-selection", "clipboard", "-t", "TARGETS", "-o"],
        ["xclip", "-selection", "clipboard", "-t", "{type}", "-o"],
    ),
    "xsel": _Tool("xsel", ["xsel", "--clipboard", "--output"], None, None),
    "pbpaste": _Tool("pbpaste", ["pbpaste"], None, None),
    "powershell": _Tool(
        "powershell", ["powershell", "-NoProfile", "-Command", "Get-Clipboard -Raw"], None, None
    ),
}  # fmt: skip


def _candidates(environ: Mapping[str, str]) -> list[str]:
    """The tools to look for on this platform, in order."""
    if sys.platform == "darwin":
        return ["pbpaste"]
    if sys.platform == "win32":
        return ["powershell"]
    if environ.get("WAYLAND_DISPLAY"):
        return ["wl-paste", "xclip", "xsel"]
    return ["xclip", "xsel", "wl-paste"]


def _find(environ: Mapping[str, str]) -> _Tool:
    names = _candidates(environ)
    for name in names:
        if shutil.which(name, path=environ.get("PATH")):
            return _TOOLS[name]
    raise UsageError(
        f"no clipboard tool found (looked for {', '.join(names)})",
        "install one (wl-clipboard, xclip or xsel on Linux), or pipe the text in instead",
    )


def _output(argv: list[str], environ: Mapping[str, str], limit: int, tool: str) -> bytes:
    from . import bounded

    try:
        ran = bounded.run(argv, environ, limit, TIMEOUT)
    except bounded.Deadline:
        raise UsageError(f"{tool} did not answer within {TIMEOUT:g} s", "try again") from None
    except OSError as exc:
        raise UsageError(f"{tool} could not run: {exc.strerror or exc}") from None
    if len(ran.output) > limit:
        raise bounded.over("the clipboard", limit, "copy less, or save it and use -f or -a")
    if ran.status != 0:
        raise UsageError(
            f"{tool} failed with exit status {ran.status}", "is there anything on the clipboard?"
        )
    return ran.output


def paste(environ: Mapping[str, str], image_limit: int) -> Pasted:
    """What the clipboard holds: an image (at most ``image_limit`` bytes, the caller's
    attachment limit) when it offers one, else its text."""
    from .prompt import MAX_FILE_BYTES

    tool = _find(environ)
    if tool.types is not None and tool.image is not None:
        offered = _output(tool.types, environ, 64 * 1024, tool.name).decode("utf-8", "replace")
        kinds = {line.strip().lower() for line in offered.splitlines()}
        for kind in IMAGE_TYPES:
            if kind in kinds:
                argv = [part.replace("{type}", kind) for part in tool.image]
                return Pasted(None, _output(argv, environ, image_limit, tool.name))
    data = _output(tool.text, environ, MAX_FILE_BYTES, tool.name)
    try:
        return Pasted(data.decode("utf-8"), None)
    except UnicodeDecodeError:
        raise UsageError(
            "the clipboard holds neither text nor an image t360 can read",
            "copy text or a PNG, JPEG, GIF or WebP image",
        ) from None
