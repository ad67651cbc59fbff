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


def handle(conn: socket.socket, timeline: Path | None) -> None:
    with conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        data = b""
        while b"\r\n\r\n" not in data:
            part = conn.recv(65536)
            if not part:
                return
            data += part
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            body += conn.recv(65536)
        if head.startswith(b"GET"):
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b'Content-Length: 11\r\nConnection: close\r\n\r\n{"data":[]}'
            )
            return
        params = parse(json.loads(body).get("model", ""))
        pieces = text_pieces(params["chunks"], params["size"], bool(params["md"]))
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Cache-Control: no-cache\r\nConnection: close\r\n\r\n"
        )
        if not params["delay"]:
            conn.sendall(
                b"".join(
                    [
                        chunk(None),
                        *(chunk(p) for p in pieces),
                        chunk(None, "stop", usage=True),
                        b"data: [DONE]\n\n",
                    ]
                )
            )
            return
        sent: list[float] = []
        gap = params["delay"] / 1000
        conn.sendall(chunk(None))
        try:
            for piece in pieces:
                time.sleep(gap)
                conn.sendall(chunk(piece))
                sent.append(time.monotonic())
            conn.sendall(chunk(None, "stop", usage=True) + b"data: [DONE]\n\n")
        except OSError:
            pass
        if timeline is not None:
            with timeline.open("a") as handle_:
                handle_.write(json.dumps({"pieces": pieces[: len(sent)], "sent": sent}) + "\n")


def serve(port: int, timeline: Path | None, ready: threading.Event | None = None) -> None:
    listener = socket.create_server(("127.0.0.1", port), backlog=64)
    if ready is not None:
        ready.set()
    print(f"http://127.0.0.1:{listener.getsockname()[1]}/v1", flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=handle, args=(conn, timeline), daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--timeline", type=Path)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        serve(args.port, args.timeline)


if __name__ == "__main__":
    main()
