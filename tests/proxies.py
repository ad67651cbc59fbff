"""Small proxies on 127.0.0.1 for the network tests: HTTP CONNECT and SOCKS5 (no auth).

Each accepts connections on a thread per client, opens the tunnel the client asks for,
relays bytes both ways, and records the targets it was asked for.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable


def _relay(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""

    def pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    other = threading.Thread(target=pump, args=(b, a), daemon=True)
    other.start()
    pump(a, b)
    other.join(timeout=30)
    a.close()
    b.close()


def _read_until(sock: socket.socket, end: bytes, limit: int = 65536) -> bytes:
    data = b""
    while end not in data and len(data) < limit:
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def _exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


class Proxy:
    """Base: a listening socket, a thread per client, and the targets asked for."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.targets: list[tuple[str, int]] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> Proxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self._thread.join(timeout=10)

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._guarded(self.handle), args=(client,), daemon=True).start()

    @staticmethod
    def _guarded(handle: Callable[[socket.socket], None]) -> Callable[[socket.socket], None]:
        def run(client: socket.socket) -> None:
            try:
                handle(client)
            except OSError:
                client.close()

        return run

    def handle(self, client: socket.socket) -> None:
        raise NotImplementedError


class ConnectProxy(Proxy):
    """An HTTP proxy that supports CONNECT (what HTTPS and most clients use)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def handle(self, client: socket.socket) -> None:
        head = _read_until(client, b"\r\n\r\n").decode("latin-1")
        method, target, _ = head.split(" ", 2)
        if method != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            client.close()
            return
        host, _, port = target.rpartition(":")
        self.targets.append((host, int(port)))
        upstream = socket.create_connection((host, int(port)), timeout=10)
        upstream.settimeout(None)
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        _relay(client, upstream)


class Socks5Proxy(Proxy):
    """A SOCKS5 proxy, no authentication, CONNECT only (RFC 1928)."""

    @property
    def url(self) -> str:
        return f"socks5://127.0.0.1:{self.port}"

    def handle(self, client: socket.socket) -> None:
        _, count = _exactly(client, 2)
        _exactly(client, count)  # the methods offered; "no authentication" is chosen
        client.sendall(b"\x05\x00")
        kind = _exactly(client, 4)[3]
        if kind == 1:
            host = socket.inet_ntoa(_exactly(client, 4))
        elif kind == 3:
            host = _exactly(client, _exactly(client, 1)[0]).decode()
        else:
            host = socket.inet_ntop(socket.AF_INET6, _exactly(client, 16))
        (port,) = struct.unpack("!H", _exactly(client, 2))
        self.targets.append((host, port))
        upstream = socket.create_connection((host, port), timeout=10)
        upstream.settimeout(None)
        client.sendall(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + b"\x00\x00")
        _relay(client, upstream)
