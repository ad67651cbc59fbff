"""MCP's streamable HTTP transport (protocol 2025-03-26 on): ``RemoteServer``, and its HTTP.

Each JSON-RPC message is POSTed to the server's URL with ``Accept: application/json,
text/event-stream``. A request is answered with a JSON body, or with an SSE stream that
may carry the server's own requests and notifications before the answer; a notification
or an answer gets 202. The ``Mcp-Session-Id`` the server gives at ``initialize`` goes with
every later message, and ``MCP-Protocol-Version`` once the version is agreed; ``end``
DELETEs the session. t360 opens no GET stream: it needs nothing a server says unasked.

The server is reached as the gateway is: through the proxy ``network.proxy_for`` finds,
with the TLS trust of ``network.tls_context``. httpx's errors are translated where they
enter, as the gateway's are (``client.translate_errors``), and said as an MCPError, since all
above speaks of a server that cannot start or a call that failed. httpx is imported here
and in client.py only (pyproject.toml's lint rule says why).

Untrusted input: a body is read raw, no encoding having been asked for (another one is
refused), so the bytes counted are the bytes decoded; a message is cut off at
``mcp.MAX_MESSAGE`` as it is read (``Oversized``), an error's body at ERROR_BODY; a stream
is left at its next chunk once its ``stop`` is set. The headers' values (tokens) are
scrubbed from every error and log line.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx

from . import __version__
from .client import translate_errors
from .errors import T360Error, TLSError
from .mcp import (
    GRACE,
    MAX_LOG,
    MAX_MESSAGE,
    MCPError,
    Oversized,
    Peer,
    Reach,
    Request,
    expand,
    open_log,
    public_url,
)
from .network import Origin, proxy_for, tls_context
from .safety import scrub

#: The most of an error's body read (for its message and the log).
ERROR_BODY = 65536
#: A session id as the spec has it: visible ASCII.
_SESSION = re.compile(r"[\x21-\x7e]+")


class SessionEnded(MCPError):
    """HTTP 404 to a message that carried a session id: the server forgot the session."""

    def __init__(self, session: str) -> None:
        super().__init__("its session ended (HTTP 404), twice")
        self.session = session


class Endpoint:
    """One MCP server's URL, and the httpx client that reaches it (safe to share between
    threads); ``note`` gets a line for the server's log whenever something goes wrong."""

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str],
        reach: Reach,
        timeout: float,
        note: Callable[[str], None],
    ) -> None:
        origin = Origin.of(url)
        found = proxy_for(url, reach.proxy, reach.environ)
        self.url = url
        #: The session the server gave at ``initialize`` (None: none yet, or none kept).
        self.session: str | None = None
        self._shown = public_url(url)
        self._host = origin.host
        self._proxy = found[0] if found else None
        self._timeout = timeout
        self._secrets = list(headers.values())
        self._note = note
        self._client = httpx.Client(
            headers={
                **headers,
                "User-Agent": f"t360/{__version__}",
                "Accept": "application/json, text/event-stream",
                "Accept-Encoding": "identity",
            },
            verify=tls_context(reach.ca_bundle) if origin.tls else False,
            proxy=self._proxy,
            timeout=httpx.Timeout(timeout, connect=reach.connect_timeout),
            follow_redirects=False,
            trust_env=False,  # the proxy is decided in network.py, as for the gateway
        )

    def post(self, data: bytes, stop: threading.Event, protocol: str | None) -> Iterator[bytes]:
        """POST one message; the messages of the answer as they arrive (none for 202),
        until it ends or ``stop`` is set. MCPError says what went wrong; SessionEnded
        that the server forgot the session."""
        headers = {"Content-Type": "application/json"}
        session = self.session
        if session is not None:
            headers["Mcp-Session-Id"] = session
        if protocol is not None:
            headers["MCP-Protocol-Version"] = protocol
        with (
            self._translated(),
            self._client.stream("POST", self.url, content=data, headers=headers) as response,
        ):
            self._check(response, session)
            if response.status_code in (202, 204):
                return
            kind = response.headers.get("content-type", "").partition(";")[0].strip().lower()
            chunks = _until(response.iter_raw(), stop)
            if kind == "text/event-stream":
                yield from _events(chunks)
            elif kind == "application/json" or kind.endswith("+json"):
                yield _whole(chunks)
            else:
                raise MCPError(
                    f"{self._shown} answered with {kind[:60] or 'no content type'},"
                    " not JSON or an event stream"
                )

    def end(self, protocol: str | None) -> None:
        """DELETE the session, if there is one, so that the server can free it (within
        GRACE / 2 seconds; what comes of it is only noted)."""
        if self.session is None:
            return
        headers = {"Mcp-Session-Id": self.session}
        if protocol is not None:
            headers["MCP-Protocol-Version"] = protocol
        try:
            with self._translated():
                response = self._client.delete(
                    self.url, headers=headers, timeout=httpx.Timeout(GRACE / 2)
                )
        except MCPError:
            return  # noted
        if response.status_code >= 300 and response.status_code != 405:  # 405: it keeps it
            self._note(f"DELETE: HTTP {response.status_code} {response.reason_phrase}")

    def close(self) -> None:
        self._client.close()

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """httpx's errors as MCPError (through the gateway's translation), noted."""
        try:
            # its hints are the gateway's
            with translate_errors(self._host, self._timeout, self._proxy):
                yield
        except T360Error as error:
            why = error.message
            if isinstance(error, TLSError):
                why += "; if it uses a private CA: t360 config set ca_bundle PATH"
            self._note(why)
            raise MCPError(scrub(why, self._secrets)) from None
        except RuntimeError:  # what httpx raises for a client closed meanwhile
            if not self._client.is_closed:
                raise
            raise MCPError("it was stopped") from None

    def _check(self, response: httpx.Response, session: str | None) -> None:
        """Keep the session id an answer gives; MCPError for an answer in error."""
        status, reason = response.status_code, response.reason_phrase
        if 200 <= status < 300:
            given = response.headers.get("mcp-session-id")
            if given is not None and self.session is None:
                if not _SESSION.fullmatch(given):
                    self._note(f"invalid Mcp-Session-Id {given[:200]!r}")
                    raise MCPError("it gave an invalid session id (not visible ASCII)")
                self.session = given
            encoding = response.headers.get("content-encoding", "identity").strip().lower()
            if encoding not in ("", "identity"):
                raise MCPError(
                    f"it answered in {encoding[:40]!r}, an encoding t360 did not ask for"
                )
            return
        if status == 404 and session is not None:
            raise SessionEnded(session)
        body = _head(response.iter_raw(), ERROR_BODY).decode("utf-8", "replace")
        self._note(f"HTTP {status} {reason}: {body[:2000]!r}")
        if status in (401, 403):
            raise MCPError(
                f"{self._shown} refused t360 (HTTP {status} {reason}): check its headers"
            )
        if 300 <= status < 400:
            location = scrub(public_url(response.headers.get("location", "?"))[:300], self._secrets)
            raise MCPError(f"{self._shown} redirects (HTTP {status}) to {location}: give that url")
        detail = scrub(_error_message(body), self._secrets)
        raise MCPError(f"HTTP {status} {reason} from {self._shown}{': ' if detail else ''}{detail}")


def _until(chunks: Iterable[bytes], stop: threading.Event) -> Iterator[bytes]:
    """``chunks`` until ``stop`` is set (seen as each chunk arrives)."""
    for chunk in chunks:
        if stop.is_set():
            return
        yield chunk


def _head(chunks: Iterable[bytes], limit: int) -> bytes:
    """The first ``limit`` bytes of a body, the rest left unread."""
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) >= limit:
            break
    return bytes(body[:limit])


def _whole(chunks: Iterable[bytes]) -> bytes:
    """A JSON body, Oversized past MAX_MESSAGE bytes."""
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > MAX_MESSAGE:
            raise Oversized
    return bytes(body)


def _events(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The data of each event of an SSE stream (of type ``message``, or none) as it
    ends; Oversized as soon as an event or a line grows past MAX_MESSAGE. Comments,
    ``id`` and ``retry`` are read and left; an event with no data (a priming event) too."""
    line = bytearray()  # the line under way
    data = bytearray()  # the event's data under way
    has_data = False
    kind = b""
    cr = False  # the last chunk ended in CR: an LF first in the next ends the same line
    for chunk in chunks:
        if cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # noqa: PLW2901 - the rest of a CRLF split between chunks
        cr = chunk.endswith(b"\r")
        *complete, rest = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        for part in complete:
            text = bytes(line + part) if line else part
            line.clear()
            if not text:  # a blank line ends the event
                if data and kind in (b"", b"message"):
                    yield bytes(data)
                data.clear()
                has_data, kind = False, b""
                continue
            field, _, value = text.partition(b":")
            value = value[1:] if value.startswith(b" ") else value
            if field == b"data":
                data += b"\n" + value if has_data else value
                has_data = True
            elif field == b"event":
                kind = value
            if len(data) > MAX_MESSAGE:
                raise Oversized
        line += rest
        if len(line) > MAX_MESSAGE:
            raise Oversized


def _error_message(body: str) -> str:
    """What an error's body says: its JSON-RPC error's message, or its start."""
    try:
        obj = json.loads(body)
    except ValueError:
        return " ".join(body.split())[:200]
    error = obj.get("error") if isinstance(obj, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return " ".join(str(message).split())[:300] if message is not None else ""


class RemoteServer(Peer):
    """One MCP server reached over MCP's streamable HTTP transport (``Endpoint`` speaks
    the HTTP). Each request is POSTed, and its answer read, on a thread of its own, so
    that calls run at once; notifications and answers to the server's requests go out in
    order from one more thread. Every wait has a deadline: the HTTP timeouts bound each
    read, and a request given up on (its deadline, Ctrl-C, ``close``) stops its stream at
    the next chunk. A session the server forgot (HTTP 404) is started afresh, once per
    request. What went wrong over HTTP goes to the log, its headers' values scrubbed."""

    def __init__(
        self,
        name: str,
        url: str,
        headers: Mapping[str, str],
        *,
        environ: Mapping[str, str],
        reach: Reach,
        timeout: float,
        start_timeout: float,
        log: Path,
        debug: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(name, debug=debug)
        self.url = url
        self.headers = dict(headers)  # as configured: ${VAR} expanded at start
        self.environ = environ
        self.reach = reach
        self.timeout = timeout
        self.start_timeout = start_timeout
        self.log = log
        self._endpoint: Endpoint | None = None
        self._log: IO[bytes] | None = None
        self._room = MAX_LOG
        self._noting = threading.Lock()
        self._renewing = threading.Lock()

    def _open(self) -> None:
        headers = expand(self.headers, self.environ)
        self.secrets = tuple(headers.values())
        self._log = open_log(self.log, public_url(self.url))
        with self._life:
            if self._closed:
                raise MCPError("it was stopped")
            try:
                self._endpoint = endpoint = Endpoint(
                    self.url, headers, self.reach, max(self.timeout, self.start_timeout), self.note
                )
            except T360Error as exc:
                raise MCPError(exc.message) from None
        self._say(f"reaching {public_url(self.url)}")
        threading.Thread(
            target=self._send_out, args=(endpoint,), name=f"t360-mcp-{self.name}", daemon=True
        ).start()

    def close(self) -> None:
        """End the session (DELETE, waited for GRACE / 2 seconds at most) and what is
        under way; the connections and the log are closed."""
        with self._life:
            self._closed = True
            endpoint, self._endpoint = self._endpoint, None
        if endpoint is not None:
            self._fail_all("it was stopped")
            self._queue(None)
            ending = threading.Thread(
                target=endpoint.end,
                args=(self.protocol,),
                name=f"t360-mcp-{self.name}",
                daemon=True,
            )
            ending.start()
            ending.join(GRACE / 2)
            endpoint.close()
            self._say("stopped")
        with self._noting:
            log, self._log = self._log, None
        if log is not None:
            log.close()

    def note(self, line: str) -> None:
        """A line for the server's log (what went wrong over HTTP), its secrets scrubbed;
        MAX_LOG bytes a run at most."""
        data = f"{time.strftime('%H:%M:%S')} {scrub(line, self.secrets)}\n".encode()[:4096]
        with self._noting:
            if self._log is not None and self._room > 0:
                with contextlib.suppress(OSError):
                    self._log.write(data[: self._room])
                self._room -= len(data)

    def _deliver(self, data: bytes, message: dict[str, Any], *, answer: bool) -> bool:
        endpoint = self._endpoint
        if endpoint is None:
            raise MCPError("it is not running")
        if "method" in message and "id" in message:  # a request: answered on its own POST
            with self._lock:
                request = self._pending[message["id"]]
            threading.Thread(
                target=self._exchange,
                args=(endpoint, data, request),
                name=f"t360-mcp-{self.name}",
                daemon=True,
            ).start()
            return True
        return self._queue(data, answer=answer)

    def _exchange(self, endpoint: Endpoint, data: bytes, request: Request[Any]) -> None:
        """POST a request and read its answer, feeding what arrives to the requests."""
        try:
            try:
                self._post(endpoint, data, request.done)
            except SessionEnded as ended:
                self._renew(endpoint, ended.session)
                self._post(endpoint, data, request.done)
        except Oversized as exc:
            self._fail_all(str(exc))
        except MCPError as exc:
            request.fail(scrub(str(exc), self.secrets))
        else:
            if not request.done.is_set():
                request.fail("its answer ended without a result")

    def _post(self, endpoint: Endpoint, data: bytes, stop: threading.Event) -> None:
        for message in endpoint.post(data, stop, self.protocol):
            self._receive(message)

    def _renew(self, endpoint: Endpoint, session: str | None) -> None:
        """Start a new session, the server having forgotten ``session`` (HTTP 404):
        once, for every request that found out."""
        with self._renewing:
            if endpoint.session != session:
                return  # done already
            self._say("its session ended: starting a new one")
            endpoint.session = None
            self._handshake(self.start_timeout)

    def _send_out(self, endpoint: Endpoint) -> None:
        """POST what is queued (notifications, answers), in order, until the end."""
        while (data := self._take()) is not None:
            try:
                self._post(endpoint, data, threading.Event())
            except MCPError as exc:
                self._say(f"a message was not delivered: {scrub(str(exc), self.secrets)}")
            finally:
                self._sent()
