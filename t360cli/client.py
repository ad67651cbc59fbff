"""The only module that speaks HTTP: request, status check, SSE -> events, retries, timeouts.

httpx and httpx-sse exceptions are translated here, where they enter, into the tree in
``errors.py``; nothing above this module sees a foreign exception:

    httpx.ConnectError / ConnectTimeout   -> NetworkError  (cannot connect)
    httpx.ReadTimeout / WriteTimeout       -> NetworkError  (silence longer than --timeout)
    httpx.ReadError / RemoteProtocolError  -> NetworkError  (connection lost)
    HTTP 401/403                           -> AuthError
    other HTTP errors, error events        -> APIError
    bad JSON, oversized lines, truncation  -> StreamError
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import httpx_sse

from . import __version__
from .config import Settings, redact, scrub
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
    error_event,
    parse_data,
    snippet,
)

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


def _default_wait(seconds: float, attempt: int, reason: T360Error) -> None:
    time.sleep(seconds)


class _GuardedStream(httpx.SyncByteStream):
    """The raw body with a leading BOM removed and a cap on the length of a line."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._line = 0

    def __iter__(self) -> Iterator[bytes]:
        head = b""
        chunks: Iterator[bytes] = iter(self._inner)
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
                f"the stream sent a line longer than {MAX_LINE_BYTES // 2**20} MiB "
                "without a line break",
                "the gateway or a proxy is misbehaving; try again later",
            )

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


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
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    import email.utils  # rare: most gateways send seconds

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


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


def make_client(settings: Settings, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """An httpx client for the gateway; ``transport`` is the seam tests replace."""
    timeout = httpx.Timeout(settings.timeout, connect=settings.connect_timeout)
    headers = {"User-Agent": f"t360/{__version__}"}
    if settings.api_key:
        headers["Authorization"] = f"Bearer {settings.api_key}"
    hooks: dict[str, list[Callable[..., Any]]] = {}
    if settings.debug:
        hooks = {"request": [_log_request], "response": [_log_response]}
    # Loading the CA bundle for a verifying TLS context costs 30 ms or more. A plain
    # http:// gateway (a local one, or a proxy on loopback) never speaks TLS, since
    # redirects are not followed, so it gets the cheap unverified context it never uses.
    plain = settings.base_url.startswith("http://")
    return httpx.Client(
        timeout=timeout,
        headers=headers,
        follow_redirects=False,
        transport=transport,
        event_hooks=hooks,
        verify=not plain,
    )


def _debug(line: str) -> None:
    sys.stderr.write(f"t360 debug: {scrub(line)}\n")
    sys.stderr.flush()


def _shown_headers(headers: httpx.Headers) -> str:
    shown = []
    for name, value in headers.items():
        secret = name.lower() in ("authorization", "proxy-authorization", "cookie", "set-cookie")
        scheme, _, credential = value.partition(" ")
        shown.append(f"{name}: {scheme} {redact(credential)}" if secret else f"{name}: {value}")
    return "; ".join(shown)


def _log_request(request: httpx.Request) -> None:
    _debug(f"> {request.method} {request.url} {_shown_headers(request.headers)}")


def _log_response(response: httpx.Response) -> None:
    version = response.http_version
    _debug(
        f"< {version} {response.status_code} {response.reason_phrase} "
        f"{_shown_headers(response.headers)}"
    )


class _Stream:
    """One response turned into events; remembers whether the answer is complete."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.decoder = ChunkDecoder()
        self.complete = False

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
        self.response.stream = _GuardedStream(self.response.stream)
        decode = self.decoder.decode
        for sse in httpx_sse.EventSource(self.response).iter_sse():
            data = sse.data
            if not data:
                continue
            if data == "[DONE]":
                self.complete = True
                return
            for event in decode(parse_data(data)):
                if isinstance(event, ErrorEvent):
                    raise APIError(event.message, type=event.type, code=event.code)
                if isinstance(event, Finish):
                    self.complete = True
                yield event

    def _completion(self) -> Iterator[Event]:
        body = bytearray()
        for chunk in self.response.iter_bytes():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise StreamError("the gateway's answer is larger than 16 MiB")
        obj = parse_data(body.decode("utf-8", "replace"))
        for event in self.decoder.decode(obj, part="message"):
            if isinstance(event, ErrorEvent):
                raise APIError(event.message, type=event.type, code=event.code)
            yield event
        self.complete = True


_CONTENT = (TextDelta, ReasoningDelta, ToolCallDelta)


def stream_chat(
    settings: Settings,
    payload: dict[str, Any],
    on_wait: WaitHook = _default_wait,
    transport: httpx.BaseTransport | None = None,
) -> Generator[Event, None, None]:
    """Events of one chat completion, retrying before the first token as SPEC.md says.

    Close the iterator (``contextlib.closing``) to drop the connection at once.
    """
    url = f"{settings.base_url}/chat/completions"
    host = httpx.URL(url).host or url
    headers = {"Accept-Encoding": "identity"}  # a compressed stream only adds latency
    if payload.get("stream"):
        headers["Accept"] = "text/event-stream"
    attempt = 0
    with make_client(settings, transport) as client:
        while True:
            shown = False
            yield Sent()
            try:
                with (
                    _translate(host, settings.timeout),
                    client.stream("POST", url, json=payload, headers=headers) as response,
                ):
                    if response.status_code != 200:
                        raise _status_error(response)
                    stream = _Stream(response)
                    for event in stream.events():
                        shown = shown or isinstance(event, _CONTENT)
                        yield event
                    if not stream.complete:
                        raise StreamError(
                            "the stream ended before the answer was complete "
                            "(no finish reason, no [DONE])",
                            "the answer is cut; try again",
                        )
                    return
            except (APIError, NetworkError) as error:
                attempt += 1
                if shown:
                    raise
                on_wait(_retry_wait(error, attempt, settings.retries), attempt, error)


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


def list_models(
    settings: Settings,
    on_wait: WaitHook = _default_wait,
    transport: httpx.BaseTransport | None = None,
) -> list[dict[str, Any]]:
    """``GET {base_url}/models``: the gateway's model objects, retried like a chat request."""
    url = f"{settings.base_url}/models"
    host = httpx.URL(url).host or url
    attempt = 0
    with make_client(settings, transport) as client:
        while True:
            try:
                with _translate(host, settings.timeout), client.stream("GET", url) as response:
                    if response.status_code != 200:
                        raise _status_error(response)
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > MAX_BODY_BYTES:
                            raise StreamError("the model list is larger than 16 MiB")
                return _model_list(bytes(body))
            except (APIError, NetworkError) as error:
                attempt += 1
                on_wait(_retry_wait(error, attempt, settings.retries), attempt, error)


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
