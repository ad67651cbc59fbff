"""``t360 models``: the model ids the gateway offers."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import typer

from t360cli import modelinfo, units
from t360cli.commands.common import (
    environment,
    gateway_settings,
    write_out,
)
from t360cli.commands.params import (
    ApiKeyOption,
    BaseUrlOption,
    DebugOption,
    ProfileOption,
)
from t360cli.config import Settings, aliases_in, read_config
from t360cli.environment import Environment
from t360cli.errors import T360Error
from t360cli.safety import dumps
from t360cli.session import debug_log
from t360cli.terminal import countdown


class Sort(str, Enum):
    price = "price"
    context = "context"
    name = "name"


SearchOption = Annotated[
    str | None,
    typer.Option("--search", help="Only models whose id, owner or alias holds TEXT (any case)."),
]
SortOption = Annotated[
    Sort | None,
    typer.Option("--sort", help="price (cheapest first), context (longest first) or name."),
]
RawJsonOption = Annotated[
    bool, typer.Option("--json", help="The gateway's raw list, as JSON (always asked).")
]
RefreshOption = Annotated[
    bool,
    typer.Option("--refresh", help="Ask the gateway even if the cached list is fresh."),
]


def models(
    ctx: typer.Context,
    search: SearchOption = None,
    sort: SortOption = None,
    json_out: RawJsonOption = False,
    refresh: RefreshOption = False,
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
    items: list[dict[str, Any]] = []
    if json_out or refresh or not modelinfo.fresh(env.paths, settings.base_url, env.clock()):
        items = _fetch(env, settings)
    table = read_config(env)
    listed = modelinfo.catalogue(
        env.paths,
        table,
        aliases_in(table),
        search=search,
        sort=sort.value if sort is not None else None,
    )
    if json_out:  # the gateway's own objects, the ones listed, in the order listed
        by_id = {str(item["id"]): item for item in items}
        chosen = (
            [by_id[m.info.id] for m in listed if m.info.id in by_id] if search or sort else items
        )
        env.stdout.write(dumps({"data": chosen}, terminal=env.stdout_isatty) + "\n")
    elif not listed and search:
        env.stderr.write(env.shown(f"no model matches {search!r}") + "\n")
    elif not (env.stdout_isatty and not env.dumb):
        write_out(env, "".join(f"{m.info.id}\n" for m in listed))
    else:
        _print_table(env, listed)


def _fetch(env: Environment, settings: Settings) -> list[dict[str, Any]]:
    """The gateway's list (a retry's wait counted down on stderr), remembered."""
    from t360cli.client import Gateway

    def wait(seconds: float, attempt: int, reason: T360Error) -> None:
        countdown(env, seconds, attempt, reason.line(), quiet=False)

    with Gateway(settings, environ=env.vars, log=debug_log(env, settings)) as gateway:
        items = gateway.models(on_wait=wait)
    modelinfo.remember(env.paths, settings.base_url, items, env.clock())
    return items


def _print_table(env: Environment, listed: list[modelinfo.Listed]) -> None:
    from t360cli.render import print_table

    rows = [
        [
            m.info.id,
            ", ".join(m.aliases),
            m.owner,
            units.count(m.info.context_length) if m.info.context_length else "",
            _per_million(m.info.price_in),
            _per_million(m.info.price_out),
        ]
        for m in listed
    ]
    headers = ["model", "aliases", "owner", "context", "$/M in", "$/M out"]
    print_table(env, headers, rows, [0, 3, 4, 5, 1, 2])  # narrow: context and prices stay


def _per_million(price: float | None) -> str:
    return "" if price is None else f"{price * 1_000_000:g}"
