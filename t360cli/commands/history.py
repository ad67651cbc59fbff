"""``t360 history``: list, show, export, search, rename and delete saved conversations."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from t360cli.commands.common import environment, write_out
from t360cli.errors import ExitCode, UsageError
from t360cli.safety import dumps

app = typer.Typer(
    help="List, show, search, export, rename or delete conversations.", no_args_is_help=True
)


class Format(str, Enum):
    md = "md"
    json = "json"


IdArgument = Annotated[
    str,
    typer.Argument(help="Conversation id (a unique prefix will do)."),
]


def _when(timestamp: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


@app.command("list")
def history_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("-n", "--limit", min=1, help="How many to list.")] = 20,
    model: Annotated[
        str | None,
        typer.Option("-m", "--model", help="Only conversations with this model (or alias)."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON array.")] = False,
) -> None:
    """Recent conversations: id, date, model, turns, title."""
    from t360cli.history import History

    env = environment(ctx)
    if model is not None:
        from t360cli.config import aliases_in, read_config

        model = aliases_in(read_config(env)).get(model, model)
    with History.open(env.paths.history_db) as history:
        rows = history.recent(limit, model)
    if json_out:
        items = [
            {
                "id": c.id,
                "title": c.title,
                "model": c.model,
                "turns": c.turns,
                "created": c.created,
                "updated": c.updated,
            }
            for c in rows
        ]
        env.stdout.write(dumps(items, terminal=env.stdout_isatty) + "\n")
        return
    if not rows:
        with_model = "" if model is None else f" with {model}"
        env.stderr.write(env.shown(f"no saved conversations{with_model} yet") + "\n")
        return
    width = max(len(c.model) for c in rows)
    write_out(
        env,
        "".join(
            f"{c.id}  {_when(c.updated)}  {c.model.ljust(width)}  {c.turns:>3}  {c.title}\n"
            for c in rows
        ),
    )


@app.command("show")
def history_show(
    ctx: typer.Context,
    conversation_id: IdArgument,
    compared: Annotated[
        bool,
        typer.Option(
            "--compared", help="Then the conversations of the other models it was compared with."
        ),
    ] = False,
) -> None:
    """A conversation as a markdown transcript."""
    from t360cli.history import History

    env = environment(ctx)
    with History.open(env.paths.history_db) as history:
        shown = [history.resolve(conversation_id)]
        if compared:  # each answer's comparison: the others' conversations, once each
            for others in history.compared(shown[0]).values():
                shown += [o.conversation_id for o in others if o.conversation_id]
        text = "\n".join(history.export_markdown(c) for c in dict.fromkeys(shown))
    write_out(env, text)


@app.command("export")
def history_export(
    ctx: typer.Context,
    conversation_id: IdArgument,
    format_: Annotated[
        Format, typer.Option("--format", help="md (a transcript) or json (messages and metrics).")
    ] = Format.md,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write to this file, not stdout.")
    ] = None,
) -> None:
    """Export a conversation as markdown or JSON."""
    from t360cli.history import History

    env = environment(ctx)
    terminal = output is None and env.stdout_isatty
    with History.open(env.paths.history_db) as history:
        full = history.resolve(conversation_id)
        if format_ is Format.json:
            text = dumps(history.export_json(full), terminal=terminal, indent=2) + "\n"
        else:
            text = history.export_markdown(full)
    if output is None:
        if format_ is Format.json:
            env.stdout.write(text)
        else:
            write_out(env, text)
        return
    try:
        output.write_text(text)
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None


@app.command("rename")
def history_rename(
    ctx: typer.Context,
    conversation_id: IdArgument,
    title: Annotated[list[str], typer.Argument(help="The new title (words are joined by spaces).")],
) -> None:
    """Give a conversation a title of your own."""
    from t360cli.history import History

    env = environment(ctx)
    if not "".join(title).strip():
        raise UsageError("the new title is empty", "give a few words, e.g. 'trip plans'")
    with History.open(env.paths.history_db) as history:
        full = history.resolve(conversation_id)
        said = history.rename(full, " ".join(title))
    env.stderr.write(env.shown(f"renamed {full}: {said}") + "\n")


@app.command("search")
def history_search(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="Text to look for in saved messages.")],
) -> None:
    """Messages containing TEXT, newest first: id, role and an excerpt."""
    from t360cli.events import snippet
    from t360cli.history import History

    env = environment(ctx)
    with History.open(env.paths.history_db) as history:
        hits = history.search(text)
    if not hits:
        env.stderr.write(env.shown(f"nothing found for {text!r}") + "\n")
        raise typer.Exit(ExitCode.OK)
    lines = []
    for conversation, message in hits:
        content = message.content
        at = content.lower().find(text.lower())
        excerpt = snippet(content[max(0, at - 30) :], 100)
        lines.append(f"{conversation.id}  {message.role:<9}  {excerpt}\n")
    write_out(env, "".join(lines))


@app.command("delete")
def history_delete(
    ctx: typer.Context,
    conversation_id: IdArgument,
    yes: Annotated[bool, typer.Option("-y", "--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a conversation for good."""
    from t360cli.history import History

    env = environment(ctx)
    with History.open(env.paths.history_db) as history:
        full = history.resolve(conversation_id)
        title = history.get(full).title
        if not yes:
            if not env.stdin_isatty:
                raise UsageError("refusing to delete without confirmation", "add --yes")
            if not typer.confirm(env.shown(f"Delete {full} ({title})?"), err=True):
                raise typer.Exit(ExitCode.OK)
        damaged = history.delete(full)
    env.stderr.write(f"deleted {full}\n")
    if damaged:
        env.warn(
            f"{damaged} of its attachment references were damaged: no file was touched for them"
        )
