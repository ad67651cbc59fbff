"""One message to several models at once (``t360 compare``, the REPL's ``/compare``).

Each model answers in a ``Chat`` of its own, continuing the same messages, on a thread of
its own; the chats share one ``Gateway`` whose pool holds a connection per model, so
every request is in flight at once, and each goes through the one pipeline
(``Chat.ask``): streamed into a sink, saved to a conversation of its own as it arrives
(tagged with the comparison's id), remembered.

What the user sees is a ``View``: live columns on a terminal (``render.Columns``), the
answers in the order given in a pipe (``Ordered``), nothing until the end for --json
(``Silent``). The threads stream into the view's sinks while the main thread follows
it, so Ctrl-C reaches the main thread there: it stops every answer (``Gateway.interrupt``
cuts their connections; a retry's wait ends), and what arrived is kept and saved.

Guards see the comparison as a whole, once, before anything is sent: the budgets are
checked once, the context length per model, and --max-cost is split evenly between the
models, so that the worst cases add up to at most the amount given.
"""

from __future__ import annotations

import contextlib
import io
import secrets
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from . import units
from .errors import ConfigError, ExitCode, GuardError, T360Error, Terminated
from .guards import Guard
from .report import outcome, report_turn
from .safety import sanitize
from .session import Chat, open_history
from .stats import Turn
from .terminal import ViewSink

if TYPE_CHECKING:
    from typing import Protocol

    from .client import Gateway
    from .config import Settings
    from .conversation import Exchange
    from .environment import Environment
    from .request import RequestOptions
    from .terminal import AnswerSink

    class View(Protocol):
        """Where the answers of a comparison are shown. ``sink`` and ``finished`` are
        called on the answers' threads, ``follow`` and ``close`` on the main one. A
        sink's ``waiting`` only shows the wait before a retry: the comparison waits."""

        def sink(self, index: int) -> AnswerSink: ...

        def finished(self, index: int, turn: Turn) -> None: ...

        def follow(self, done: threading.Event) -> None:
            """Show the answers as they come, until ``done`` is set."""

        def close(self, turns: Sequence[Turn | None]) -> None:
            """The end: what the answers became (None for one still running when a
            second Ctrl-C left at once)."""


#: The fewest models a comparison takes.
FEWEST = 2


class Result:
    """How a comparison ended: each model's turn, in the order given, and whether Ctrl-C
    (or SIGTERM, SIGHUP: ``terminated``) stopped it."""

    def __init__(self, turns: list[Turn], interrupted: bool, terminated: bool) -> None:
        self.turns = turns
        self.interrupted = interrupted
        self.terminated = terminated

    def exit_code(self) -> ExitCode:
        """130 when interrupted; else the code of the first model that failed, in the
        order given; 0 when every answer succeeded."""
        if self.interrupted:
            return ExitCode.INTERRUPTED
        codes = (outcome(turn) for turn in self.turns)
        return next((code for code in codes if code is not ExitCode.OK), ExitCode.OK)


class Comparison:
    """A chat per model, each continuing ``exchanges`` with ``settings`` (the model
    aside), all on ``gateway`` (None: a comparison only previewed, --dry-run), saved as
    one comparison (``id``)."""

    def __init__(
        self,
        env: Environment,
        settings: Settings,
        request: RequestOptions,
        models: Sequence[str],
        gateway: Gateway | None,
        *,
        save: bool,
        exchanges: Sequence[Exchange] = (),
    ) -> None:
        self.id = secrets.token_hex(4)
        # What the chats would write to stderr while the view shows the answers (a
        # history that fails) is held, and said once the view has closed.
        self._held = _Held(env.stderr)
        held = env._replace(stderr=self._held)
        self.chats: list[Chat] = []
        for model in models:
            chat = Chat(
                held,
                settings._replace(model=model),
                request,
                save=save,
                exchanges=list(exchanges),
                gateway=gateway,
            )
            chat.comparison = self.id
            self.chats.append(chat)

    @property
    def models(self) -> list[str]:
        return [chat.settings.model for chat in self.chats]

    def guards(self, guard: Guard, warn: Callable[[str], None]) -> None:
        """Each chat's share of ``guard``: the same budgets and context checks, an even
        share of --max-cost (so the worst cases add up to at most the amount given),
        warnings that name the model."""
        count = len(self.chats)
        cap = None if guard.max_cost is None else guard.max_cost / count
        if cap is not None:
            warn(f"--max-cost {units.cost(guard.max_cost)} is split: {units.cost(cap)} a model")
        for chat in self.chats:
            model = chat.settings.model
            chat.guard = Guard(guard.info, guard.budget, cap, _naming(warn, model))

    def prepare(self, asked: Exchange) -> None:
        """Every chat's guard applied, before anything is sent: the first refusal
        raises (nothing sent); a bound is kept in the chat's request options. The chats
        then ask without a guard: each has run, once, for the comparison as a whole."""
        for chat in self.chats:
            if chat.guard is None:
                continue
            try:
                payload = chat.guard.apply(chat.payload(asked.sent, asked.attached))
            except GuardError as error:
                error.message = f"{chat.settings.model}: {error.message}"
                raise
            if payload.get("max_tokens") is not None:
                chat.request = chat.request._replace(max_tokens=payload["max_tokens"])
            chat.guard = None

    def close(self) -> None:
        """The connection the chats share, closed."""
        self.chats[0].close()

    def run(self, asked: Exchange, view: View) -> Result:
        """Ask every chat at once, each on a thread, into ``view``; an error in one never
        stops the others. Ctrl-C stops them all, keeping what arrived; a second one
        leaves at once (the threads, daemons, end with the process)."""
        gateway = self.chats[0].gateway  # the one they share
        turns: list[Turn | None] = [None] * len(self.chats)
        done, stopped = threading.Event(), threading.Event()
        lock = threading.Lock()
        raised: list[BaseException] = []

        def answer(index: int) -> None:
            chat = self.chats[index]
            turn = _stopped(chat.settings.model)  # unless it ends otherwise
            try:
                try:
                    turn = chat.ask(asked, lambda: _Stoppable(view.sink(index), stopped))
                except T360Error as error:  # refused before its request was sent
                    turn = Turn.failed(chat.settings.model, error)
                view.finished(index, turn)
            except BaseException as exc:  # a closed stdout, or a bug: raised by run
                raised.append(exc)
                stopped.set()
                gateway.interrupt()  # the others stop too
            finally:
                with lock:
                    turns[index] = turn
                    if all(t is not None for t in turns):
                        done.set()

        if self.chats[0].save:  # created or migrated here, not by threads racing to it
            with contextlib.suppress(ConfigError):  # each answer says it cannot be saved
                open_history(self.chats[0].env.paths.history_db)().close()
        for index in range(len(self.chats)):
            name = f"t360-compare-{index}"
            threading.Thread(target=answer, args=(index,), name=name, daemon=True).start()
        interrupted = terminated = False
        try:
            try:
                view.follow(done)
            except KeyboardInterrupt as stop:
                interrupted, terminated = True, isinstance(stop, Terminated)
                stopped.set()
                gateway.interrupt()
                view.follow(done)
        finally:
            view.close(turns)
            self._held.replay()
        if raised:
            raise raised[0]
        ended = [turn for turn in turns if turn is not None]
        if terminated:
            ended = [t._replace(terminated=True) if t.interrupted else t for t in ended]
        return Result(ended, interrupted, terminated)


def _naming(warn: Callable[[str], None], model: str) -> Callable[[str], None]:
    return lambda line: warn(f"{model}: {line}")


def _stopped(model: str) -> Turn:
    """The turn of an answer stopped before anything of it was sent or shown."""
    return Turn("", None, model, None, None, None, None, None, 0.0, interrupted=True)


class _Held(io.StringIO):
    """A stream that keeps what is written to it until ``replay`` writes it to
    ``target`` (thread-safe: each write is one call)."""

    def __init__(self, target: Any) -> None:
        super().__init__()
        self._target = target
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            return super().write(text)

    def replay(self) -> None:
        with self._lock:
            text = self.getvalue()
            self.seek(0)
            self.truncate()
        if text:
            self._target.write(text)
            self._target.flush()


class _Stoppable:
    """A view's sink that ends its answer as Ctrl-C would, once the comparison is
    stopped: at its next text, or during the wait before a retry (which it does)."""

    def __init__(self, inner: AnswerSink, stopped: threading.Event) -> None:
        self._inner = inner
        self._stopped = stopped

    def started(self, model: str) -> None:
        self._inner.started(model)

    def text(self, text: str) -> None:
        if self._stopped.is_set():
            raise KeyboardInterrupt
        self._inner.text(text)

    def reasoning(self, text: str) -> None:
        if self._stopped.is_set():
            raise KeyboardInterrupt
        self._inner.reasoning(text)

    def waiting(self, seconds: float, attempt: int, reason: str) -> None:
        self._inner.waiting(seconds, attempt, reason)
        if self._stopped.wait(seconds):
            raise KeyboardInterrupt

    def close(self) -> None:
        self._inner.close()


def view_for(env: Environment, models: Sequence[str], *, json_out: bool, quiet: bool) -> View:
    """Live columns on a terminal that can take them, the answers in order elsewhere,
    nothing until the end for --json."""
    if json_out:
        return Silent(env, models, quiet=quiet)
    if env.stdout_isatty and not env.dumb:
        from .render import Columns  # rich loads only for a terminal

        return Columns(env, models, quiet=quiet)
    return Ordered(env, models, quiet=quiet)


def report_ranking(
    env: Environment, models: Sequence[str], result: Result, extra: tuple[str, ...] = ()
) -> None:
    """The line that ranks the answers (with ``extra`` fields such as the budget left),
    on stderr."""
    line = " · ".join([ranking(models, result.turns), *extra])
    env.stderr.write(env.style(env.shown(line), "2") + "\n")
    env.stderr.flush()


def ranking(models: Sequence[str], turns: Sequence[Turn]) -> str:
    """One line: the fastest first token, the fastest total and the cheapest among the
    answers that completed, then how each ended."""
    complete = [
        (model, turn) for model, turn in zip(models, turns, strict=True) if not turn.partial
    ]
    measures: list[tuple[str, Callable[[Turn], float | None], Callable[[float], str]]] = [
        ("fastest first token", lambda turn: turn.ttft, units.duration),
        ("fastest total", lambda turn: turn.latency, units.duration),
        ("cheapest", lambda turn: turn.cost, units.cost),
    ]
    parts = []
    for label, measure, shown in measures:
        known = [(value, model) for model, turn in complete if (value := measure(turn)) is not None]
        best = min(known, key=lambda item: item[0], default=None)
        parts.append(f"{label}: {best[1]} {shown(best[0])}" if best else f"{label}: n/a")
    endings = ", ".join(
        f"{model} {_ending(turn)}" for model, turn in zip(models, turns, strict=True)
    )
    return " · ".join([*parts, f"finish: {endings}"])


def _ending(turn: Turn) -> str:
    """How an answer ended, in a word: interrupted, failed, or its finish reason."""
    if turn.interrupted:
        return "interrupted"
    if turn.error is not None:
        return "failed"
    return turn.finish_reason or "n/a"


# -- the views that need no rich ---------------------------------------------------------


class Silent:
    """--json: nothing shows while the answers stream but the waits before retries; each
    answer's stats line is said on stderr at the end, in the order given, as
    ``chat --json`` says its own."""

    def __init__(self, env: Environment, models: Sequence[str], *, quiet: bool) -> None:
        self.env = env
        self.models = models
        self.quiet = quiet

    def sink(self, index: int) -> AnswerSink:
        return ViewSink(self, index)

    def add(self, index: int, text: str) -> None:
        pass

    def thinking(self, index: int) -> None:
        pass  # never on stdout; --json carries it

    def waiting(self, index: int, seconds: float, attempt: int, reason: str) -> None:
        _retrying(self.env, self.models[index], seconds, attempt, reason, quiet=self.quiet)

    def finished(self, index: int, turn: Turn) -> None:
        pass

    def follow(self, done: threading.Event) -> None:
        done.wait()

    def close(self, turns: Sequence[Turn | None]) -> None:
        for model, turn in zip(self.models, turns, strict=True):
            if turn is not None:
                report_turn(self.env, turn, quiet=self.quiet, model=model)


def _retrying(
    env: Environment, model: str, seconds: float, attempt: int, reason: str, *, quiet: bool
) -> None:
    """The notice of a wait before a retry, on stderr (unless quiet)."""
    if not quiet:
        env.warn(f"{model}: {reason}; retry {attempt} in {seconds:.1f} s")


class Ordered:
    """A pipe (or a terminal without live rendering): each answer in full under a line
    ``== MODEL ==``, in the order given. The answer being written streams as it
    arrives, chunk by chunk; the others are held until their turn, then written at once
    and streamed on. Each answer's stats line goes to stderr once it is written out.
    On a terminal the text is made safe; in a pipe it is exact."""

    def __init__(self, env: Environment, models: Sequence[str], *, quiet: bool) -> None:
        self.env = env
        self.models = models
        self.quiet = quiet
        self._out = getattr(env.stdout, "buffer", None)
        self._lock = threading.Lock()
        self._held: list[list[str]] = [[] for _ in models]
        self._turns: list[Turn | None] = [None] * len(models)
        self._current = -1  # the answer being written out
        self._last = ""  # the last text written of it

    def sink(self, index: int) -> AnswerSink:
        return ViewSink(self, index)

    def add(self, index: int, text: str) -> None:
        with self._lock:
            if index == self._current:
                self._write(text)
            else:
                self._held[index].append(text)

    def thinking(self, index: int) -> None:
        pass  # never on stdout; --json carries it

    def waiting(self, index: int, seconds: float, attempt: int, reason: str) -> None:
        _retrying(self.env, self.models[index], seconds, attempt, reason, quiet=self.quiet)

    def finished(self, index: int, turn: Turn) -> None:
        with self._lock:
            self._turns[index] = turn
            self._advance()

    def follow(self, done: threading.Event) -> None:
        with self._lock:
            self._advance()
        done.wait()

    def close(self, turns: Sequence[Turn | None]) -> None:
        pass  # each answer was written out, and its stats said, as it ended

    def _advance(self) -> None:
        """Write out every answer whose turn has come: the next one's header and what
        it holds, as long as the one before has ended."""
        while self._current < len(self.models):
            if self._current >= 0:
                turn = self._turns[self._current]
                if turn is None:
                    return
                if self._last and not self._last.endswith("\n"):
                    self._write("\n")
                report_turn(self.env, turn, quiet=self.quiet, model=self.models[self._current])
            self._current += 1
            if self._current < len(self.models):
                self._last = ""
                self._write(f"== {self.models[self._current]} ==\n", answer=False)
                for text in self._held[self._current]:
                    self._write(text)
                self._held[self._current] = []

    def _write(self, text: str, *, answer: bool = True) -> None:
        if self.env.stdout_isatty:
            text = sanitize(text)
        if answer:
            self._last = text
        if self._out is not None:
            self._out.write(text.encode("utf-8", "surrogateescape"))
            self._out.flush()
        else:
            self.env.stdout.write(text)
            self.env.stdout.flush()
