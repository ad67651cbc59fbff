"""The only module that speaks HTTP: request, status check, SSE -> events, retries, timeouts.

A ``Gateway`` holds the one httpx client of a process and everything sent through it.
httpx and httpx-sse exceptions are translated here, where they enter, into the tree in
``errors.py``; nothing above this module sees a foreign exception:

    httpx.ConnectError / ConnectTimeout   -> NetworkError  (cannot connect)
    httpx.ReadTimeout / WriteTimeout       -> NetworkError  (silence longer than --timeout)
    httpx.ReadError / RemoteProtocolError  -> NetworkError  (connection lost)
    HTTP 401/403                           -> AuthError
    other HTTP errors, error events        -> APIError
    bad JSON, oversized lines, bad gzip,   -> StreamError
    truncation

Every body is decoded here (gzip, deflate) in bounded steps, so the limits count the
bytes as decoded, and a compressed body cannot grow memory beyond them. Error text from
the server is scrubbed of the API key where it enters, so it is never shown or stored.
"""

from __future__ import annotations

import json
import math
import time
import zlib
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx
import httpx_sse

from . import __version__
from .config import Settings
from .errors import APIError, AuthError, ConfigError, NetworkError, StreamError, T360Error
from .events import (
    ChunkDecoder,
    ErrorEvent,
    Event,
    Finish,
    ReasoningDelta,
    Sent,
    TextDelta,
    ToolCallDelta,
    Usage,
    error_event,
    parse_data,
    snippet,
)
from .safety import redact, scrub

#: The longest line the stream may send; a longer one is an error, so memory stays bounded.
MAX_LINE_BYTES = 16 * 1024 * 1024
#: The most of an error body or a non-streamed completion that is read.
MAX_BODY_BYTES = 16 * 1024 * 1024
#: Server-requested waits up to this long are honoured; longer ones are reported.
MAX_RETRY_WAIT = 60.0
RETRY_STATUSES = frozenset({408, 409, 429})

#: Called before each retry with the seconds to wait, the attempt number and the reason;
#: it does the waiting (so a terminal can show a countdown).
WaitHook = Callable[[float, int, T360Error], None]

_BOM = b"\xef\xbb\xbf"


_T = TypeVar("_T")
#: Decoded bytes produced per step of decompression: a gzip bomb yields them one at a
#: time, and the line limit stops it long before memory grows.
_STEP = 64 * 1024


def _default_wait(seconds: float, attempt: int, reason: T360Error) -> None:
    time.sleep(seconds)


class _BoundedBody(httpx.SyncByteStream):
    """The raw body decoded (gzip/deflate) in bounded steps, a leading BOM removed, and
    a cap on the length of a line, counted in decoded bytes."""

    def __init__(self, inner: Any, encoding: str | None) -> None:
        self._inner = inner
        self._encoding = encoding
        self._line = 0

    def _decoded(self) -> Iterator[bytes]:
        if self._encoding is None:
            yield from self._inner
            return
        wbits = 16 + zlib.MAX_WBITS if self._encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        decompressor = zlib.decompressobj(wbits)
        try:
            for raw in self._inner:
                data = raw
                while True:
                    out = decompressor.decompress(data, _STEP)
                    if out:
                        yield out
                    data = decompressor.unconsumed_tail
                    if not data and len(out) < _STEP:
                        break
        except zlib.error:
            raise StreamError(
                f"the gateway's answer is flagged {self._encoding} but is not valid "
                f"{self._encoding} data",
                "a proxy may be damaging responses; try again, or report it",
            ) from None

    def __iter__(self) -> Iterator[bytes]:
        head = b""
        chunks = self._decoded()
        for chunk in chunks:  # hold back until the first 3 bytes are known
            head += chunk
            if len(head) >= len(_BOM):
                break
        if head.startswith(_BOM):
            head = head[len(_BOM) :]
        if head:
            self._check(head)
            yield head
        for chunk in chunks:
            self._check(chunk)
            yield chunk

    def _check(self, chunk: bytes) -> None:
        end = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
        self._line = len(chunk) - end - 1 if end >= 0 else self._line + len(chunk)
        if self._line > MAX_LINE_BYTES:
            raise StreamError(
                f"the gateway sent a line longer than {MAX_LINE_BYTES // 2**20} MiB "
                "without a line break",
                "the gateway or a proxy is misbehaving; try again later",
            )

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


def _bound(response: httpx.Response) -> None:
    """Decode the body here, bounded, instead of in httpx (which would not be)."""
    encodings = [
        value.strip().lower()
        for value in response.headers.get_list("content-encoding", split_commas=True)
        if value.strip().lower() not in ("", "identity")
    ]
    if len(encodings) > 1 or (encodings and encodings[0] not in ("gzip", "x-gzip", "deflate")):
        raise StreamError(
            f"the gateway's answer is encoded as {', '.join(encodings)!r}, "
            "which t360 does not decode",
            "a proxy may be rewriting responses; try again, or report it",
        )
    if "content-encoding" in response.headers:
        del response.headers["content-encoding"]
    response.stream = _BoundedBody(response.stream, encodings[0] if encodings else None)


def _read(response: httpx.Response, limit: int, what: str) -> bytes:
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > limit:
            raise StreamError(f"{what} is larger than {limit // 2**20} MiB")
    return bytes(body)


@contextmanager
def _translate(host: str, timeout: float) -> Iterator[None]:
    """Turn httpx's transport exceptions into NetworkError, with advice."""
    try:
        yield
    except httpx.ConnectTimeout:
        raise NetworkError(
            f"timed out connecting to {host}", "check your network, or --base-url"
        ) from None
    except httpx.ConnectError as exc:
        raise NetworkError(
            f"cannot connect to {host}: {_reason(exc)}", "check your network, or --base-url"
        ) from None
    except httpx.TimeoutException:
        raise NetworkError(
            f"no data from {host} for {timeout:g} s",
            "the gateway stalled; try again, or raise --timeout",
        ) from None
    except httpx.InvalidURL as exc:
        raise ConfigError(f"invalid gateway URL: {exc}", "check --base-url") from None
    except httpx.DecodingError:
        raise StreamError(
            f"the answer from {host} could not be decoded", "try again, or report it"
        ) from None
    except httpx.TransportError as exc:
        raise NetworkError(f"connection to {host} lost: {_reason(exc)}", "try again") from None


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return snippet(text.rsplit("] ", 1)[-1], 120)


def _retry_after(headers: httpx.Headers) -> float | None:
    """Seconds the server asks us to wait: ``retry-after-ms``, or ``Retry-After``."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return _wait_seconds(float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return _wait_seconds(float(value))
    except ValueError:
        pass
    import email.utils  # rare: most gateways send seconds

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _wait_seconds(value: float) -> float:
    if math.isnan(value):
        raise ValueError("not a number")
    return min(max(0.0, value), 1e9)


_STATUS_HINTS = {
    401: "check your API key (T360_API_KEY, --api-key or api_key in the config file)",
    403: "your API key is not allowed to do this; check it, or the model's access",
    402: "your Token360 account is out of credit; top it up",
    404: "check --model (t360 models lists them) and --base-url",
    408: "the gateway timed out; try again",
    429: "you are rate limited; wait a moment and try again",
}


def _status_error(response: httpx.Response) -> APIError:
    """The error for a non-200 response, from whatever body it carried."""
    status = response.status_code
    body = b""
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) >= 65536:
            break
    event: ErrorEvent | None = None
    try:
        obj = json.loads(body)
    except ValueError:
        obj = None
    if isinstance(obj, dict) and obj.get("error") is not None:
        event = error_event(obj["error"])
    elif isinstance(obj, dict) and isinstance(obj.get("message"), str):
        event = error_event(obj)
    phrase = response.reason_phrase or "error"
    if event is not None:
        detail = event.message
    elif body.strip():
        detail = f"{phrase}: {snippet(body)!r}"
    else:
        detail = f"{phrase} (empty body)"
    hint = _STATUS_HINTS.get(
        status, "the gateway is in trouble; try again later" if status >= 500 else None
    )
    cls = AuthError if status in (401, 403) else APIError
    return cls(
        f"HTTP {status} from the gateway: {detail}",
        hint,
        status=status,
        type=event.type if event else None,
        code=event.code if event else None,
        retry_after=_retry_after(response.headers),
    )


def _retryable(error: T360Error) -> bool:
    if isinstance(error, NetworkError):
        return True
    if isinstance(error, APIError) and not isinstance(error, StreamError):
        status = error.status or 0
        return status in RETRY_STATUSES or status >= 500
    return False


def _backoff(attempt: int) -> float:
    """Exponential backoff with jitter: about 0.5 s, 1 s, 2 s ... capped at 8 s."""
    import random  # only on a retry

    base: float = min(8.0, 0.5 * 2 ** (attempt - 1))
    return base * (0.5 + random.random())


def _retry_wait(error: APIError | NetworkError, attempt: int, retries: int) -> float:
    """How long to wait before retry ``attempt``; re-raises ``error`` when not to retry."""
    if not _retryable(error):
        raise error
    requested = error.retry_after if isinstance(error, APIError) else None
    if requested is not None and requested > MAX_RETRY_WAIT:
        error.hint = f"the gateway asks to wait {requested:.0f} s; try again then"
        raise error
    if attempt > retries:
        raise error
    return _backoff(attempt) if requested is None else requested


def _shown_headers(headers: httpx.Headers) -> str:
    shown = []
    for name, value in headers.items():
        secret = name.lower() in ("authorization", "proxy-authorization", "cookie", "set-cookie")
        scheme, _, credential = value.partition(" ")
        shown.append(f"{name}: {scheme} {redact(credential)}" if secret else f"{name}: {value}")
    return "; ".join(shown)


class _Attempt:
    """What one attempt has done so far: once text was shown, it is never retried."""

    __slots__ = ("shown",)

    def __init__(self) -> None:
        self.shown = False


_CONTENT = (TextDelta, ReasoningDelta, ToolCallDelta)


class Gateway:
    """The gateway as this process talks to it: one httpx client, the retry policy, and
    the translation of everything that comes back. ``transport`` is the seam tests
    replace; ``log`` receives ``--debug`` lines (already free of secrets)."""

    def __init__(
        self,
        settings: Settings,
        *,
        log: Callable[[str], None] | None = None,
        transport: httpx.BaseTransport | None = None,
        connections: int = 1,
    ) -> None:
        self.settings = settings
        self._log = log
        self._secrets = [settings.api_key]
        self.host = httpx.URL(settings.base_url).host or settings.base_url
        timeout = httpx.Timeout(settings.timeout, connect=settings.connect_timeout)
        headers = {"User-Agent": f"t360/{__version__}", "Accept-Encoding": "identity"}
        if settings.api_key:
            headers["Authorization"] = f"Bearer {settings.api_key}"
        hooks: dict[str, list[Callable[..., Any]]] = {}
        if log is not None:
            hooks = {"request": [self._log_request], "response": [self._log_response]}
        # Loading the CA bundle for a verifying TLS context costs 30 ms or more. A plain
        # http:// gateway (a local one, or a proxy on loopback) never speaks TLS, since
        # redirects are not followed, so it gets the cheap unverified context it never uses.
        plain = settings.base_url.startswith("http://")
        self.client = httpx.Client(
            timeout=timeout,
            headers=headers,
            follow_redirects=False,
            transport=transport,
            event_hooks=hooks,
            verify=not plain,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the commands ask for ------------------------------------------------------

    def chat(
        self, payload: dict[str, Any], on_wait: WaitHook = _default_wait
    ) -> Generator[Event, None, None]:
        """Events of one chat completion, retrying before the first token as SPEC.md
        says. Close the iterator to drop the connection at once."""
        return self._retrying(lambda attempt: self._chat_once(payload, attempt), on_wait)

    def models(self, on_wait: WaitHook = _default_wait) -> list[dict[str, Any]]:
        """``GET {base_url}/models``: the gateway's model objects, retried like a chat."""
        events = self._retrying(lambda attempt: self._models_once(), on_wait)
        while True:
            try:
                next(events)
            except StopIteration as done:
                models: list[dict[str, Any]] = done.value
                return models

    # -- how ----------------------------------------------------------------------------

    def _retrying(
        self,
        once: Callable[[_Attempt], Generator[Event, None, _T]],
        on_wait: WaitHook,
    ) -> Generator[Event, None, _T]:
        """The one retry loop: run ``once`` until it succeeds, fails for good, or has
        shown text; every error leaves with the key scrubbed from its message."""
        tries = 0
        while True:
            attempt = _Attempt()
            try:
                return (yield from once(attempt))
            except (APIError, NetworkError) as error:
                error.message = scrub(error.message, self._secrets)
                tries += 1
                if attempt.shown:
                    raise
                on_wait(_retry_wait(error, tries, self.settings.retries), tries, error)

    def _chat_once(
        self, payload: dict[str, Any], attempt: _Attempt
    ) -> Generator[Event, None, None]:
        url = f"{self.settings.base_url}/chat/completions"
        headers = {"Accept": "text/event-stream"} if payload.get("stream") else {}
        yield Sent()
        with (
            _translate(self.host, self.settings.timeout),
            self.client.stream("POST", url, json=payload, headers=headers) as response,
        ):
            if response.status_code != 200:
                raise _status_error(response)
            _bound(response)
            stream = _Stream(response, self._usage_note)
            for event in stream.events():
                attempt.shown = attempt.shown or isinstance(event, _CONTENT)
                yield event
            if not stream.complete:
                raise StreamError(
                    "the stream ended before the answer was complete (no finish reason, no [DONE])",
                    "the answer is cut; try again",
                )

    def _models_once(self) -> Generator[Event, None, list[dict[str, Any]]]:
        url = f"{self.settings.base_url}/models"
        with (
            _translate(self.host, self.settings.timeout),
            self.client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise _status_error(response)
            _bound(response)
            body = _read(response, MAX_BODY_BYTES, "the model list")
        return _model_list(body)
        yield  # a generator, for the one retry loop

    def _usage_note(self, usage: Usage) -> None:
        if usage.dropped and self._log is not None:
            self._log(
                f"usage: {', '.join(usage.dropped)} not a plausible number; shown as unavailable"
            )

    def _debug(self, line: str) -> None:
        if self._log is not None:
            self._log(scrub(line, self._secrets))

    def _log_request(self, request: httpx.Request) -> None:
        self._debug(f"> {request.method} {request.url} {_shown_headers(request.headers)}")

    def _log_response(self, response: httpx.Response) -> None:
        self._debug(
            f"< {response.http_version} {response.status_code} {response.reason_phrase} "
            f"{_shown_headers(response.headers)}"
        )


class _Stream:
    """One response turned into events; remembers whether the answer is complete."""

    def __init__(self, response: httpx.Response, note: Callable[[Usage], None]) -> None:
        self.response = response
        self.decoder = ChunkDecoder()
        self.complete = False
        self._note = note

    def events(self) -> Iterator[Event]:
        kind = self.response.headers.get("content-type", "").partition(";")[0].strip().lower()
        if kind == "text/event-stream":
            yield from self._sse()
        elif kind == "application/json" or kind.endswith("+json"):
            yield from self._completion()
        else:
            body = next(self.response.iter_bytes(), b"")
            raise StreamError(
                f"the gateway answered with {kind or 'no content type'}, not an event stream: "
                f"{snippet(body)!r}",
                "check --base-url; a proxy may be in the way",
            )

    def _sse(self) -> Iterator[Event]:
        decode = self.decoder.decode
        for sse in httpx_sse.EventSource(self.response).iter_sse():
            data = sse.data
            if not data:
                continue
            if data == "[DONE]":
                self.complete = True
                return
            yield from self._checked(decode(parse_data(data)))

    def _completion(self) -> Iterator[Event]:
        body = _read(self.response, MAX_BODY_BYTES, "the gateway's answer")
        obj = parse_data(body.decode("utf-8", "replace"))
        yield from self._checked(self.decoder.decode(obj, part="message"))
        self.complete = True

    def _checked(self, events: list[Event]) -> Iterator[Event]:
        for event in events:
            if isinstance(event, ErrorEvent):
                raise APIError(event.message, type=event.type, code=event.code)
            if isinstance(event, Finish):
                self.complete = True
            elif isinstance(event, Usage):
                self._note(event)
            yield event


def _model_list(body: bytes) -> list[dict[str, Any]]:
    try:
        obj = json.loads(body)
    except ValueError:
        raise StreamError(
            f"the model list is not JSON: {snippet(body)!r}", "check --base-url"
        ) from None
    data = obj.get("data") if isinstance(obj, dict) else obj
    if not isinstance(data, list):
        raise StreamError("the model list has no 'data' array", "check --base-url")
    return [item for item in data if isinstance(item, dict) and isinstance(item.get("id"), str)]
