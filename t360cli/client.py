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
import re
import select
import socket
import ssl
import threading
import time
import weakref
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

import httpcore
import httpx
import httpx_sse

from . import __version__, trace, units
from .config import Settings, without_password
from .errors import (
    APIError,
    AuthError,
    ConfigError,
    NetworkError,
    StreamError,
    T360Error,
    TLSError,
    UsageError,
)
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
from .network import Origin, Warm, describe_trust, proxy_for, tls_context
from .request import encode
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
                f"the gateway sent a line longer than {units.size(MAX_LINE_BYTES, binary=True)} "
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


def _read(
    response: httpx.Response,
    limit: int,
    too_large: T360Error,
    stop: threading.Event | None = None,
) -> bytes:
    """The body, at most ``limit`` decoded bytes (``too_large`` past them); with ``stop``,
    reading ends at the next step once it is set (a deadline passed elsewhere)."""
    body = bytearray()
    for chunk in response.iter_bytes():
        if stop is not None and stop.is_set():
            raise NetworkError("the fetch was stopped")
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


def _over(what: str) -> StreamError:
    return StreamError(
        f"{what} is over {units.size(MAX_BODY_BYTES, binary=True)}",
        "the gateway is misbehaving; report it",
    )


def _certificate_problem(exc: BaseException) -> str | None:
    """The reason a certificate was refused, in words, if that is what ``exc`` is."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return str(seen.verify_message or seen.reason or "verification failed")
        seen = seen.__cause__ or seen.__context__
    return None


@contextmanager
def translate_errors(
    host: str,
    timeout: float,
    proxy: str | None = None,
    check: str = "check your network, or --base-url",
) -> Iterator[None]:
    """Turn httpx's transport exceptions into NetworkError, with advice (``check``: what
    to check when the host cannot be reached)."""
    via = f"the proxy {without_password(proxy)}" if proxy else None
    try:
        yield
    except httpx.ConnectTimeout:
        raise NetworkError(
            f"timed out connecting to {via or host}",
            "check the proxy setting" if via else check,
        ) from None
    except httpx.ConnectError as exc:
        problem = _certificate_problem(exc)
        if problem is not None:
            raise TLSError(
                f"the TLS certificate of {host} is not trusted: {problem}",
                "if the gateway uses a private CA (corporate TLS inspection, a self-hosted "
                "gateway), run: t360 config set ca_bundle /path/to/ca.pem",
            ) from None
        if via:
            raise NetworkError(
                f"cannot connect to {via}: {_reason(exc)}",
                "check the proxy (the proxy setting, T360_PROXY, HTTPS_PROXY or ALL_PROXY)",
            ) from None
        raise NetworkError(f"cannot connect to {host}: {_reason(exc)}", check) from None
    except httpx.ProxyError as exc:
        raise NetworkError(
            f"{via or 'the proxy'} refused to connect to {host}: {_reason(exc)}",
            "check the proxy, or NO_PROXY",
        ) from None
    except httpx.TimeoutException:
        raise NetworkError(
            f"no data from {host} for {timeout:g} s",
            f"{host} stalled; try again, or raise --timeout",
        ) from None
    except httpx.InvalidURL as exc:
        raise ConfigError(f"invalid gateway URL: {exc}", "check --base-url") from None
    except httpx.DecodingError:
        raise StreamError(
            f"the answer from {host} could not be decoded", "try again, or report it"
        ) from None
    except httpx.RemoteProtocolError as exc:
        reason = _reason(exc)
        if any(word in reason.lower() for word in ("disconnect", "closed", "incomplete")):
            raise NetworkError(f"connection to {host} lost: {reason}", "try again") from None
        raise StreamError(  # not HTTP: the framing of the answer itself is broken
            f"{host} sent a malformed HTTP response ({reason})",
            "a proxy or the gateway is misbehaving; try again, or report it",
        ) from None
    except httpx.TransportError as exc:
        raise NetworkError(f"connection to {host} lost: {_reason(exc)}", "try again") from None


#: A Python repr of bytes inside a library's message: ``: bytearray(b'ZZZZ\\r\\n')``.
_BYTES_REPR = re.compile(r""":?\s*(?:bytearray\()?b(['"]).*?(?<!\\)\1\)?""")


def _reason(exc: Exception) -> str:
    """The library's words for a failure, without its reprs of the bytes it saw."""
    text = _BYTES_REPR.sub("", str(exc) or type(exc).__name__)
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
    400: "the gateway refused the request; check -o options, --max-tokens and the model "
    "(--debug shows what was sent)",
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
    except (ValueError, RecursionError):  # RecursionError: nested past what Python reads
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
        return not isinstance(error, TLSError)
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


#: How long an idle connection is kept for the next request (a REPL's next turn).
KEEPALIVE = 600.0


#: After ``[DONE]``, how long the rest of the body (the end of the chunked encoding) may
#: take to arrive before the connection is given up rather than kept for the next request.
LINGER = 1.0


class _Conn(httpcore.NetworkStream):
    """A connection as httpcore reads and writes it, whose reads can be cut short.

    After ``[DONE]`` the end of the body is read so that the connection can serve the
    next request; ``cap`` bounds that wait, so a server that never ends the body costs
    the connection, not the user's time.
    """

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner
        self.cap: float | None = None
        self._secured: _Conn | None = None  # the same connection, once TLS runs on it

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self.cap is not None:
            timeout = self.cap if timeout is None else min(timeout, self.cap)
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        self._secured = _Conn(self._inner.start_tls(ssl_context, server_hostname, timeout))
        return self._secured

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)

    def cut(self) -> None:
        """Shut the TCP connection down both ways (below TLS, if any): a read waiting on
        it in another thread returns at once, which closing the socket would not do."""
        if self._secured is not None:
            self._secured.cut()
            return
        sock = self._inner.get_extra_info("socket")
        if isinstance(sock, socket.socket):
            with suppress(OSError):  # already closed: nothing waits on it
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Opened(httpcore.NetworkStream):
    """A socket opened early (``network.Warm``), TLS done, as httpcore uses a stream."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            self._sock.settimeout(timeout)
            return self._sock.recv(max_bytes)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(exc) from exc
        except OSError as exc:
            raise httpcore.ReadError(exc) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        try:
            self._sock.settimeout(timeout)
            self._sock.sendall(buffer)
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(exc) from exc
        except OSError as exc:
            raise httpcore.WriteError(exc) from exc

    def close(self) -> None:
        self._sock.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return self  # the handshake was made when the connection was opened

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object" and isinstance(self._sock, ssl.SSLSocket):
            return self._sock  # what httpcore asks of it (the ALPN chosen), it answers too
        if info == "socket":
            return self._sock
        if info == "is_readable":  # an idle connection that is readable was closed
            return bool(select.select([self._sock], [], [], 0)[0])
        return None


class _Backend(httpcore.SyncBackend):
    """Connects as usual, except that a connection opened early is used when it fits;
    every connection comes wrapped in ``_Conn``."""

    def __init__(self, warm: Warm | None) -> None:
        self.warmed: list[Warm] = [warm] if warm is not None else []
        self._made: weakref.WeakSet[_Conn] = weakref.WeakSet()  # the connections alive
        self._lock = threading.Lock()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        conn = None
        while self.warmed and conn is None:
            sock = self.warmed.pop(0).take(host, port)
            if sock is not None:
                conn = _Conn(_Opened(sock))
        if conn is None:
            conn = _Conn(super().connect_tcp(host, port, timeout, local_address, socket_options))
        with self._lock:
            self._made.add(conn)
        return conn

    def cut(self) -> None:
        """Every connection made and still alive, shut down (``Gateway.interrupt``)."""
        with self._lock:
            made = list(self._made)
        for conn in made:
            conn.cut()

    def close(self) -> None:
        for warm in self.warmed:
            warm.close()
        self.warmed.clear()


#: httpcore's exceptions and the httpx ones they are raised as (most specific first), so
#: that everything above the transport sees httpx's tree only.
_HTTPCORE_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextmanager
def _as_httpx() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for theirs, ours in _HTTPCORE_ERRORS:
            if isinstance(exc, theirs):
                raise ours(str(exc)) from exc
        raise


class _Body(httpx.SyncByteStream):
    """A response body from the pool, its errors raised as httpx's."""

    def __init__(self, inner: Iterable[bytes]) -> None:
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx():
            yield from self._inner

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            with _as_httpx():
                close()


class _Transport(httpx.BaseTransport):
    """A transport over an httpcore connection pool of t360's own, built through httpcore's
    public constructors: its network backend takes connections opened early and lets the
    end of an answer be read in bounded time (httpx's own transport takes no backend)."""

    def __init__(
        self,
        verify: ssl.SSLContext | bool,
        limits: httpx.Limits,
        proxy: str | None,
        warm: Warm | None,
    ) -> None:
        self._backend = _Backend(warm)
        context = verify if isinstance(verify, ssl.SSLContext) else None
        pool: dict[str, Any] = {
            "ssl_context": context,
            "max_connections": limits.max_connections,
            "max_keepalive_connections": limits.max_keepalive_connections,
            "keepalive_expiry": limits.keepalive_expiry,
            "network_backend": self._backend,
        }
        self._connections: httpcore.ConnectionPool | httpcore.HTTPProxy | httpcore.SOCKSProxy
        if proxy is None:
            self._connections = httpcore.ConnectionPool(**pool)
            return
        via = httpx.Proxy(url=proxy)
        url = httpcore.URL(
            scheme=via.url.raw_scheme,
            host=via.url.raw_host,
            port=via.url.port,
            target=via.url.raw_path,
        )
        if via.url.scheme in ("socks5", "socks5h"):
            self._connections = httpcore.SOCKSProxy(proxy_url=url, proxy_auth=via.raw_auth, **pool)
        else:
            self._connections = httpcore.HTTPProxy(
                proxy_url=url, proxy_auth=via.raw_auth, proxy_headers=via.headers.raw, **pool
            )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, Iterable)
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx():
            response = self._connections.handle_request(core)
        assert isinstance(response.stream, Iterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response.stream),
            extensions=response.extensions,
        )

    def warm(self, warm: Warm) -> None:
        self._backend.close()  # one fresh connection in reserve is enough
        self._backend.warmed.append(warm)

    def cut(self) -> None:
        self._backend.cut()

    def close(self) -> None:
        with _as_httpx():
            self._connections.close()
        self._backend.close()


def _finish_body(response: httpx.Response, rest: Iterator[object]) -> None:
    """After ``[DONE]``: read the end of the body (normally already here), so that the
    connection serves the next request; within LINGER seconds and 100 events, or the
    connection is closed with the response instead."""
    conn = response.extensions.get("network_stream")
    if not isinstance(conn, _Conn):
        return
    conn.cap = LINGER
    try:
        for count, _ in enumerate(rest):
            if count >= 100:
                return
    except (httpx.TransportError, StreamError):
        pass
    finally:
        conn.cap = None


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
        environ: Mapping[str, str] | None = None,
        warm: Warm | None = None,
        log: Callable[[str], None] | None = None,
        transport: httpx.BaseTransport | None = None,
        connections: int = 1,
    ) -> None:
        self.settings = settings
        self._log = log
        self._secrets = [settings.api_key]
        environ = environ if environ is not None else {}
        self.origin = Origin.of(settings.base_url)
        self.host = self.origin.host or settings.base_url
        found = proxy_for(settings.base_url, settings.proxy, environ)
        self.proxy = found[0] if found else None
        shown_proxy = f"{without_password(found[0])} (from {found[1]})" if found else "none"
        if warm is not None and (
            self.proxy is not None
            or warm.origin != self.origin
            or warm.ca_bundle != settings.ca_bundle
        ):
            warm.close()  # opened for somewhere else: of no use
            warm = None
        timeout = httpx.Timeout(settings.timeout, connect=settings.connect_timeout)
        headers = {"User-Agent": f"t360/{__version__}", "Accept-Encoding": "identity"}
        if settings.api_key:
            headers["Authorization"] = f"Bearer {settings.api_key}"
        hooks: dict[str, list[Callable[..., Any]]] = {}
        if log is not None:
            hooks = {"request": [self._log_request], "response": [self._log_response]}
            trust = describe_trust(settings.ca_bundle, environ) if self.origin.tls else "no TLS"
            self._debug(f"tls: {trust}; proxy: {shown_proxy}")
        # Building a verifying TLS context costs 30 ms or more. A plain http:// gateway
        # never speaks TLS (redirects are not followed), so it gets none.
        verify: ssl.SSLContext | bool = False
        if self.origin.tls:
            verify = warm.context() if warm is not None else tls_context(settings.ca_bundle)
        limits = httpx.Limits(
            max_connections=connections,
            max_keepalive_connections=connections,
            keepalive_expiry=KEEPALIVE,
        )
        self._own: _Transport | None = None
        self._interrupts = 0  # how many times ``interrupt`` was called
        self._phased = False  # whether --debug has shown the start-up's phases
        self._phasing = threading.Lock()
        #: Requests the pool carries at once (t360 compare: one per model).
        self.connections = connections
        if transport is None:
            transport = self._own = _Transport(verify, limits, self.proxy, warm)
        self.client = httpx.Client(
            timeout=timeout,
            headers=headers,
            follow_redirects=False,
            transport=transport,
            event_hooks=hooks,
            verify=verify,
            limits=limits,
            trust_env=False,  # the proxy is decided in network.py, from the same variables
        )
        trace.mark("client ready")

    def warm_up(self) -> None:
        """Open a fresh connection in the background, for a request soon to come (the
        REPL, when the user starts typing after a pause the server may not have waited)."""
        if self.proxy is None and self._own is not None:
            fresh = Warm(self.origin, self.settings.connect_timeout)
            self._own.warm(fresh.secure(self.settings.ca_bundle))

    def close(self) -> None:
        self.client.close()

    def interrupt(self) -> None:
        """Ctrl-C for the requests that other threads are waiting on (t360 compare, whose
        answers stream on threads while the signal reaches the main one): each request in
        flight now ends as if Ctrl-C had reached it, a KeyboardInterrupt from its events,
        and its connection is shut down, so the gateway stops generating. Requests sent
        afterwards are not affected."""
        self._interrupts += 1
        if self._own is not None:
            self._own.cut()

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
        shown text; every error leaves with the key scrubbed from its message. After
        ``interrupt``, what the cut connection raises is the interruption instead."""
        tries = 0
        interrupts = self._interrupts
        while True:
            attempt = _Attempt()
            try:
                return (yield from once(attempt))
            except (APIError, NetworkError) as error:
                if self._interrupts != interrupts:
                    raise KeyboardInterrupt from None
                error.message = scrub(error.message, self._secrets)
                tries += 1
                if attempt.shown:
                    raise
                on_wait(_retry_wait(error, tries, self.settings.retries), tries, error)

    def _chat_once(
        self, payload: dict[str, Any], attempt: _Attempt
    ) -> Generator[Event, None, None]:
        url = f"{self.settings.base_url}/chat/completions"
        length, body = encode(payload)
        headers = {"Content-Type": "application/json", "Content-Length": str(length)}
        if payload.get("stream"):
            headers["Accept"] = "text/event-stream"
        yield Sent()
        trace.mark("request sent")
        with (
            translate_errors(self.host, self.settings.timeout, self.proxy),
            self.client.stream("POST", url, content=body, headers=headers) as response,
        ):
            trace.mark("answer headers")
            if response.status_code != 200:
                raise _status_error(response)
            _bound(response)
            stream = _Stream(response, self._usage_note)
            for event in stream.events():
                if not attempt.shown and isinstance(event, _CONTENT):
                    attempt.shown = True
                    self._phases()
                yield event
            if not stream.complete:
                raise StreamError(
                    "the stream ended before the answer was complete (no finish reason, no [DONE])",
                    "the answer is cut; try again",
                )

    def _models_once(self) -> Generator[Event, None, list[dict[str, Any]]]:
        url = f"{self.settings.base_url}/models"
        with (
            translate_errors(self.host, self.settings.timeout, self.proxy),
            self.client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise _status_error(response)
            _bound(response)
            body = _read(response, MAX_BODY_BYTES, _over("the model list"))
        return _model_list(body)
        yield  # a generator, for the one retry loop

    def _usage_note(self, usage: Usage) -> None:
        if usage.dropped and self._log is not None:
            self._log(
                f"usage: {', '.join(usage.dropped)} not a plausible number; shown as unavailable"
            )

    def _phases(self) -> None:
        """``--debug``: the start-up's phases, once, at the first answer text."""
        trace.mark("first text")
        if self._log is None:
            return
        with self._phasing:  # compare's answers stream on threads: one line still
            shown, self._phased = self._phased, True
        phases = None if shown else trace.line()
        if phases is not None:
            self._debug(phases)

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
        events = httpx_sse.EventSource(self.response).iter_sse()
        for sse in events:
            data = sse.data
            if not data:
                continue
            if data == "[DONE]":
                self.complete = True
                _finish_body(self.response, events)
                return
            yield from self._checked(decode(parse_data(data)))

    def _completion(self) -> Iterator[Event]:
        body = _read(self.response, MAX_BODY_BYTES, _over("the gateway's answer"))
        obj = parse_data(body.decode("utf-8", "replace"))
        yield from self._checked(self.decoder.decode(obj, part="message"))
        self.complete = True

    def _checked(self, events: list[Event]) -> Iterator[Event]:
        for event in events:
            if isinstance(event, ErrorEvent):
                raise APIError(event.message, _stream_hint(event), type=event.type, code=event.code)
            if isinstance(event, Finish):
                self.complete = True
            elif isinstance(event, Usage):
                self._note(event)
            yield event


def _stream_hint(event: ErrorEvent) -> str:
    """Advice for an error the gateway reported inside the answer's stream."""
    said = f"{event.type or ''} {event.code or ''} {event.message}".lower()
    if "rate" in said or "429" in said:
        return _STATUS_HINTS[429]
    return "the provider failed during the answer; try again, or another model with -m"


def _model_list(body: bytes) -> list[dict[str, Any]]:
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError):
        raise StreamError(
            f"the model list is not JSON: {snippet(body)!r}", "check --base-url"
        ) from None
    data = obj.get("data") if isinstance(obj, dict) else obj
    if not isinstance(data, list):
        raise StreamError("the model list has no 'data' array", "check --base-url")
    return [item for item in data if isinstance(item, dict) and isinstance(item.get("id"), str)]


#: ``-f URL``: the most redirects followed, and how long the whole fetch may take.
MAX_REDIRECTS = 5
PAGE_DEADLINE = 30.0


def fetch_page(
    settings: Settings,
    environ: Mapping[str, str],
    url: str,
    limit: int,
    warn: Callable[[str], None],
    deadline: float | None = None,
) -> tuple[str, bytes]:
    """GET ``url`` (``-f URL``) through the same proxy and TLS trust as the gateway, but
    without the API key; its content type and at most ``limit`` decoded bytes of body.

    At most MAX_REDIRECTS redirects are followed (each change of host said through
    ``warn``; only to http and https), a redirect's own body is never read, and the whole
    fetch ends after ``deadline`` seconds (PAGE_DEADLINE) however slowly the page
    trickles in: it runs on a thread of its own that is left to stop at its next step.
    """
    deadline = PAGE_DEADLINE if deadline is None else deadline
    done = threading.Event()
    stop = threading.Event()
    outcome: list[tuple[str, bytes] | BaseException] = []

    def work() -> None:
        try:
            outcome.append(_fetch(settings, environ, url, limit, warn, stop))
        except BaseException as exc:  # handed to the caller's thread
            outcome.append(exc)
        finally:
            done.set()

    threading.Thread(target=work, name="t360-fetch", daemon=True).start()
    try:
        if not done.wait(deadline):
            raise NetworkError(
                f"-f {url} did not arrive within {deadline:g} s",
                "the page is too slow; save it to a file and use -f FILE",
            )
    finally:
        stop.set()
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


def _fetch(
    settings: Settings,
    environ: Mapping[str, str],
    url: str,
    limit: int,
    warn: Callable[[str], None],
    stop: threading.Event,
) -> tuple[str, bytes]:
    headers = {
        "User-Agent": f"t360/{__version__}",
        "Accept": "text/html, text/plain;q=0.9, */*;q=0.1",
    }
    timeout = httpx.Timeout(settings.timeout, connect=settings.connect_timeout)
    target = url
    for _ in range(MAX_REDIRECTS + 1):
        try:
            httpx.URL(target)
        except httpx.InvalidURL as exc:
            raise UsageError(f"-f {target}: not a URL t360 can fetch ({exc})") from None
        found = proxy_for(target, settings.proxy, environ)
        origin = Origin.of(target)
        verify: ssl.SSLContext | bool = tls_context(settings.ca_bundle) if origin.tls else False
        host = origin.host or target
        with (
            httpx.Client(
                verify=verify,
                proxy=found[0] if found else None,
                timeout=timeout,
                headers=headers,
                follow_redirects=False,
                trust_env=False,
            ) as client,
            translate_errors(host, settings.timeout, found[0] if found else None, f"check {url}"),
            client.stream("GET", target) as response,
        ):
            if response.is_redirect:
                following = _redirect(url, response, host, warn)
                if following is not None:
                    target = following
                    continue
            if response.status_code >= 400:
                raise NetworkError(
                    f"cannot fetch {target}: HTTP {response.status_code} {response.reason_phrase}",
                    "check the address",
                )
            _bound(response)
            too_large = UsageError(
                f"{url} is over {units.size(limit)}",
                "save the part you need to a file and use -f FILE",
            )
            body = _read(response, limit, too_large, stop)
            return response.headers.get("content-type", ""), body
    raise NetworkError(
        f"-f {url} redirected more than {MAX_REDIRECTS} times", "give the page's final address"
    )


def _redirect(
    url: str, response: httpx.Response, host: str, warn: Callable[[str], None]
) -> str | None:
    """Where a redirect leads (None: no Location, so the response stands); refused when
    it leaves http and https; a change of host is said."""
    location = response.headers.get("location")
    if not location:
        return None
    try:
        following = response.url.join(location)
    except httpx.InvalidURL:
        raise NetworkError(
            f"-f {url} redirected to an invalid address: {snippet(location)!r}",
            "give the page's final address",
        ) from None
    if following.scheme not in ("http", "https"):
        raise UsageError(
            f"-f {url} redirected to a {following.scheme}: URL, which t360 does not fetch",
            "give an http(s) page",
        )
    if following.host != host:
        warn(f"-f {url}: redirected to {following.host}")
    return str(following)
