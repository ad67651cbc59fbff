"""A TCP relay on 127.0.0.1 that delays every byte by a fixed time each way, so that a
local server looks like one across the internet (25 ms each way: a 50 ms round trip).

Usage: python delay.py TARGET_PORT [--delay-ms 25]   (prints the port it listens on)
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import socket
import threading
import time


def pump(source: socket.socket, sink: socket.socket, delay: float) -> None:
    """Copy ``source`` to ``sink``, each piece sent ``delay`` seconds after it arrived."""
    queue: collections.deque[tuple[float, bytes]] = collections.deque()
    ready = threading.Condition()
    done = False

    def writer() -> None:
        while True:
            with ready:
                while not queue and not done:
                    ready.wait()
                if not queue:
                    break
                due, data = queue.popleft()
            if (wait := due - time.monotonic()) > 0:
                time.sleep(wait)
            with contextlib.suppress(OSError):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            with ready:
                queue.append((time.monotonic() + delay, data))
                ready.notify()
    with ready:
        done = True
        ready.notify()
    thread.join()


def relay(client: socket.socket, target: int, delay: float) -> None:
    with client, socket.create_connection(("127.0.0.1", target)) as upstream:
        for conn in (client, upstream):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        back = threading.Thread(target=pump, args=(upstream, client, delay), daemon=True)
        back.start()
        pump(client, upstream, delay)
        back.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", type=int)
    parser.add_argument("--delay-ms", type=float, default=25.0)
    args = parser.parse_args()
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    print(listener.getsockname()[1], flush=True)
    delay = args.delay_ms / 1000
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            client, _ = listener.accept()
            threading.Thread(target=relay, args=(client, args.target, delay), daemon=True).start()


if __name__ == "__main__":
    main()
