"""``t360 config``: read and change the config file, and see where each setting comes from."""

from __future__ import annotations

import shlex
import subprocess
from typing import Annotated

import typer

from t360cli.commands.common import complete_setting, environment, write_out
from t360cli.config import (
    PARSERS,
    check_name,
    load_file,
    load_settings,
    parse_value,
    without_password,
    write_file,
)
from t360cli.errors import ConfigError, UsageError
from t360cli.safety import dumps, redact

app = typer.Typer(help="Read and change settings (the config file).", no_args_is_help=True)

KeyArgument = Annotated[
    str, typer.Argument(help=f"One of: {', '.join(PARSERS)}.", autocompletion=complete_setting)
]


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


@app.command("set")
def config_set(
    ctx: typer.Context,
    name: KeyArgument,
    value: Annotated[
        str | None, typer.Argument(help="The value; api_key without one asks for it, hidden.")
    ] = None,
) -> None:
    """Store a setting in the config file."""
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
    table = load_file(path)
    table[name] = parse_value(name, value)
    write_file(path, table)
    env.stderr.write(env.shown(f"{name} = {_shown(name, table[name])} saved in {path}") + "\n")


@app.command("get")
def config_get(ctx: typer.Context, name: KeyArgument) -> None:
    """Print a setting's effective value (the API key redacted)."""
    check_name(name)
    env = environment(ctx)
    settings = load_settings(env, {})
    write_out(env, _shown(name, getattr(settings, name)) + "\n")


@app.command("unset")
def config_unset(ctx: typer.Context, name: KeyArgument) -> None:
    """Remove a setting from the config file."""
    check_name(name)
    env = environment(ctx)
    path = env.paths.config_file
    table = load_file(path)
    if name not in table:
        env.stderr.write(env.shown(f"{name} was not set in {path}") + "\n")
        return
    del table[name]
    write_file(path, table)
    env.stderr.write(env.shown(f"{name} removed from {path}") + "\n")


@app.command("show")
def config_show(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Every effective setting and where it comes from (flag, env, file, default)."""
    from t360cli.network import describe_trust, proxy_for

    env = environment(ctx)
    settings = load_settings(env, {})
    proxy = proxy_for(settings.base_url, settings.proxy, env.vars)
    network = {
        "tls_trust": describe_trust(settings.ca_bundle, env.vars),
        "proxy": without_password(proxy[0]) if proxy else None,
        "proxy_from": proxy[1] if proxy else None,
    }
    if json_out:
        obj: dict[str, object] = {
            name: {"value": _value(name, getattr(settings, name)), "source": settings.sources[name]}
            for name in PARSERS
        }
        obj["network"] = network
        env.stdout.write(dumps(obj, terminal=env.stdout_isatty) + "\n")
        return
    rows = [
        (name, _shown(name, getattr(settings, name)), settings.sources[name]) for name in PARSERS
    ]
    width = max(len(name) for name, _, _ in rows)
    text = "".join(f"{name.ljust(width)}  {value}  ({source})\n" for name, value, source in rows)
    in_effect = f"{network['proxy']} (from {network['proxy_from']})" if proxy else "none"
    write_out(
        env,
        text
        + f"# config file: {env.paths.config_file}\n"
        + f"# tls trust: {network['tls_trust']}\n"
        + f"# proxy in effect for {settings.base_url}: {in_effect}\n",
    )


@app.command("path")
def config_path_command(ctx: typer.Context) -> None:
    """Print the config file's path."""
    env = environment(ctx)
    write_out(env, f"{env.paths.config_file}\n")


@app.command("edit")
def config_edit(ctx: typer.Context) -> None:
    """Open the config file in $VISUAL or $EDITOR, then check it."""
    env = environment(ctx)
    path = env.paths.config_file
    if not path.exists():
        write_file(path, {})
    editor = env.vars.get("VISUAL") or env.vars.get("EDITOR") or "vi"
    try:
        subprocess.run([*shlex.split(editor), str(path)], check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ConfigError(f"the editor {editor!r} failed: {exc}", "set $EDITOR") from None
    load_settings(env, {})  # a broken file is reported now, naming the line
