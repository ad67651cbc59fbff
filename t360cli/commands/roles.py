"""``t360 roles``: the configured roles."""

from __future__ import annotations

from typing import Annotated

import typer

from t360cli.commands.common import environment, write_out
from t360cli.config import aliases_in, read_config
from t360cli.roles import all_roles
from t360cli.safety import dumps


def roles(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """List the roles: name, model, and the first line of the system prompt."""
    env = environment(ctx)
    table = read_config(env)
    found = all_roles(env, table)
    aliases = aliases_in(table)
    if json_out:
        obj = {
            name: {
                "model": aliases.get(role.model, role.model) if role.model else None,
                "system": role.system,
                "prompt": role.prompt,
                "temperature": role.temperature,
                "options": role.options,
                "defined_in": role.origin,
            }
            for name, role in found.items()
        }
        env.stdout.write(dumps(obj, terminal=env.stdout_isatty) + "\n")
        return
    if not found:
        env.stderr.write(
            "no roles yet: add [roles.NAME] to the config file, or write roles/NAME.md in "
            f"{env.paths.config_dir}\n"
        )
        return
    rows = [[name, role.model or "(default)", role.summary] for name, role in found.items()]
    if env.stdout_isatty and not env.dumb:
        from t360cli.render import print_table

        print_table(env, ["role", "model", "system prompt"], rows)
    else:
        write_out(env, "".join("\t".join(row) + "\n" for row in rows))
