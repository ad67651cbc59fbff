"""How t360 reaches the gateway: the proxy in effect, the TLS trust, an early connection.

Standard library only at import, so a one-shot can start connecting before the heavy
imports of start-up (``__main__``). The decisions live here so that the client, the
early connection, ``config show`` and ``--debug`` all agree:

- ``proxy_for``: the ``proxy`` setting, else ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``
  unless ``NO_PROXY`` exempts the host;
- ``tls_context``: the operating system's trust store (``truststore``), plus ``ca_bundle``
  added to it, never replacing it; ``SSL_CERT_FILE`` keeps working through OpenSSL;
- ``Warm``: DNS, TCP and TLS to the gateway, started in the background, handed to the
  first request that goes to the same place.
"""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit

from .errors import ConfigError, T360Error

if TYPE_CHECKING:
    import ssl


class Origin(NamedTuple):
    """Where requests go: scheme, host and port."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> Origin:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        port = parts.port or (443 if scheme == "https" else 80)
        return cls(scheme, parts.hostname or "", port)

    @property
    def tls(self) -> bool:
        return self.scheme == "https"


def _bypassed(host: str, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` (comma-separated hosts, domains, ``*``) exempts ``host``."""
    host = host.lower().strip("[]")
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if entry == "*":
            return True
        # "host:port" names the host; IPv6 addresses may come in brackets
        name = entry.split(":")[0] if entry.count(":") == 1 else entry.strip("[]")
        domain = name.lstrip(".")
        if domain and (host == domain or host.endswith("." + domain)):
            return True
    return False


def _env(environ: Mapping[str, str], name: str) -> str:
    return environ.get(name.upper()) or environ.get(name) or ""


def proxy_for(url: str, setting: str | None, environ: Mapping[str, str]) -> tuple[str, str] | None:
    """The proxy URL for requests to ``url`` and where it comes from, or None."""
    if setting:
        return setting, "proxy setting"
    origin = Origin.of(url)
    if _bypassed(origin.host, _env(environ, "no_proxy")):
        return None
    for name in ((f"{origin.scheme}_proxy",) if origin.scheme else ()) + ("all_proxy",):
        value = _env(environ, name)
        if value:
            return value, name.upper()
    return None


def describe_trust(ca_bundle: str | None, environ: Mapping[str, str]) -> str:
    """Where TLS trust comes from, in words (``config show``, ``--debug``)."""
    parts = ["the system trust store"]
    if environ.get("SSL_CERT_FILE"):
        parts.append(f"SSL_CERT_FILE {environ['SSL_CERT_FILE']}")
    if ca_bundle:
        parts.append(f"ca_bundle {ca_bundle}")
    return " + ".join(parts)


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """A verifying TLS context: the OS trust store plus ``ca_bundle`` (PEM) when set."""
    import ssl

    import truststore

    context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca_bundle:
        try:
            context.load_verify_locations(cafile=ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"cannot use ca_bundle {ca_bundle}: {getattr(exc, 'strerror', None) or exc}",
                "point it at a PEM file of CA certificates (t360 config set ca_bundle PATH)",
            ) from None
    return context


class Warm:
    """A connection to ``origin`` opened in the background: DNS and TCP on one thread
    while the TLS context is built on another, then the TLS handshake.

    ``take`` hands the socket to the first request for the same origin (once); a failure
    is kept quiet here, so the request connects again and reports it as it always would.
    """

    def __init__(self, origin: Origin, ca_bundle: str | None, timeout: float) -> None:
        self.origin = origin
        self.ca_bundle = ca_bundle
        self._timeout = timeout
        self._socket: socket.socket | None = None
        self._context: ssl.SSLContext | None = None
        self._context_error: ConfigError | None = None
        self._context_ready = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()
        if origin.tls:
            threading.Thread(target=self._build_context, name="t360-tls", daemon=True).start()
        else:
            self._context_ready.set()
        threading.Thread(target=self._connect, name="t360-connect", daemon=True).start()

    def _build_context(self) -> None:
        try:
            self._context = tls_context(self.ca_bundle)
        except ConfigError as exc:
            self._context_error = exc
        finally:
            self._context_ready.set()

    def _connect(self) -> None:
        sock: socket.socket | None = None
        try:
            sock = socket.create_connection(
                (self.origin.host, self.origin.port), timeout=self._timeout
            )
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.origin.tls:
                self._context_ready.wait()
                if self._context is None:
                    raise OSError("no TLS context")
                sock = self._context.wrap_socket(sock, server_hostname=self.origin.host)
            with self._lock:
                self._socket, sock = sock, None
        except (OSError, ValueError):
            pass  # the request will connect itself and say what went wrong
        finally:
            if sock is not None:
                sock.close()
            self._done.set()

    def context(self) -> ssl.SSLContext:
        """The TLS context built for this connection (the client uses the same one)."""
        self._context_ready.wait()
        if self._context_error is not None:
            raise self._context_error
        assert self._context is not None
        return self._context

    def take(self, host: str, port: int) -> socket.socket | None:
        """The open connection, if it goes to ``host:port`` and is ready in time."""
        if (host, port) != (self.origin.host, self.origin.port):
            return None
        self._done.wait(self._timeout)
        with self._lock:
            sock, self._socket = self._socket, None
        if sock is not None and _closed(sock):
            sock.close()
            return None
        return sock

    def close(self) -> None:
        with self._lock:
            sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()


def _closed(sock: socket.socket) -> bool:
    """Whether an idle connection can no longer carry a request: the server closed it, or
    sent something unasked. TLS 1.3 session tickets make a socket readable too; they are
    read here (no application data) and the connection stays good."""
    if not select.select([sock], [], [], 0)[0]:
        return False
    import ssl

    if not isinstance(sock, ssl.SSLSocket):
        return True
    sock.setblocking(False)
    try:
        sock.recv(1)
    except ssl.SSLWantReadError:
        return False
    except OSError:
        return True
    finally:
        sock.setblocking(True)
    return True


def prewarm(args: list[str], environ: Mapping[str, str]) -> Warm | None:
    """For a one-shot ``t360 chat``, the gateway connection opened right away, before the
    rest of start-up: the base URL and CA bundle are read as the settings will read them
    (flag, environment, config file); with a proxy in effect, nothing is opened early."""
    if not args or args[0] != "chat" or "-h" in args or "--help" in args:
        return None
    from .config import load_file, resolve
    from .environment import Paths

    flags: dict[str, object | None] = {}
    for i, arg in enumerate(args):
        if arg == "--base-url" and i + 1 < len(args):
            flags["base_url"] = args[i + 1]
        elif arg.startswith("--base-url="):
            flags["base_url"] = arg.partition("=")[2]
    try:
        settings, _ = resolve(flags, environ, load_file(Paths().config_file))
    except T360Error:
        return None  # the run itself reports it, in its place
    if proxy_for(settings.base_url, settings.proxy, environ) is not None:
        return None
    return Warm(Origin.of(settings.base_url), settings.ca_bundle, settings.connect_timeout)
