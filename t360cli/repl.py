"""The interactive REPL: an input loop and slash commands around ``Chat.ask``.

Each turn runs the same pipeline as a one-shot run, with the same rendering and a compact
stats line. Ctrl-C during an answer cancels that answer only (its partial text stays in
the conversation); Ctrl-C at the prompt clears the line; Ctrl-D or /exit leaves.

Input: Enter sends; Alt-Enter (or Esc then Enter) starts a new line; a message that
begins with three double quotes runs until a line that ends with them; pasted text keeps
its lines. Input history persists across sessions; Ctrl-R searches it.
"""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.filters import Condition
from prompt_toolkit.history import FileHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

from . import units
from .attachments import Attachment
from .config import Settings
from .conversation import Answer, Exchange, question
from .environment import Environment
from .errors import ConfigError, GuardError, T360Error, Terminated
from .prompt import compose
from .report import make_sink, report_turn
from .request import RequestOptions
from .roles import Role
from .safety import sanitize
from .session import Chat, debug_log
from .terminal import copy_to_clipboard, edit_text, typeahead

if TYPE_CHECKING:
    from .compare import Comparison

BLOCK = '"""'
PROMPT = "\u203a "  # a single right-pointing angle quotation mark


@dataclass(frozen=True)
class Command:
    usage: str
    summary: str
    run: Callable[[Repl, str], None]


#: After this long without a request, the server may have closed the idle connection: the
#: first key typed then opens a fresh one in the background.
IDLE = 30.0


#: Settings, request options and role for a role name (or none): the command's layering.
Setup = Callable[[str | None], tuple[Settings, RequestOptions, Role | None]]


class Repl:
    def __init__(
        self,
        env: Environment,
        chat: Chat,
        *,
        raw: bool,
        quiet: bool,
        setup: Setup | None = None,
        role: Role | None = None,
        yes: bool = False,
    ) -> None:
        self.env = env
        self.yes = yes  # -y: tools added by /tools run without asking too
        self.chat = chat
        self.raw = raw
        self.quiet = quiet
        self.setup = setup
        self.role = role
        self.running = True
        self.draft: str | None = None  # text composed by /edit, sent next
        self.active = time.monotonic()  # the last request, or the last key typed
        #: Attachments for the next message (/attach).
        self.pending: list[Attachment] = []
        #: Texts for the next message (/file, /paste), as (label, text), like -f's.
        self.texts: list[tuple[str, str]] = []
        #: The last message, as it was sent, when it failed before any answer: it is not in
        #: the conversation, and /retry sends it again (with its -f texts and attachments).
        self.unsent: Exchange | None = None
        #: The models the next message goes to side by side (/compare), and the
        #: comparison whose answers /keep chooses from.
        self.comparing: list[str] | None = None
        self.compared: Comparison | None = None

    def typing(self, _: object = None) -> None:
        """A key was typed: after a long pause, reconnect before the turn needs it."""
        now = time.monotonic()
        if now - self.active > IDLE:
            self.chat.gateway.warm_up()
        self.active = now

    # -- output ---------------------------------------------------------------------------

    def say(self, text: str) -> None:
        """A REPL message (not model output): stderr, dimmed."""
        self.env.stderr.write(self.env.style(text, "2") + "\n")
        self.env.stderr.flush()

    # -- turns ----------------------------------------------------------------------------

    def ask(self, text: str) -> None:
        """Send what was typed, with what is added to it, shaped by the role."""
        attached, self.pending = self.pending, []
        typed, texts, self.texts = text, self.texts, []
        role = None if self.role is None else self.role.name
        try:
            words, checked = [text], [body for _, body in texts]
            if self.chat.secrets is not None:
                words, checked = self.chat.secrets.prompt(words, texts)
            text = words[0]
            if texts:  # laid out as a one-shot lays out -f texts
                labels = [label for label, _ in texts]
                text = compose([text], None, list(zip(labels, checked, strict=True)))
            if self.role is not None:
                text = self.role.apply(text)
        except GuardError as exc:  # a secret, refused: nothing sent; Up recalls the text
            self.env.error(exc.line())
            self.pending, self.texts = attached, texts
            return
        except T360Error as exc:
            self.say(exc.line())
            return
        asked = Exchange(typed, text, role=role, attached=tuple(attached), texts=tuple(texts))
        if self.comparing:
            self.compare(self.comparing, asked)
            return
        self.send(asked)

    def send(self, exchange: Exchange) -> None:
        """Send the user's part of ``exchange`` (as it was shaped) and show the answer."""
        self.compared = None  # the conversation went on: none of them is kept
        attached = list(exchange.attached)
        sinks = functools.partial(
            make_sink, self.env, json_out=False, raw=self.raw, quiet=self.quiet
        )
        try:
            with typeahead(self.env):  # keys typed meanwhile wait for the next prompt
                turn = self.chat.ask(exchange, sinks)
        except (GuardError, ConfigError) as exc:  # nothing was sent; the session goes on
            self.env.error(exc.line())
            self.pending = attached
            return
        except KeyboardInterrupt as stop:  # while the tool servers started: nothing sent
            self.say("interrupted before anything was sent")
            self.pending = attached
            self.running = not isinstance(stop, Terminated)
            return
        self.active = time.monotonic()
        guard = self.chat.guard
        notes = guard.notes(self.chat.payload("")) if guard is not None else ()
        report_turn(self.env, turn, quiet=self.quiet, compact=True, extra=notes)
        if turn.unanswered:  # not in the conversation; attachments kept for the next one
            self.unsent, self.pending = exchange, attached
            self.say("not kept in the conversation: /retry sends it again")
        else:
            self.unsent = None
        if turn.terminated:  # SIGTERM or SIGHUP: the answer is saved; now leave
            self.running = False

    def compare(self, models: list[str], asked: Exchange) -> None:
        """The message to several models side by side (/compare), each continuing the
        conversation so far in a conversation of its own; /keep then chooses."""
        from .client import Gateway
        from .compare import Comparison, report_ranking, view_for

        chat, env = self.chat, self.env
        comparison = None
        try:
            gateway = Gateway(
                chat.settings,
                environ=env.vars,
                log=debug_log(env, chat.settings),
                connections=len(models),
            )
            comparison = Comparison(
                env, chat.settings, chat.request, models, gateway,
                save=chat.save, exchanges=chat.exchanges,
            )  # fmt: skip
            if chat.guard is not None:
                comparison.guards(chat.guard, env.warn)
            comparison.prepare(asked)
            view = view_for(env, models, json_out=False, quiet=self.quiet)
            with typeahead(env):  # keys typed meanwhile wait for the next prompt
                result = comparison.run(asked, view)
        except T360Error as exc:  # nothing was sent; the session goes on
            env.error(exc.line())
            self.pending = list(asked.attached)
            return
        finally:
            if comparison is not None:
                comparison.close()
        self.active = time.monotonic()
        self.comparing, self.compared = None, comparison
        chat.turns += result.turns
        self.unsent = None
        if not self.quiet:
            report_ranking(env, models, result)
        self.say("/keep MODEL continues the conversation with that model and its answer")
        if result.terminated:  # SIGTERM or SIGHUP: the answers are saved; now leave
            self.running = False

    def drop_last_exchange(self) -> Exchange | None:
        """Forget the last exchange, here and in the history, and return it."""
        if not self.chat.exchanges:
            return None
        exchange = self.chat.exchanges.pop()
        if self.chat.save and self.chat.conversation_id is not None:
            from .history import History

            with History.open(self.env.paths.history_db) as history:
                history.drop_last(self.chat.conversation_id)
        return exchange

    # -- the loop -------------------------------------------------------------------------

    def handle(self, line: str) -> None:
        if line.startswith("//"):  # an escaped slash: send the text with one slash
            self.ask(line[1:])
        elif line.startswith("/"):
            name, _, argument = line.partition(" ")
            command = COMMANDS.get(name.lower())
            if command is None:
                self.say(f"unknown command {name}; /help lists them")
            else:
                command.run(self, argument.strip())
        else:
            self.ask(line)


# -- slash commands --------------------------------------------------------------------


def _help(repl: Repl, argument: str) -> None:
    width = max(len(c.usage) for c in COMMANDS.values())
    lines = [f"  {c.usage.ljust(width)}  {c.summary}" for c in COMMANDS.values()]
    lines += [
        "",
        '  Enter sends; Alt-Enter adds a line; start with """ for a block ending in """.',
        "  Ctrl-C cancels an answer or clears the line; Ctrl-R searches input history;",
        "  Ctrl-D leaves. Start a message with // to send a leading slash.",
    ]
    repl.say("\n".join(lines))


def _exit(repl: Repl, argument: str) -> None:
    repl.running = False


def _clear(repl: Repl, argument: str) -> None:
    repl.chat.conversation_id = None
    repl.chat.exchanges = []
    repl.compared = None
    repl.say("new conversation")


def _model(repl: Repl, argument: str) -> None:
    if not argument:
        repl.say(f"model: {repl.chat.settings.model}")
        return
    try:
        model = _resolved(repl, [argument])[0]
    except T360Error as exc:
        repl.say(exc.line())
        return
    repl.chat.settings = repl.chat.settings._replace(model=model)
    repl.say(f"model: {model}" + (f" (alias {argument})" if model != argument else ""))


def _resolved(repl: Repl, names: list[str]) -> list[str]:
    """Model names with the aliases of the config file resolved."""
    from .config import aliases_in, read_config

    aliases = aliases_in(read_config(repl.env))
    return [aliases.get(name, name) for name in names]


def _compare(repl: Repl, argument: str) -> None:
    """/compare MODEL...: the next message goes to these models side by side."""
    from .compare import FEWEST

    try:
        models = list(dict.fromkeys(_resolved(repl, argument.split())))
    except T360Error as exc:
        repl.say(exc.line())
        return
    if len(models) < FEWEST:
        repl.say(f"usage: /compare MODEL MODEL... ({FEWEST} models or more)")
        return
    repl.comparing = models
    repl.say(f"the next message goes to {', '.join(models)} side by side")


def _keep(repl: Repl, argument: str) -> None:
    """/keep MODEL: continue the conversation with that model, its answer to the last
    /compare becoming the conversation's last answer."""
    comparison = repl.compared
    if comparison is None:
        repl.say("nothing to keep: /compare MODEL MODEL..., then send a message")
        return
    try:
        model = _resolved(repl, [argument])[0] if argument else ""
    except T360Error as exc:
        repl.say(exc.line())
        return
    lane = next((chat for chat in comparison.chats if chat.settings.model == model), None)
    if lane is None:
        repl.say(f"usage: /keep MODEL, one of {', '.join(comparison.models)}")
        return
    if not lane.turns or lane.turns[-1].unanswered:
        repl.say(f"{model} gave no answer to keep")
        return
    chat = repl.chat
    if chat.save and lane.conversation_id is not None:
        if chat.conversation_id is None:
            chat.conversation_id = lane.conversation_id
        else:  # its exchange moves to this conversation
            from .history import History

            try:
                with History.open(repl.env.paths.history_db) as history:
                    history.merge(lane.conversation_id, chat.conversation_id)
            except T360Error as exc:
                repl.say(exc.line())
                return
    chat.exchanges = list(lane.exchanges)
    chat.settings = chat.settings._replace(model=model)
    repl.compared = None
    repl.say(f"kept the answer of {model}; model: {model}")


COMPACT = (
    "Summarise our conversation so far for yourself, to continue from it: keep every fact, "
    "decision, name, number and open question; drop pleasantries. It will replace the "
    "conversation, so write only the summary."
)


def _compact(repl: Repl, argument: str) -> None:
    """Continue from a summary of the conversation (the history keeps everything that
    was said). A conversation too long for the model's context is summarised in pieces
    that fit; an exchange that does not fit even alone is left out, and said so."""
    chat = repl.chat
    if not chat.exchanges:
        repl.say("nothing to compact yet")
        return
    pieces: list[list[Exchange]] = [[]]
    left_out = 0
    for exchange in chat.exchanges:
        if _summarising(repl, [*pieces[-1], exchange], fits=True) is not None:
            pieces[-1].append(exchange)
        elif _summarising(repl, [exchange], fits=True) is not None:
            pieces.append([exchange])
        else:
            left_out += 1
    if left_out:
        repl.say(
            f"{left_out} exchange{'s' * (left_out != 1)} too long for {chat.settings.model}'s"
            " context even alone: left out of the summary"
        )
    summaries = []
    for piece in filter(None, pieces):
        part = _summarising(repl, piece, fits=False)
        assert part is not None
        sinks = functools.partial(make_sink, repl.env, json_out=False, raw=repl.raw, quiet=True)
        try:
            with typeahead(repl.env):
                turn = part.ask(question(COMPACT), sinks)
        except T360Error as exc:
            repl.env.error(exc.line())
            turn = None
        except KeyboardInterrupt as stop:
            repl.running = not isinstance(stop, Terminated)
            turn = None
        if turn is not None:
            chat.turns.append(turn)
            report_turn(repl.env, turn, quiet=repl.quiet, compact=True)
        if turn is None or turn.partial:
            repl.say("the summary did not complete: the conversation is kept as it was")
            return
        summaries.append(turn.content)
    count = len(chat.exchanges)
    sent = "A summary of our conversation so far:\n\n" + "\n\n".join(summaries)
    chat.exchanges = [Exchange(sent, sent, Answer("Noted. Let's continue from there."))]
    repl.say(
        f"compacted {count} exchange{'s' * (count != 1)} into a summary; the history keeps them all"
    )


def _summarising(repl: Repl, piece: list[Exchange], *, fits: bool) -> Chat | None:
    """A chat, saved nowhere, that asks for the summary of ``piece``; with ``fits``, None
    when that request would not fit the model's context."""
    chat = repl.chat
    part = Chat(
        repl.env, chat.settings, chat.request, save=False, exchanges=piece, gateway=chat.gateway
    )
    part.guard = chat.guard
    if fits and chat.guard is not None and not chat.guard.fits(part.payload(COMPACT)):
        return None
    return part


def _role(repl: Repl, argument: str) -> None:
    if repl.setup is None:
        repl.say("roles are not available here")
        return
    try:
        settings, request, role = repl.setup(argument or None)
    except T360Error as exc:
        repl.say(exc.line())
        return
    repl.chat.settings = repl.chat.settings._replace(
        model=settings.model, system=settings.system, sources=settings.sources
    )
    repl.chat.request = request
    repl.role = role
    if role is None:
        repl.say(f"no role · model: {settings.model}")
    else:
        repl.say(f"role: {role.name} · model: {settings.model}")


def _system(repl: Repl, argument: str) -> None:
    if not argument:
        repl.say(f"system prompt: {repl.chat.settings.system or '(none)'}")
        return
    system = None if argument == "-" else argument
    repl.chat.settings = repl.chat.settings._replace(system=system)
    if repl.chat.save and repl.chat.conversation_id is not None:
        from .history import History

        with History.open(repl.env.paths.history_db) as history:
            history.set_system(repl.chat.conversation_id, system)
    repl.say("system prompt cleared" if system is None else "system prompt set")


def _retry(repl: Repl, argument: str) -> None:
    if repl.unsent is not None:  # it failed before any answer: nothing to drop
        own = repl.unsent.attached  # kept for a message typed instead: sent with it now
        repl.pending = [a for a in repl.pending if all(a is not b for b in own)]
        repl.send(repl.unsent)
        return
    exchange = repl.drop_last_exchange()
    if exchange is None:
        repl.say("nothing to retry yet")
    else:  # the message as it was sent: a role's template is not applied again
        repl.send(exchange)


def _attach(repl: Repl, argument: str) -> None:
    """Attach a file or image URL to the next message; alone, list what is attached."""
    if not argument:
        listed = " ".join(a.label() for a in repl.pending)
        repl.say(f"attached to the next message: {listed}" if listed else "nothing attached")
        return
    from .attachments import load

    try:
        attachment = load(
            argument if "://" in argument else str(Path(argument).expanduser()),
            repl.env.stdin,
            repl.env.vars,
            "/file",
        )
    except T360Error as exc:
        repl.say(exc.line())
        return
    repl.pending.append(attachment)
    repl.say(f"attached {attachment.label()} to the next message")


def _detach(repl: Repl, argument: str) -> None:
    count = len(repl.pending) + len(repl.texts)
    repl.pending, repl.texts = [], []
    repl.say(f"detached {count}" if count else "nothing was attached")


def _file(repl: Repl, argument: str) -> None:
    """What -f adds (a file, every text file under a folder, a web page), for the next
    message; alone, list what is added."""
    if not argument:
        listed = ", ".join(label for label, _ in repl.texts)
        repl.say(f"added to the next message: {listed}" if listed else "nothing added")
        return
    from .attachments import MAX_PAGE, gather

    def fetch(url: str) -> tuple[str, bytes]:
        from .client import fetch_page

        return fetch_page(repl.chat.settings, repl.env.vars, url, MAX_PAGE, repl.say)

    spec = argument if "://" in argument else str(Path(argument).expanduser())
    try:
        found = gather([spec], fetch, repl.say)
    except T360Error as exc:
        repl.say(exc.line())
        return
    repl.texts += found
    repl.say(f"added {', '.join(label for label, _ in found)} to the next message")


def _paste(repl: Repl, argument: str) -> None:
    """The clipboard, for the next message: text as a block labelled clipboard, an image
    as an attachment."""
    from .attachments import MAX_ATTACHMENT, from_bytes
    from .clipboard import paste

    try:
        pasted = paste(repl.env.vars, MAX_ATTACHMENT)
        if pasted.image is not None:
            attachment = from_bytes("clipboard", pasted.image, "/paste")
            repl.pending.append(attachment)
            repl.say(f"attached {attachment.label()} to the next message")
        elif pasted.text and pasted.text.strip():
            repl.texts.append(("clipboard", pasted.text))
            repl.say(f"added the clipboard ({len(pasted.text):,} characters) to the next message")
        else:
            repl.say("the clipboard is empty")
    except T360Error as exc:
        repl.say(exc.line())


def _tools(repl: Repl, argument: str) -> None:
    """/tools: the servers in use and their tools; /tools add NAME, /tools remove NAME."""
    from .config import read_config
    from .tools import Toolbox, choose, server_error
    from .toolview import approve_on, show_on

    action, _, name = argument.partition(" ")
    name = name.strip()
    toolbox = repl.chat.tools
    if action == "add" and name:
        try:
            servers = choose(read_config(repl.env), [name])
        except T360Error as exc:
            repl.say(exc.line())
            return
        if toolbox is None:
            debug = debug_log(repl.env, repl.chat.settings)
            settings = repl.chat.settings
            toolbox = Toolbox(
                repl.env, [], settings=settings, yes=repl.yes, quiet=repl.quiet,
                approve=approve_on(repl.env), show=show_on(repl.env), debug=debug,
            )  # fmt: skip
            repl.chat.tools = toolbox
        for server in servers:
            try:
                toolbox.add(server)
            except T360Error as exc:
                repl.say(exc.line())
        if not toolbox.configs:
            repl.chat.tools = None
    elif action == "remove" and name:
        if toolbox is None or not toolbox.remove(name):
            repl.say(f"{name} is not in use")
            return
        if not toolbox.configs:
            toolbox.close()
            repl.chat.tools = None
    elif argument:
        repl.say("usage: /tools, /tools add NAME, /tools remove NAME")
        return
    toolbox = repl.chat.tools
    if toolbox is None:
        repl.say("no tools offered; /tools add NAME starts a server of [mcp_servers]")
        return
    for failed, why in toolbox.drop_failed().items():  # the server's words: made safe there
        repl.say(server_error(repl.env, failed, why).line())
    for using, tools in toolbox.tools().items():
        names = ", ".join(sanitize(tool.name) for tool in tools) or "(no tools)"
        repl.say(f"{using}: {names}")


def _undo(repl: Repl, argument: str) -> None:
    exchange = repl.drop_last_exchange()
    dropped = None if exchange is None else sanitize(exchange.typed[:60])
    repl.say("nothing to undo" if dropped is None else f"dropped: {dropped}")


def _copy(repl: Repl, argument: str) -> None:
    said = repl.chat.exchanges[-1].said() if repl.chat.exchanges else ""
    if not said:
        repl.say("no answer to copy yet")
        return
    repl.say(f"copied the last answer {copy_to_clipboard(repl.env, said)}")


def _save(repl: Repl, argument: str) -> None:
    if not argument:
        repl.say("usage: /save FILE")
        return
    from .history import to_markdown, transcript

    messages = transcript(repl.chat.exchanges)
    if not messages:
        repl.say("nothing to save yet")
        return
    path = Path(argument).expanduser()
    title = " ".join(messages[0].content.split())[:60]
    subtitle = f"{repl.chat.settings.model} · {time.strftime('%Y-%m-%d %H:%M')}"
    try:
        path.write_text(to_markdown(title, subtitle, repl.chat.settings.system, messages))
    except OSError as exc:
        repl.say(f"cannot write {path}: {exc.strerror or exc}")
        return
    repl.say(f"saved to {path}")


def _stats(repl: Repl, argument: str) -> None:
    turns = repl.chat.turns
    if not turns:
        repl.say("no answers yet")
        return
    ttfts = [t.ttft for t in turns if t.ttft is not None]
    prompts = [n for t in turns if (n := t.tokens("prompt_tokens")) is not None]
    outputs = [n for t in turns if (n := t.output_tokens()) is not None]
    estimated = any(t.estimated for t in turns)
    costs = [t.cost for t in turns if t.cost is not None]
    ttft = units.duration(statistics.median(ttfts) if ttfts else None)
    tokens_in = units.count(sum(prompts) if prompts else None)
    tokens_out = units.count(sum(outputs) if outputs else None, estimate=estimated)
    cost = units.cost(sum(costs)) if costs else "cost n/a"
    failed = sum(t.partial for t in turns)
    repl.say(
        f"{len(turns)} answer{'s' * (len(turns) != 1)} ({failed} partial) · TTFT median {ttft}"
        f" · {tokens_in} in/{tokens_out} out · {cost}"
    )


def _edit(repl: Repl, argument: str) -> None:
    try:
        text = edit_text(repl.env, argument)
    except ConfigError as exc:
        repl.say(exc.line())
        return
    if text:
        repl.draft = text
    else:
        repl.say("empty message: nothing sent")


COMMANDS: dict[str, Command] = {
    "/help": Command("/help", "this list", _help),
    "/exit": Command("/exit", "leave (also Ctrl-D)", _exit),
    "/clear": Command("/clear", "start a new conversation", _clear),
    "/model": Command("/model [NAME]", "show or switch the model", _model),
    "/system": Command("/system [TEXT|-]", "show, set or clear (-) the system prompt", _system),
    "/retry": Command("/retry", "ask for the last answer again", _retry),
    "/undo": Command("/undo", "forget the last exchange", _undo),
    "/copy": Command("/copy", "copy the last answer to the clipboard", _copy),
    "/save": Command("/save FILE", "write the conversation to FILE as markdown", _save),
    "/stats": Command("/stats", "this session's TTFT, tokens and cost", _stats),
    "/edit": Command("/edit", "compose the next message in $EDITOR", _edit),
    "/attach": Command("/attach [PATH|URL]", "attach to the next message; alone: list", _attach),
    "/detach": Command("/detach", "drop what /attach, /file and /paste added", _detach),
    "/file": Command("/file [PATH|DIR|URL]", "add what -f adds to the next message", _file),
    "/paste": Command("/paste", "add the clipboard to the next message", _paste),
    "/compact": Command("/compact", "continue from a summary of the conversation", _compact),
    "/role": Command("/role [NAME]", "use a role (its prompt, model, options); alone: none", _role),
    "/compare": Command(
        "/compare MODEL...", "send the next message to these models side by side", _compare
    ),
    "/keep": Command("/keep MODEL", "after /compare: go on with that model and its answer", _keep),
    "/tools": Command(
        "/tools [add|remove NAME]", "the MCP tools offered; add or drop a server", _tools
    ),
}


class _Completer(Completer):
    """Slash commands, and model ids after /model."""

    def __init__(self, models: Callable[[], list[str]]) -> None:
        self.models = models

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterable[Completion]:
        text = document.text_before_cursor
        if not text.startswith("/") or "\n" in text:
            return
        if " " not in text:
            for name, command in COMMANDS.items():
                if name.startswith(text.lower()):
                    yield Completion(name, -len(text), display_meta=command.summary)
        elif text.startswith(("/model ", "/compare ", "/keep ")):
            word = text.rpartition(" ")[2]
            for model in self.models():
                if model.startswith(word):
                    yield Completion(model, -len(word))
        elif text.startswith("/attach "):
            from prompt_toolkit.completion import PathCompleter

            path = Document(text[len("/attach ") :])
            yield from PathCompleter(expanduser=True).get_completions(path, complete_event)


def _known_models(env: Environment, chat: Chat) -> Callable[[], list[str]]:
    def models() -> list[str]:
        from .errors import ConfigError
        from .history import History
        from .modelinfo import cached

        names = [chat.settings.model, *cached(env.paths)]
        if chat.save:
            try:
                with History.open(env.paths.history_db) as history:
                    names += history.models()
            except ConfigError:
                pass  # completion is a convenience: a broken database shows elsewhere
        return list(dict.fromkeys(names))

    return models


def _bindings() -> KeyBindings:
    bindings = KeyBindings()

    @Condition
    def in_block() -> bool:
        from prompt_toolkit.application import get_app

        text = get_app().current_buffer.text
        return text.startswith(BLOCK) and not (len(text) >= 6 and text.endswith(BLOCK))

    @bindings.add("enter", filter=in_block)
    def _(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    @bindings.add("escape", "enter")
    def _(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    return bindings


def _unblock(text: str) -> str:
    if text.startswith(BLOCK):
        text = text[len(BLOCK) :]
        if text.endswith(BLOCK):
            text = text[: -len(BLOCK)]
    return text.strip()


def run_repl(
    env: Environment,
    chat: Chat,
    *,
    raw: bool,
    quiet: bool,
    setup: Setup | None = None,
    role: Role | None = None,
    yes: bool = False,
) -> None:
    """Read, answer, repeat, until /exit or Ctrl-D."""
    repl = Repl(env, chat, raw=raw, quiet=quiet, setup=setup, role=role, yes=yes)
    history_file = env.paths.state_dir / "repl-history"
    try:
        history_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        history: FileHistory | None = FileHistory(str(history_file))
    except OSError:
        history = None
    session: PromptSession[str] = PromptSession(
        history=history,
        completer=_Completer(_known_models(env, chat)),
        complete_while_typing=False,
        key_bindings=_bindings(),
        enable_history_search=False,
        prompt_continuation="… ",
    )
    session.default_buffer.on_text_changed += repl.typing
    chat.prepare()  # connected while the first message is typed
    where = f" · continuing {chat.conversation_id}" if chat.conversation_id else ""
    acting = f" · role {role.name}" if role is not None else ""
    repl.say(f"t360 · {chat.settings.model}{acting}{where} · /help for commands · Ctrl-D to leave")
    for exchange in chat.exchanges[-3:]:  # a recap of the conversation continued
        answer = exchange.answer
        ended = " (interrupted)" if answer.interrupted else " (partial)" * answer.partial
        for label, text in (
            ("you", exchange.typed),
            (f"{answer.model or 'assistant'}{ended}", exchange.said()),
        ):
            flat = " ".join(text.split())
            repl.say(f"{label}: {sanitize(flat[:200])}{'…' if len(flat) > 200 else ''}")
    while repl.running:
        if repl.draft is not None:
            text, repl.draft = repl.draft, None
            if history is not None:  # recalled with Up, like a typed message
                history.append_string(text)
        else:
            try:
                text = _unblock(session.prompt(PROMPT))
            except KeyboardInterrupt:
                continue  # Ctrl-C at the prompt: the line is cleared
            except EOFError:
                break
        if text:
            repl.handle(text)
