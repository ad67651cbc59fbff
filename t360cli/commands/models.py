"""``t360 models``: the model ids the gateway offers."""

from __future__ import annotations

from typing import Annotated

import typer

from t360cli import modelinfo, units
from t360cli.commands.common import (
    ApiKeyOption,
    BaseUrlOption,
    DebugOption,
    ProfileOption,
    environment,
    gateway_settings,
    write_out,
)
from t360cli.config import aliases_in, read_config
from t360cli.errors import T360Error
from t360cli.safety import dumps
from t360cli.session import debug_log
from t360cli.terminal import countdown


def models(
    ctx: typer.Context,
    json_out: Annotated[
        bool, typer.Option("--json", help="The gateway's raw list, as JSON (always asked).")
    ] = False,
    refresh: Annotated[
        bool,
        typer.Option("--refresh", help="Ask the gateway even if the cached list is fresh."),
    ] = False,
    profile: ProfileOption = None,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    debug: DebugOption = False,
) -> None:
    """List the models: ids one per line in a pipe, a table on a terminal (context and
    prices when known). The list is cached for a day; --refresh asks again."""
    env = environment(ctx)
    flags = {"api_key": api_key, "base_url": base_url, "debug": debug or None, "profile": profile}
    settings = gateway_settings(env, flags)
    if json_out or refresh or not modelinfo.fresh(env.paths, settings.base_url, env.clock()):
        from t360cli.client import Gateway

        def wait(seconds: float, attempt: int, reason: T360Error) -> None:
            countdown(env, seconds, attempt, reason.line(), quiet=False)

        with Gateway(settings, environ=env.vars, log=debug_log(env, settings)) as gateway:
            items = gateway.models(on_wait=wait)
        modelinfo.remember(env.paths, settings.base_url, items, env.clock())
        if json_out:
            env.stdout.write(dumps({"data": items}, terminal=env.stdout_isatty) + "\n")
            return
    owners = modelinfo.owners(env.paths)
    if not (env.stdout_isatty and not env.dumb):
        write_out(env, "".join(f"{name}\n" for name in owners))
        return
    from t360cli.render import print_table

    table = read_config(env)
    names: dict[str, list[str]] = {}
    for alias, target in aliases_in(table).items():
        names.setdefault(target, []).append(alias)
    rows = []
    for name, owner in owners.items():
        info = modelinfo.lookup(env.paths, table, name)
        rows.append(
            [
                name,
                ", ".join(names.get(name, [])),
                owner,
                units.count(info.context_length) if info.context_length else "",
                _per_million(info.price_in),
                _per_million(info.price_out),
            ]
        )
    print_table(env, ["model", "aliases", "owner", "context", "$/M in", "$/M out"], rows)


def _per_million(price: float | None) -> str:
    return "" if price is None else f"{price * 1_000_000:g}"
