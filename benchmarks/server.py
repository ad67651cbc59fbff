"""A fast local streaming server for the benchmarks (standard library, raw sockets).

The model name carries the scenario: ``bench:chunks=50000,size=5,delay=0,md=0``.

- ``chunks``: how many content chunks; ``size``: characters per chunk;
- ``delay``: milliseconds between chunks (0 sends the whole prebuilt body at once);
- ``md``: 1 for markdown-heavy text instead of plain words.

With a delay, the server records the monotonic time at which it sent each chunk and
appends them, one line of JSON per request, to the file named by ``--timeline``. The
clock is CLOCK_MONOTONIC, shared by every process on the machine, so a reader can compare
its own arrival times with these.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

MARKDOWN_UNIT = (
    "## Section\n\nSome **bold** text, `code`, and a list:\n\n- one\n- two\n\n"
    "```python\nprint('hello')\n```\n\n"
)


def text_pieces(chunks: int, size: int, markdown: bool) -> list[str]:
    if markdown:
        source = MARKDOWN_UNIT * (chunks * size // len(MARKDOWN_UNIT) + 1)
        return [source[i * size : (i + 1) * size] for i in range(chunks)]
    # distinct, searchable words: "w000017 " padded to the size
    return [f"w{i:06d} ".ljust(size, "x")[: max(size, 8)] for i in range(chunks)]


def event(obj: object) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def chunk(content: str | None, finish: str | None = None, usage: bool = False) -> bytes:
    obj: dict[str, object] = {
        "id": "bench",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "bench",
        "provider": "Bench",
        "choices": [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": content},
                "finish_reason": finish,
            }
        ],
    }
    if usage:
        obj["usage"] = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    return event(obj)


def parse(model: str) -> dict[str, int]:
    params = {"chunks": 1000, "size": 5, "delay": 0, "md": 0}
    _, _, spec = model.partition(":")
    for part in filter(None, spec.split(",")):
        key, _, value = part.partition("=")
        params[key] = int(value)
    return params


def framed(data: bytes) -> bytes:
    """One chunk of a chunked body."""
    return b"%x\r\n%s\r\n" % (len(data), data) if data else b""


def read_request(conn: socket.socket, pending: bytes) -> tuple[bytes, bytes, bytes] | None:
    """The head and body of the next request on a kept-alive connection, and what follows."""
    data = pending
    while b"\r\n\r\n" not in data:
        part = conn.recv(65536)
        if not part:
            return None
        data += part
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = bytearray(rest)  # a large body (an attachment) arrives in many pieces
    while len(body) < length:
        part = conn.recv(1 << 20)
        if not part:
            return None
        body += part
    return head, bytes(body[:length]), bytes(body[length:])


def handle(conn: socket.socket, timeline: Path | None) -> None:
    """Answer requests on one connection until the client closes it (keep-alive)."""
    with conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pending = b""
        with contextlib.suppress(OSError):
            while (request := read_request(conn, pending)) is not None:
                head, body, pending = request
                answer(conn, head, body, timeline)


def answer(conn: socket.socket, head: bytes, body: bytes, timeline: Path | None) -> None:
    if head.startswith(b"GET"):
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b'Content-Length: 11\r\n\r\n{"data":[]}'
        )
        return
    params = parse(json.loads(body).get("model", ""))
    pieces = text_pieces(params["chunks"], params["size"], bool(params["md"]))
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    end = chunk(None, "stop", usage=True) + b"data: [DONE]\n\n"
    if not params["delay"]:
        whole = b"".join([chunk(None), *(chunk(p) for p in pieces), end])
        conn.sendall(framed(whole) + b"0\r\n\r\n")
        return
    sent: list[float] = []
    gap = params["delay"] / 1000
    conn.sendall(framed(chunk(None)))
    try:
        for piece in pieces:
            time.sleep(gap)
            conn.sendall(framed(chunk(piece)))
            sent.append(time.monotonic())
        conn.sendall(framed(end) + b"0\r\n\r\n")
    finally:
        if timeline is not None:
            with timeline.open("a") as handle_:
                handle_.write(json.dumps({"pieces": pieces[: len(sent)], "sent": sent}) + "\n")


def tls_wrapper(cert: Path | None, key: Path | None) -> Callable[[socket.socket], socket.socket]:
    """Wrap accepted connections in TLS when a certificate is given."""
    if cert is None:
        return lambda conn: conn
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return lambda conn: context.wrap_socket(conn, server_side=True)


def serve(
    port: int,
    timeline: Path | None,
    cert: Path | None = None,
    key: Path | None = None,
    name: str = "127.0.0.1",
) -> None:
    listener = socket.create_server(("127.0.0.1", port), backlog=64)
    wrap = tls_wrapper(cert, key)
    scheme = "https" if cert else "http"
    print(f"{scheme}://{name}:{listener.getsockname()[1]}/v1", flush=True)

    def run(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            handle(wrap(conn), timeline)

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=run, args=(conn,), daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--timeline", type=Path)
    parser.add_argument("--cert", type=Path, help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--key", type=Path, help="the certificate's private key (PEM)")
    parser.add_argument("--name", default="127.0.0.1", help="the host name in the URL printed")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        serve(args.port, args.timeline, args.cert, args.key, args.name)


if __name__ == "__main__":
    main()
