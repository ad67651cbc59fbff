"""``run_turn``: the one pipeline that one-shot chat (and the REPL) call for every answer.

request -> events -> (sink, recorder) -> Turn. Errors and interruptions end the turn but
never lose what was shown: the Turn carries the partial text and the reason it stopped.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from .config import Settings
from .errors import T360Error
from .events import ReasoningDelta, TextDelta
from .stats import Recorder, Turn
from .terminal import AnswerSink


def build_payload(
    settings: Settings,
    messages: list[dict[str, Any]],
    *,
    temperature: float | None = None,
    max_tokens: int | None = None,
    options: dict[str, Any] | None = None,
    stream: bool = True,
) -> dict[str, Any]:
    """The request body. Extra ``-o`` fields come first, so named flags win over them."""
    payload: dict[str, Any] = dict(options or {})
    payload["model"] = settings.model
    payload["messages"] = messages
    if temperature is not None:
        payload["temperature"] = temperature
    if max_tokens is not None:
        payload["max_tokens"] = max_tokens
    payload["stream"] = stream
    if stream:
        payload["stream_options"] = {**payload.get("stream_options", {}), "include_usage": True}
    else:
        payload.pop("stream_options", None)
    return payload


def _exit_now(signum: int, frame: object) -> None:
    """A second Ctrl-C while cleaning up: leave at once, cursor restored."""
    if sys.stdout.isatty():
        os.write(sys.stdout.fileno(), b"\x1b[?25h\n")
    os._exit(130)


@contextmanager
def _second_interrupt_exits(armed: bool) -> Iterator[None]:
    if not armed:
        yield
        return
    try:
        previous = signal.signal(signal.SIGINT, _exit_now)
    except ValueError:  # not the main thread: nothing to arm
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class Journal(Protocol):
    """Where a turn is saved while it streams (``history.TurnJournal``)."""

    def progress(self, content: list[str], reasoning: list[str]) -> None: ...

    def finish(self, turn: Turn) -> None: ...


def run_turn(
    settings: Settings,
    payload: dict[str, Any],
    sink: AnswerSink,
    journal: Journal | None = None,
) -> Turn:
    """Stream one answer into ``sink`` (and ``journal``); the Turn says how it ended.

    Ctrl-C (KeyboardInterrupt) stops the stream and closes the connection at once; a
    second Ctrl-C during that clean-up exits the process immediately. A reader closing
    the pipe ends the turn as interrupted, saved, and BrokenPipeError is re-raised.
    """
    from .client import stream_chat  # httpx loads only when a request is made

    recorder = Recorder(settings.model)

    def wait(seconds: float, attempt: int, reason: T360Error) -> None:
        recorder.retries = attempt
        sink.waiting(seconds, attempt, reason.line())

    events = stream_chat(settings, payload, on_wait=wait)
    add, text, think = recorder.add, sink.text, sink.reasoning
    progress = journal.progress if journal is not None else None
    content, reasoning = recorder.content, recorder.reasoning
    interrupted = pipe_closed = False
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
    except KeyboardInterrupt:
        interrupted = recorder.interrupted = True
    except BrokenPipeError:
        pipe_closed = recorder.interrupted = True
    finally:
        with _second_interrupt_exits(interrupted):
            events.close()  # drops the connection, so the gateway stops generating
            recorder.end = time.perf_counter()
            turn = recorder.finish()
            if journal is not None:
                journal.finish(turn)
            if not pipe_closed:
                sink.close()
    if pipe_closed:
        raise BrokenPipeError
    return turn


@dataclass
class Chat:
    """A conversation in progress: what has been said, and where it is saved.

    One-shot runs and the REPL both ask through ``Chat.ask``, so a turn is requested,
    rendered, saved and remembered the same way everywhere.
    """

    settings: Settings
    temperature: float | None = None
    max_tokens: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    stream: bool = True
    save: bool = True
    conversation_id: str | None = None
    #: The conversation so far, without the system prompt (it lives in settings).
    messages: list[dict[str, Any]] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)

    def payload(self, user: str) -> dict[str, Any]:
        messages: list[dict[str, Any]] = []
        if self.settings.system:
            messages.append({"role": "system", "content": self.settings.system})
        messages += self.messages
        messages.append({"role": "user", "content": user})
        return build_payload(
            self.settings,
            messages,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            options=self.options,
            stream=self.stream,
        )

    def ask(self, user: str, sink: AnswerSink, warn: Callable[[str], None]) -> Turn:
        """One turn: stream the answer, save it, and remember it (partial text included)."""
        journal = None
        if self.save:
            from .history import History, TurnJournal  # sqlite3 loads only to save

            journal = TurnJournal(
                History.open,
                self.conversation_id,
                user,
                model=self.settings.model,
                system=self.settings.system,
                warn=warn,
            )
        turn = run_turn(self.settings, self.payload(user), sink, journal)
        if journal is not None:
            self.conversation_id = journal.conversation_id
        self.messages.append({"role": "user", "content": user})
        if turn.content:
            self.messages.append({"role": "assistant", "content": turn.content})
        turn = replace(turn, conversation_id=self.conversation_id)
        self.turns.append(turn)
        return turn
