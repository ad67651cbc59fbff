"""Helpers the commands share: the Environment, gateway settings, output, completion."""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer

from t360cli.config import Settings, load_settings
from t360cli.environment import Environment
from t360cli.errors import ConfigError
from t360cli.safety import sanitize

#: The options every command that talks to the gateway takes.
ApiKeyOption = Annotated[
    str | None, typer.Option("--api-key", help="API key (prefer T360_API_KEY).")
]
BaseUrlOption = Annotated[str | None, typer.Option("--base-url", help="Gateway URL.")]
DebugOption = Annotated[
    bool, typer.Option("--debug", help="Log request and response metadata to stderr.")
]


def environment(ctx: typer.Context) -> Environment:
    """The Environment the boundary (``cli.run``) built for this run."""
    env = ctx.find_object(Environment)
    if env is None:
        raise RuntimeError("t360 commands run through t360cli.cli.run")
    return env


def gateway_settings(env: Environment, flags: dict[str, object | None]) -> Settings:
    """Settings for a command that talks to the gateway: warnings shown, key required."""
    settings = load_settings(env, flags)
    require_key(env, settings)
    return settings


def warn_plain_http(env: Environment, settings: Settings) -> None:
    """A key about to cross a network unencrypted is worth one warning (not loopback)."""
    from urllib.parse import urlsplit

    parts = urlsplit(settings.base_url)
    if parts.scheme != "http" or not settings.api_key:
        return
    host = parts.hostname or ""
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


def complete_model(ctx: typer.Context, incomplete: str) -> list[str]:
    """Model ids from the cache `t360 models` keeps, then those used before."""
    from t360cli.history import History
    from t360cli.modelinfo import cached

    env = environment(ctx)
    names = cached(env.paths)
    if env.paths.history_db.exists():
        with History.open(env.paths.history_db) as history:
            names += history.models()
    return [name for name in dict.fromkeys(names) if name.startswith(incomplete)]


def complete_setting(incomplete: str) -> list[str]:
    from t360cli.config import PARSERS

    return [name for name in PARSERS if name.startswith(incomplete)]


def complete_conversation(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """Recent conversation ids, each with its title as help."""
    from t360cli.history import History

    env = environment(ctx)
    if not env.paths.history_db.exists():
        return []
    with History.open(env.paths.history_db) as history:
        return [(c.id, c.title) for c in history.recent(50) if c.id.startswith(incomplete)]
