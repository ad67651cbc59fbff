"""Untrusted text made safe to show, secrets kept out of what is shown or stored.

Everything that comes from the gateway, a proxy, a tool or the history is untrusted: it
may carry terminal escapes (clear the screen, retitle the window, write the clipboard),
bidi controls that reorder what a reader sees, numbers that are not numbers, or an API
key the server echoed back. Three functions, each the one place for its job:

- ``sanitize``: text for a terminal, every control but newline and tab made visible;
- ``scrub``: text with every known secret (whole, cut, or base64-encoded) and anything
  shaped like a key replaced by a redacted form, before it is shown or stored;
- ``dumps``: strict JSON (no NaN or Infinity), safe on a terminal when asked.

No module-level state: the secrets to scrub are passed in by whoever knows them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from typing import Any

# C0 controls except tab (09) and newline (0a), DEL, C1 controls, and the bidi embedding,
# override and isolate controls (U+202A-U+202E, U+2066-U+2069).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode control pictures: ESC -> U+241B
    if code == 0x7F:
        return "\u2421"
    return "\ufffd"


def sanitize(text: str) -> str:
    """Text made safe for a terminal: every control but newline and tab is made visible.

    ESC, OSC, CSI and friends can move the cursor, retitle the window or write the
    clipboard; shown as control pictures they are inert. Bidi controls become U+FFFD so
    text cannot be shown in an order other than the one it has. CRLF becomes a newline.
    """
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    return _CONTROL.sub(_picture, text)


def one_line(text: str) -> str:
    """``sanitize`` for a single line: line breaks and tabs become spaces."""
    return sanitize(text).replace("\n", " ").replace("\t", " ")


# -- secrets ------------------------------------------------------------------------------

REDACTED = "[redacted]"
#: Anything shaped like a key, known or not.
_KEY_PATTERN = re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}")
#: How many characters of a known secret, seen together, count as a leak of it.
_WINDOW = 8
#: Runs of characters that can belong to a key or to base64 text.
_TOKEN = re.compile(r"[A-Za-z0-9_\-+/=.~]+")


def redact(key: str | None) -> str:
    """A key shortened so it can be recognised but not used: ``…wxyz`` (never more)."""
    if not key:
        return "(not set)"
    return f"…{key[-4:]}" if len(key) > 12 else "…"


def _base64_cores(secret: bytes) -> list[str]:
    """The parts of any base64 text that must appear when ``secret`` was encoded in it,
    at each of the three alignments, in the standard and the URL-safe alphabets."""
    import base64

    cores: list[str] = []
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + secret).decode().rstrip("=")
        core = encoded[4 if pad else 0 : -4]
        if len(core) >= _WINDOW:
            cores += [core, core.replace("+", "-").replace("/", "_")]
    return cores


def _windows(secrets: Iterable[str | None]) -> set[str]:
    windows: set[str] = set()
    for secret in secrets:
        if not secret or len(secret) < _WINDOW:
            continue
        for form in (secret, *_base64_cores(secret.encode())):
            windows.update(form[i : i + _WINDOW] for i in range(len(form) - _WINDOW + 1))
    return windows


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every secret it may hold replaced.

    A known secret is found whole, cut short (by an excerpt), or base64-encoded (a
    Basic header, a JWT echoed back): any run of key characters sharing eight or more
    consecutive characters with it is replaced. Unknown keys (``sk-…``) are redacted too.
    """
    windows = _windows(secrets)
    if windows:

        def hide(match: re.Match[str]) -> str:
            token = match.group()
            if len(token) >= _WINDOW and any(w in token for w in windows):
                return REDACTED
            return token

        text = _TOKEN.sub(hide, text)
    return _KEY_PATTERN.sub(lambda m: redact(m.group()), text)


# -- JSON --------------------------------------------------------------------------------

#: JSON escapes for what a terminal would act on, but json.dumps leaves raw.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def finite(value: Any) -> Any:
    """``value`` with every float that is not finite replaced by None (deeply)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


def dumps(obj: Any, *, terminal: bool = False, indent: int | None = None) -> str:
    """Strict JSON text: NaN and Infinity become null; on a terminal, C1 and bidi
    controls are written as ``\\u`` escapes (json.dumps escapes only C0)."""
    text = json.dumps(finite(obj), ensure_ascii=False, allow_nan=False, indent=indent)
    if terminal:
        text = _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text
