"""An MCP server over streamable HTTP written by hand, in the test's process, for what the
SDK's never does: a hostile server's ways, and a record of what the client sent.

Well-behaved by default: ``initialize`` answered on an event stream with the session id
``s1`` (``s2`` for the next, and so on), notifications and answers with 202, a tool
``answers`` (its result: "called"), ``ping``, DELETE. Each POST is recorded (headers and
message), each DELETE, and whether a stream was left by the client.

Hostile, by ``how``: ``trickle`` answers ``initialize`` with a stream that sends a comment
byte every 0.2 s and never the answer; ``endless`` answers each call with an endless
stream of notifications; ``huge`` with one message that never ends (a data line);
``bad-session`` gives a session id with a space in it; ``unauthorized`` answers every POST
with 401, its body echoing the Authorization header; ``forget`` answers the first call
with 404, as a server does that forgot the session; ``json`` answers with JSON bodies.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple


class Posted(NamedTuple):
    headers: dict[str, str]  # names in lower case
    message: dict[str, Any]


class HostileServer:
    """``with HostileServer(how) as server``: it serves at ``server.url``."""

    def __init__(self, how: str = "", tls: ssl.SSLContext | None = None) -> None:
        self.how = how
        self.posted: list[Posted] = []
        self.deleted: list[str] = []
        self.sessions = 0
        self.calls = 0
        #: Set when the client leaves a stream the server was still writing.
        self.left = threading.Event()
        self.deleted_any = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}/mcp"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def methods(self) -> list[str]:
        return [str(p.message.get("method", "(answer)")) for p in self.posted]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_DELETE(self) -> None:
                server.deleted.append(self.headers.get("mcp-session-id", ""))
                server.deleted_any.set()
                self._reply(200, b"")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                message = json.loads(body)
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.posted.append(Posted(headers, message))
                if server.how == "unauthorized":
                    echo = json.dumps({"error": f"bad credentials: {headers.get('authorization')}"})
                    self._reply(401, echo.encode(), "application/json")
                    return
                method, number = message.get("method"), message.get("id")
                if method is None or number is None:  # a notification, or an answer
                    self._reply(202, b"")
                    return
                if method == "initialize":
                    self._initialize(number)
                elif method == "tools/list":
                    tool = {"name": "answers", "description": "answers", "inputSchema": {}}
                    self._answer(number, {"tools": [{**tool, "inputSchema": {"type": "object"}}]})
                elif method == "tools/call":
                    self._call(number, headers)
                else:
                    self._answer(number, {})

            def _initialize(self, number: int) -> None:
                server.sessions += 1
                session = "bad id" if server.how == "bad-session" else f"s{server.sessions}"
                if server.how == "trickle":
                    self._stream({"mcp-session-id": session}, self._trickle())
                    return
                result = {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": "hostile", "version": "1"},
                }
                self._answer(number, result, {"mcp-session-id": session})

            def _call(self, number: int, headers: dict[str, str]) -> None:
                server.calls += 1
                if server.how == "forget" and headers.get("mcp-session-id") == "s1":
                    self._reply(404, b'{"error": {"message": "Session not found"}}')
                elif server.how == "endless":
                    self._stream({}, self._notifications())
                elif server.how == "huge":
                    self._stream({}, self._endless_line(number))
                else:
                    result = {"content": [{"type": "text", "text": "called"}]}
                    self._answer(number, result)

            def _answer(
                self, number: int, result: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps({"jsonrpc": "2.0", "id": number, "result": result}).encode()
                if server.how == "json":
                    self._reply(200, data, "application/json", headers)
                    return
                ping = json.dumps({"jsonrpc": "2.0", "id": "p1", "method": "ping"}).encode()
                self._stream(headers or {}, iter([b"data: " + ping + b"\n\n", _event(data)]))

            def _reply(
                self,
                status: int,
                body: bytes,
                kind: str = "application/json",
                headers: dict[str, str] | None = None,
            ) -> None:
                self.send_response(status)
                for name, value in {**(headers or {}), "Content-Type": kind}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _stream(self, headers: dict[str, str], chunks: Iterator[bytes]) -> None:
                """An event stream, to the end of the chunks or until the client leaves."""
                self.send_response(200)
                for name, value in {**headers, "Content-Type": "text/event-stream"}.items():
                    self.send_header(name, value)
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for chunk in chunks:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                except OSError:
                    server.left.set()
                self.close_connection = True

            @staticmethod
            def _trickle() -> Iterator[bytes]:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    yield b":"
                    time.sleep(0.2)

            @staticmethod
            def _notifications() -> Iterator[bytes]:
                note = {"jsonrpc": "2.0", "method": "notifications/message", "params": {}}
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    yield _event(json.dumps(note).encode())
                    time.sleep(0.01)

            @staticmethod
            def _endless_line(number: int) -> Iterator[bytes]:
                yield b'data: {"jsonrpc": "2.0", "id": %d, "result": {"content": "' % number
                for _ in range(1000):  # 64 MiB at most
                    yield b"x" * 65536

        return Handler


def _event(data: bytes) -> bytes:
    return b"event: message\r\ndata: " + data + b"\r\n\r\n"
