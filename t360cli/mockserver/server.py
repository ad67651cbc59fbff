"""The mock server itself: real HTTP on 127.0.0.1, chunked bodies, a log of every call."""

from __future__ import annotations

import json
import select
import socket
import ssl
import struct
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .scenarios import SCENARIOS, plain
from .wire import Call, Cut, Reply, Reset, Step, completion_of, error_body


def _prompt_of(body: dict[str, Any]) -> str:
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                content = message.get("content")
                return content if isinstance(content, str) else json.dumps(content)
    return ""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: MockServer

    def setup(self) -> None:
        super().setup()
        if self.server.idle_timeout is not None:  # otherwise idle connections are kept
            self.connection.settimeout(self.server.idle_timeout)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _authorized(self) -> bool:
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth == "Bearer sk-invalid":
            self._send_whole(401, error_body("Invalid API key", "authentication_error", 401))
            return False
        return True

    def do_GET(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.record(Call("", self.path, headers, {}))
        if not self._authorized():
            return
        if self.path.rstrip("/").endswith("/models"):
            data = [
                {
                    "id": name,
                    "object": "model",
                    "owned_by": "mock",
                    "description": summary,
                    "context_length": 131072,
                    "pricing": {"prompt": "0.000001", "completion": "0.000002"},
                }
                for name, (summary, _) in SCENARIOS.items()
            ]
            self._send_whole(200, json.dumps({"object": "list", "data": data}).encode())
        else:
            self._send_whole(404, error_body("no such route", "not_found", 404))

    def do_POST(self) -> None:
        self.server.entered()
        try:
            self._post()
        finally:
            self.server.left()

    def _post(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        model = str(body.get("model", ""))
        name, _, arg = model.partition(":")
        self.server.record(
            Call(name, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send_whole(404, error_body("no such route", "not_found", 404))
            return
        if not self._authorized():
            return
        unanswered = _misplaced_tool_message(body.get("messages"))
        if unanswered is not None:
            self._send_whole(400, error_body(unanswered, "invalid_request_error", 400))
            return
        prompt = _prompt_of(body)
        answer = SCENARIOS[name][1] if name in SCENARIOS else plain
        reply = answer(model, prompt, arg, self.server)
        if (
            reply.status == 200
            and reply.content_type == "text/event-stream"
            and not body.get("stream")
        ):
            text, calls, finish = _whole(reply.steps)
            extra = {"tool_calls": calls} if calls else {}
            reply = Reply(
                steps=[completion_of(model, prompt, text, finish or "stop", **extra)],
                content_type="application/json",
            )
        self._reply(reply)

    def _send_whole(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _reply(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Cache-Control", "no-cache")
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for step in reply.steps:
                if isinstance(step, float):
                    if not self._pause(step):
                        return
                elif step is Reset:
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.connection.close()  # no shutdown first: that would send a FIN
                    self.close_connection = True
                    return
                elif step is Cut:
                    self.wfile.write(b"5\r\nda")
                    self.close_connection = True
                    return
                elif isinstance(step, bytes) and step:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(step), step))
            if reply.finish:
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.server.disconnected()
            self.close_connection = True

    def _pause(self, seconds: float) -> bool:
        """Wait, watching for the client to hang up; False if it did."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            readable, _, _ = select.select([self.connection], [], [], min(left, 0.05))
            if readable and not self.connection.recv(1, socket.MSG_PEEK):
                self.server.disconnected()
                self.close_connection = True
                return False
        return True


def _whole(steps: list[Step]) -> tuple[str, list[dict[str, Any]], str | None]:
    """A scenario's SSE steps as one answer (for non-streamed requests): the text, the
    tool calls put together from their fragments, and the finish reason."""
    text: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish = None
    for step in steps:
        if not (isinstance(step, bytes) and step.startswith(b"data: {")):
            continue
        try:
            obj = json.loads(step[6:])
        except ValueError:
            continue
        for choice in obj.get("choices") or []:
            delta = choice.get("delta") or {}
            if isinstance(delta.get("content"), str):
                text.append(delta["content"])
            for fragment in delta.get("tool_calls") or []:
                call = calls.setdefault(
                    fragment.get("index", 0),
                    {"id": None, "type": "function", "function": {"name": "", "arguments": ""}},
                )
                call["id"] = fragment.get("id") or call["id"]
                function = fragment.get("function") or {}
                call["function"]["name"] += function.get("name") or ""
                call["function"]["arguments"] += function.get("arguments") or ""
            finish = choice.get("finish_reason") or finish
    return "".join(text), [calls[i] for i in sorted(calls)], finish


def _misplaced_tool_message(messages: object) -> str | None:
    """Why the API would refuse these messages' tool calls and results (HTTP 400), or
    None: each ``tool`` message must answer a call of the assistant message just
    before it (other results between), and each such call must be answered."""
    if not isinstance(messages, list):
        return None
    waiting: set[str] = set()
    for message in messages:
        if not isinstance(message, dict):
            continue
        if message.get("role") == "tool":
            call = str(message.get("tool_call_id"))
            if call not in waiting:
                return f"a tool message answers no tool call before it: {call[:60]!r}"
            waiting.discard(call)
            continue
        if waiting:
            return f"tool calls without their results: {', '.join(sorted(waiting))[:200]}"
        calls = message.get("tool_calls") if message.get("role") == "assistant" else None
        if isinstance(calls, list):
            waiting = {str(c.get("id")) for c in calls if isinstance(c, dict)}
    if waiting:
        return f"tool calls without their results: {', '.join(sorted(waiting))[:200]}"
    return None


class MockServer(ThreadingHTTPServer):
    """The stand-in server. Use as a context manager; ``url`` is the base URL."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        verbose: bool = False,
        tls: ssl.SSLContext | None = None,
        name: str | None = None,
        idle_timeout: float | None = None,
    ) -> None:
        super().__init__((host, port), _Handler)
        self.verbose = verbose
        #: With a server-side TLS context, the server speaks HTTPS (tests of private CAs).
        self.tls = tls
        #: The host name in ``url`` (a TLS certificate names it); the address by default.
        self.name = name
        #: Close a connection that carries no request for this long (like real servers).
        self.idle_timeout = idle_timeout
        self.calls: list[Call] = []
        self.disconnects = 0
        #: TCP connections accepted (a client that reuses its connection opens one), and
        #: those the server has finished with and closed.
        self.connections = 0
        self.closed = 0
        #: Requests being answered now, and the most there ever were at once.
        self.in_flight = 0
        self.peak = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{self.name or host!s}:{port}/v1"

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        with self._changed:
            self.connections += 1
            self._changed.notify_all()
        if self.tls is not None:  # the handshake happens on the handler's thread
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        with self._changed:
            self.closed += 1
            self._changed.notify_all()

    def handle_error(self, request: object, client_address: object) -> None:
        """A client hanging up, or refusing our certificate, is normal; anything else is
        reported."""
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]

    def record(self, call: Call) -> None:
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    def count(self, model: str) -> int:
        """How many calls named this exact model so far (this one included)."""
        with self._lock:
            return sum(1 for c in self.calls if c.body.get("model") == model)

    def entered(self) -> None:
        with self._changed:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self._changed.notify_all()

    def left(self) -> None:
        with self._changed:
            self.in_flight -= 1
            self._changed.notify_all()

    def disconnected(self) -> None:
        with self._changed:
            self.disconnects += 1
            self._changed.notify_all()

    def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Block until ``condition()`` holds (checked whenever calls or disconnects change)."""
        with self._changed:
            return self._changed.wait_for(condition, timeout)

    def start(self) -> MockServer:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
