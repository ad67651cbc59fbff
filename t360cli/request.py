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


def encode(payload: dict[str, Any]) -> tuple[int, Iterable[bytes]]:
    """The JSON body of ``payload``: its length and its bytes, as pieces.

    A 20 MB attachment is 27 MB of base64; serialising it as one JSON string and then as
    bytes would hold three copies at once. Long strings made only of characters JSON
    writes as they are (base64, data: URLs) are left out of ``json.dumps`` and sent in
    1 MiB slices, so the body adds next to nothing to what the payload already holds.
    """
    big: list[str] = []

    def swap(value: Any) -> Any:
        if isinstance(value, str) and len(value) > BIG and _PLAIN.fullmatch(value):
            big.append(value)
            return f"\0{len(big) - 1}\0"
        if isinstance(value, dict):
            return {key: swap(item) for key, item in value.items()}
        if isinstance(value, list):
            return [swap(item) for item in value]
        return value

    text = json.dumps(swap(payload), ensure_ascii=False)
    if not big:
        data = text.encode("utf-8")
        return len(data), [data]
    pieces = [piece.encode("utf-8") for piece in text.split("\\u0000")]
    # pieces alternate: JSON, index of a big string, JSON, index, ...
    length = sum(len(piece) for piece in pieces[0::2]) + sum(
        len(big[int(index)]) for index in pieces[1::2]
    )

    def chunks() -> Iterator[bytes]:
        for position, piece in enumerate(pieces):
            if position % 2 == 0:
                yield piece
            else:
                value = big[int(piece)]
                for start in range(0, len(value), BIG):
                    yield value[start : start + BIG].encode("ascii")

    return length, chunks()
