"""Every input bounded (issue 24): hostile folders, web pages, stdin, gateways, prices,
``api_key_cmd`` and ``ca_bundle``, each built here. Each test failed on 0.2."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from t360cli.errors import StreamError
from t360cli.events import parse_data
from t360cli.mockserver import MockServer
from t360cli.mockserver.scenarios import SCENARIOS, sse, stream_of, words
from t360cli.mockserver.wire import Reply
from tests.helpers import (
    KEY,
    T360,
    chat_env,
    invoke,
    peak_memory_kib,
    refused_port,
    run_t360,
    wait_for_handler,
    wait_until,
)


def sent(server: MockServer) -> str:
    content = server.calls[-1].body["messages"][-1]["content"]
    return content if isinstance(content, str) else json.dumps(content)


# -- 1. -f DIR never follows links out of the folder ---------------------------------------


def test_links_out_of_the_folder_are_skipped_and_counted(
    server: MockServer, tmp_path: Path
) -> None:
    secrets = tmp_path / "home"
    secrets.mkdir()
    (secrets / "id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n")
    (secrets / "config.toml").write_text(f'api_key = "{KEY}"\n')
    root = tmp_path / "src"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "guide.md").write_text("the guide\n")
    (root / "notes.md").symlink_to(secrets / "id_ed25519")
    (root / "README.txt").symlink_to(secrets / "config.toml")
    (root / "latest.md").symlink_to(root / "docs" / "guide.md")  # inside: read once
    (root / "loop").symlink_to(root)  # a folder link: never entered
    os.mkfifo(root / "pipe")
    (root / "fifo.md").symlink_to(root / "pipe")  # a link to a special file
    result = invoke("chat", "-m", "echo", "-f", str(root), "review", env=chat_env(server))
    assert result.code == 0, result.err
    text = sent(server)
    assert "PRIVATE KEY" not in text and KEY not in text
    assert text.count("the guide") == 1
    assert "2 links outside" in result.err and f"{root} skipped" in result.err
    assert "1 text files" in result.err and "1 binary or unreadable" in result.err
    assert "3 links to folders, special or repeated files skipped" in result.err


# -- 3. -f DIR stops reading at the limit --------------------------------------------------


def test_a_folder_of_hard_links_is_refused_with_memory_near_the_limit(
    server: MockServer, tmp_path: Path
) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    first = root / "a0000.txt"
    first.write_bytes(b"x" * 1_900_000)
    for number in range(1, 1501):
        os.link(first, root / f"a{number:04}.txt")
    code, peak = peak_memory_kib("chat", "-m", "echo", "-f", str(root), "x", env=chat_env(server))
    assert code == 2
    assert peak < 150 * 1024  # 0.2 held every file: 2.8 GB
    result = invoke("chat", "-m", "echo", "-f", str(root), "x", env=chat_env(server))
    assert "more than the 2 MB limit" in result.err and "a0000.txt (1.9 MB)" in result.err
    assert server.calls == []


# -- 4. -f URL: redirects, bombs, trickles, schemes ----------------------------------------


def _bomb(decoded: int = 200 * 2**20) -> bytes:
    """gzip of ``decoded`` zero bytes (about 200 KB), compressed a MiB at a time."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(2**20)
    return b"".join(packer.compress(block) for _ in range(decoded // 2**20)) + packer.flush()


class _Hostile(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _head(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _endless(self, piece: bytes, pause: float = 0.0) -> None:
        """Chunks of ``piece`` until the client leaves (at most a minute)."""
        ends = time.monotonic() + 60
        try:
            while time.monotonic() < ends:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
                if pause:
                    time.sleep(pause)  # the trickle itself, not a wait for a condition
        except OSError:
            pass

    def do_GET(self) -> None:
        port = self.server.server_address[1]
        chunked = {"Transfer-Encoding": "chunked"}
        if self.path == "/bomb-redirect":  # a 302 whose body is a gzip bomb
            bomb = _bomb()
            headers = {"Location": "/page", "Content-Encoding": "gzip"}
            self._head(302, {**headers, "Content-Length": str(len(bomb))})
            self.wfile.write(bomb)
        elif self.path == "/endless-redirect":  # a 302 with a body that never ends
            self._head(302, {"Location": "/page", **chunked})
            self._endless(b"z" * 65536)
        elif self.path == "/v1/models":  # a model list that never ends
            self._head(200, {"Content-Type": "application/json", **chunked})
            self._endless(b" " * 65535 + b"\n")
        elif self.path == "/trickle":
            self._head(200, {"Content-Type": "text/plain", **chunked})
            self._endless(b"a", pause=0.1)
        elif self.path == "/circle":
            self._head(302, {"Location": "/circle", "Content-Length": "0"})
        elif self.path == "/to-file":
            self._head(302, {"Location": "file:///etc/passwd", "Content-Length": "0"})
        elif self.path == "/elsewhere":
            self._head(301, {"Location": f"http://localhost:{port}/page", "Content-Length": "0"})
        elif self.path.startswith("/charset/"):
            body = "<p>caf\u00e9 ok</p>".encode()
            kind = f"text/html; charset={self.path.rsplit('/', 1)[1]}"
            self._head(200, {"Content-Type": kind, "Content-Length": str(len(body))})
            self.wfile.write(body)
        elif self.path == "/deep":
            body = b"<div>" * 100_000 + b"deep text" + b"</div>" * 100_000
            headers = {"Content-Type": "text/html", "Content-Length": str(len(body))}
            self._head(200, headers)
            self.wfile.write(body)
        else:
            body = b"<h1>The page</h1>"
            headers = {"Content-Type": "text/html", "Content-Length": str(len(body))}
            self._head(200, headers)
            self.wfile.write(body)


@pytest.fixture
def hostile() -> Iterator[str]:
    site = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    site.daemon_threads = True
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{site.server_address[1]}"
    site.shutdown()
    site.server_close()


@pytest.mark.parametrize("path", ["/bomb-redirect", "/endless-redirect"])
def test_a_redirect_body_is_never_read(server: MockServer, hostile: str, path: str) -> None:
    env = chat_env(server)
    code, peak = peak_memory_kib("chat", "-m", "echo", "-f", hostile + path, "x", env=env)
    assert code == 0 and peak < 150 * 1024
    assert "# The page" in sent(server)


def test_a_trickling_page_ends_at_the_deadline(
    server: MockServer, hostile: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("t360cli.client.PAGE_DEADLINE", 1.0)
    started = time.monotonic()
    result = invoke("chat", "-m", "echo", "-f", f"{hostile}/trickle", "x", env=chat_env(server))
    assert result.code == 5 and "did not arrive within 1 s" in result.err
    assert time.monotonic() - started < 20  # 0.2 never ended
    assert server.calls == []


def test_redirects_are_bounded_said_and_only_to_http(server: MockServer, hostile: str) -> None:
    env = chat_env(server)
    circle = invoke("chat", "-m", "echo", "-f", f"{hostile}/circle", "x", env=env)
    assert circle.code == 5 and "redirected more than 5 times" in circle.err
    to_file = invoke("chat", "-m", "echo", "-f", f"{hostile}/to-file", "x", env=env)
    assert to_file.code == 2 and "file: URL" in to_file.err
    moved = invoke("chat", "-m", "echo", "-f", f"{hostile}/elsewhere", "x", env=env)
    assert moved.code == 0 and "redirected to localhost" in moved.err
    assert "# The page" in sent(server)
    scheme = invoke("chat", "-m", "echo", "-f", "file:///etc/passwd", "x", env=env)
    assert scheme.code == 2 and "file:// URLs are not fetched" in scheme.err


def test_nothing_listening_names_the_page_not_the_gateway(server: MockServer) -> None:
    with refused_port() as port:
        url = f"http://127.0.0.1:{port}/x"
        result = invoke("chat", "-m", "echo", "-f", url, "x", env=chat_env(server))
    assert result.code == 5 and f"check {url}" in result.err and "--base-url" not in result.err


# -- 5. stdin is bounded, and signals are honoured while it flows --------------------------


def _writer(forever: bytes) -> subprocess.Popen[bytes]:
    """A process writing ``forever`` to its stdout until the reader leaves (``yes``)."""
    script = (
        "import sys\n"
        "data = sys.argv[1].encode() * 65536\n"
        "try:\n"
        "    while True:\n"
        "        sys.stdout.buffer.write(data)\n"
        "except (BrokenPipeError, KeyboardInterrupt):\n"
        "    pass\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", script, forever.decode()], stdout=subprocess.PIPE
    )


@pytest.mark.parametrize("command", ["chat", "cmd"])
def test_endless_stdin_is_refused_at_the_limit(server: MockServer, command: str) -> None:
    writer = _writer(b"y\n")
    try:
        done = subprocess.run(
            [T360, command, "-m", "echo", "x"],
            stdin=writer.stdout,
            capture_output=True,
            env={**os.environ, **chat_env(server)},
            timeout=60,
            check=False,
        )
    finally:
        writer.kill()
        writer.wait()
        assert writer.stdout is not None
        writer.stdout.close()
    assert done.returncode == 2, done.stderr
    assert b"stdin is over 4 MB; send an excerpt" in done.stderr
    assert server.calls == []


def unread(fd: int) -> int:
    """Bytes in the pipe of ``fd`` that its reader has not read yet."""
    import fcntl
    import termios

    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]


def test_sigterm_ends_a_run_while_stdin_flows(server: MockServer) -> None:
    read, write = os.pipe()
    child = subprocess.Popen(
        [T360, "chat", "-m", "echo", "x"],
        stdin=read,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **chat_env(server)},
    )
    os.close(read)
    try:
        os.write(write, b"a" * 1000)  # flowing, well under the limit
        wait_for_handler(child.pid, signal.SIGTERM)
        assert wait_until(lambda: unread(write) == 0)  # t360 read it all and waits for more
        child.send_signal(signal.SIGTERM)
        code = child.wait(timeout=10)
    finally:
        os.close(write)
        if child.poll() is None:
            child.kill()
            child.wait()
    assert code == 130


# -- 7, 8. the request body and the stream: NULs, surrogates -------------------------------


def test_a_nul_beside_a_large_attachment_is_encoded_exactly() -> None:
    from t360cli.request import encode

    picture = "data:image/png;base64," + "QUJD" * 300_000
    payload = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "a NUL \u0000 here, and a literal \\u0000 too"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "\u0000"},
                    {"type": "image_url", "image_url": {"url": picture}},
                ],
            },
        ],
    }
    length, pieces = encode(payload)
    body = b"".join(pieces)
    assert length == len(body) and json.loads(body) == payload


def test_a_lone_surrogate_is_sent_as_a_replacement_character() -> None:
    from t360cli.request import encode

    length, pieces = encode({"messages": [{"role": "assistant", "content": "a\ud800b"}]})
    body = b"".join(pieces)
    assert length == len(body) and json.loads(body)["messages"][0]["content"] == "a\ufffdb"


class _SplitEmoji(BaseHTTPRequestHandler):
    """A gateway that splits an emoji's UTF-16 halves across chunks and sends a lone one."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        pieces = ["smile \\ud83d", "\\ude00 and ", "\\udc00 lone"]
        head = 'data: {"model": "m", "choices": [{"delta": {"content": "'
        lines = [head + piece + '"}}]}\n\n' for piece in pieces]
        lines.append(
            'data: {"model": "m", "choices": [{"delta": {}, "finish_reason": "stop"}]}\n\n'
        )
        lines.append("data: [DONE]\n\n")
        body = "".join(lines).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_surrogates_from_the_gateway_are_mended_and_the_answer_kept() -> None:
    site = ThreadingHTTPServer(("127.0.0.1", 0), _SplitEmoji)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    try:
        env = {"T360_API_KEY": KEY, "T360_BASE_URL": f"http://127.0.0.1:{site.server_address[1]}"}
        result = invoke("chat", "--json", "hi", env=env)
        again = invoke("chat", "-c", "again", env=env)  # the saved answer can be sent back
    finally:
        site.shutdown()
        site.server_close()
    assert result.code == 0, result.err
    assert json.loads(result.out)["content"] == "smile \U0001f600 and \ufffd lone"
    assert again.code == 0, again.err


#: A data line nested deeper than Python's recursion limit: JSON, but not one t360 can read.
DEEP = "[" * 100_000 + "]" * 100_000


def test_parse_data_says_a_too_deep_line_is_a_stream_error() -> None:
    """parse_data's contract: "a StreamError for anything else". A line nested too deep
    escapes as RecursionError, which the boundary calls an internal error (a bug)."""
    with pytest.raises(StreamError):
        parse_data(DEEP)


def test_a_too_deep_chunk_ends_the_answer_as_a_stream_error(
    server: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gateway line nested too deep: the partial answer kept and reported, exit 4 like
    any malformed line (``-m invalid-json``), not "internal error ... this is a bug"."""

    def reply(model: str, prompt: str, arg: str, _server: object) -> Reply:
        steps = stream_of(model, prompt, words("Before deep "))[:-2]
        return Reply(steps=[*steps, f"data: {DEEP}\n\n".encode(), sse("[DONE]")])

    monkeypatch.setitem(SCENARIOS, "deep", ("a line nested too deep", reply))
    result = run_t360("chat", "-m", "deep", "hi", env=chat_env(server))
    assert "internal error" not in result.err
    assert result.code == 4, result.err
    assert "Before deep" in result.out


# -- 9. pages that crashed the converter ---------------------------------------------------


@pytest.mark.parametrize("charset", ["idna", "undefined", "punycode", "base64", "nonsense"])
def test_a_page_declaring_an_odd_charset_is_read_as_utf8(
    server: MockServer, hostile: str, charset: str
) -> None:
    url = f"{hostile}/charset/{charset}"
    result = invoke("chat", "-m", "echo", "-f", url, "x", env=chat_env(server))
    assert result.code == 0, result.err
    assert "caf\u00e9 ok" in sent(server)


def test_a_page_nested_100k_deep_becomes_its_text(server: MockServer, hostile: str) -> None:
    result = invoke("chat", "-m", "echo", "-f", f"{hostile}/deep", "x", env=chat_env(server))
    assert result.code == 0, result.err
    assert "deep text" in sent(server)


# -- 10. deeply nested JSON from the user ------------------------------------------------


def test_an_option_nested_too_deeply_is_a_usage_error(server: MockServer) -> None:
    result = invoke("chat", "-m", "echo", "-o", "x=" + "[" * 100_000, "hi", env=chat_env(server))
    assert result.code == 2 and "nested too deeply" in result.err


# -- 11. prices that cannot be true --------------------------------------------------------


def _cache_prices(server: MockServer, price_in: float, price_out: float) -> None:
    """What GET /models said of ``echo``, fresh: its prices and a context of 1,000."""
    from t360cli.environment import Paths
    from t360cli.modelinfo import remember

    pricing = {"prompt": price_in, "completion": price_out}
    item = {"id": "echo", "context_length": 1000, "pricing": pricing}
    remember(Paths(), server.url, [item], time.time())


@pytest.mark.parametrize("price", [5e-324, 1e-300])
def test_absurdly_low_prices_are_ignored_with_a_notice(server: MockServer, price: float) -> None:
    _cache_prices(server, 0.000001, price)
    result = invoke("chat", "-m", "echo", "--max-cost", "0.01", "hi", env=chat_env(server))
    assert result.code == 6 and "internal error" not in result.err
    assert "price_out for echo cannot be true and were ignored" in result.err
    assert "needs the prices of echo" in result.err
    assert server.calls == []


def test_max_tokens_set_by_max_cost_stays_within_the_context(server: MockServer) -> None:
    _cache_prices(server, 1e-12, 1e-12)
    result = invoke("chat", "-m", "echo", "--max-cost", "1e300", "hi", env=chat_env(server))
    assert result.code == 0, result.err
    max_tokens = server.calls[-1].body["max_tokens"]
    assert isinstance(max_tokens, int) and 0 < max_tokens < 1000


def test_a_prompt_over_the_context_is_not_blamed_on_max_tokens(server: MockServer) -> None:
    _cache_prices(server, 0.000001, 0.000001)
    words = "word " * 1000  # about 1,400 tokens: more than the context alone
    result = invoke("chat", "-m", "echo", "--max-cost", "0.5", words, env=chat_env(server))
    assert result.code == 6 and "does not fit echo's context of 1,000 tokens" in result.err
    assert "for the answer" not in result.err and server.calls == []


def test_a_price_that_cannot_be_true_in_the_config_is_exit_3(server: MockServer) -> None:
    from tests.helpers import paths

    config = paths().config_file
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[models."echo"]\nprice_out = 5e-324\n')
    result = invoke("chat", "-m", "echo", "hi", env=chat_env(server))
    assert result.code == 3 and "price_out = 5e-324" in result.err


def test_owned_by_as_an_object_is_not_shown_as_a_repr() -> None:
    from t360cli.environment import Paths
    from t360cli.modelinfo import owners, remember

    remember(Paths(), "u", [{"id": "m", "owned_by": {"org": "x"}}], time.time())
    assert owners(Paths()) == {"m": ""}


# -- 12. api_key_cmd output is bounded -----------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        "yes sk-aaaaaaaaaaaaaaaaaaaa",  # endless
        f"{sys.executable} -c \"print('sk-' + 'a' * 3_000_000)\"",  # one 3 MB line
    ],
)
def test_api_key_cmd_output_is_read_bounded(server: MockServer, command: str) -> None:
    from tests.helpers import paths

    config = paths().config_file
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"base_url = {json.dumps(server.url)}\napi_key_cmd = {json.dumps(command)}\n")
    result = invoke("chat", "-m", "echo", "hi")
    assert result.code == 3
    assert "api_key_cmd printed more than 4 KB" in result.err
    assert server.calls == []


# -- 13. ca_bundle naming a FIFO -----------------------------------------------------------


def test_a_ca_bundle_that_is_a_fifo_is_exit_3(tmp_path: Path) -> None:
    fifo = tmp_path / "ca.pem"
    os.mkfifo(fifo)
    env = {"T360_API_KEY": KEY, "T360_BASE_URL": "https://127.0.0.1:9/v1"}
    result = invoke("chat", "-m", "echo", "hi", env={**env, "T360_CA_BUNDLE": str(fifo)})
    assert result.code == 3 and "ca_bundle" in result.err and "not a regular file" in result.err


# -- wording ------------------------------------------------------------------------------


def test_limits_are_said_as_the_readme_says_them() -> None:
    from t360cli import units

    assert units.size(20_000_000) == "20 MB" and units.size(5_000_000) == "5 MB"
    assert units.size(1_234) == "1.2 KB" and units.cost(float("inf")) == "n/a"
    assert units.size(16 * 2**20, binary=True) == "16 MiB"


def test_a_body_over_its_limit_says_it_in_mib_as_the_readme_does(hostile: str) -> None:
    result = invoke("models", "--json", env={"T360_API_KEY": KEY, "T360_BASE_URL": hostile + "/v1"})
    assert result.code == 4 and "the model list is over 16 MiB" in result.err, result.err


# -- a malformed chunked body (issue 25.12) ------------------------------------------------


def test_a_malformed_chunked_body_is_exit_4_without_a_repr() -> None:
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(30)

    def serve() -> None:
        for _ in range(5):  # the first attempt and any retries
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data and (more := conn.recv(65536)):
                    data += more
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\nZZZZ\r\n"
                )

    threading.Thread(target=serve, daemon=True).start()
    env = {"T360_API_KEY": KEY, "T360_BASE_URL": f"http://127.0.0.1:{listener.getsockname()[1]}"}
    try:
        result = invoke("chat", "hi", env=env)
    finally:
        listener.close()
    assert result.code == 4, result.err
    assert "malformed HTTP response (illegal chunk header)" in result.err
    assert "bytearray" not in result.err and "b'" not in result.err
