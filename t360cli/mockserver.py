"""A local Token360 stand-in: real HTTP on 127.0.0.1, real SSE framing, scenarios by model.

Used by the tests and, as ``t360 mock-server``, by anyone who wants to try t360 or test a
script offline. Standard library only. The model name picks the scenario, optionally
with an argument after a colon (``slow-first:400``); ``GET /v1/models`` lists them.
Bodies are sent with chunked transfer encoding, each step of a scenario as its own
chunk, so tests control how the bytes are split and when the connection ends.
"""

from __future__ import annotations

import json
import select
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PROVIDER = "MockProvider"
LOREM = (
    "Lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet,",
    "consectetur",
    "adipiscing",
    "elit,",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua.",
)
MARKDOWN = """# Streaming report

Here is **bold**, *italic* and `inline code` in a paragraph that runs long enough to wrap
on a narrow terminal, with a [link](https://example.com) in it.

- first item
- second item with `code`

```python
def answer() -> int:
    return 42
```

| model | ttft |
|-------|------|
| glm   | 0.4  |

> A quote to finish.
"""


class Reset:
    """Step: end the connection with a TCP reset."""


class Cut:
    """Step: close the connection in the middle of the chunked body."""


Step = bytes | float | type[Reset] | type[Cut]


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    content_type: str = "text/event-stream"
    #: Close the chunked body properly (the last chunk) after the steps.
    finish: bool = True


@dataclass
class Call:
    """One request, as the server saw it."""

    scenario: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    #: When it arrived (time.monotonic), for retry timing.
    at: float = field(default_factory=time.monotonic)


def sse(obj: object) -> bytes:
    data = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)
    return f"data: {data}\n\n".encode()


def chunk(model: str, **delta: Any) -> dict[str, Any]:
    """A chat.completion.chunk; ``finish`` and ``usage`` are taken out of ``delta``."""
    finish = delta.pop("finish", None)
    usage = delta.pop("usage", None)
    obj: dict[str, Any] = {
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": model,
        "provider": PROVIDER,
        "choices": [{"index": 0, "delta": {"role": "assistant", **delta}, "finish_reason": finish}],
    }
    if usage is not None:
        obj["usage"] = usage
    return obj


def usage_for(prompt: str, pieces: list[str]) -> dict[str, Any]:
    prompt_tokens = max(1, len(prompt.split()))
    completion = len(pieces)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
        "cost": round((prompt_tokens + 2 * completion) * 1e-6, 9),
    }


def words(text: str) -> list[str]:
    """Text cut into word-sized pieces that join back to exactly ``text``."""
    pieces: list[str] = []
    current = ""
    for ch in text:
        current += ch
        if ch in " \n":
            pieces.append(current)
            current = ""
    if current:
        pieces.append(current)
    return pieces


def stream_of(
    model: str, prompt: str, pieces: list[str], *, finish: str = "stop", delay: float = 0.0
) -> list[Step]:
    """A well-formed stream: role chunk, text chunks, finish chunk with usage, [DONE]."""
    steps: list[Step] = [sse(chunk(model, content=None))]
    for piece in pieces:
        if delay:
            steps.append(delay)
        steps.append(sse(chunk(model, content=piece)))
    steps.append(sse(chunk(model, finish=finish, usage=usage_for(prompt, pieces))))
    steps.append(sse("[DONE]"))
    return steps


def completion_of(model: str, prompt: str, text: str, **message: Any) -> bytes:
    """A non-streamed chat.completion body."""
    pieces = words(text)
    return json.dumps(
        {
            "id": "chatcmpl-mock",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": model,
            "provider": PROVIDER,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, **message},
                    "finish_reason": "stop",
                }
            ],
            "usage": usage_for(prompt, pieces),
        }
    ).encode()


def lorem(count: int) -> list[str]:
    return [LOREM[i % len(LOREM)] + " " for i in range(count)]


def error_body(message: str, kind: str, code: str | int) -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "code": code}}).encode()


# -- scenarios ---------------------------------------------------------------------------
# Each takes (model, prompt, argument, server) and returns the Reply.

Scenario = Callable[[str, str, str, "MockServer"], Reply]
SCENARIOS: dict[str, tuple[str, Scenario]] = {}


def scenario(name: str, summary: str) -> Callable[[Scenario], Scenario]:
    def register(function: Scenario) -> Scenario:
        SCENARIOS[name] = (summary, function)
        return function

    return register


def _int(arg: str, default: int) -> int:
    try:
        return int(arg) if arg else default
    except ValueError:
        return default


@scenario("echo", "answers with your own message, word by word")
def _echo(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    return Reply(steps=stream_of(model, prompt, words(prompt or "(empty)")))


@scenario("recall", "repeats the system prompt and every user message so far (memory tests)")
def _recall(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    body = server.calls[-1].body if server.calls else {}
    messages = [m for m in body.get("messages", []) if isinstance(m, dict)]
    system = next((m.get("content") for m in messages if m.get("role") == "system"), None)
    users = [str(m.get("content")) for m in messages if m.get("role") == "user"]
    text = f"system: {system or '(none)'}; you said: {' | '.join(users)}"
    return Reply(steps=stream_of(model, prompt, words(text)))


@scenario("lorem", "N words of lorem ipsum, one per chunk (lorem:5000)")
def _lorem(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    return Reply(steps=stream_of(model, prompt, lorem(_int(arg, 50))))


@scenario("markdown", "a markdown-heavy answer: headings, lists, code, a table")
def _markdown(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    return Reply(steps=stream_of(model, prompt, words(MARKDOWN), delay=_int(arg, 0) / 1000))


@scenario("slow-first", "the first token after MS milliseconds (slow-first:400)")
def _slow_first(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    steps = stream_of(model, prompt, words(prompt or "slow answer"))
    steps.insert(1, _int(arg, 400) / 1000)
    return Reply(steps=steps)


@scenario("slow", "MS milliseconds between tokens (slow:50)")
def _slow(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    return Reply(steps=stream_of(model, prompt, lorem(40), delay=_int(arg, 50) / 1000))


@scenario("keepalive", "keepalive comments for MS milliseconds, then the answer")
def _keepalive(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    steps: list[Step] = [b": keepalive\n\n"]
    for _ in range(max(1, _int(arg, 600) // 100)):
        steps += [0.1, b": OPENROUTER PROCESSING\n\n"]
    return Reply(steps=steps + stream_of(model, prompt, words("still here")))


@scenario("reasoning", "reasoning first (reasoning + reasoning_details), then the answer")
def _reasoning(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    thoughts = ["Let me ", "think. "]
    steps: list[Step] = [sse(chunk(model, content=None))]
    for thought in thoughts:
        detail = [{"type": "reasoning.text", "text": thought}]
        steps.append(sse(chunk(model, content="", reasoning=thought, reasoning_details=detail)))
    return Reply(steps=steps + stream_of(model, prompt, words("The answer is 42."))[1:])


@scenario("reasoning-content", "reasoning in delta.reasoning_content (DeepSeek style)")
def _reasoning_content(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    steps: list[Step] = [sse(chunk(model, reasoning_content="Hmm. "))]
    return Reply(steps=steps + stream_of(model, prompt, words("Done.")))


@scenario("tools", "a tool call streamed in fragments, finish_reason tool_calls")
def _tools(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    call = {"index": 0, "id": "call_1", "type": "function"}
    steps: list[Step] = [
        sse(chunk(model, content=None)),
        sse(chunk(model, tool_calls=[{**call, "function": {"name": "get_weather"}}])),
        sse(chunk(model, tool_calls=[{"index": 0, "function": {"arguments": '{"city":'}}])),
        sse(chunk(model, tool_calls=[{"index": 0, "function": {"arguments": ' "Paris"}'}}])),
        sse(chunk(model, finish="tool_calls", usage=usage_for(prompt, ["x"]))),
        sse("[DONE]"),
    ]
    return Reply(steps=steps)


@scenario("length", "an answer cut by max_tokens (finish_reason length)")
def _length(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    return Reply(steps=stream_of(model, prompt, lorem(5), finish="length"))


@scenario("usage-separate", "usage in its own chunk with empty choices, after the finish")
def _usage_separate(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    pieces = words("Usage comes last.")
    steps = stream_of(model, prompt, pieces)
    usage = {"id": "c", "object": "chat.completion.chunk", "model": model, "choices": []}
    steps[-2] = sse(chunk(model, finish="stop"))
    steps.insert(-1, sse({**usage, "usage": usage_for(prompt, pieces)}))
    return Reply(steps=steps)


@scenario("no-usage", "a stream without usage or provider")
def _no_usage(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    steps: list[Step] = []
    for piece in words("No usage here."):
        obj = chunk(model, content=piece)
        del obj["provider"]
        steps.append(sse(obj))
    final = chunk(model, finish="stop")
    del final["provider"]
    return Reply(steps=[*steps, sse(final), sse("[DONE]")])


@scenario("odd-shapes", "choices null or missing, content null or absent, no finish before [DONE]")
def _odd_shapes(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    base = {"id": "c", "object": "chat.completion.chunk", "model": model}
    steps: list[Step] = [
        sse({**base, "choices": None}),
        sse(base),
        sse({**base, "choices": [{"index": 0, "delta": {"role": "assistant"}}]}),
        sse({**base, "choices": [{"index": 0, "delta": {"content": None}}]}),
        sse({**base, "choices": [{"index": 0, "delta": {"content": "odd "}}]}),
        sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": None}]}),
        sse({**base, "choices": [{"index": 0, "delta": {"content": "shapes"}}]}),
        b"event: ping\n\n",
        sse("[DONE]"),
    ]
    return Reply(steps=steps)


@scenario("bom", "a byte order mark before the first event")
def _bom(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    steps = stream_of(model, prompt, words("BOM handled."))
    return Reply(steps=[b"\xef\xbb", b"\xbf", *steps])


@scenario("split", "CRLF line ends, bytes split inside UTF-8 characters and between CR and LF")
def _split(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    body = b"".join(
        s for s in stream_of(model, prompt, words("héllo wörld ✓ 🎉 done")) if isinstance(s, bytes)
    ).replace(b"\n", b"\r\n")
    steps: list[Step] = []
    position = 0
    sizes = [1, 2, 3, 5, 7]
    while position < len(body):
        size = sizes[len(steps) % len(sizes)]
        steps.append(body[position : position + size])
        position += size
    return Reply(steps=steps)


@scenario("escape", "an answer full of terminal escape sequences (they must be neutralised)")
def _escape(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    evil = [
        "safe ",
        "\x1b[2J\x1b[H",
        "cleared? ",
        "\x1b]0;pwned title\x07",
        "\x1b]52;c;cHduZWQ=\x07",
        "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\",
        " bell\x07 c1\x9b31m end\n",
    ]
    return Reply(steps=stream_of(model, prompt, evil))


@scenario("huge-token", "one 1 MiB token")
def _huge(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    return Reply(steps=stream_of(model, prompt, ["x" * (1 << 20)]))


@scenario("error-mid", "text, then an error event (Token360 shape), then [DONE]")
def _error_mid(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    steps = stream_of(model, prompt, words("Partial answer "))[:-2]
    error = {
        "error": {
            "message": "Rate limit exceeded",
            "type": "rate_limit_error",
            "code": "rate_limit",
        }
    }
    return Reply(steps=[*steps, sse(error), sse("[DONE]")])


@scenario("error-openrouter", "text, then finish_reason error with an error object")
def _error_openrouter(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    steps = stream_of(model, prompt, words("Partial answer "))[:-2]
    final = chunk(model, content="", finish="error")
    final["error"] = {"code": 502, "message": "Provider returned error"}
    return Reply(steps=[*steps, sse(final), sse("[DONE]")])


@scenario("invalid-json", "text, then a data line that is not JSON")
def _invalid_json(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    steps = stream_of(model, prompt, words("Before garbage "))[:-2]
    return Reply(steps=[*steps, b'data: {"choices": [ this is not json\n\n', sse("[DONE]")])


@scenario("non-object", "a data line whose JSON is not an object")
def _non_object(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    return Reply(steps=[sse(chunk(model, content="x")), b"data: [1, 2, 3]\n\n", sse("[DONE]")])


@scenario("truncated", "text, then the body ends cleanly without finish or [DONE]")
def _truncated(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    return Reply(steps=stream_of(model, prompt, words("This answer is cut "))[:-2])


@scenario("drop", "text, then the connection closes in the middle of the body")
def _drop(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    return Reply(steps=[*stream_of(model, prompt, words("Dropped after this "))[:-2], Cut])


@scenario("reset", "text, then a TCP reset")
def _reset(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    return Reply(steps=[*stream_of(model, prompt, words("Reset after this "))[:-2], Reset])


@scenario("stall", "text, then silence for MS milliseconds (default 30000), then the rest")
def _stall(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    steps = stream_of(model, prompt, words("Stalling now "))
    steps.insert(-2, _int(arg, 30000) / 1000)
    return Reply(steps=steps)


@scenario("no-newline", "a body that never sends a line break (MiB, default 20)")
def _no_newline(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    block = b"data: " + b"z" * (1 << 20)
    return Reply(steps=[block] * _int(arg, 20))


@scenario("json", "a non-streamed application/json completion, even when asked to stream")
def _json(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    body = completion_of(model, prompt, prompt or "whole answer", reasoning="quick thought")
    return Reply(steps=[body], content_type="application/json")


@scenario("html-502", "HTTP 502 with an HTML page from a proxy")
def _html(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    return Reply(status=502, steps=[page], content_type="text/html")


@scenario("empty-503", "HTTP 503 with an empty body")
def _empty(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    return Reply(status=503, steps=[], content_type="text/plain")


@scenario("status", "HTTP CODE with a JSON error body (status:404)")
def _status(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    code = _int(arg, 500)
    body = error_body(f"mock error {code}", "mock_error", code)
    return Reply(status=code, steps=[body], content_type="application/json")


@scenario("rate-limit", "HTTP 429 with Retry-After: 1 for the first N calls, then echo")
def _rate_limit(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    if server.count(model) <= _int(arg, 1):
        body = error_body("Rate limit exceeded", "rate_limit_error", "rate_limit")
        return Reply(429, {"Retry-After": "1"}, [body], "application/json")
    return _echo(model, prompt, arg, server)


@scenario("rate-limit-ms", "HTTP 429 with retry-after-ms: 250 once, then echo")
def _rate_limit_ms(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    if server.count(model) <= 1:
        body = error_body("Slow down", "rate_limit_error", "rate_limit")
        return Reply(429, {"retry-after-ms": "250"}, [body], "application/json")
    return _echo(model, prompt, arg, server)


@scenario("rate-limit-long", "HTTP 429 asking to wait 120 s (too long to sleep)")
def _rate_limit_long(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    body = error_body("Daily limit", "rate_limit_error", "rate_limit")
    return Reply(429, {"Retry-After": "120"}, [body], "application/json")


@scenario("flaky", "HTTP 503 for the first N calls (default 1), then echo")
def _flaky(model: str, prompt: str, arg: str, server: MockServer) -> Reply:
    if server.count(model) <= _int(arg, 1):
        return Reply(
            503, {}, [error_body("upstream busy", "server_error", 503)], "application/json"
        )
    return _echo(model, prompt, arg, server)


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
        if name not in SCENARIOS:
            self._send_whole(404, error_body(f"unknown model {model!r}", "not_found", 404))
            return
        prompt = _prompt_of(body)
        reply = SCENARIOS[name][1](model, prompt, arg, self.server)
        if (
            reply.status == 200
            and reply.content_type == "text/event-stream"
            and not body.get("stream")
        ):
            text = "".join(_texts(reply.steps))
            reply = Reply(
                steps=[completion_of(model, prompt, text)], content_type="application/json"
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


def _texts(steps: list[Step]) -> Iterator[str]:
    """The answer text inside a scenario's SSE steps (for non-streamed requests)."""
    for step in steps:
        if isinstance(step, bytes) and step.startswith(b"data: {"):
            try:
                obj = json.loads(step[6:])
            except ValueError:
                continue
            for choice in obj.get("choices") or []:
                content = (choice.get("delta") or {}).get("content")
                if isinstance(content, str):
                    yield content


class MockServer(ThreadingHTTPServer):
    """The stand-in server. Use as a context manager; ``url`` is the base URL."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int = 0, host: str = "127.0.0.1", *, verbose: bool = False) -> None:
        super().__init__((host, port), _Handler)
        self.verbose = verbose
        self.calls: list[Call] = []
        self.disconnects = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def handle_error(self, request: object, client_address: object) -> None:
        """A client hanging up between requests is normal; anything else is reported."""
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
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
