"""``t360 cmd``: one shell command from a description. Piped, it is printed and nothing
runs; on a terminal it is shown, and runs only when the user presses ``r``."""

from __future__ import annotations

from dataclasses import dataclass

import typer

from t360cli.commands.common import (
    Setup,
    environment,
    known_key,
    make_guard,
    require_key,
    secrets_check,
)
from t360cli.commands.options import AskOptions, gather
from t360cli.commands.params import (
    AllowSecretsOption,
    ApiKeyOption,
    BaseUrlOption,
    DebugOption,
    MaxTokensOption,
    ModelOption,
    NoSaveOption,
    NoStdinOption,
    OptionOption,
    ProfileOption,
    QuietOption,
    RetriesOption,
    RoleOption,
    TaskArgument,
    TemperatureOption,
    TimeoutOption,
)
from t360cli.conversation import question
from t360cli.environment import Environment
from t360cli.errors import ExitCode, GuardError, UsageError
from t360cli.prompt import compose, read_stdin
from t360cli.report import outcome, report_turn
from t360cli.roles import names as role_names
from t360cli.session import Chat, journal_for, run_turn
from t360cli.shellcmd import (
    Command,
    dangers,
    describe_system,
    extract,
    system_prompt,
    unseen,
    visible,
)
from t360cli.stats import Turn
from t360cli.terminal import NullSink, has_controlling_terminal


@dataclass(frozen=True, eq=False, repr=False)
class CmdOptions(AskOptions):
    """``t360 cmd``: the task described."""

    task: list[str] | None = None


CHOICES = "[r]un [e]dit [c]opy [q]uit "


def cmd(
    ctx: typer.Context,
    task: TaskArgument = None,
    model: ModelOption = None,
    role: RoleOption = None,
    temperature: TemperatureOption = None,
    max_tokens: MaxTokensOption = None,
    option: OptionOption = None,
    quiet: QuietOption = False,
    no_save: NoSaveOption = False,
    no_stdin: NoStdinOption = False,
    timeout: TimeoutOption = None,
    retries: RetriesOption = None,
    profile: ProfileOption = None,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    debug: DebugOption = False,
    allow_secrets: AllowSecretsOption = False,
) -> None:
    """One shell command for this OS and shell: printed when piped; on a terminal,
    [r]un [e]dit [c]opy [q]uit. Nothing runs without the r key."""
    o = gather(CmdOptions, locals())
    import platform

    env = environment(ctx)
    os_name, shell = describe_system(env.vars, platform.system())
    chat, message = _chat(env, o, system_prompt(os_name, shell))
    turn, saved = _ask(env, o, chat, message)
    command = extract(turn.content)
    terminal = env.stdout_isatty and has_controlling_terminal()
    code = _reported(env, o, turn, command.text, terminal=terminal)
    if code is not ExitCode.OK:
        raise typer.Exit(code)
    if not command.text:
        raise UsageError("the model answered with no command", "describe the task differently")
    if not terminal:
        _refuse_unseen(env, command.text, show=False)
        return
    status = _choose(env, command, shell)
    if status is not None and saved is not None:
        from t360cli.history import History

        with History.open(env.paths.history_db) as history:
            history.record_run(saved, command.text, status)
    raise typer.Exit(status or 0)


def _chat(env: Environment, o: CmdOptions, system: str) -> tuple[Chat, str]:
    """The chat that asks for the command (its guard set), and the task's message: the
    words and stdin, through the secrets guard and the role. A role named "cmd" replaces
    the built-in system prompt (``system``); -r picks another."""
    setup = Setup(env, o.flags(), None, o.request())
    role = o.role
    if role is None and "cmd" in role_names(env, setup.table):
        role = "cmd"
    settings, request, chosen = setup(role)
    if chosen is None or chosen.system is None:
        settings = settings._replace(system=system)
    stdin_text = None if o.no_stdin or env.stdin_isatty else read_stdin(env.stdin)
    settings = known_key(env, settings)  # the key in use is a known secret
    secrets = secrets_check(env, settings, setup.table, allow=o.allow_secrets)
    words, checked = secrets.prompt(o.task or [], [("stdin", stdin_text)] if stdin_text else [])
    message = compose(words, checked[0] if checked else None, [])
    if chosen is not None:
        message = chosen.apply(message)
    if not message:
        raise UsageError("no task given", 'describe it, e.g. t360 cmd "find files over 1 GB"')
    settings = require_key(env, settings)
    chat = Chat(env, settings, request, save=False)  # saved below, as a cmd
    chat.guard = make_guard(env, settings, setup.table)
    return chat, message


def _ask(env: Environment, o: CmdOptions, chat: Chat, message: str) -> tuple[Turn, int | None]:
    """The answer, nothing of it shown, saved (unless --no-save) as a ``cmd``
    conversation; the saved answer's id, to record the run on."""
    journal = None
    if not o.no_save:
        settings = chat.settings
        journal = journal_for(
            env, question(message), model=settings.model, system=settings.system, kind="cmd"
        )
    try:
        assert chat.guard is not None
        payload = chat.guard.apply(chat.payload(message))
        sink = NullSink(env, show_extras=not o.quiet)
        turn = run_turn(env, chat.gateway, payload, sink, journal)
    finally:
        chat.close()
    return turn, journal.message_id if journal is not None else None


def _reported(
    env: Environment, o: CmdOptions, turn: Turn, command: str, *, terminal: bool
) -> ExitCode:
    """Piped, the command on stdout (for | pbcopy and $(...): never run) with its
    dangers; the footer and error on stderr; the turn's exit code."""
    if env.stdout_isatty and not terminal:
        env.warn("no controlling terminal to ask on: the command is printed, not run")
    if turn.error is None and command and not terminal and not unseen(command):
        env.stdout.write(command + "\n")
        env.stdout.flush()
        for reason in dangers(command):
            env.warn(f"this looks destructive: {reason}")
    report_turn(env, turn, quiet=o.quiet)
    return outcome(turn)


def _refuse_unseen(env: Environment, text: str, *, show: bool) -> None:
    """Refuse (exit 6) a command holding what would not show as it runs: a screen would
    show another command than the one run. ``show`` writes it first, with escapes."""
    hiding = unseen(text)
    if not hiding:
        return
    if show:
        from t360cli.render import print_code

        print_code(env, visible(text), "text")
    more = " and more" if len(hiding) > 3 else ""
    raise GuardError(
        f"the command holds what would not show as it runs ({', '.join(hiding[:3])}{more})",
        "nothing was run; ask again, or write the command yourself",
    )


def _choose(env: Environment, command: Command, shell: str) -> int | None:
    """Show the command and act on one key: the exit status of the command if it ran,
    None if it did not (quit, Esc, copy); Ctrl-C leaves with 130 at the boundary."""
    from t360cli.render import print_code
    from t360cli.terminal import copy_to_clipboard, read_key

    while True:
        _refuse_unseen(env, command.text, show=True)
        print_code(env, command.text, "bash" if shell in ("sh", "dash", "ash") else shell)
        # The notices come after the command, next to the question, where a long command
        # cannot push them off the screen.
        if command.script:
            env.warn(f"the model insisted on a script of {len(command.text.splitlines())} lines")
        rows, height = _rows(command.text, env.columns), _height(env)
        if height is not None and rows > height - 3:
            env.warn(f"the command takes {rows} lines, more than the screen: scroll up to read it")
        for reason in dangers(command.text):
            env.stderr.write(env.style(f"t360: warning: this looks destructive: {reason}", "1;31"))
            env.stderr.write("\n")
        key = read_key(env, CHOICES)
        if key == "r":
            return _run(env, command.text)
        if key == "e":
            command = _edit(command)
            continue
        if key == "c":
            env.stderr.write(env.shown(f"copied {copy_to_clipboard(env, command.text)}") + "\n")
            return None
        if key in ("q", "\x1b", "\x04", "\n"):
            return None
        env.stderr.write(env.shown(f"{key!r} is not a choice") + "\n")


def _edit(command: Command) -> Command:
    """The command changed in a line editor, pre-filled (several lines for a script)."""
    from prompt_toolkit import prompt

    text = prompt("edit> ", default=command.text, multiline=command.script)
    return Command(text.strip(), "\n" in text.strip())


def _rows(text: str, columns: int) -> int:
    """About how many rows ``text`` takes on a screen ``columns`` wide, lines wrapped."""
    return sum(1 + max(len(line) - 1, 0) // max(columns, 1) for line in text.split("\n"))


def _height(env: Environment) -> int | None:
    """The terminal's rows, if it says."""
    import os

    if env.size is not None:
        return env.size[1]
    try:
        return os.get_terminal_size(env.stdout.fileno()).lines
    except (OSError, ValueError, AttributeError):
        return None


def _ignore(signum: int, frame: object) -> None:
    """SIGINT and SIGQUIT while the command runs: they are the command's to handle."""


def _run(env: Environment, text: str) -> int:
    """Run ``text`` with the user's shell, attached to the terminal; its exit status
    (128 + N when signal N ended it, as a shell reports it).

    The command shares the terminal's foreground, so Ctrl-C reaches it as it would from a
    shell, and t360 waits for whatever it makes of it. t360 ignores the signal meanwhile,
    with a handler rather than SIG_IGN: a handler is reset on exec, an ignore would be
    inherited and keep Ctrl-C from the command too.
    """
    import signal
    import subprocess

    shell = env.vars.get("SHELL") or "/bin/sh"
    previous = {
        number: signal.signal(number, _ignore) for number in (signal.SIGINT, signal.SIGQUIT)
    }
    try:
        status = subprocess.run([shell, "-c", text], env=dict(env.vars), check=False).returncode
    except OSError as exc:
        raise UsageError(f"cannot run {shell}: {exc.strerror}", "check $SHELL") from None
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return status if status >= 0 else 128 - status
