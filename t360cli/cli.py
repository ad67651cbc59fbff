"""The Typer app, its commands, and the single error boundary.

``run()`` is the boundary: every T360Error becomes one stderr line and its exit code,
Ctrl-C becomes 130, a closed stdout pipe ends quietly, and anything unexpected is an
internal error (exit 1) reported without a traceback (set T360_DEBUG=1 to see one).
Commands below it only raise.
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from . import version_line
from .config import Settings, config_path, load_settings, scrub
from .errors import ConfigError, ExitCode, T360Error, UsageError
from .prompt import compose, read_file, read_stdin
from .report import emit_json, report_error, report_turn
from .session import Chat
from .stats import Turn
from .terminal import Environment, make_sink, sanitize

app = typer.Typer(
    name="t360",
    help="Chat with the models of the Token360 gateway, from a terminal or a script.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        sys.stdout.write(version_line() + "\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Chat with the models of the Token360 gateway, from a terminal or a script."""


def _parse_options(pairs: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"-o expects KEY=VALUE, got {pair!r}", "for example -o top_p=0.9")
        try:
            options[key.strip()] = json.loads(value)
        except ValueError:
            options[key.strip()] = value
    return options


def _warn_plain_http(env: Environment, settings: Settings) -> None:
    if not settings.base_url.startswith("http://") or not settings.api_key:
        return
    host = settings.base_url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        env.warn(f"sending your API key unencrypted to {host} (use https:// in --base-url)")


def _on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _finish(env: Environment, turn: Turn, *, json_out: bool, quiet: bool) -> NoReturn:
    """Report the turn after the answer, then exit with its code."""
    if json_out:
        emit_json(env, turn)
    report_turn(env, turn, quiet=quiet)
    if turn.error is not None:
        raise typer.Exit(turn.error.exit_code)
    raise typer.Exit(ExitCode.INTERRUPTED if turn.interrupted else ExitCode.OK)


@app.command()
def chat(
    prompt: Annotated[
        list[str] | None,
        typer.Argument(help="The prompt (words are joined by spaces; '-' reads stdin there)."),
    ] = None,
    model: Annotated[str | None, typer.Option("-m", "--model", help="Model id.")] = None,
    system: Annotated[str | None, typer.Option("-s", "--system", help="System prompt.")] = None,
    system_file: Annotated[
        Path | None, typer.Option("--system-file", help="Read the system prompt from a file.")
    ] = None,
    files: Annotated[
        list[Path] | None,
        typer.Option("-f", "--file", help="Add a file's content to the message (repeatable)."),
    ] = None,
    temperature: Annotated[
        float | None, typer.Option("--temperature", min=0.0, help="Sampling temperature.")
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", min=1, help="Longest answer, in tokens.")
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option("-o", "--option", help="Extra request field KEY=VALUE (JSON if it parses)."),
    ] = None,
    continue_: Annotated[
        bool, typer.Option("-c", "--continue", help="Continue the most recent conversation.")
    ] = False,
    conversation: Annotated[
        str | None, typer.Option("--conversation", help="Continue the conversation with this id.")
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON object with the answer and stats.")
    ] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No stats footer.")] = False,
    raw: Annotated[bool, typer.Option("--raw", help="No markdown rendering.")] = False,
    no_stream: Annotated[
        bool, typer.Option("--no-stream", help="Ask for the whole answer at once.")
    ] = False,
    no_save: Annotated[
        bool, typer.Option("--no-save", help="Keep this exchange out of the history.")
    ] = False,
    no_stdin: Annotated[bool, typer.Option("-n", "--no-stdin", help="Ignore stdin.")] = False,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="Longest silence tolerated while waiting, in seconds."),
    ] = None,
    retries: Annotated[
        int | None, typer.Option("--retries", help="Retries before the first token (default 2).")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option("--api-key", help="API key (prefer T360_API_KEY).")
    ] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="Gateway URL.")] = None,
) -> None:
    """Send a prompt and stream the answer; without one on a terminal, start a REPL."""
    env = Environment.from_process()
    settings: Settings | None = None
    try:
        if system is not None and system_file is not None:
            raise UsageError("give either --system or --system-file, not both")
        if continue_ and conversation is not None:
            raise UsageError("give either --continue or --conversation, not both")
        if system_file is not None:
            system = read_file(system_file, "system file")
        interactive = not prompt and not files and env.stdin_isatty
        if interactive and json_out:
            raise UsageError("--json needs a prompt", "pass one as an argument, or pipe it in")
        previous = _previous(continue_, conversation) if continue_ or conversation else None
        if previous is not None:  # the conversation's own model and system, unless overridden
            model = model or previous.model
            system = system if system is not None else previous.system
        settings, warnings = load_settings(
            {
                "api_key": api_key,
                "base_url": base_url,
                "model": model,
                "system": system,
                "timeout": timeout,
                "retries": retries,
            }
        )
        for warning in warnings:
            env.warn(warning)
        message = ""
        if not interactive:
            stdin_text = None if no_stdin or env.stdin_isatty else read_stdin(env.stdin)
            message = compose(prompt or [], stdin_text, files or [])
            if not message:
                raise UsageError(
                    "no prompt given", "pass it as an argument, or pipe text in on stdin"
                )
        if not settings.api_key:
            raise ConfigError("no API key", f"set T360_API_KEY, or api_key in {config_path()}")
        _warn_plain_http(env, settings)
        session = Chat(
            settings,
            temperature=temperature,
            max_tokens=max_tokens,
            options=_parse_options(option or []),
            stream=not no_stream,
            save=not no_save,
            conversation_id=previous.id if previous else None,
            messages=previous.context if previous else [],
        )
    except T360Error as error:
        if json_out:
            name = settings.model if settings else (model or "")
            emit_json(env, Turn("", None, name, None, None, None, None, None, 0.0, error=error))
        raise
    if interactive:
        from .repl import run_repl  # prompt_toolkit loads only for the REPL

        run_repl(env, session, raw=raw, quiet=quiet, recent=previous.recent if previous else [])
        raise typer.Exit(ExitCode.OK)
    signal.signal(signal.SIGTERM, _on_sigterm)
    sink = make_sink(env, json_out=json_out, raw=raw, quiet=quiet)
    try:
        turn = session.ask(message, sink, env.warn)
    except BrokenPipeError:  # the reader went away (``| head``): nothing more to say
        _quiet_stdout()
        raise typer.Exit(ExitCode.OK) from None
    _finish(env, turn, json_out=json_out, quiet=quiet)


@dataclass(frozen=True)
class _Previous:
    id: str
    model: str
    system: str | None
    context: list[dict[str, Any]]
    recent: list[tuple[str, str]]


def _previous(latest: bool, prefix: str | None) -> _Previous:
    """The saved conversation to continue: the latest one, or the one with this id."""
    from .history import History

    with History.open() as history:
        conversation_id = history.resolve(prefix) if prefix is not None else history.latest()
        if conversation_id is None:
            raise UsageError("there is no saved conversation to continue yet")
        saved = history.get(conversation_id)
        recent = [
            (m.role, m.content)
            for m in history.messages(conversation_id)
            if m.role in ("user", "assistant")
        ]
        return _Previous(
            saved.id, saved.model, saved.system, history.context(conversation_id), recent[-6:]
        )


def _quiet_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so the final flush cannot fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def run(args: list[str]) -> int:
    """Run the app on ``args``; the one place errors become exit codes."""
    env = Environment.from_process()
    try:
        app(args=args, prog_name="t360")
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else ExitCode.INTERNAL)
    except T360Error as error:
        report_error(env, error)
        return error.exit_code
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except Exception as exc:
        if os.environ.get("T360_DEBUG"):
            raise
        env.stderr.write(
            f"t360: internal error: {type(exc).__name__}: {scrub(str(exc))} "
            "(this is a bug: please report it; T360_DEBUG=1 shows the traceback)\n"
        )
        return ExitCode.INTERNAL
    return ExitCode.OK


@app.command("mock-server")
def mock_server(
    port: Annotated[
        int, typer.Option("--port", help="Port on 127.0.0.1 (0 picks a free one).")
    ] = 8360,
    verbose: Annotated[bool, typer.Option("--verbose", help="Log every request.")] = False,
) -> None:
    """Run a local Token360 stand-in for trying t360 offline (scenarios by model name)."""
    from .mockserver import SCENARIOS, MockServer

    try:
        server = MockServer(port, verbose=verbose)
    except OSError as exc:
        raise UsageError(
            f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}", "try another --port"
        ) from None
    env = Environment.from_process()
    env.stderr.write(
        f"t360 mock server on {server.url} ({len(SCENARIOS)} scenarios; "
        "GET /models lists them). Ctrl-C stops it.\n"
        f"Try: T360_API_KEY=sk-mock t360 chat --base-url {server.url} -m echo 'Hello'\n"
    )
    env.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


history_app = typer.Typer(
    help="List, show, search, export and delete saved conversations.", no_args_is_help=True
)
app.add_typer(history_app, name="history")

IdArgument = Annotated[str, typer.Argument(help="Conversation id (a unique prefix will do).")]


def _when(timestamp: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def _print(env: Environment, text: str) -> None:
    """Saved text on stdout: exact in a pipe, made safe on a terminal."""
    env.stdout.write(sanitize(text) if env.stdout_isatty else text)
    env.stdout.flush()


@history_app.command("list")
def history_list(
    limit: Annotated[int, typer.Option("-n", "--limit", min=1, help="How many to list.")] = 20,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON array.")] = False,
) -> None:
    """Recent conversations: id, date, model, turns, title."""
    from .history import History

    env = Environment.from_process()
    with History.open() as history:
        rows = history.recent(limit)
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
        env.stdout.write(json.dumps(items, ensure_ascii=False) + "\n")
        return
    if not rows:
        env.stderr.write("no saved conversations yet\n")
        return
    width = max(len(c.model) for c in rows)
    _print(
        env,
        "".join(
            f"{c.id}  {_when(c.updated)}  {c.model.ljust(width)}  {c.turns:>3}  {c.title}\n"
            for c in rows
        ),
    )


@history_app.command("show")
def history_show(conversation_id: IdArgument) -> None:
    """A conversation as a markdown transcript."""
    from .history import History

    with History.open() as history:
        text = history.export_markdown(history.resolve(conversation_id))
    _print(Environment.from_process(), text)


@history_app.command("export")
def history_export(
    conversation_id: IdArgument,
    format_: Annotated[
        str, typer.Option("--format", help="md (a transcript) or json (messages and metrics).")
    ] = "md",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write to this file, not stdout.")
    ] = None,
) -> None:
    """Export a conversation as markdown or JSON."""
    from .history import History

    if format_ not in ("md", "json"):
        raise UsageError(f"unknown format {format_!r}", "use --format md or --format json")
    with History.open() as history:
        full = history.resolve(conversation_id)
        if format_ == "json":
            text = json.dumps(history.export_json(full), ensure_ascii=False, indent=2) + "\n"
        else:
            text = history.export_markdown(full)
    if output is None:
        _print(Environment.from_process(), text)
        return
    try:
        output.write_text(text)
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None


@history_app.command("search")
def history_search(
    text: Annotated[str, typer.Argument(help="Text to look for in saved messages.")],
) -> None:
    """Messages containing TEXT, newest first: id, role and an excerpt."""
    from .events import snippet
    from .history import History

    env = Environment.from_process()
    with History.open() as history:
        hits = history.search(text)
    if not hits:
        env.stderr.write(f"nothing found for {text!r}\n")
        raise typer.Exit(ExitCode.OK)
    lines = []
    for conversation, message in hits:
        content = message.content
        at = content.lower().find(text.lower())
        excerpt = snippet(content[max(0, at - 30) :], 100)
        lines.append(f"{conversation.id}  {message.role:<9}  {excerpt}\n")
    _print(env, "".join(lines))


@history_app.command("delete")
def history_delete(
    conversation_id: IdArgument,
    yes: Annotated[bool, typer.Option("-y", "--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a conversation for good."""
    from .history import History

    env = Environment.from_process()
    with History.open() as history:
        full = history.resolve(conversation_id)
        title = history.get(full).title
        if not yes:
            if not env.stdin_isatty:
                raise UsageError("refusing to delete without confirmation", "add --yes")
            if not typer.confirm(f"Delete {full} ({title})?", err=True):
                raise typer.Exit(ExitCode.OK)
        history.delete(full)
    env.stderr.write(f"deleted {full}\n")
