"""Pure data: the typed events of a chat completion, and the decoding of chunks into them.

No I/O here. ``ChunkDecoder.decode`` takes one parsed chunk (streamed) or one whole
completion (non-streamed) and returns the events it carries, in the order a reader
should see them. It is on the per-token hot path, so it allocates as little as it can.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import StreamError


class _Record:
    """A small immutable-by-convention record: slots, equality and repr from its fields.

    The events are built once per chunk and defined at every start-up, so they are plain
    slotted classes: a dataclass costs a millisecond each to define.
    """

    __slots__: tuple[str, ...] = ()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(
            getattr(self, name) == getattr(other, name) for name in self.__slots__
        )

    def __hash__(self) -> int:
        return hash((type(self), *(repr(getattr(self, name)) for name in self.__slots__)))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"


class Sent(_Record):
    """An attempt at the request is on its way (again, after a retry): the first one
    starts the turn's clock (the user's TTFT), the last the answering attempt's."""

    __slots__ = ()


class TextDelta(_Record):
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class ReasoningDelta(_Record):
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class ToolCallDelta(_Record):
    __slots__ = ("arguments", "id", "index", "name", "type")

    def __init__(
        self, index: int, id: str | None, type: str | None, name: str | None, arguments: str
    ) -> None:
        self.index = index
        self.id = id
        self.type = type
        self.name = name
        self.arguments = arguments


class Meta(_Record):
    """Who answers: the model the gateway reports, and the upstream provider."""

    __slots__ = ("model", "provider")

    def __init__(self, model: str | None, provider: str | None) -> None:
        self.model = model
        self.provider = provider


class Usage(_Record):
    """The usage object as the gateway sent it (cost details included), except numbers
    that cannot be true: those are None, and ``dropped`` names them."""

    __slots__ = ("data", "dropped")

    def __init__(self, data: dict[str, Any], dropped: tuple[str, ...] = ()) -> None:
        self.data = data
        self.dropped = dropped


#: No usage figure is larger than this: 2**53, where floats stop counting exactly.
ABSURD = 2**53


def clean_usage(usage: dict[str, Any]) -> Usage:
    """A Usage with every number that is not finite, negative or absurd made None."""
    dropped: list[str] = []

    def clean(value: Any, path: str) -> Any:
        if isinstance(value, dict):
            return {k: clean(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return value
        if not (0 <= value < ABSURD):  # NaN fails this too
            dropped.append(path)
            return None
        return value

    return Usage(clean(usage, ""), tuple(dropped))


class Finish(_Record):
    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class ErrorEvent(_Record):
    """An error object inside a 200 response (mid-stream)."""

    __slots__ = ("code", "message", "type")

    def __init__(self, message: str, type: str | None, code: str | int | None) -> None:
        self.message = message
        self.type = type
        self.code = code


Event = Sent | TextDelta | ReasoningDelta | ToolCallDelta | Meta | Usage | Finish | ErrorEvent

SNIPPET = 80


def snippet(text: str | bytes, limit: int = SNIPPET) -> str:
    """A short, single-line, printable excerpt of untrusted text for an error message."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    flat = " ".join(text.split())
    flat = "".join(ch if ch.isprintable() else "?" for ch in flat[: limit + 1])
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


_SURROGATE = re.compile("[\ud800-\udfff]")
_HIGH = re.compile("[\ud800-\udbff]$")


def mend(text: str) -> str:
    """``text`` with surrogate pairs joined and lone surrogates (which JSON's ``\\u``
    escapes can carry, and UTF-8 cannot) replaced by U+FFFD."""
    if text.isascii() or not _SURROGATE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _mended(value: Any) -> Any:
    return mend(value) if isinstance(value, str) else value


def error_event(error: object, fallback: str = "the gateway reported an error") -> ErrorEvent:
    """An ErrorEvent from an ``error`` value of any shape (object, string, or junk)."""
    if isinstance(error, dict):
        message = error.get("message")
        code = error.get("code")
        kind = error.get("type")
        if message and not isinstance(message, str):  # a nested object: show it as JSON
            message = json.dumps(message, ensure_ascii=False, default=str)
        return ErrorEvent(
            message=mend(str(message)) if message else fallback,
            type=mend(str(kind)) if kind is not None else None,
            code=_mended(code)
            if isinstance(code, (str, int)) and not isinstance(code, bool)
            else None,
        )
    if error and not isinstance(error, str):
        error = json.dumps(error, ensure_ascii=False, default=str)
    return ErrorEvent(message=mend(str(error)) if error else fallback, type=None, code=None)


_raw_decode = json.JSONDecoder().raw_decode


def parse_data(data: str) -> dict[str, Any]:
    """The JSON object of one ``data:`` line; a StreamError for anything else.

    A chunk is one bare JSON value: decoded by the scanner alone, it skips what
    ``json.loads`` adds around it (two regular expressions for the whitespace), a third
    of the cost of a chunk's JSON. Anything else gets ``json.loads``'s full rules."""
    try:
        obj, end = _raw_decode(data)
    except (ValueError, RecursionError):  # RecursionError: nested past what Python reads
        end = -1
    if end != len(data):  # whitespace around the value, more after it, or not JSON
        try:
            obj = json.loads(data)
        except (ValueError, RecursionError):
            raise StreamError(
                f"the gateway sent a line that is not JSON: {snippet(data)!r}",
                "the stream is malformed; try again, or report it if it persists",
            ) from None
    if not isinstance(obj, dict):
        raise StreamError(
            f"the gateway sent JSON that is not an object: {snippet(data)!r}",
            "the stream is malformed; try again, or report it if it persists",
        )
    return obj


def _text_of(value: object) -> str:
    return value if isinstance(value, str) else ""


def _reasoning_details_text(details: object) -> str:
    if not isinstance(details, list):
        return ""
    parts: list[str] = []
    for item in details:
        if isinstance(item, dict):
            parts.append(_text_of(item.get("text")) or _text_of(item.get("summary")))
    return "".join(parts)


_REASONING_KEYS = frozenset({"reasoning", "reasoning_content", "reasoning_details"})


class ChunkDecoder:
    """Turns chunks into events, remembering what must be reported only on change, and
    the first half of a surrogate pair whose second half is in the next chunk."""

    __slots__ = ("_held", "_model", "_provider")

    def __init__(self) -> None:
        self._model: str | None = None
        self._provider: str | None = None
        #: A high surrogate that ended the last text (or reasoning) delta, by kind.
        self._held: dict[type[TextDelta | ReasoningDelta], str] = {}

    def _text(self, kind: type[TextDelta | ReasoningDelta], text: str, events: list[Event]) -> None:
        """A text delta, its surrogates mended: a pair split across chunks is joined."""
        if self._held or not text.isascii():
            text = self._held.pop(kind, "") + text
            if _HIGH.search(text):
                self._held[kind] = text[-1]
                text = text[:-1]
            text = mend(text)
        if text:
            events.append(kind(text))

    def decode(self, obj: dict[str, Any], part: str = "delta") -> list[Event]:
        """Events of one chunk; ``part`` is ``"message"`` for a non-streamed completion."""
        events: list[Event] = []
        model = obj.get("model")
        provider = obj.get("provider")
        if (model and model != self._model) or (provider and provider != self._provider):
            self._model = mend(model) if isinstance(model, str) and model else self._model
            self._provider = (
                mend(provider) if isinstance(provider, str) and provider else self._provider
            )
            events.append(Meta(self._model, self._provider))
        error = obj.get("error")
        if error is not None:
            events.append(error_event(error))
            return events
        choices = obj.get("choices")
        if choices and isinstance(choices, list):
            choice = choices[0]
            if isinstance(choice, dict):
                self._decode_choice(choice, part, events)
        usage = obj.get("usage")
        if usage and isinstance(usage, dict):
            events.append(clean_usage(usage))
        return events

    def _decode_choice(self, choice: dict[str, Any], part: str, events: list[Event]) -> None:
        delta = choice.get(part)
        if isinstance(delta, dict):
            if not _REASONING_KEYS.isdisjoint(delta):  # rare: keep the common chunk cheap
                reasoning = _text_of(delta.get("reasoning")) or _text_of(
                    delta.get("reasoning_content")
                )
                if not reasoning:
                    reasoning = _reasoning_details_text(delta.get("reasoning_details"))
                if reasoning:
                    self._text(ReasoningDelta, reasoning, events)
            content = delta.get("content")
            if content and isinstance(content, str):
                self._text(TextDelta, content, events)
            tool_calls = delta.get("tool_calls")
            if tool_calls and isinstance(tool_calls, list):
                for position, call in enumerate(tool_calls):
                    if isinstance(call, dict):
                        events.append(_tool_call(call, position))
        if choice.get("error") is not None:
            events.append(error_event(choice["error"]))
            return
        reason = choice.get("finish_reason")
        if not reason:
            return
        if reason == "error":
            events.append(error_event(None, "the provider ended the answer with an error"))
        elif isinstance(reason, str):
            events.append(Finish(mend(reason)))


def _tool_call(call: dict[str, Any], position: int) -> ToolCallDelta:
    function = call.get("function")
    function = function if isinstance(function, dict) else {}
    index = call.get("index")
    arguments = function.get("arguments")
    if isinstance(arguments, (dict, list)):  # some providers send parsed JSON
        arguments = json.dumps(arguments)
    return ToolCallDelta(
        index=index if isinstance(index, int) and not isinstance(index, bool) else position,
        id=_mended(call.get("id")) if isinstance(call.get("id"), str) else None,
        type=_mended(call.get("type")) if isinstance(call.get("type"), str) else None,
        name=_mended(function.get("name")) if isinstance(function.get("name"), str) else None,
        arguments=mend(arguments) if isinstance(arguments, str) else "",
    )
