"""``run_turn``: the one pipeline that one-shot chat (and the REPL) call for every answer.

request -> events -> (sink, recorder) -> Turn. Errors and interruptions end the turn but
never lose what was shown: the Turn carries the partial text and the reason it stopped.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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


def run_turn(settings: Settings, payload: dict[str, Any], sink: AnswerSink) -> Turn:
    """Stream one answer into ``sink``; the Turn says what came and how it ended.

    Ctrl-C (KeyboardInterrupt) stops the stream and closes the connection at once; a
    second Ctrl-C during that clean-up exits the process immediately.
    """
    from .client import stream_chat  # httpx loads only when a request is made

    recorder = Recorder(settings.model)

    def wait(seconds: float, attempt: int, reason: T360Error) -> None:
        recorder.retries = attempt
        sink.waiting(seconds, attempt, reason.line())

    events = stream_chat(settings, payload, on_wait=wait)
    add, text, think = recorder.add, sink.text, sink.reasoning
    interrupted = False
    try:
        for event in events:
            add(event)
            cls = type(event)
            if cls is TextDelta:
                text(event.text)  # type: ignore[union-attr]
            elif cls is ReasoningDelta:
                think(event.text)  # type: ignore[union-attr]
    except T360Error as error:
        recorder.error = error
    except KeyboardInterrupt:
        interrupted = recorder.interrupted = True
    finally:
        with _second_interrupt_exits(interrupted):
            events.close()  # drops the connection, so the gateway stops generating
            recorder.end = time.perf_counter()
            sink.close()
    return recorder.finish()
