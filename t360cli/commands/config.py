"""``t360 config``: read and change the config file, and see where each setting comes from."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, NamedTuple

import typer

from t360cli.commands.common import (
    environment,
    write_out,
)
from t360cli.commands.params import (
    PlainJsonOption,
)
from t360cli.config import (
    PARSERS,
    Settings,
    aliases_in,
    check_name,
    load_settings,
    parse_value,
    read_bytes,
    read_config,
    set_in_file,
    unset_in_file,
    without_password,
    write_file,
)
from t360cli.environment import Environment
from t360cli.errors import ConfigError, UsageError
from t360cli.safety import dumps, redact
from t360cli.terminal import has_controlling_terminal, read_key, run_editor

if TYPE_CHECKING:  # the tools' module (and mcp) loads only for config show
    from t360cli.tools import ServerConfig

app = typer.Typer(help="Read and change settings (the config file).", no_args_is_help=True)

KeyArgument = Annotated[str, typer.Argument(help=f"One of: {', '.join(PARSERS)}.")]


def _value(name: str, value: object) -> object:
    """A setting's value as it may be shown: the key redacted, a proxy's password hidden."""
    if name == "api_key":
        return redact(str(value) if value is not None else None)
    if name == "proxy" and value is not None:
        return without_password(str(value))
    return value


def _shown(name: str, value: object) -> str:
    value = _value(name, value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "(not set)" if value is None else str(value)


@app.command("set", context_settings={"ignore_unknown_options": True})  # VALUE may be -5
def config_set(
    ctx: typer.Context,
    name: KeyArgument,
    value: Annotated[
        str | None, typer.Argument(help="The value; api_key without one asks for it, hidden.")
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option("-p", "--profile", help="Set it in [profiles.NAME]."),
    ] = None,
) -> None:
    """Store a setting in the config file (in a profile with -p; aliases.NAME for an alias)."""
    check_name(name)
    env = environment(ctx)
    if value is None:
        if name != "api_key":
            raise UsageError(f"config set {name} needs a value")
        if not env.stdin_isatty:
            value = env.stdin.readline().strip()  # e.g. from a password manager's pipe
        else:
            value = typer.prompt("API key", hide_input=True, err=True)
    path = env.paths.config_file
    parsed = parse_value(name, value)
    where = f"profile {profile} in {path}" if profile else str(path)
    if name == "api_key":
        store = _key_store(env)
        if store is not None:
            from t360cli import keychain

            keychain.put(store, profile, str(parsed))
            unset_in_file(path, name, profile)  # the file would hide the keychain's key
            kept = f"the keychain ({keychain.name(store)}), not the config file"
            owner = f" for profile {profile}" if profile else ""
            env.stderr.write(
                env.shown(f"api_key = {_shown(name, parsed)}{owner} saved in {kept}") + "\n"
            )
            return
        where += " (no usable keychain here: key_store = keyring to insist)"
    set_in_file(path, name, profile, parsed)
    env.stderr.write(env.shown(f"{name} = {_shown(name, parsed)} saved in {where}") + "\n")


def _key_store(env: Environment) -> object | None:
    """The keychain ``config set api_key`` stores in, by ``key_store``: None for the file
    (chosen, or no usable keychain when not chosen); keyring chosen but unusable is exit 3."""
    choice = load_settings(env, {}).key_store
    if choice == "file":
        return None
    from t360cli import keychain

    store = keychain.backend(env.vars)
    if store is None and choice == "keyring":
        raise ConfigError(
            "key_store is keyring, but no usable keychain was found",
            "install and unlock one (Secret Service, macOS Keychain), or: "
            "t360 config set key_store file",
        )
    return store


@app.command("get")
def config_get(ctx: typer.Context, name: KeyArgument) -> None:
    """Print a setting's effective value (the API key redacted)."""
    check_name(name)
    env = environment(ctx)
    settings = load_settings(env, {})
    if name == "api_key":
        settings = _with_keychain(env, settings)
    write_out(env, f"{_effective(settings, name)}\n")


@app.command("unset")
def config_unset(
    ctx: typer.Context,
    name: KeyArgument,
    profile: Annotated[
        str | None,
        typer.Option(
            "-p",
            "--profile",
            help="Remove it from [profiles.NAME].",
        ),
    ] = None,
) -> None:
    """Remove a setting from the config file (from a profile with -p)."""
    check_name(name)
    env = environment(ctx)
    path = env.paths.config_file
    where = f"profile {profile} in {path}" if profile else str(path)
    removed = [where] if unset_in_file(path, name, profile) else []
    if name == "api_key" and load_settings(env, {}).key_store != "file":
        from t360cli import keychain

        if keychain.remove(env.vars, profile):
            removed.append("the keychain")
    if removed:
        env.stderr.write(env.shown(f"{name} removed from {' and '.join(removed)}") + "\n")
    else:
        env.stderr.write(env.shown(f"{name} was not set in {where}") + "\n")


def _profiles(table: dict[str, object]) -> dict[str, object]:
    profiles = table.get("profiles")
    return profiles if isinstance(profiles, dict) else {}


class _Shown(NamedTuple):
    """What ``config show`` shows: the settings in effect and the tables beside them."""

    settings: Settings
    profiles: dict[str, dict[str, str]]
    aliases: dict[str, str]
    network: dict[str, str | None]
    servers: dict[str, ServerConfig]


@app.command("show")
def config_show(
    ctx: typer.Context,
    json_out: PlainJsonOption = False,
    profile: Annotated[
        str | None,
        typer.Option(
            "-p",
            "--profile",
            help="The settings in effect with this profile.",
        ),
    ] = None,
) -> None:
    """Every effective setting and where it comes from; the profiles and aliases.

    ``api_key_cmd`` is shown as written, never run.
    """
    from t360cli.network import describe_trust, proxy_for
    from t360cli.tools import configured

    env = environment(ctx)
    table = read_config(env)
    settings = _with_keychain(env, load_settings(env, {"profile": profile}, table=table))
    proxy = proxy_for(settings.base_url, settings.proxy, env.vars)
    shown = _Shown(
        settings,
        {
            name: {key: _shown(key, value) for key, value in entries.items()}
            for name, entries in _profiles(table).items()
            if isinstance(entries, dict)
        },
        aliases_in(table),
        {
            "tls_trust": describe_trust(settings.ca_bundle, env.vars),
            "proxy": without_password(proxy[0]) if proxy else None,
            "proxy_from": proxy[1] if proxy else None,
        },
        configured(table),
    )
    if json_out:
        env.stdout.write(dumps(_as_json(shown), terminal=env.stdout_isatty) + "\n")
    else:
        write_out(env, _as_text(env, shown, proxied=proxy is not None))


def _as_json(shown: _Shown) -> dict[str, object]:
    from t360cli.mcp import public_url

    settings = shown.settings
    obj: dict[str, object] = {
        name: {
            "value": _effective(settings, name, text=False),
            "source": settings.sources[name],
        }
        for name in PARSERS
    }
    obj.update(
        profile=settings.profile,
        profiles=shown.profiles,
        aliases=shown.aliases,
        network=shown.network,
        mcp_servers={  # env and header values may be tokens: only their names are shown
            name: {
                "command": [server.command, *server.args] if server.url is None else None,
                "url": None if server.url is None else public_url(server.url),
                "headers": sorted(server.headers),
                "env": sorted(server.env),
                "cwd": server.cwd,
                "auto_approve": sorted(server.auto_approve),
                "timeout": server.timeout,
                "start_timeout": server.start_timeout,
            }
            for name, server in shown.servers.items()
        },
    )
    return obj


def _as_text(env: Environment, shown: _Shown, *, proxied: bool) -> str:
    from t360cli.mcp import public_url

    settings, network = shown.settings, shown.network
    rows = [(name, str(_effective(settings, name)), settings.sources[name]) for name in PARSERS]
    width = max(len(name) for name, _, _ in rows)
    text = "".join(f"{name.ljust(width)}  {value}  ({source})\n" for name, value, source in rows)
    in_effect = f"{network['proxy']} (from {network['proxy_from']})" if proxied else "none"
    text += f"# config file: {env.paths.config_file}\n"
    if settings.profile:
        text += f"# profile: {settings.profile}\n"
    text += f"# tls trust: {network['tls_trust']}\n"
    text += f"# proxy in effect for {settings.base_url}: {in_effect}\n"
    for name, entries in shown.profiles.items():
        text += f"[profiles.{name}] " + ", ".join(f"{k} = {v}" for k, v in entries.items()) + "\n"
    if shown.aliases:
        text += "[aliases] " + ", ".join(f"{k} = {v}" for k, v in shown.aliases.items()) + "\n"
    for name, server in shown.servers.items():
        if server.url is None:
            details = [" ".join([server.command, *server.args])]
        else:
            details = [public_url(server.url)]
        for key, names in (("headers", server.headers), ("env", server.env)):
            if names:  # names only: the values may be tokens
                details.append(f"{key} " + ", ".join(sorted(names)))
        if server.auto_approve:
            details.append("auto_approve " + ", ".join(sorted(server.auto_approve)))
        details.append(f"timeout {server.timeout:g} s")
        details.append(f"start_timeout {server.start_timeout:g} s")
        text += f"[mcp_servers.{name}] " + "; ".join(details) + "\n"
    return text


def _with_keychain(env: Environment, settings: Settings) -> Settings:
    """``settings`` with the key the keychain holds, when that is where it comes from
    (no flag, variable, file or ``api_key_cmd`` gives one; ``api_key_cmd`` is never run)."""
    if settings.api_key or settings.api_key_cmd or settings.key_store == "file":
        return settings
    from t360cli import keychain

    kept = keychain.get(env.vars, settings.profile)
    if not kept:
        return settings
    return settings._replace(api_key=kept, sources={**settings.sources, "api_key": "keyring"})


def _effective(settings: Settings, name: str, *, text: bool = True) -> object:
    """A setting as ``config show`` gives it (as text, or as a JSON value): a key that
    comes from ``api_key_cmd`` says so, and the command is not run."""
    if name == "api_key" and settings.api_key is None and settings.api_key_cmd:
        return f"(from api_key_cmd: {settings.api_key_cmd})"
    return _shown(name, getattr(settings, name)) if text else _value(name, getattr(settings, name))


@app.command("path")
def config_path_command(ctx: typer.Context) -> None:
    """Print the config file's path."""
    env = environment(ctx)
    write_out(env, f"{env.paths.config_file}\n")


#: The question when an edit left the file broken (one key, as visudo asks).
FIX_CHOICES = "[e]dit again, [k]eep it broken, [r]evert? "


@app.command("edit")
def config_edit(ctx: typer.Context) -> None:
    """Open the config file in $VISUAL or $EDITOR, then check it."""
    env = environment(ctx)
    path = env.paths.config_file
    if not path.exists():
        write_file(path, b"")
    before = read_bytes(path)
    asking = env.stderr_isatty and has_controlling_terminal()
    run_editor(env, path)
    while (error := _error_in(env)) is not None:
        key = _choose(env, error) if asking else "k"
        if key == "k":
            raise ConfigError(error.message, "the file is saved as you left it: t360 config edit")
        if key == "r":
            write_file(path, before)
            env.stderr.write(env.shown(f"{path} is back as it was before this edit") + "\n")
            return
        run_editor(env, path)


def _choose(env: Environment, error: ConfigError) -> str:
    """After an edit that left the file broken: what now, one key (e, k or r)."""
    env.error(error.message)
    while (key := read_key(env, FIX_CHOICES)) not in ("e", "k", "r"):
        env.stderr.write(env.shown(f"{key!r} is not a choice") + "\n")
    return key


def _error_in(env: Environment) -> ConfigError | None:
    """What is wrong with the config file (its line named), or None."""
    try:
        load_settings(env, {})
    except ConfigError as error:
        return error
    return None
