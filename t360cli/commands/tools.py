"""``t360 tools [SERVER]``: what each configured MCP server offers."""

from __future__ import annotations

from typing import Annotated

import typer

from t360cli.commands.common import (
    environment,
    known_key,
    write_out,
)
from t360cli.commands.params import (
    DebugOption,
    PlainJsonOption,
)
from t360cli.config import load_settings, read_config
from t360cli.environment import Environment
from t360cli.errors import ExitCode
from t360cli.mcp import Tool, public_url
from t360cli.safety import dumps
from t360cli.session import debug_log
from t360cli.tools import ServerConfig, Toolbox, choose, configured, server_error
from t360cli.toolview import show_on


def tools(
    ctx: typer.Context,
    server: Annotated[
        str | None,
        typer.Argument(help="Only this server."),
    ] = None,
    json_out: PlainJsonOption = False,
    debug: DebugOption = False,
) -> None:
    """List the tools each configured MCP server offers (name and one-line description).

    The servers are started, asked, and stopped; one that cannot start is listed with
    its error (exit 3), the others still are."""
    env = environment(ctx)
    table = read_config(env)
    servers = choose(table, [server]) if server else list(configured(table).values())
    if not servers:
        env.stderr.write(
            "no MCP servers yet: add [mcp_servers.NAME] to the config file (see the README's"
            " Tools section)\n"
        )
        return
    settings = load_settings(env, {"debug": debug or None}, table=table)
    settings = known_key(env, settings)  # kept from the servers: known before they start
    debug_to = debug_log(env, settings)
    toolbox = Toolbox(  # only listed: no call to ask about; quiet, so only what must be said
        env, servers, settings=settings, yes=False, quiet=True,
        approve=None, show=show_on(env), debug=debug_to,
    )  # fmt: skip
    try:
        toolbox.start()
        failed = toolbox.wait()
        found = toolbox.tools()
    finally:
        toolbox.close()
    _list(env, servers, found, failed, json_out=json_out)
    for name, why in failed.items():
        env.error(server_error(env, name, why).line())
    if failed:
        raise typer.Exit(ExitCode.CONFIG)


def _list(
    env: Environment,
    servers: list[ServerConfig],
    found: dict[str, list[Tool]],
    failed: dict[str, str],
    *,
    json_out: bool,
) -> None:
    """Each server's tools: one JSON object, a table on a terminal, else TSV rows."""
    if json_out:
        obj = {
            s.name: {
                "command": [s.command, *s.args] if s.url is None else None,
                "url": None if s.url is None else public_url(s.url),
                "tools": [
                    {"name": t.name, "description": t.description} for t in found.get(s.name, [])
                ],
                "error": failed.get(s.name),
            }
            for s in servers
        }
        env.stdout.write(dumps(obj, terminal=env.stdout_isatty) + "\n")
    else:
        rows = [
            [s.name, tool.name, tool.summary] for s in servers for tool in found.get(s.name, [])
        ]
        if env.stdout_isatty and not env.dumb:  # a server that failed has its row there
            from t360cli.render import print_table

            rows += [[name, "(cannot start)", why] for name, why in failed.items()]
            print_table(env, ["server", "tool", "description"], rows)  # it makes them safe
        else:
            write_out(env, "".join("\t".join(map(_field, row)) + "\n" for row in rows))


def _field(text: str) -> str:
    """One TSV field: no tab or line break inside."""
    return " ".join(text.split())
