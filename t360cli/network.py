"""How t360 reaches the gateway: the proxy in effect, the TLS trust, an early connection.

Standard library only at import, so a one-shot can start connecting before the heavy
imports of start-up (``__main__``). The decisions live here so that the client, the
early connection, ``config show`` and ``--debug`` all agree:

- ``proxy_for``: the ``proxy`` setting, else ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``
  unless ``NO_PROXY`` exempts the host;
- ``tls_context``: the operating system's trust store (``truststore``), plus ``ca_bundle``
  added to it, never replacing it; ``SSL_CERT_FILE`` keeps working through OpenSSL;
- ``Warm``: DNS, TCP and TLS to the gateway, started in the background, handed to the
  first request that goes to the same place (``__main__`` starts one for ``t360 chat``).
"""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit

from . import trace
from .errors import ConfigError

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


#: Seconds to connect (DNS, TCP and TLS) unless ``connect_timeout`` says otherwise.
DEFAULT_CONNECT_TIMEOUT = 10.0
#: The largest ``ca_bundle`` read (the Mozilla bundle is about 220 KB).
MAX_CA_BUNDLE = 10_000_000


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """A verifying TLS context: the OS trust store plus ``ca_bundle`` (PEM) when set.

    On macOS and Windows ``truststore`` verifies with the system's own API. Elsewhere the
    system store is OpenSSL's default CA locations, which truststore loads again for every
    connection (15 ms each on this machine, on the path of every handshake); when those
    locations exist, the same context is built once with the standard library instead.
    """
    import ssl
    import sys

    defaults = ssl.get_default_verify_paths()
    if sys.platform not in ("darwin", "win32") and (defaults.cafile or defaults.capath):
        context = ssl.create_default_context()  # loads the default locations, once
    else:
        import truststore

        context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca_bundle:
        from .bounded import read_path

        hint = "point it at a PEM file of CA certificates (t360 config set ca_bundle PATH)"
        # read here, bounded: OpenSSL would wait for ever on a FIFO, and read a device whole
        pem = read_path(ca_bundle, "ca_bundle", MAX_CA_BUNDLE, ConfigError, hint)
        try:
            context.load_verify_locations(cadata=pem.decode("ascii", "replace"))
        except (ssl.SSLError, ValueError) as exc:
            raise ConfigError(f"cannot use ca_bundle {ca_bundle}: {exc}", hint) from None
    return context


class _Build:
    """One TLS context being built on a thread of its own."""

    def __init__(self, ca_bundle: str | None) -> None:
        self.ready = threading.Event()
        self.context: ssl.SSLContext | None = None
        self.error: ConfigError | None = None
        threading.Thread(target=self._run, args=(ca_bundle,), daemon=True).start()

    def _run(self, ca_bundle: str | None) -> None:
        try:
            self.context = tls_context(ca_bundle)
            trace.mark("TLS context built")
        except ConfigError as exc:
            self.error = exc
        finally:
            self.ready.set()


class Warm:
    """A connection to ``origin`` opened in the background. DNS, TCP, a TLS context for
    the likely CA bundle and the handshake start at once; ``secure`` says which bundle the
    settings, read meanwhile, ask for. A bundle only adds trust, so a handshake that
    passed without it is good; one that failed is tried again with it.

    ``take`` hands the socket to the first request for the same origin (once); a failure
    is kept quiet here, so the request connects again and reports it as it always would.
    """

    def __init__(self, origin: Origin, timeout: float, likely_bundle: str | None = None) -> None:
        self.origin = origin
        self.ca_bundle = likely_bundle
        self._timeout = timeout
        self._likely = likely_bundle
        self._builds: dict[str | None, _Build] = {}
        if origin.tls:
            self._builds[likely_bundle] = _Build(likely_bundle)
        self._settled = threading.Event()  # set by secure (or close)
        self._socket: socket.socket | None = None
        self._done = threading.Event()
        self._lock = threading.Lock()
        trace.mark("connecting")
        threading.Thread(target=self._connect, name="t360-connect", daemon=True).start()

    def secure(self, ca_bundle: str | None) -> Warm:
        """Trust ``ca_bundle`` besides the system store for this connection's TLS."""
        self.ca_bundle = ca_bundle
        if self.origin.tls and ca_bundle not in self._builds:
            self._builds[ca_bundle] = _Build(ca_bundle)
        self._settled.set()
        return self

    def _connect(self) -> None:
        sock: socket.socket | None = None
        try:
            sock = self._open(self._likely)
            if sock is None:  # refused without the bundle the settings name: with it
                self._settled.wait()
                if self.ca_bundle != self._likely:
                    sock = self._open(self.ca_bundle)
            with self._lock:
                self._socket, sock = sock, None
        except (OSError, ValueError, ConfigError):
            pass  # the request will connect itself and say what went wrong
        finally:
            if sock is not None:
                sock.close()
            self._done.set()

    def _open(self, bundle: str | None) -> socket.socket | None:
        """A TCP connection, with TLS made with ``bundle``'s context; None if a certificate
        was refused (other failures raise)."""
        import ssl

        sock = socket.create_connection((self.origin.host, self.origin.port), self._timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        trace.mark("connected early")
        if not self.origin.tls:
            return sock
        try:
            secured = self._context(bundle).wrap_socket(sock, server_hostname=self.origin.host)
            trace.mark("handshake done")
            return secured
        except ssl.SSLCertVerificationError:
            sock.close()
            return None
        except BaseException:
            sock.close()
            raise

    def _context(self, bundle: str | None) -> ssl.SSLContext:
        build = self._builds.get(bundle)
        if build is None:
            raise OSError("closed before its TLS was settled")
        build.ready.wait()
        if build.error is not None:
            raise build.error
        assert build.context is not None
        return build.context

    def context(self) -> ssl.SSLContext:
        """The TLS context for the settled CA bundle (the client uses the same one)."""
        self._settled.wait()
        return self._context(self.ca_bundle)

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
        if not self._settled.is_set():  # a connection still waiting for TLS gives up
            self._builds.clear()
            self._settled.set()
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
