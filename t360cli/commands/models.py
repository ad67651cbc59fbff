"""``t360 models``: the model ids the gateway offers."""

from __future__ import annotations

from typing import Annotated, Any

import typer

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
from t360cli.modelinfo import remember
from t360cli.safety import dumps
from t360cli.session import debug_log
from t360cli.terminal import countdown


def models(
    ctx: typer.Context,
    json_out: Annotated[
        bool, typer.Option("--json", help="The gateway's raw list, as JSON.")
    ] = False,
    profile: ProfileOption = None,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    debug: DebugOption = False,
) -> None:
    """List the models: ids one per line in a pipe, a table on a terminal."""
    from t360cli.client import Gateway

    env = environment(ctx)
    flags = {"api_key": api_key, "base_url": base_url, "debug": debug or None, "profile": profile}
    settings = gateway_settings(env, flags)

    def wait(seconds: float, attempt: int, reason: T360Error) -> None:
        countdown(env, seconds, attempt, reason.line(), quiet=False)

    with Gateway(settings, environ=env.vars, log=debug_log(env, settings)) as gateway:
        items = gateway.models(on_wait=wait)
    remember(env.paths, items)
    if json_out:
        env.stdout.write(dumps({"data": items}, terminal=env.stdout_isatty) + "\n")
    elif env.stdout_isatty and not env.dumb:
        from t360cli.render import print_table

        names: dict[str, list[str]] = {}
        for alias, target in aliases_in(read_config(env)).items():
            names.setdefault(target, []).append(alias)
        print_table(
            env,
            ["model", "aliases", "owner", "context", "$/M in", "$/M out"],
            [_row(item, names.get(str(item["id"]), [])) for item in items],
        )
    else:
        write_out(env, "".join(f"{item['id']}\n" for item in items))


def _price(pricing: object, key: str) -> str:
    if isinstance(pricing, dict):
        try:
            return f"{float(pricing[key]) * 1_000_000:g}"
        except (KeyError, TypeError, ValueError):
            pass
    return ""


def _row(item: dict[str, Any], aliases: list[str]) -> list[str]:
    context = item.get("context_length")
    return [
        str(item["id"]),
        ", ".join(aliases),
        str(item.get("owned_by") or ""),
        f"{context:,}" if isinstance(context, int) else "",
        _price(item.get("pricing"), "prompt"),
        _price(item.get("pricing"), "completion"),
    ]
