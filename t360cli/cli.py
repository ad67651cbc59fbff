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
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from . import version_line
from .config import Settings, config_path, load_settings, scrub
from .errors import ConfigError, ExitCode, T360Error, UsageError
from .prompt import compose, read_file, read_stdin
from .session import build_payload, run_turn
from .stats import Turn
from .terminal import AnswerSink, Environment, PlainSink

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


class NullSink:
    """For --json: nothing streams; the object at the end carries everything."""

    def __init__(self, env: Environment, *, show_extras: bool) -> None:
        self.env = env
        self.show = show_extras and env.stderr_isatty

    def text(self, text: str) -> None:
        pass

    def reasoning(self, text: str) -> None:
        pass

    def waiting(self, seconds: float, attempt: int, reason: str) -> None:
        from .terminal import countdown

        countdown(self.env, seconds, attempt, reason, show=self.show)

    def close(self) -> None:
        pass


def _sink(env: Environment, *, json_out: bool, raw: bool, quiet: bool) -> AnswerSink:
    if json_out:
        return NullSink(env, show_extras=not quiet)
    if not env.stdout_isatty:
        return PlainSink(env, terminal=False, show_extras=not quiet)
    if raw or env.dumb:
        return PlainSink(env, terminal=True, show_extras=not quiet)
    from .render import MarkdownSink  # rich loads only for a terminal

    return MarkdownSink(env, show_extras=not quiet)


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


def _report(env: Environment, error: T360Error) -> None:
    env.stderr.write(env.style(f"t360: error: {scrub(error.line())}", "31") + "\n")
    env.stderr.flush()


def _emit_json(env: Environment, turn: Turn) -> None:
    obj = turn.as_json()
    if turn.error is not None:
        obj["error"]["message"] = scrub(obj["error"]["message"])
    env.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    env.stdout.flush()


def _finish(env: Environment, turn: Turn, *, json_out: bool, quiet: bool) -> NoReturn:
    """Report the turn after the answer: JSON, notices, footer, error; then exit."""
    if json_out:
        _emit_json(env, turn)
    if turn.tool_calls and not json_out and not quiet:
        for call in turn.tool_calls:
            function = call["function"]
            env.stderr.write(f"tool call: {function['name']}({function['arguments']})\n")
    if turn.finish_reason == "length":
        env.warn("the answer was cut: it reached the token limit (raise --max-tokens)")
    if not quiet:
        env.stderr.write(env.style(turn.footer(), "2") + "\n")
        env.stderr.flush()
    if turn.error is not None:
        _report(env, turn.error)
        raise typer.Exit(turn.error.exit_code)
    if turn.interrupted:
        raise typer.Exit(ExitCode.INTERRUPTED)
    raise typer.Exit(ExitCode.OK)


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
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON object with the answer and stats.")
    ] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No stats footer.")] = False,
    raw: Annotated[bool, typer.Option("--raw", help="No markdown rendering.")] = False,
    no_stream: Annotated[
        bool, typer.Option("--no-stream", help="Ask for the whole answer at once.")
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
        if system_file is not None:
            system = read_file(system_file, "system file")
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
        stdin_text = None if no_stdin or env.stdin_isatty else read_stdin(env.stdin)
        message = compose(prompt or [], stdin_text, files or [])
        if not message:
            raise UsageError("no prompt given", "pass it as an argument, or pipe text in on stdin")
        if not settings.api_key:
            raise ConfigError(
                "no API key",
                f"set T360_API_KEY, or api_key in {config_path()}",
            )
        _warn_plain_http(env, settings)
        messages: list[dict[str, Any]] = []
        if settings.system:
            messages.append({"role": "system", "content": settings.system})
        messages.append({"role": "user", "content": message})
        payload = build_payload(
            settings,
            messages,
            temperature=temperature,
            max_tokens=max_tokens,
            options=_parse_options(option or []),
            stream=not no_stream,
        )
    except T360Error as error:
        if json_out:
            name = settings.model if settings else (model or "")
            _emit_json(env, Turn("", None, name, None, None, None, None, None, 0.0, error=error))
        raise
    signal.signal(signal.SIGTERM, _on_sigterm)
    sink = _sink(env, json_out=json_out, raw=raw, quiet=quiet)
    try:
        turn = run_turn(settings, payload, sink)
    except BrokenPipeError:  # the reader went away (``| head``): nothing more to say
        _quiet_stdout()
        raise typer.Exit(ExitCode.OK) from None
    _finish(env, turn, json_out=json_out, quiet=quiet)


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
        _report(env, error)
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
