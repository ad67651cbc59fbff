"""``t360 tools [SERVER]``: what each configured MCP server offers."""

from __future__ import annotations

from typing import Annotated

import typer

from t360cli.commands.common import DebugOption, complete_server, environment, write_out
from t360cli.config import load_settings, read_config
from t360cli.errors import ExitCode
from t360cli.safety import dumps, sanitize
from t360cli.session import debug_log
from t360cli.tools import Toolbox, choose, configured, server_error


def tools(
    ctx: typer.Context,
    server: Annotated[
        str | None,
        typer.Argument(help="Only this server.", autocompletion=complete_server),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
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
    toolbox = Toolbox(env, servers, yes=False, quiet=True, debug=debug_log(env, settings))
    try:
        toolbox.start()
        failed = toolbox.wait()
        found = toolbox.tools()
    finally:
        toolbox.close()
    if json_out:
        obj = {
            s.name: {
                "command": [s.command, *s.args],
                "tools": [
                    {"name": t.name, "description": t.description} for t in found.get(s.name, [])
                ],
                "error": failed.get(s.name),
            }
            for s in servers
        }
        env.stdout.write(dumps(obj, terminal=env.stdout_isatty) + "\n")
    else:
        rows = []
        for s in servers:
            if s.name in failed:
                rows.append([s.name, "(cannot start)", failed[s.name]])
            for tool in found.get(s.name, []):
                rows.append([s.name, tool.name, _first_line(tool.description)])
        if env.stdout_isatty and not env.dumb:
            from t360cli.render import print_table

            print_table(
                env, ["server", "tool", "description"], [list(map(sanitize, r)) for r in rows]
            )
        else:
            write_out(
                env,
                "".join("\t".join(map(_field, r)) + "\n" for r in rows if r[1] != "(cannot start)"),
            )
    for name, why in failed.items():
        env.error(server_error(env, name, why).line())
    if failed:
        raise typer.Exit(ExitCode.CONFIG)


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0].strip() if lines else ""


def _field(text: str) -> str:
    """One TSV field: no tab or line break inside."""
    return " ".join(text.split())
