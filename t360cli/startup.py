"""What a run starts before anything else loads: for ``t360 chat``, the connection to the
gateway (``__main__`` calls ``prewarm`` first thing, so the handshake runs while Typer and
the rest of t360 are imported)."""

from __future__ import annotations

from collections.abc import Mapping

from .network import DEFAULT_CONNECT_TIMEOUT, Origin, Warm, proxy_for


def prewarm(args: list[str], environ: Mapping[str, str]) -> Warm | None:
    """For ``t360 chat``, the gateway connection opened right away, before the rest of
    start-up. A base URL from ``--base-url`` or ``T360_BASE_URL`` (which the config file
    cannot override) is connected to at once, while the config file is read for the
    proxy and the CA bundle; otherwise the file is read first. Only TLS is worth it: a
    plain ``http://`` gateway is a local one (t360 warns about any other), where there
    is no handshake to hide. With a proxy in effect, nothing is opened early."""
    if not args or args[0] != "chat" or "-h" in args or "--help" in args:
        return None
    given = environ.get("T360_BASE_URL") or None
    for i, arg in enumerate(args):
        if arg == "--base-url" and i + 1 < len(args):
            given = args[i + 1]
        elif arg.startswith("--base-url="):
            given = arg.partition("=")[2]
    early = None
    if given and not given.lower().startswith("https://"):
        return None
    if given and not environ.get("T360_PROXY"):
        origin = Origin.of(given)
        if origin.host:
            bundle = environ.get("T360_CA_BUNDLE") or None  # the file cannot override it
            early = Warm(origin, DEFAULT_CONNECT_TIMEOUT, bundle)
    from .config import load_file, resolve  # while the connection opens
    from .environment import Paths
    from .errors import T360Error

    try:
        settings, _ = resolve({"base_url": given}, environ, load_file(Paths().config_file))
    except (T360Error, ValueError):
        settings = None  # the run itself reports it, in its place
    if (
        settings is None
        or not settings.base_url.startswith("https://")
        or proxy_for(settings.base_url, settings.proxy, environ) is not None
    ):
        if early is not None:
            early.close()
        return None
    if early is None or early.origin != Origin.of(settings.base_url):
        if early is not None:
            early.close()
        early = Warm(Origin.of(settings.base_url), settings.connect_timeout)
    return early.secure(settings.ca_bundle)
