"""A small Model Context Protocol client: the part of MCP t360 needs, over stdio and over
streamable HTTP.

JSON-RPC 2.0 (``Peer``), whatever carries it. What it speaks: ``initialize``
(protocol-version negotiation) then ``notifications/initialized``; ``tools/list`` (every
page); ``tools/call``; ``notifications/cancelled`` for a call given up on. Of the server's
requests, ``ping`` is answered and any other gets "method not found"; its notifications
are read and ignored. ``Server`` runs a command and speaks one message per line on its
stdin and stdout; ``mcp_http.RemoteServer`` POSTs each message to a URL (that module,
loaded only then, has the HTTP).

Why not the official SDK: importing it costs about 2 s and 65 MB before any server
starts, and start-up is t360's headline; the SDK is the test suite's reference instead.

A command runs in its own session (so Ctrl-C on the terminal reaches t360, which cancels
the call, never the server directly), its stderr is copied to a log file (at most MAX_LOG
bytes a run), and ``close`` ends it and everything it started: stdin closed, then SIGTERM,
then SIGKILL to its group and, on Linux, to the processes found under it that left the
group (a daemon's own session). A URL's log gets what went wrong over HTTP instead, and
``close`` ends its session (DELETE).

Over stdio only three threads per server ever wait on its pipes, each owning one (the
writer its stdin, the reader its stdout, the log copier its stderr), until the server
ends; over HTTP a thread reads each request's answer. Everyone else queues a message or
waits on an event with a deadline. A server that stops reading (or answering) thus costs
a call its ``timeout``, never a hang, and Ctrl-C or SIGTERM still end the run. What a
server sends is bounded as it is read: a message at MAX_MESSAGE, nesting at MAX_DEPTH, and
a call's result is reduced (by the caller's ``digest``, such as the cut to what the model
is sent) as soon as it arrives, so that it is never kept whole.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Generic, NamedTuple, TypeVar

from . import __version__
from .safety import scrub

#: The protocol version offered, and those accepted back (all of the handshake era).
PROTOCOL = "2025-11-25"
ACCEPTED = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
#: The longest message read from a server; a longer one is dropped as it is read.
MAX_MESSAGE = 32 * 2**20
#: Arrays and objects nested deeper than this in a message from a server: it is not read
#: (deeper, json and the code that walks what it returns would run out of stack).
MAX_DEPTH = 100
#: Pages of ``tools/list`` read at most (a server that pages forever is cut off).
MAX_PAGES = 100
#: How long a command gets to leave after its stdin closes, then after SIGTERM; half of
#: it, how long a URL's session gets to end (DELETE).
GRACE = 1.0
#: The most of a server's stderr (a URL's: of what went wrong) its log keeps from one
#: run; a log already bigger at start is started afresh.
MAX_LOG = 2**20
#: Answers to the server's own requests (ping) waiting to be written, at most: beyond,
#: a server that asks without reading is not answered.
MAX_ANSWERS = 64

METHOD_NOT_FOUND = -32601
#: A lone surrogate: "\ud800" is valid JSON, but no character (it cannot be encoded).
_SURROGATE = re.compile("[\ud800-\udfff]")
#: A line that may hold one, written as JSON writes it.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")

T = TypeVar("T")


#: The process groups of the servers running now: ``kill_all`` ends them when t360 must
#: leave at once (a second Ctrl-C), with no time to stop them one by one.
_RUNNING: set[int] = set()


def kill_all() -> None:
    """SIGKILL every running server's process group, and what left it, at once."""
    for group in list(_RUNNING):
        below = _descendants(group)
        with contextlib.suppress(OSError):
            os.killpg(group, signal.SIGKILL)
        _sweep(below)


class MCPError(Exception):
    """A server that cannot start, answered with an error, or went away."""


class Timeout(MCPError):
    """No answer in the time allowed (the request was cancelled)."""


class Oversized(MCPError):
    """A message over MAX_MESSAGE: the server is not trusted for the rest of the run."""

    def __init__(self) -> None:
        super().__init__(f"it sent a message over {MAX_MESSAGE // 2**20} MiB")


class Tool(NamedTuple):
    name: str
    description: str
    schema: dict[str, Any]

    @property
    def summary(self) -> str:
        """The first line of the description (``t360 tools``)."""
        lines = self.description.strip().splitlines()
        return lines[0].strip() if lines else ""


def whole(result: dict[str, Any]) -> dict[str, Any]:
    """The ``digest`` that keeps a result as it came (small ones: handshake, listing)."""
    return result


class Reach(NamedTuple):
    """How t360 reaches a server's URL: as it reaches the gateway (network.py decides the
    proxy from ``proxy`` and the environment's variables, the TLS trust from
    ``ca_bundle``)."""

    proxy: str | None
    ca_bundle: str | None
    connect_timeout: float
    environ: Mapping[str, str]


class Peer:
    """One MCP server spoken to with JSON-RPC, whatever carries the messages.

    The requests under way, matched to their answers by id; the handshake; the tools and
    their calls; the server's own requests (``ping`` answered, others "method not
    found") and notifications (ignored). A transport says how a message goes out
    (``_deliver``; notifications and answers are queued, in order, for the one thread
    that sends them), feeds what arrives to ``_receive``, and starts (``_open``) and
    ends (``close``) the server. Requests may be sent from several threads.
    """

    def __init__(self, name: str, *, debug: Callable[[str], None] | None = None) -> None:
        self.name = name
        #: Where --debug lines go: each message's method, id, size and timing, never its
        #: arguments or results.
        self.debug = debug
        self.protocol: str | None = None
        self.info: dict[str, Any] = {}
        #: Values kept out of every error said about this server (its headers' values).
        self.secrets: tuple[str, ...] = ()
        self._pending: dict[int, Request[Any]] = {}
        self._lock = threading.Lock()  # the table of requests waiting for an answer
        self._next = 0
        self._gone: str | None = None  # why the server can no longer answer
        #: What is to be sent by the sending thread, in order; None last: the end.
        self._outbox: deque[bytes | None] = deque()
        self._queued = threading.Condition()
        self._busy = False  # whether the sending thread is sending one
        self._life = threading.Lock()  # starting and closing, one at a time
        self._closed = False

    # -- life ------------------------------------------------------------------------------

    def start(self, timeout: float) -> None:
        """Start the server and shake hands within ``timeout`` seconds; MCPError says why
        it could not. A ``close`` from another thread meanwhile stops it (the start then
        fails)."""
        self._open()
        try:
            self._handshake(timeout)
        except BaseException:
            self.close()
            raise

    def _open(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _handshake(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        result = self.request(
            "initialize",
            {
                "protocolVersion": PROTOCOL,
                "capabilities": {},
                "clientInfo": {"name": "t360", "version": __version__},
            },
            timeout,
        )
        version = result.get("protocolVersion")
        if version not in ACCEPTED:
            raise MCPError(
                f"it speaks MCP protocol {str(version)[:40]!r};"
                f" t360 speaks {ACCEPTED[0]} to {ACCEPTED[-1]}"
            )
        self.protocol = str(version)
        info = result.get("serverInfo")
        self.info = info if isinstance(info, dict) else {}
        self.notify("notifications/initialized")
        self._flush(deadline - time.monotonic())  # before any request can overtake it
        self._say(
            f"protocol {self.protocol}, server {str(self.info.get('name'))[:60]}"
            f" {str(self.info.get('version'))[:20]}"
        )

    # -- requests ----------------------------------------------------------------------------

    def tools(self, timeout: float) -> list[Tool]:
        """Every tool the server offers (all pages of ``tools/list``, within ``timeout``
        seconds in all)."""
        deadline = time.monotonic() + timeout
        found: list[Tool] = []
        cursor: object = None
        for _ in range(MAX_PAGES):
            params = {"cursor": cursor} if cursor else {}
            result = self.request("tools/list", params, deadline - time.monotonic())
            items = result.get("tools")
            for item in items if isinstance(items, list) else []:
                tool = _tool(item)
                if tool is not None:
                    found.append(tool)
            cursor = result.get("nextCursor")
            if not isinstance(cursor, str) or not cursor:
                break
        return found

    def call(
        self, tool: str, arguments: dict[str, Any], digest: Callable[[dict[str, Any]], T]
    ) -> Request[T]:
        """``tools/call``, under way: its ``result`` is what ``digest`` makes of the
        call's result object, as soon as it is read."""
        return self.begin("tools/call", {"name": tool, "arguments": arguments}, digest)

    def request(self, method: str, params: dict[str, Any] | None, timeout: float) -> dict[str, Any]:
        """Send a request and wait for its result (see ``Request.result``)."""
        return self.begin(method, params, whole).result(timeout)

    def begin(
        self, method: str, params: dict[str, Any] | None, digest: Callable[[dict[str, Any]], T]
    ) -> Request[T]:
        """Send a request without waiting: several can be under way at once."""
        request = Request(self, method, digest)
        with self._lock:
            self._next += 1
            request.number = self._next
            self._pending[request.number] = request
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request.number, "method": method}
        if params is not None:
            message["params"] = params
        try:
            self._send(message)
        except MCPError:
            self._forget(request.number)
            raise
        self._say(f"→ {method} #{request.number}")
        return request

    def _forget(self, number: int) -> None:
        with self._lock:
            self._pending.pop(number, None)

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self._send(message)
        self._say(f"→ {method}")

    def _send(self, message: dict[str, Any], *, answer: bool = False) -> bool:
        """Hand a message to the transport (never waiting on the server); an ``answer``
        to the server's request is dropped (False) when MAX_ANSWERS wait already."""
        if self._gone is not None:
            raise MCPError(self._gone)
        data = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
        return self._deliver(data, message, answer=answer)

    def _deliver(self, data: bytes, message: dict[str, Any], *, answer: bool) -> bool:
        raise NotImplementedError

    # -- the queue of what the sending thread sends ---------------------------------------

    def _queue(self, data: bytes | None, *, answer: bool = False) -> bool:
        """Queue a message (None: the end) for the sending thread; an ``answer`` is
        dropped (False) when MAX_ANSWERS are queued already."""
        with self._queued:
            if answer and len(self._outbox) >= MAX_ANSWERS:
                return False
            self._outbox.append(data)
            self._queued.notify_all()
        return True

    def _take(self) -> bytes | None:
        """The next message to send, once there is one (the sending thread); None: stop.
        ``_sent`` is called once it is out."""
        with self._queued:
            while not self._outbox:
                self._queued.wait()
            data = self._outbox.popleft()
            self._busy = data is not None
            return data

    def _sent(self) -> None:
        with self._queued:
            self._busy = False
            self._queued.notify_all()

    def _flush(self, timeout: float) -> None:
        """Wait, ``timeout`` seconds at most, until what is queued has gone out (or the
        server is gone)."""
        with self._queued:
            self._queued.wait_for(
                lambda: self._gone is not None or not (self._outbox or self._busy),
                max(0.0, timeout),
            )

    # -- what arrives ------------------------------------------------------------------------

    def _receive(self, data: bytes) -> None:
        """One message from the server, or a batch of them, as read."""
        for message in _messages(data):
            self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        if isinstance(method, str):
            if "id" not in message:  # a notification: progress, logging, list changes
                self._say(f"← {method[:80]} (ignored)")
                return
            if method == "ping":
                answer: dict[str, Any] = {"jsonrpc": "2.0", "id": message["id"], "result": {}}
            else:
                answer = {
                    "jsonrpc": "2.0",
                    "id": message["id"],
                    "error": {"code": METHOD_NOT_FOUND, "message": f"Method not found: {method}"},
                }
            try:
                sent = self._send(answer, answer=True)
            except MCPError:
                return
            how = "answered" if method == "ping" else "not supported"
            self._say(f"← {method[:80]} request: {how if sent else 'dropped (it is not reading)'}")
            return
        number = message.get("id")
        with self._lock:
            request = self._pending.get(number) if isinstance(number, int) else None
        if request is not None:
            request.settle(message)
            took = (time.perf_counter() - request.sent) * 1000
            kind = "error" if "error" in message else "result"
            self._say(f"← #{number} {kind} in {took:.1f} ms")

    def _say(self, line: str) -> None:
        if self.debug is not None:
            self.debug(f"mcp {self.name} {line}")

    def _fail_all(self, why: str) -> None:
        with self._lock:
            self._gone = self._gone or why
            waiting = list(self._pending.values())
        for request in waiting:
            request.done.set()
        with self._queued:  # a flush waits no more
            self._queued.notify_all()


class Server(Peer):
    """One MCP server run as a process, spoken to over its stdin and stdout: a reader
    thread feeds what it prints to the requests, a writer thread writes what is queued."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        environ: Mapping[str, str],
        cwd: str | None,
        log: Path,
        debug: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(name, debug=debug)
        self.argv = list(argv)
        self.environ = dict(environ)
        self.cwd = cwd
        self.log = log
        self._process: subprocess.Popen[bytes] | None = None
        self._stalled = False  # whether its stdin is full (it is not reading)
        self._threads: list[threading.Thread] = []

    # -- life ------------------------------------------------------------------------------

    def _open(self) -> None:
        if self.cwd is not None and not Path(self.cwd).is_dir():
            raise MCPError(f"its cwd {self.cwd} is not a folder")
        log = open_log(self.log, repr(self.argv))
        try:
            process = self._spawn()
        except BaseException:
            log.close()
            raise
        self._say(f"started {' '.join(self.argv)} (pid {process.pid})")
        assert process.stdin is not None and process.stdout is not None
        assert process.stderr is not None
        for job, args in (
            (self._read, (process, process.stdout)),
            (self._write, (process, process.stdin)),
            (_copy, (process.stderr, log)),
        ):
            thread = threading.Thread(
                target=job, args=args, name=f"t360-mcp-{self.name}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self._life:
            if self._closed:
                raise MCPError("it was stopped")
            try:
                self._process = process = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,  # copied to the log, up to MAX_LOG
                    env=self.environ,
                    cwd=self.cwd,
                    start_new_session=True,  # the terminal's Ctrl-C is ours to pass on
                )
            except FileNotFoundError:
                raise MCPError(f"command not found: {self.argv[0]}") from None
            except OSError as exc:
                raise MCPError(f"cannot run {self.argv[0]}: {exc.strerror or exc}") from None
            _RUNNING.add(process.pid)  # a new session: its group id is its pid
            return process

    def close(self) -> None:
        """End the server and whatever it started; waits at most about 3 s (a server
        that ignores both the end of its stdin and SIGTERM)."""
        with self._life:
            self._closed = True
            process, self._process = self._process, None
        if process is None:
            return
        self._fail_all("it was stopped")
        below = _descendants(process.pid)  # while their parents are known
        self._queue(None)  # its stdin closes once what is queued is written
        if self._stalled or not _ended_within(process, GRACE):  # stalled: it would not see
            self._signal(process, signal.SIGTERM)  # the end of its stdin
            if not _ended_within(process, GRACE):
                self._signal(process, signal.SIGKILL)
                process.wait()
        # what it started may outlive it: the whole session goes, and what left it
        self._signal(process, signal.SIGKILL)
        _sweep(below)
        _RUNNING.discard(process.pid)
        self._say(f"stopped ({self._ended(process)})")
        deadline = time.monotonic() + GRACE
        for thread in self._threads:  # each closes its pipe as it ends
            thread.join(max(0.0, deadline - time.monotonic()))

    @staticmethod
    def _signal(process: subprocess.Popen[bytes], which: int) -> None:
        with contextlib.suppress(OSError):
            os.killpg(process.pid, which)

    def _deliver(self, data: bytes, message: dict[str, Any], *, answer: bool) -> bool:
        if self._process is None:
            raise MCPError("it is not running")
        return self._queue(data + b"\n", answer=answer)

    # -- the threads that own its pipes ------------------------------------------------------

    def _write(self, process: subprocess.Popen[bytes], stdin: IO[bytes]) -> None:
        """Write what is queued, in order, until told to close stdin or it breaks. The
        pipe is not blocking, so that a full one is seen (``_stalled``)."""
        try:
            pipe = stdin.fileno()
            os.set_blocking(pipe, False)
            writable = select.poll()
            writable.register(pipe, select.POLLOUT)
            while (data := self._take()) is not None:
                view = memoryview(data)
                try:
                    while view:
                        try:
                            view = view[os.write(pipe, view) :]
                        except BlockingIOError:  # it is not reading: wait until it does
                            self._stalled = True
                            writable.poll()
                            self._stalled = False
                finally:
                    self._sent()
        except OSError:
            self._fail_all(self._ended(process))
        finally:
            with contextlib.suppress(OSError):
                stdin.close()

    def _read(self, process: subprocess.Popen[bytes], stdout: IO[bytes]) -> None:
        with stdout:
            while True:
                try:
                    line = stdout.readline(MAX_MESSAGE + 1)
                except (OSError, ValueError):
                    break
                if not line:
                    break
                if len(line) > MAX_MESSAGE:
                    while line and not line.endswith(b"\n"):  # drop the rest of it
                        line = stdout.readline(MAX_MESSAGE)
                    self._fail_all(str(Oversized()))
                    continue
                self._receive(line)
        self._fail_all(self._ended(process))

    def _ended(self, process: subprocess.Popen[bytes]) -> str:
        try:
            status = process.wait(0.5)
        except subprocess.TimeoutExpired:
            return "it closed its output"
        how = f"signal {-status}" if status < 0 else f"status {status}"
        return f"it exited ({how})"


class Request(Generic[T]):
    """A request under way: wait for its result, or cancel it."""

    def __init__(self, server: Peer, method: str, digest: Callable[[dict[str, Any]], T]) -> None:
        self.server = server
        self.method = method
        self.digest = digest
        self.number = 0
        self.done = threading.Event()
        self.sent = time.perf_counter()
        #: What the answer said: the digested result (in a tuple), or the error's text.
        self._outcome: tuple[T] | str | None = None

    def settle(self, reply: dict[str, Any]) -> None:
        """Keep what the answer says (the reader thread, as it reads it)."""
        error = reply.get("error")
        if error is not None:
            detail = error.get("message") if isinstance(error, dict) else error
            detail = scrub(str(detail)[:500], self.server.secrets)
            self._outcome = f"{self.method} failed: {detail}"
        else:
            result = reply.get("result")
            self._outcome = (self.digest(result if isinstance(result, dict) else {}),)
        self.done.set()

    def fail(self, why: str) -> None:
        """No answer will come: ``result`` raises MCPError(why)."""
        if not self.done.is_set():
            self._outcome = why
            self.done.set()

    def result(self, timeout: float) -> T:
        """What ``digest`` made of the result. MCPError if the server answers with an
        error, goes away or is silent for ``timeout`` seconds (the request is then
        cancelled, as it is on Ctrl-C, which is re-raised)."""
        try:
            if not self.done.wait(max(0.0, timeout)):
                self.cancel(f"no answer within {timeout:g} s")
                raise Timeout(f"no answer within {timeout:g} s")
        except KeyboardInterrupt:
            self.cancel("interrupted by the user")
            raise
        finally:
            self.server._forget(self.number)
        outcome = self._outcome
        if outcome is None:
            raise MCPError(self.server._gone or "it went away")
        if isinstance(outcome, str):
            raise MCPError(outcome)
        return outcome[0]

    def cancel(self, reason: str) -> None:
        """Tell the server the answer is no longer wanted (``notifications/cancelled``)."""
        self.server._forget(self.number)
        self.done.set()
        with contextlib.suppress(MCPError):
            self.server.notify(
                "notifications/cancelled", {"requestId": self.number, "reason": reason}
            )


def _messages(data: bytes) -> list[dict[str, Any]]:
    """What a server sent as JSON-RPC messages (``checked``): one, or a batch of them
    (2025-03-26); none if it is not JSON-RPC (a stray print, JSON nested too deep,
    ignored as MCP clients do), but an answer nested too deep is an error answer."""
    try:
        decoded = json.loads(data)
    except (ValueError, RecursionError):
        return []
    mend = _SURROGATE_ESCAPE.search(data) is not None
    found: list[dict[str, Any]] = []
    for message in decoded if isinstance(decoded, list) else [decoded]:
        if not isinstance(message, dict):
            continue
        try:
            found.append(checked(message, mend=mend))
        except ValueError as exc:
            if "method" not in message and isinstance(message.get("id"), int):
                found.append({"id": message["id"], "error": {"message": f"its answer is {exc}"}})
    return found


def checked(value: Any, *, mend: bool = True, depth: int = 0) -> Any:
    """JSON decoded from a peer t360 does not trust (a server, a model's arguments), made
    safe to use: ValueError if it nests deeper than MAX_DEPTH (``json`` itself stops at
    about 1,000 levels with a RecursionError), and every lone surrogate made U+FFFD
    (unless ``mend`` is False: the caller knows there is none)."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value) if mend else value
    if not isinstance(value, (dict, list)):
        return value
    if depth == MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, list):
        return [checked(item, mend=mend, depth=depth + 1) for item in value]
    return {
        checked(key, mend=mend): checked(item, mend=mend, depth=depth + 1)
        for key, item in value.items()
    }


def _copy(stderr: IO[bytes], log: IO[bytes]) -> None:
    """A server's stderr into its log, MAX_LOG bytes at most (then a note, once); the
    rest is read and dropped, so that the server never waits on a full pipe."""
    room = MAX_LOG
    with stderr, log:
        while data := os.read(stderr.fileno(), 65536):
            with contextlib.suppress(OSError):  # a full disk costs the log only
                if room > 0:
                    log.write(data[:room])
                if 0 <= room < len(data):
                    log.write(
                        f"\n--- t360: {MAX_LOG // 2**20} MiB kept, the rest left out\n".encode()
                    )
            room -= len(data)


def open_log(path: Path, what: str) -> IO[bytes]:
    """A server's log, opened to add this run's lines (started afresh when it is over
    MAX_LOG already), headed by the date and ``what`` the server is."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(OSError):
            if path.stat().st_size > MAX_LOG:
                path.unlink()
        log = path.open("ab", buffering=0)
        log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {what}\n".encode())
    except OSError as exc:
        raise MCPError(f"cannot write its log {path}: {exc.strerror or exc}") from None
    return log


#: ``${NAME}`` in a header's value: the environment variable NAME, at use.
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: What a header's value may hold: printable ASCII, spaces and tabs.
HEADER_TEXT = re.compile(r"[\t\x20-\x7e]*")


def expand(headers: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """``headers`` with each ``${VAR}`` replaced by the variable's value; MCPError names
    a variable that is not set, or whose value cannot be sent in a header."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        found = environ.get(name)
        if found is None:
            raise MCPError(f"its headers use ${{{name}}}, which is not set")
        if not HEADER_TEXT.fullmatch(found):
            raise MCPError(f"${{{name}}} holds what no header can (a line break, non-ASCII)")
        return found

    return {name: VARIABLE.sub(value, template) for name, template in headers.items()}


def public_url(url: str) -> str:
    """``url`` as it may be shown: its query, which may hold a token, as ``?…``."""
    base, mark, _ = url.partition("?")
    return f"{base}?…" if mark else base


def _ended_within(process: subprocess.Popen[bytes], seconds: float) -> bool:
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        return False
    return True


def _descendants(pid: int) -> list[tuple[int, str]]:
    """Every process under ``pid`` (children, theirs, and so on), each with its start
    time: read from /proc on Linux; none elsewhere."""
    children: dict[int, list[tuple[int, str]]] = {}
    with contextlib.suppress(OSError):
        for entry in Path("/proc").iterdir():
            found = _stat(int(entry.name)) if entry.name.isdigit() else None
            if found is not None:
                children.setdefault(found[0], []).append((int(entry.name), found[1]))
    below: list[tuple[int, str]] = []
    parents = [pid]
    while parents:
        for child in children.get(parents.pop(), []):
            below.append(child)
            parents.append(child[0])
    return below


def _sweep(processes: Sequence[tuple[int, str]]) -> None:
    """SIGKILL each of these processes that still is the one found (same start time:
    its pid was not given to another meanwhile)."""
    for pid, started in processes:
        found = _stat(pid)
        if found is not None and found[1] == started:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def _stat(pid: int) -> tuple[int, str] | None:
    """A process's parent and start time, from /proc/PID/stat; None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    fields = text[text.rfind(")") + 2 :].split()  # after "pid (command) "
    return (int(fields[1]), fields[19]) if len(fields) > 19 else None


def _tool(item: object) -> Tool | None:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
        return None
    description = item.get("description")
    schema = item.get("inputSchema")
    if not isinstance(schema, dict) or schema.get("type") != "object":
        schema = {"type": "object", "properties": {}}
    return Tool(item["name"], description if isinstance(description, str) else "", schema)
