"""``run_turn``: the one pipeline that one-shot chat, the REPL and bench call for every answer.

request -> events -> (sink, recorder, journal) -> Turn. Errors and interruptions end the
turn but never lose what was shown: the Turn carries the partial text and the reason it
stopped. ``Chat`` is a conversation in progress: its settings, its exchanges
(``conversation.Exchange``), its gateway.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .attachments import Attachment, content
from .config import Settings
from .conversation import Answer, ToolCall, ToolRound, ToolRun, render, render_rounds
from .errors import UNWRITABLE, ConfigError, GuardError, T360Error, Terminated, unwritable
from .events import ReasoningDelta, TextDelta
from .request import RequestOptions, build_payload, estimate_tokens
from .stats import Pieces, Recorder, Turn, combine

if TYPE_CHECKING:  # only for type checking: a Protocol costs a millisecond to define
    from typing import Protocol

    from .client import Gateway
    from .conversation import Exchange
    from .environment import Environment
    from .guards import Guard
    from .secrets_guard import Check
    from .terminal import AnswerSink
    from .tools import Toolbox

    class HistoryStore(Protocol):
        """What the journal needs of ``history.History`` (imported only once there is text)."""

        def create(self, model: str, system: str | None, title: str, kind: str = "chat") -> str: ...

        def begin_turn(
            self,
            conversation_id: str,
            user: str | None,
            model: str,
            attached: Sequence[Attachment] = (),
            *,
            typed: str | None = None,
            role: str | None = None,
        ) -> int: ...

        def checkpoint(self, message_id: int, content: str, reasoning: str | None) -> None: ...

        def finish_turn(self, message_id: int, turn: Turn) -> None: ...

        def record_failure(self, conversation_id: str | None, kind: str, turn: Turn) -> None: ...

        def record_answer(self, message_id: int, turn: Turn) -> None: ...

        def add_tool_results(
            self, conversation_id: str, message_id: int, done: ToolRound
        ) -> int: ...

        def close(self) -> None: ...


@contextmanager
def _second_interrupt_exits(env: Environment, armed: bool) -> Iterator[None]:
    """While cleaning up after Ctrl-C, a second Ctrl-C leaves at once, cursor restored."""
    if not armed:
        yield
        return

    def exit_now(signum: int, frame: object) -> None:
        if env.stdout_isatty:
            os.write(env.stdout.fileno(), b"\x1b[?25h\n")
        mcp = sys.modules.get("t360cli.mcp")  # tool servers: none left behind
        if mcp is not None:
            mcp.kill_all()
        os._exit(130)

    try:
        previous = signal.signal(signal.SIGINT, exit_now)
    except ValueError:  # not the main thread: nothing to arm
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def open_history(path: Path, comparison: str | None = None) -> Callable[[], HistoryStore]:
    """An opener for the history database at ``path`` (sqlite3 loads only when called);
    the answers saved through it are tagged with ``comparison`` (t360 compare)."""

    def opener() -> HistoryStore:
        from .history import History

        return History.open(path, comparison=comparison)

    return opener


def journal_for(
    env: Environment,
    asked: Exchange | None,
    *,
    model: str,
    system: str | None,
    conversation_id: str | None = None,
    kind: str = "chat",
    comparison: str | None = None,
) -> TurnJournal:
    """The journal of one answer, saved to this run's history database (``Chat.ask``,
    ``t360 cmd`` and ``t360 bench`` all save through it), its warnings on ``env``."""
    return TurnJournal(
        open_history(env.paths.history_db, comparison),
        conversation_id,
        asked,
        model=model,
        system=system,
        warn=env.warn,
        kind=kind,
    )


class TurnJournal:
    """Saves one turn as it streams: begun at the first token, checkpointed, finished.

    Nothing touches the disk before the first token, so saving never delays it. A request
    that ends before any token (refused, failed, interrupted) is no turn of the
    conversation: only its metrics are saved, so that ``t360 stats`` counts its error. A
    failing database (locked, full, corrupt) costs a warning, never the answer.
    """

    INTERVAL = 1.0  # seconds between checkpoints of the growing text

    def __init__(
        self,
        history: Callable[[], HistoryStore],
        conversation_id: str | None,
        asked: Exchange | None,
        *,
        model: str,
        system: str | None,
        warn: Callable[[str], None],
        kind: str = "chat",
    ) -> None:
        self._open = history
        self._kind = kind
        self.conversation_id = conversation_id
        self._asked = asked  # the user's part of the exchange (None: an answer alone)
        self._model = model
        self._system = system
        self._warn = warn
        self._history: HistoryStore | None = None
        self._message: int | None = None
        self._due = 0.0
        self._failed = False

    @property
    def message_id(self) -> int | None:
        """The saved answer's id, once it is saved."""
        return self._message

    def progress(self, content: Pieces, reasoning: Pieces) -> None:
        """Called as text arrives; writes at most once per INTERVAL."""
        now = time.monotonic()
        if now < self._due or self._failed:
            return
        self._due = now + self.INTERVAL
        self._guard(lambda: self._write(content.text(), reasoning.text() or None))

    def finish(self, turn: Turn) -> None:
        if self._failed:
            return

        def write() -> None:
            if self._message is None and turn.unanswered:  # none is begun for it
                self._opened().record_failure(self.conversation_id, self._kind, turn)
                return
            message = self._begin()
            self._opened().finish_turn(message, turn)

        self._guard(write)
        self._close()

    def tool_results(self, done: ToolRound) -> None:
        """A request's tool calls, with their results (calls are saved only so, answered:
        a saved conversation is always one the API accepts); the answer goes on in a new
        message (which the checkpoints and ``finish`` then write)."""

        def write() -> None:
            message = self._begin()
            assert self.conversation_id is not None
            self._message = self._opened().add_tool_results(self.conversation_id, message, done)

        self._guard(write)
        self._close()

    def summary(self, turn: Turn) -> None:
        """The metrics of the whole answer, once its last request is finished, on its
        saved turn (an answer that failed before any token has none: ``finish`` kept its
        metrics)."""

        def write() -> None:
            message = self._begin()
            self._opened().record_answer(message, turn)

        if not self._failed and not turn.unanswered:
            self._guard(write)
        self._close()

    def _close(self) -> None:
        if self._history is not None:
            self._history.close()
            self._history = None

    def _opened(self) -> HistoryStore:
        if self._history is None:
            self._history = self._open()
        return self._history

    def _begin(self) -> int:
        history, asked = self._opened(), self._asked
        if self.conversation_id is None:
            title = (asked.typed if asked is not None else "") or "(untitled)"
            self.conversation_id = history.create(self._model, self._system, title, self._kind)
        if self._message is None:
            self._message = history.begin_turn(
                self.conversation_id,
                None if asked is None else asked.sent,
                self._model,
                () if asked is None else asked.attached,
                typed=None if asked is None or asked.typed == asked.sent else asked.typed,
                role=None if asked is None else asked.role,
            )
        return self._message

    def _write(self, content: str, reasoning: str | None) -> None:
        message = self._begin()
        self._opened().checkpoint(message, content, reasoning)

    def _guard(self, action: Callable[[], None]) -> None:
        try:
            action()
        except ConfigError as exc:
            self._failed = True
            self._warn(f"could not save this exchange to the history: {exc.line()}")


def run_turn(
    env: Environment,
    gateway: Gateway,
    payload: dict[str, Any],
    sink: AnswerSink,
    journal: TurnJournal | None = None,
) -> Turn:
    """Stream one answer into ``sink`` (and ``journal``); the Turn says how it ended.

    Ctrl-C (KeyboardInterrupt) stops the stream and closes the connection at once; a
    second Ctrl-C during that clean-up exits the process immediately. SIGTERM and SIGHUP
    (``Terminated``) end the turn the same way, marked so the REPL stops too. A reader
    closing the pipe ends the turn as interrupted, and a write the system refuses
    (``> /dev/full``) ends it with that error; either is saved, then re-raised.
    """
    model = str(payload["model"])
    recorder = Recorder(model, estimate_tokens(payload["messages"]))

    def wait(seconds: float, attempt: int, reason: T360Error) -> None:
        sink.waiting(seconds, attempt, reason.line())

    events = gateway.chat(payload, on_wait=wait)
    add, text, think = recorder.add, sink.text, sink.reasoning
    sink.started(model)
    progress = journal.progress if journal is not None else None
    content, reasoning = recorder.content, recorder.reasoning
    interrupted = terminated = False
    output_failed: OSError | None = None
    try:
        for event in events:
            add(event)
            cls = type(event)
            if cls is TextDelta:
                text(event.text)  # type: ignore[union-attr]
                if progress is not None:
                    progress(content, reasoning)
            elif cls is ReasoningDelta:
                think(event.text)  # type: ignore[union-attr]
                if progress is not None:
                    progress(content, reasoning)
    except T360Error as error:
        recorder.error = error
    except KeyboardInterrupt as stop:
        interrupted = recorder.interrupted = True
        terminated = isinstance(stop, Terminated)
    except OSError as exc:
        if not isinstance(exc, BrokenPipeError) and exc.errno not in UNWRITABLE:
            raise
        output_failed = exc
        if isinstance(exc, BrokenPipeError):
            recorder.interrupted = True
        else:  # the answer could not be written (``> /dev/full``): saved as cut short by it
            recorder.error = unwritable(exc)
    finally:
        with _second_interrupt_exits(env, interrupted):
            events.close()  # drops the connection, so the gateway stops generating
            recorder.end = time.perf_counter()
            turn = recorder.finish()._replace(terminated=terminated)
            if journal is not None:
                journal.finish(turn)
            if output_failed is None:
                sink.close()
    if output_failed is not None:
        raise output_failed
    return turn


class Chat:
    """A conversation in progress: what has been said, where it is saved, and the one
    gateway connection its turns share.

    One-shot runs and the REPL both ask through ``Chat.ask``, so a turn is requested,
    rendered, saved and remembered the same way everywhere.
    """

    def __init__(
        self,
        env: Environment,
        settings: Settings,
        request: RequestOptions,
        *,
        save: bool = True,
        conversation_id: str | None = None,
        exchanges: list[Exchange] | None = None,
        gateway: Gateway | None = None,
    ) -> None:
        self.env = env
        self.settings = settings
        self.request = request
        self.save = save
        self.conversation_id = conversation_id
        #: The conversation so far, without the system prompt (it lives in settings).
        self.exchanges: list[Exchange] = exchanges or []
        self.turns: list[Turn] = []
        #: Budget, cost and context checks applied to every request before it is sent.
        self.guard: Guard | None = None
        #: The secrets guard, for what the REPL sends and for tool results (a one-shot's
        #: parts are checked as they are gathered, each under its own name).
        self.secrets: Check | None = None
        #: The MCP servers whose tools the model is offered (-T); None: no tools.
        self.tools: Toolbox | None = None
        #: Requests that ran tools, at most, in one answer (--max-tool-rounds).
        self.max_tool_rounds = 10
        #: The comparison its answers are saved as part of (t360 compare), or None.
        self.comparison: str | None = None
        self._gateway = gateway  # given: shared with the other chats of a comparison
        self._lock = threading.Lock()

    @property
    def gateway(self) -> Gateway:
        """The connection to the gateway, made at the first request (httpx loads then),
        or earlier by ``prepare``."""
        with self._lock:
            if self._gateway is None:
                from .client import Gateway

                self._gateway = Gateway(
                    self.settings,
                    environ=self.env.vars,
                    warm=self.env.warm,
                    log=debug_log(self.env, self.settings),
                )
            return self._gateway

    def prepare(self) -> None:
        """Load the HTTP client and take the early connection in the background (the
        REPL, while the user types the first message). A failure here is left for the
        first turn to report, in its place."""

        def load() -> None:
            with contextlib.suppress(T360Error):
                self.gateway  # noqa: B018 - made for its side effect

        threading.Thread(target=load, name="t360-prepare", daemon=True).start()

    def close(self) -> None:
        """The connection closed and the tool servers stopped."""
        if self.tools is not None:
            self.tools.close()
        with self._lock:
            if self._gateway is not None:
                self._gateway.close()
                self._gateway = None

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The conversation so far as API messages."""
        return render(self.exchanges)

    def payload(self, user: str, attached: Sequence[Attachment] = ()) -> dict[str, Any]:
        messages: list[dict[str, Any]] = []
        if self.settings.system:
            messages.append({"role": "system", "content": self.settings.system})
        messages += self.messages
        messages.append({"role": "user", "content": content(user, attached)})
        payload = build_payload(self.settings.model, messages, self.request)
        if self.tools is not None and self.tools.offered:
            payload["tools"] = self.tools.offers()
        return payload

    def ask(self, asked: Exchange, sinks: Callable[[], AnswerSink]) -> Turn:
        """One answer: stream it (into a new sink from ``sinks`` for each request), save
        it, and remember it, partial text included. With tools, each round of tool calls
        is approved, run and answered, and the model asked again, up to the round limit.
        A guard that refuses the first request, or a tool server that cannot start,
        raises before anything is sent or saved. A request that fails before any text
        is no turn of the conversation: the next one goes on without it. ``asked``: the
        user's part of the exchange (``conversation.question`` makes one from a text)."""
        ready = None  # seconds the tool servers, still starting, delayed the request
        if self.tools is not None:
            waiting = time.perf_counter()
            self.tools.ready()
            ready = time.perf_counter() - waiting
        payload = self.payload(asked.sent, asked.attached)
        if self.guard is not None:
            payload = self.guard.apply(payload)
        journal = self._journal(asked) if self.save else None
        tool_time = 0.0  # seconds the tool calls took between the requests
        rounds: list[Turn] = []
        runs: list[ToolRun] = []
        done: list[ToolRound] = []  # the requests whose tool calls ran, with the results
        ran_last = False  # whether the last request's tool calls ran
        while True:
            turn = run_turn(self.env, self.gateway, payload, sinks(), journal)
            rounds.append(turn)
            ran_last = False
            if self.tools is None or not turn.tool_calls or turn.partial:
                break
            if len(rounds) > self.max_tool_rounds:
                rounds[-1] = turn._replace(error=_round_limit(self.max_tool_rounds))
                break
            calls = tuple(ToolCall.of(call) for call in turn.tool_calls)
            running = time.perf_counter()
            ran, stop = self.tools.run(calls, self.secrets)
            tool_time += time.perf_counter() - running
            ran_last = True
            runs += ran
            results = tuple(run.result() for run in ran)
            done.append(ToolRound(turn.content, calls, results, turn.reasoning))
            if journal is not None:
                journal.tool_results(done[-1])
            if stop is not None:  # Ctrl-C while a tool ran: the answer ends here
                terminated = isinstance(stop, Terminated)
                rounds[-1] = turn._replace(interrupted=True, terminated=terminated)
                break
            payload = {**payload, "messages": [*payload["messages"], *render_rounds(done[-1:])]}
            if self.guard is not None:
                spent = sum(r.cost or 0.0 for r in rounds)
                try:
                    payload = self.guard.apply(payload, spent)
                except GuardError as error:
                    rounds[-1] = turn._replace(error=error)
                    break
        tool_runs = None if self.tools is None else [run._asdict() for run in runs]
        answer = combine(rounds, time.perf_counter() - rounds[0].started, tool_runs)
        if self.tools is not None:
            answer = answer._replace(tools_ready=ready, tool_time=tool_time)
        if journal is not None:
            if answer is not rounds[0]:
                journal.summary(answer)
            self.conversation_id = journal.conversation_id
        if self.guard is not None:
            self.guard.after(answer.cost)
        if not answer.unanswered:
            last = rounds[-1] if not ran_last else None  # else it is the last tool round
            said = Answer(
                "" if last is None else last.content,
                answer.model,
                answer.provider,
                answer.partial,
                answer.interrupted,
                None if last is None else last.reasoning,
                answer.metrics(self.comparison),
            )
            self.exchanges.append(asked._replace(answer=said, rounds=tuple(done)))
        answer = answer._replace(conversation_id=self.conversation_id)
        self.turns.append(answer)
        return answer

    def _journal(self, asked: Exchange) -> TurnJournal:
        settings = self.settings
        return journal_for(
            self.env,
            asked,
            model=settings.model,
            system=settings.system,
            conversation_id=self.conversation_id,
            comparison=self.comparison,
        )


def _round_limit(rounds: int) -> GuardError:
    return GuardError(
        f"the model still called tools after {rounds} round{'s' * (rounds != 1)}: stopped",
        "raise --max-tool-rounds, or ask for less",
    )


def debug_log(env: Environment, settings: Settings) -> Callable[[str], None] | None:
    """Where ``--debug`` lines go (stderr, through the display seam), or None."""
    if not settings.debug:
        return None

    def log(line: str) -> None:
        env.stderr.write(f"t360 debug: {env.shown(line)}\n")
        env.stderr.flush()

    return log
