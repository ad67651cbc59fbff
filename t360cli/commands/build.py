"""``t360 chat``'s ``Chat``, built complete from its options: the settings layered (a
continued conversation's, the role's, the flags), the request, the tools' servers started,
the secrets check, the guard, and whether its answers are saved (``Chat.ask`` saves them
through ``session.journal_for``, as ``cmd`` and ``bench`` do)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from t360cli.commands.common import (
    Setup,
    check_max_cost,
    compose_message,
    exclusive,
    known_key,
    make_guard,
    require_key,
    secrets_check,
)
from t360cli.conversation import Exchange, question
from t360cli.errors import T360Error, UsageError
from t360cli.report import emit_json
from t360cli.session import Chat
from t360cli.stats import Turn

if TYPE_CHECKING:
    from collections.abc import Mapping

    from t360cli.commands.options import ChatOptions
    from t360cli.config import Settings
    from t360cli.environment import Environment
    from t360cli.request import RequestOptions
    from t360cli.roles import Role
    from t360cli.tools import Toolbox


class Built(NamedTuple):
    """A chat ready to ask, and what the REPL needs to change it (``/role``)."""

    chat: Chat
    #: The one-shot's question; None for the REPL (it asks what is typed).
    asked: Exchange | None
    setup: Setup
    role: Role | None
    #: The JSON Schema of --schema, which the answer must match; None without one.
    shape: dict[str, Any] | None


class _Previous(NamedTuple):
    id: str
    model: str
    system: str | None
    context: list[Exchange]


def _check_flags(o: ChatOptions, *, interactive: bool) -> None:
    """The flags that cannot go together, or not without a prompt."""
    exclusive(
        ("--system", "--system-file", o.system is not None, o.system_file is not None),
        ("--continue", "--conversation", o.continue_, o.conversation is not None),
        ("-x", "--extract-last", o.extract, o.extract_last),
    )
    if interactive:
        alone = {
            "--json": o.json_out,
            "--schema": o.schema is not None,
            "-x": o.extract or o.extract_last,
            "--dry-run": o.dry_run,
        }
        for flag, given in alone.items():
            if given:
                raise UsageError(f"{flag} needs a prompt", "pass one as an argument, or pipe it in")
    check_max_cost(o.max_cost)


def build_chat(env: Environment, o: ChatOptions, *, interactive: bool) -> Built:
    """The chat of this run, complete, and the one-shot's question (read from the words,
    stdin, files, the clipboard, the editor). The tools' servers start first, to start
    while the rest is prepared. On any failure nothing is left running, and with
    ``--json`` the failure is the JSON object (naming the model, once known)."""
    model, toolbox = o.model or "", None
    try:
        _check_flags(o, interactive=interactive)
        previous = _previous(env, o.continue_, o.conversation)
        flags = o.flags()
        request, shape = _request(o)
        setup = Setup(env, flags, _layer(previous), request)
        settings, request, role = setup(o.role)
        model = settings.model
        if o.tools:
            settings = known_key(env, settings)  # kept from the servers: known before they start
            toolbox = _toolbox(env, o, setup.table, settings)
        if not o.dry_run:  # the key in use (from api_key_cmd, the keychain) is a known secret
            settings = known_key(env, settings)
        secrets = secrets_check(env, settings, setup.table, allow=o.allow_secrets)
        asked = None
        if not interactive:
            message, attached = compose_message(
                env, settings, role, o.prompt or [], o.files or [], o.attach or [], o.editor,
                o.no_stdin, secrets, o.paste,
            )  # fmt: skip
            asked = question(message, attached)
        if not o.dry_run:
            settings = require_key(env, settings)
        guard = make_guard(  # before the chat: nothing of it to close if this fails
            env, settings, setup.table, max_cost=o.max_cost, ignore_budget=o.ignore_budget
        )
        chat = Chat(
            env,
            settings,
            request,
            save=not o.no_save,
            conversation_id=previous.id if previous else None,
            exchanges=previous.context if previous else [],
        )
        chat.tools, chat.max_tool_rounds, chat.secrets = toolbox, o.max_tool_rounds, secrets
        chat.guard = guard
    except BaseException as error:  # Ctrl-C while stdin is read too: no server left behind
        if toolbox is not None:
            toolbox.close()
        if o.json_out and isinstance(error, T360Error):
            emit_json(env, Turn.failed(model, error))
        raise
    return Built(chat, asked, setup, role, shape)


def _request(o: ChatOptions) -> tuple[RequestOptions, dict[str, Any] | None]:
    """The request options of the flags (-o, and --schema's response_format over it),
    and the schema."""
    from t360cli.structured import parse_schema, response_format

    request = o.request(stream=not o.no_stream)
    if o.tools and "tools" in request.options:  # t360 could not run the calls of -o's
        raise UsageError("give either -T or -o tools=…, not both")
    if o.schema is None:
        return request, None
    shape = parse_schema(o.schema)
    options = {**request.options, "response_format": response_format(shape)}  # flag beats -o
    return request._replace(options=options), shape


def _toolbox(
    env: Environment, o: ChatOptions, table: Mapping[str, object], settings: Settings
) -> Toolbox:
    """The servers of -T, started: asking and showing on the terminal."""
    from t360cli.session import debug_log
    from t360cli.tools import Toolbox, choose
    from t360cli.toolview import approve_on, show_on

    toolbox = Toolbox(
        env, choose(table, o.tools or []), settings=settings, yes=o.yes, quiet=o.quiet,
        approve=approve_on(env), show=show_on(env), debug=debug_log(env, settings),
    )  # fmt: skip
    toolbox.start()
    return toolbox


def _layer(previous: _Previous | None) -> dict[str, object | None] | None:
    """What a continued conversation sets: its model and system prompt."""
    return {"model": previous.model, "system": previous.system} if previous else None


def _previous(env: Environment, latest: bool, prefix: str | None) -> _Previous | None:
    """The saved conversation to continue: the latest one, or the one with this id."""
    if not latest and prefix is None:
        return None
    from t360cli.history import History

    with History.open(env.paths.history_db) as history:
        conversation_id = history.resolve(prefix) if prefix is not None else history.latest()
        if conversation_id is None:
            raise UsageError("there is no saved conversation to continue yet")
        saved = history.get(conversation_id)
        return _Previous(saved.id, saved.model, saved.system, history.context(conversation_id))
