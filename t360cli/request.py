"""The request body: messages, sampling options, extra ``-o`` fields, streaming.

Everything the user can put in a request is checked here, before anything is sent, so a
value the gateway could not take (NaN, a string where an object belongs) is a usage
error with one clear line, never an internal error.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from .errors import UsageError


class RequestOptions(NamedTuple):
    """What the user asked for beyond the messages; the same for every turn of a chat."""

    temperature: float | None = None
    max_tokens: int | None = None
    #: Extra request fields from ``-o KEY=VALUE``.
    options: dict[str, Any] = {}  # noqa: RUF012 - never mutated: copied into each payload
    stream: bool = True


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    """``-o KEY=VALUE`` pairs: VALUE as JSON when it parses as JSON, else as a string."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"-o expects KEY=VALUE, got {pair!r}", "for example -o top_p=0.9")
        try:
            options[key] = json.loads(value, parse_constant=_reject_constant)
        except ValueError as exc:
            if "JSON allows" in str(exc):
                raise UsageError(f"-o {key}: {value} is not a finite number") from None
            options[key] = value
        except RecursionError:
            raise UsageError(f"-o {key}: the JSON value is nested too deeply") from None
        if key == "stream_options" and not isinstance(options[key], dict):
            raise UsageError(
                f"-o stream_options must be a JSON object, got {value!r}",
                "for example -o stream_options='{\"include_usage\": true}'",
            )
    return options


def check_options(request: RequestOptions) -> RequestOptions:
    """The request options, refused (exit 2) when the gateway could not take them."""
    temperature = request.temperature
    if temperature is not None and not (math.isfinite(temperature) and temperature >= 0):
        raise UsageError(
            f"--temperature must be a finite number from 0 up, got {temperature}",
            "for example --temperature 0.7",
        )
    return request


def build_payload(
    model: str, messages: list[dict[str, Any]], request: RequestOptions
) -> dict[str, Any]:
    """The request body. Extra ``-o`` fields come first, so named flags win over them."""
    payload: dict[str, Any] = dict(request.options)
    payload["model"] = model
    payload["messages"] = messages
    if request.temperature is not None:
        payload["temperature"] = request.temperature
    if request.max_tokens is not None:
        payload["max_tokens"] = request.max_tokens
    payload["stream"] = request.stream
    if request.stream:
        payload["stream_options"] = {**payload.get("stream_options", {}), "include_usage": True}
    else:
        payload.pop("stream_options", None)
    return payload


#: Characters per token in the estimate: English prose and code average about 4; the
#: estimate rounds up and adds a margin so that it errs on the high side.
CHARS_PER_TOKEN = 4
MARGIN = 1.1
PER_MESSAGE = 4  # the role and separators each message costs


#: What an attached image, document or sound counts for in the estimate: providers charge
#: them by size or duration, which this cannot know; a round, generous figure.
PER_ATTACHMENT = 1000


def estimate_tokens(messages: list[dict[str, Any]]) -> int:
    """A local estimate of the prompt's tokens (no tokenizer, nothing downloaded):
    ceil(characters / 4) per message plus 4, 1,000 per attachment, and 10 % on top."""
    total = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):  # parts: the text counts, an attachment a flat rate
            for part in content:
                if isinstance(part, dict) and part.get("type") == "text":
                    total += math.ceil(len(str(part.get("text") or "")) / CHARS_PER_TOKEN)
                else:
                    total += PER_ATTACHMENT
        elif content is not None:
            text = content if isinstance(content, str) else json.dumps(content)
            total += math.ceil(len(text) / CHARS_PER_TOKEN)
        total += PER_MESSAGE
    return math.ceil(total * MARGIN)


#: Strings this long (an attachment's base64) are not copied into the request body: they
#: are written out in slices as the body is sent.
BIG = 1 << 20
#: Characters JSON writes as they are, all base64 and data: URLs are made of.
_PLAIN = re.compile(r"[A-Za-z0-9+/=:;,._-]*")


class _Walk:
    """One walk of a payload: which parts hold a big string, each string judged once
    (a 27 MB data: URL takes 30 ms to match against _PLAIN)."""

    def __init__(self) -> None:
        self._seen: dict[int, bool] = {}

    def has_big(self, value: Any) -> bool:
        key = id(value)
        found = self._seen.get(key)
        if found is None:
            if isinstance(value, str):
                found = len(value) > BIG and _PLAIN.fullmatch(value) is not None
            elif isinstance(value, dict):
                found = any([self.has_big(item) for item in value.values()])
            elif isinstance(value, list):
                found = any([self.has_big(item) for item in value])
            else:
                found = False
            self._seen[key] = found
        return found

    def pieces(self, value: Any, out: list[str | _Big]) -> None:
        """``value`` as JSON text pieces, a big string kept whole as a ``_Big``; a part
        that holds no big string is one ``json.dumps``."""
        if not self.has_big(value):
            out.append(json.dumps(value, ensure_ascii=False))
        elif isinstance(value, str):
            out.append(_Big(value))
        elif isinstance(value, dict):
            out.append("{")
            for position, (key, item) in enumerate(value.items()):
                out.append(("," if position else "") + json.dumps(str(key)) + ":")
                self.pieces(item, out)
            out.append("}")
        else:
            out.append("[")
            for position, item in enumerate(value):
                if position:
                    out.append(",")
                self.pieces(item, out)
            out.append("]")


class _Big(str):
    """A long string of plain characters, sent in slices between quotes."""

    __slots__ = ()


def encode(payload: dict[str, Any]) -> tuple[int, Iterable[bytes]]:
    """The JSON body of ``payload``: its length and its bytes, as pieces.

    A 20 MB attachment is 27 MB of base64; serialising it as one JSON string and then as
    bytes would hold three copies at once. Long strings made only of characters JSON
    writes as they are (base64, data: URLs) are kept out of ``json.dumps`` and sent in
    1 MiB slices, so the body adds next to nothing to what the payload already holds.
    Text is encoded as UTF-8 with lone surrogates (never valid there) replaced.
    """
    walk = _Walk()
    if not walk.has_big(payload):
        data = _utf8(json.dumps(payload, ensure_ascii=False))
        return len(data), [data]
    parts: list[str | _Big] = []
    walk.pieces(payload, parts)
    encoded: list[bytes | _Big] = []
    text: list[str] = []
    for part in parts:  # runs of JSON text joined, the big strings between them
        if isinstance(part, _Big):
            encoded += [_utf8("".join(text)), part]
            text = []
        else:
            text.append(part)
    encoded.append(_utf8("".join(text)))
    length = sum(len(piece) + (2 if isinstance(piece, _Big) else 0) for piece in encoded)

    def chunks() -> Iterator[bytes]:
        for piece in encoded:
            if isinstance(piece, bytes):
                yield piece
                continue
            yield b'"'
            for start in range(0, len(piece), BIG):
                yield piece[start : start + BIG].encode("ascii")
            yield b'"'

    return length, chunks()


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a tool or an old history row
        from .events import mend

        return mend(text).encode("utf-8")
