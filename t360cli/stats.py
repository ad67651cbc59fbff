"""What one turn produced and how fast: recorded from the events (``figures`` makes the
footer and the ``--json`` object of it).

Timing is what the user lived through: TTFT runs from sending the first attempt of the
request to the first event carrying answer text, reasoning text or a tool call (a
role-only chunk is not a token), so failed attempts and the waits before their retries
are inside it; latency runs from the same moment to the end of the stream. The attempt
that answered is also timed on its own (``attempt_ttft``, ``attempt_latency``): what the
gateway measures. Every ``Sent`` event is one attempt. All use the monotonic
``perf_counter`` clock.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple, TypeGuard

from .conversation import Metrics
from .errors import T360Error
from .events import Event, Finish, Meta, ReasoningDelta, Sent, TextDelta, ToolCallDelta, Usage


class _Assembling:
    """A tool call being assembled from its streamed fragments."""

    __slots__ = ("arguments", "id", "name", "type")

    def __init__(self) -> None:
        self.id: str | None = None
        self.type = "function"
        self.name = ""
        self.arguments: list[str] = []

    def as_json(self, index: int) -> dict[str, Any]:
        """The call as the API takes it back (an id made up if the model sent none:
        its result must name one)."""
        return {
            "id": self.id or f"call_{index}",
            "type": self.type,
            "function": {"name": self.name, "arguments": "".join(self.arguments)},
        }


#: Pieces joined into one block (``Pieces``).
BLOCK = 1024


class Pieces:
    """Text that arrives in many small pieces, kept as blocks of BLOCK pieces joined: a
    50,000-chunk answer holds about 50 strings, not 50,000 (a small str costs some 50
    bytes beyond its text, so a list of them grows memory with the chunks). Joining
    each block once keeps the cost linear."""

    __slots__ = ("_blocks", "_recent")

    def __init__(self) -> None:
        self._blocks: list[str] = []
        self._recent: list[str] = []

    def append(self, piece: str) -> None:  # on the per-token hot path
        recent = self._recent
        recent.append(piece)
        if len(recent) == BLOCK:
            self._blocks.append("".join(recent))
            recent.clear()

    @property
    def count(self) -> int:
        """How many pieces were appended."""
        return len(self._blocks) * BLOCK + len(self._recent)

    def text(self) -> str:
        return "".join([*self._blocks, *self._recent])


class Recorder:
    """Accumulates one turn's events. ``add`` is on the per-token hot path."""

    def __init__(self, model: str, prompt_estimate: int | None = None) -> None:
        self.requested = model
        self.model = model
        self.prompt_estimate = prompt_estimate
        self.provider: str | None = None
        self.content = Pieces()
        self.reasoning = Pieces()
        self.tool_calls: dict[int, _Assembling] = {}
        self.usage: dict[str, Any] | None = None
        self.finish_reason: str | None = None
        #: When the first attempt was sent, and the last one (the one that answered).
        self.started = self.sent = time.perf_counter()
        self.attempts = 0
        self.first: float | None = None
        self.end: float | None = None
        self.error: T360Error | None = None
        self.interrupted = False

    def add(self, event: Event) -> None:
        cls = type(event)
        if cls is TextDelta:
            if self.first is None:
                self.first = time.perf_counter()
            self.content.append(event.text)  # type: ignore[union-attr]
        elif cls is ReasoningDelta:
            if self.first is None:
                self.first = time.perf_counter()
            self.reasoning.append(event.text)  # type: ignore[union-attr]
        elif isinstance(event, ToolCallDelta):
            if self.first is None:
                self.first = time.perf_counter()
            call = self.tool_calls.setdefault(event.index, _Assembling())
            call.id = event.id or call.id
            call.type = event.type or call.type
            call.name += event.name or ""
            call.arguments.append(event.arguments)
        elif isinstance(event, Meta):
            self.model = event.model or self.model
            self.provider = event.provider or self.provider
        elif isinstance(event, Usage):
            self.usage = event.data
        elif isinstance(event, Finish):
            self.finish_reason = event.reason
        elif isinstance(event, Sent):
            self.sent = time.perf_counter()
            if not self.attempts:
                self.started = self.sent
            self.attempts += 1

    def finish(self) -> Turn:
        end = self.end if self.end is not None else time.perf_counter()
        return Turn(
            content=self.content.text(),
            reasoning=self.reasoning.text() or None,
            model=self.model,
            provider=self.provider,
            finish_reason=self.finish_reason,
            usage=self.usage,
            tool_calls=[c.as_json(i) for i, c in sorted(self.tool_calls.items())] or None,
            ttft=None if self.first is None else self.first - self.started,
            latency=end - self.started,
            retries=max(0, self.attempts - 1),
            error=self.error,
            interrupted=self.interrupted,
            requested=self.requested,
            chunks=self.content.count + self.reasoning.count,
            prompt_estimate=self.prompt_estimate,
            attempt_ttft=None if self.first is None else self.first - self.sent,
            waited=self.sent - self.started,
            started=self.started,
        )


class Turn(NamedTuple):
    """The outcome of one request: what was said, by whom, how fast, and how it ended."""

    content: str
    reasoning: str | None
    #: The model id the gateway says answered (it may resolve an alias).
    model: str
    provider: str | None
    finish_reason: str | None
    usage: dict[str, Any] | None
    tool_calls: list[dict[str, Any]] | None
    ttft: float | None
    latency: float
    retries: int = 0
    error: T360Error | None = None
    interrupted: bool = False
    conversation_id: str | None = None
    #: The model id that was asked for; None means the same as ``model``.
    requested: str | None = None
    #: Streamed chunks of text and reasoning: the estimate of output tokens without usage.
    chunks: int = 0
    #: Estimated prompt tokens: shown (as ~N) when the gateway reports no usage.
    prompt_estimate: int | None = None
    #: Interrupted by SIGTERM or SIGHUP rather than Ctrl-C: the whole run should end.
    terminated: bool = False
    #: Requests this answer took (more than one when tools ran between them).
    requests: int = 1
    #: The tool calls that were run (or declined) for this answer, as ``--json`` shows
    #: them; None when no tools were offered.
    tool_runs: list[dict[str, Any]] | None = None
    #: The text of the last request, when the answer took several (``content`` joins
    #: them all): what --schema checks.
    final: str | None = None
    #: Seconds spent generating, from each first token to each end, when the answer took
    #: several requests (the time tools ran is not generation); else latency - TTFT.
    generating: float | None = None
    #: The TTFT of the attempt that answered (of the first request), from sending it:
    #: what the gateway measures. ``ttft`` is the user's, retries and their waits inside.
    attempt_ttft: float | None = None
    #: Seconds from sending a request's first attempt to sending the one that answered
    #: (failed attempts and retry waits), summed over the answer's requests.
    waited: float = 0.0
    #: ``perf_counter`` when the first attempt of the first request was sent: the
    #: answer's clock starts there.
    started: float = 0.0
    #: Seconds the MCP servers delayed the first request (starting); None without tools.
    tools_ready: float | None = None
    #: Seconds spent on tool calls between the requests; None without tools.
    tool_time: float | None = None

    @classmethod
    def failed(cls, model: str, error: T360Error) -> Turn:
        """A turn that ended before a request could be sent."""
        return cls("", None, model, None, None, None, None, None, 0.0, error=error)

    @property
    def requested_model(self) -> str:
        return self.requested or self.model

    @property
    def partial(self) -> bool:
        return self.error is not None or self.interrupted

    @property
    def unanswered(self) -> bool:
        """It ended (failed, or was interrupted) before any text, reasoning or tool call
        arrived: nothing to keep as a turn of the conversation."""
        return self.partial and self.ttft is None

    @property
    def attempt_latency(self) -> float:
        """Latency as the gateway measures it: without failed attempts and retry waits."""
        return self.latency - self.waited

    def tokens(self, name: str) -> int | None:
        value = (self.usage or {}).get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def cost(self) -> float | None:
        usage = self.usage or {}
        for value in (usage.get("cost"), usage.get("total_cost")):
            if _number(value):
                return float(value)
        return None

    @property
    def estimated(self) -> bool:
        """True when token figures are estimates: the gateway sent no usage."""
        return self.usage is None and self.chunks > 0

    def output_tokens(self) -> int | None:
        """Completion tokens as reported, else (estimated) one per streamed chunk."""
        reported = self.tokens("completion_tokens")
        if reported is not None:
            return reported
        return self.chunks if self.estimated else None

    @property
    def tokens_per_second(self) -> float | None:
        completion = self.output_tokens()
        if completion is None or self.ttft is None:
            return None
        generating = self.latency - self.ttft if self.generating is None else self.generating
        return completion / generating if generating > 0 else None

    def metrics(self, comparison: str | None = None) -> Metrics:
        """The figures the history keeps of this answer (``comparison``: the one it was
        part of)."""
        error = "interrupted" if self.interrupted else None
        if error is None and self.error is not None:
            error = self.error.message
        return Metrics(
            self.requested_model,
            self.model,
            milliseconds(self.ttft),
            self.latency * 1000,
            milliseconds(self.attempt_ttft),
            self.attempt_latency * 1000,
            self.retries,
            self.tokens("prompt_tokens"),
            self.tokens("completion_tokens"),
            self.tokens("total_tokens"),
            self.cost,
            self.usage is None,
            self.finish_reason,
            error,
            comparison,
        )


def combine(rounds: list[Turn], latency: float, tool_runs: list[dict[str, Any]] | None) -> Turn:
    """One answer made of several requests (tools ran between them): text joined, token
    counts, cost, retries and their waits summed, the first request's TTFT (lived and
    per attempt), ``latency`` for the whole answer, and the last request's ending."""
    if len(rounds) == 1 and tool_runs is None:
        return rounds[0]
    first, last = rounds[0], rounds[-1]
    usages = [turn.usage for turn in rounds if turn.usage is not None]
    calls = [call for turn in rounds for call in turn.tool_calls or []]
    return last._replace(
        content="\n\n".join(turn.content for turn in rounds if turn.content),
        reasoning="\n\n".join(turn.reasoning for turn in rounds if turn.reasoning) or None,
        usage=_summed(usages) if usages else None,
        tool_calls=calls or None,
        ttft=first.ttft,
        attempt_ttft=first.attempt_ttft,
        started=first.started,
        latency=latency,
        retries=sum(turn.retries for turn in rounds),
        waited=sum(turn.waited for turn in rounds),
        requested=first.requested,
        chunks=sum(turn.chunks for turn in rounds),
        prompt_estimate=sum(turn.prompt_estimate or 0 for turn in rounds) or None,
        requests=len(rounds),
        tool_runs=tool_runs,
        final=last.content,
        generating=sum(turn.latency - turn.ttft for turn in rounds if turn.ttft is not None),
    )


def _summed(usages: list[dict[str, Any]]) -> dict[str, Any]:
    """Usage objects added up field by field (nested details too); other values are
    the last request's."""
    total: dict[str, Any] = {}
    for usage in usages:
        for key, value in usage.items():
            before = total.get(key)
            if _number(value) and (before is None or _number(before)):
                total[key] = (before or 0) + value
            elif isinstance(value, dict) and isinstance(before, dict):
                total[key] = _summed([before, value])
            else:
                total[key] = value
    return total


def milliseconds(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
