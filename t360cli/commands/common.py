"""Helpers the commands share."""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer

from t360cli.config import Settings, load_settings
from t360cli.errors import ConfigError
from t360cli.terminal import Environment, sanitize

#: The options every command that talks to the gateway takes.
ApiKeyOption = Annotated[
    str | None, typer.Option("--api-key", help="API key (prefer T360_API_KEY).")
]
BaseUrlOption = Annotated[str | None, typer.Option("--base-url", help="Gateway URL.")]
DebugOption = Annotated[
    bool, typer.Option("--debug", help="Log request and response metadata to stderr.")
]


def gateway_settings(env: Environment, flags: dict[str, object | None]) -> Settings:
    """Settings for a command that talks to the gateway: warnings shown, key required."""
    settings, warnings = load_settings(flags)
    for warning in warnings:
        env.warn(warning)
    require_key(env, settings)
    return settings


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


# -- shell completion (never a network call on TAB) ------------------------------------


def complete_model(incomplete: str) -> list[str]:
    """Model ids from the cache `t360 models` keeps, then those used before."""
    from t360cli.commands.models import cached
    from t360cli.history import History, database_path

    names = cached()
    if database_path().exists():
        with History.open() as history:
            names += history.models()
    return [name for name in dict.fromkeys(names) if name.startswith(incomplete)]


def complete_setting(incomplete: str) -> list[str]:
    from t360cli.config import PARSERS

    return [name for name in PARSERS if name.startswith(incomplete)]


def complete_conversation(incomplete: str) -> list[tuple[str, str]]:
    """Recent conversation ids, each with its title as help."""
    from t360cli.history import History, database_path

    if not database_path().exists():
        return []
    with History.open() as history:
        return [(c.id, c.title) for c in history.recent(50) if c.id.startswith(incomplete)]
