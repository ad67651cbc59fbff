"""Helpers the commands share: the Environment, gateway settings, output, completion."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated

import typer

from t360cli.config import Settings, api_key_from, load_settings, read_config
from t360cli.environment import Environment
from t360cli.errors import ConfigError
from t360cli.guards import Budget, Guard
from t360cli.request import RequestOptions, check_options
from t360cli.roles import Role
from t360cli.roles import find as find_role
from t360cli.safety import sanitize
from t360cli.session import Chat

if TYPE_CHECKING:
    from t360cli.secrets_guard import Check

#: The options every command that talks to the gateway takes.
ApiKeyOption = Annotated[
    str | None, typer.Option("--api-key", help="API key (prefer T360_API_KEY).")
]
BaseUrlOption = Annotated[str | None, typer.Option("--base-url", help="Gateway URL.")]
DebugOption = Annotated[
    bool, typer.Option("--debug", help="Log request and response metadata to stderr.")
]


ProfileOption = Annotated[
    str | None,
    typer.Option(
        "-p",
        "--profile",
        help="Use the settings of [profiles.NAME] (or T360_PROFILE).",
    ),
]


def environment(ctx: typer.Context) -> Environment:
    """The Environment the boundary (``cli.run``) built for this run."""
    env = ctx.find_object(Environment)
    if env is None:
        raise RuntimeError("t360 commands run through t360cli.cli.run")
    return env


def gateway_settings(env: Environment, flags: Mapping[str, object | None]) -> Settings:
    """Settings for a command that talks to the gateway: warnings shown, key required."""
    return require_key(env, load_settings(env, flags))


class Setup:
    """Settings, request options and role for this run's flags, under a role or none:
    the one place they are layered, for the start and for the REPL's ``/role``."""

    def __init__(
        self,
        env: Environment,
        flags: Mapping[str, object | None],
        conversation: Mapping[str, object | None] | None,
        request: RequestOptions,
    ) -> None:
        self.env = env
        self.flags = flags
        self.conversation = conversation
        self.request = request
        self.table = read_config(env)

    def __call__(self, role_name: str | None) -> tuple[Settings, RequestOptions, Role | None]:
        role = find_role(self.env, self.table, role_name) if role_name else None
        settings = load_settings(
            self.env,
            self.flags,
            self.conversation,
            table=self.table,
            role=role.layer() if role else None,
            role_name=role_name,
        )
        request = self.request
        if role is not None:
            temperature = request.temperature
            request = request._replace(
                temperature=role.temperature if temperature is None else temperature,
                options={**role.options, **request.options},  # -o beats the role
            )
        return settings, check_options(request), role


def make_guard(
    env: Environment,
    settings: Settings,
    table: Mapping[str, object],
    *,
    max_cost: float | None = None,
    ignore_budget: bool = False,
) -> Guard:
    """The guards of this run: budgets (unless ignored), --max-cost, the context length."""
    from t360cli import modelinfo

    def info(model: str) -> modelinfo.ModelInfo:
        return modelinfo.lookup(env.paths, table, model)

    budgeted = settings.budget_daily is not None or settings.budget_monthly is not None
    return Guard(
        info,
        (lambda: budget(env, settings)) if budgeted and not ignore_budget else None,
        max_cost,
        env.warn,
    )


def refresh_models(env: Environment, session: Chat) -> None:
    """Ask the gateway for its models (prices, context lengths) when the cache is old."""
    from t360cli import modelinfo

    settings = session.settings
    if not modelinfo.fresh(env.paths, settings.base_url, env.clock()):
        items = session.gateway.models()
        modelinfo.remember(env.paths, settings.base_url, items, env.clock())


def budget(env: Environment, settings: Settings) -> Budget:
    """The budgets and what the history says was spent today and this month."""
    from t360cli.guards import day_and_month_start
    from t360cli.history import History

    day, month = day_and_month_start(env.clock())
    today = month_total = 0.0
    if env.paths.history_db.exists():
        with History.open(env.paths.history_db) as history:
            today, month_total = history.spend(day), history.spend(month)
    return Budget(settings.budget_daily, settings.budget_monthly, today, month_total)


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


def secrets_check(
    env: Environment, settings: Settings, table: Mapping[str, object], *, allow: bool
) -> Check:
    """The secrets guard of this run: the ``secrets`` setting (``--allow-secrets`` makes a
    refusal a warning, once), knowing the user's own keys wherever they are configured."""
    from t360cli.secrets_guard import Check

    profiles = table.get("profiles")
    keys = [settings.api_key, env.vars.get("T360_API_KEY"), table.get("api_key")]
    if isinstance(profiles, dict):
        keys += [p.get("api_key") for p in profiles.values() if isinstance(p, dict)]
    mode = "warn" if allow and settings.secrets == "refuse" else settings.secrets
    return Check(mode, [key for key in keys if isinstance(key, str)], env.warn)


def known_key(env: Environment, settings: Settings) -> Settings:
    """``settings`` with the API key run from ``api_key_cmd``, or read from the keychain,
    if that is where it comes from, and the key among the secrets: only when it is needed,
    for a request or before MCP servers start (a variable holding it is kept from them, so
    it must be known)."""
    if not settings.api_key and settings.api_key_cmd:
        key = api_key_from(settings.api_key_cmd, env.vars)
        env.secrets.add(key)
        settings = settings._replace(api_key=key)
    elif not settings.api_key and settings.key_store != "file":
        from t360cli import keychain  # keyring loads only here: no key anywhere else

        kept = keychain.get(env.vars, settings.profile)
        if kept:
            env.secrets.add(kept)
            settings = settings._replace(api_key=kept)
    return settings


def require_key(env: Environment, settings: Settings) -> Settings:
    """``settings`` with the API key (``known_key``); no key at all is a configuration
    error."""
    settings = known_key(env, settings)
    if not settings.api_key:
        raise ConfigError(
            "no API key", "set T360_API_KEY, or run: t360 config set api_key (it asks for it)"
        )
    warn_plain_http(env, settings)
    return settings


def write_out(env: Environment, text: str) -> None:
    """Saved or fetched text on stdout: exact in a pipe, made safe on a terminal."""
    env.stdout.write(sanitize(text) if env.stdout_isatty else text)
    env.stdout.flush()


# -- the request options chat and cmd share ---------------------------------------------

ModelOption = Annotated[
    str | None,
    typer.Option("-m", "--model", help="Model id (or alias)."),
]
TemperatureOption = Annotated[
    float | None, typer.Option("--temperature", help="Sampling temperature (0 or more).")
]
MaxTokensOption = Annotated[
    int | None, typer.Option("--max-tokens", min=1, help="Longest answer, in tokens.")
]
OptionOption = Annotated[
    list[str] | None,
    typer.Option("-o", "--option", help="Extra request field KEY=VALUE (JSON if it parses)."),
]
QuietOption = Annotated[bool, typer.Option("-q", "--quiet", help="No stats footer.")]
NoSaveOption = Annotated[
    bool, typer.Option("--no-save", help="Keep this exchange out of the history.")
]
NoStdinOption = Annotated[bool, typer.Option("-n", "--no-stdin", help="Ignore stdin.")]
TimeoutOption = Annotated[
    float | None,
    typer.Option("--timeout", help="Longest silence tolerated while waiting, in seconds."),
]
RetriesOption = Annotated[
    int | None,
    typer.Option("--retries", help="Retries before the first token (default 2, at most 10)."),
]
RoleOption = Annotated[
    str | None,
    typer.Option(
        "-r",
        "--role",
        help="Use the role [roles.NAME] or roles/NAME.md.",
    ),
]
