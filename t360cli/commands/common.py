"""Helpers the commands share."""

from __future__ import annotations

import ipaddress

from t360cli.config import Settings
from t360cli.errors import ConfigError
from t360cli.terminal import Environment, sanitize


def warn_plain_http(env: Environment, settings: Settings) -> None:
    if not settings.base_url.startswith("http://") or not settings.api_key:
        return
    host = settings.base_url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        env.warn(f"sending your API key unencrypted to {host} (use https:// in --base-url)")


def require_key(env: Environment, settings: Settings) -> None:
    if not settings.api_key:
        raise ConfigError(
            "no API key", "set T360_API_KEY, or run: t360 config set api_key (it asks for it)"
        )
    warn_plain_http(env, settings)


def write_out(env: Environment, text: str) -> None:
    """Saved or fetched text on stdout: exact in a pipe, made safe on a terminal."""
    env.stdout.write(sanitize(text) if env.stdout_isatty else text)
    env.stdout.flush()
