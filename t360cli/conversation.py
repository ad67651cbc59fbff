"""A conversation as typed exchanges, and the one function that renders it for the API.

An ``Exchange`` keeps what the user typed apart from the text that was sent (a role's
template, -f texts laid out around it), the tool rounds of its answer (``ToolRound``:
the calls of one request and their results), and the answer with the model that gave
it, how it ended and its figures (``Metrics``). ``/retry``, ``/undo``, ``/compact``,
``/save``, the ``-c`` recap and ``history show/export`` work on exchanges; nothing parses
sent text or API messages back.

All are named tuples: cheap to define on the start-up path of every one-shot.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from .attachments import Attachment, content

DECLINED = "declined by the user"
CANCELLED = "cancelled by the user (Ctrl-C)"
#: How a result the secrets guard refused begins (the kinds found follow).
WITHHELD = "withheld by t360's secrets guard"


class ToolCall(NamedTuple):
    """A tool call the model made: its id, the function it named, and the arguments as
    the model wrote them (JSON text, unchecked)."""

    id: str
    name: str
    arguments: str
    type: str = "function"

    @classmethod
    def of(cls, call: dict[str, Any]) -> ToolCall:
        """A call as the API shapes it (a streamed answer's, or a saved one)."""
        function = call.get("function") or {}
        return cls(
            str(call.get("id") or ""),
            str(function.get("name") or ""),
            str(function.get("arguments") or ""),
            str(call.get("type") or "function"),
        )

    def as_json(self) -> dict[str, Any]:
        """The call as the API takes it back."""
        function = {"name": self.name, "arguments": self.arguments}
        return {"id": self.id, "type": self.type, "function": function}


class ToolRun(NamedTuple):
    """How one tool call ran (or why it did not): the ``tool_runs`` item of ``--json``."""

    id: str
    name: str
    server: str | None
    #: The arguments the tool got (the model's text when it is not a JSON object).
    arguments: object
    output: str | None
    error: str | None
    approved: bool
    duration_ms: float | None

    def result(self) -> ToolResult:
        """The result the model is sent for the call."""
        if self.error is not None:
            ours = self.error in (DECLINED, CANCELLED) or self.error.startswith(WITHHELD)
            text = self.error if ours else f"error: {self.error}"
        else:
            text = self.output or ""
        return ToolResult(self.id, text, self)


class ToolResult(NamedTuple):
    """The answer to one tool call: the call's id, the text the model is sent, and how
    the call ran (None when a saved record of it is unreadable)."""

    call_id: str
    content: str
    run: ToolRun | None = None

    @property
    def name(self) -> str:
        """The tool's name, as a transcript labels the result."""
        return (self.run.name if self.run is not None else "") or "tool"


class ToolRound(NamedTuple):
    """One request of an answer that called tools: its text (and reasoning), its calls,
    and their results, in call order."""

    text: str
    calls: tuple[ToolCall, ...]
    results: tuple[ToolResult, ...]
    reasoning: str | None = None


class Metrics(NamedTuple):
    """An answer's figures, as the history keeps them (its ``responses`` row): times in
    milliseconds, TTFT and latency as the user lived them (retries and their waits
    inside) and per attempt, tokens and cost as the gateway reported them."""

    #: The model asked for, and the one the gateway says answered (None: unknown).
    model: str
    served: str | None
    ttft_ms: float | None
    latency_ms: float | None
    attempt_ttft_ms: float | None
    attempt_latency_ms: float | None
    retries: int | None
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    cost: float | None
    #: The gateway reported no usage: token figures are unknown (estimated where shown).
    estimated: bool
    finish_reason: str | None
    #: Why the answer ended early (``interrupted`` for Ctrl-C), or None.
    error: str | None
    #: The comparison the answer was part of (t360 compare, /compare), or None.
    comparison: str | None = None
    #: For ``t360 cmd``: the command that ran from the answer, and its exit status.
    ran: str | None = None
    ran_status: int | None = None


class Answer(NamedTuple):
    """The text of an answer's last request (its earlier ones are the tool rounds), the
    model that gave it, whether it is whole, and its figures (None until known)."""

    content: str
    model: str | None = None
    provider: str | None = None
    partial: bool = False
    interrupted: bool = False
    reasoning: str | None = None
    metrics: Metrics | None = None


class Exchange(NamedTuple):
    """One message of the user and its answer."""

    #: What the user typed, before a role's template or -f texts shaped it.
    typed: str
    #: The text that was sent.
    sent: str
    answer: Answer = Answer("")
    #: The role whose template shaped ``sent``, or None.
    role: str | None = None
    attached: tuple[Attachment, ...] = ()
    #: -f, /file and /paste texts laid out in ``sent``, as (label, text).
    texts: tuple[tuple[str, str], ...] = ()
    #: The requests of the answer that called tools, with the results, in order.
    rounds: tuple[ToolRound, ...] = ()

    def said(self) -> str:
        """The answer's texts, from each of its requests, joined."""
        texts = [r.text for r in self.rounds if r.text]
        return "\n\n".join([*texts, self.answer.content] if self.answer.content else texts)


def question(text: str, attached: Sequence[Attachment] = ()) -> Exchange:
    """A message sent as it was typed (no role, no -f texts), not answered yet."""
    return Exchange(text, text, attached=tuple(attached))


def render(exchanges: Sequence[Exchange]) -> list[dict[str, Any]]:
    """The API messages of a conversation (the system prompt left to the caller)."""
    messages: list[dict[str, Any]] = []
    for exchange in exchanges:
        messages.append({"role": "user", "content": content(exchange.sent, exchange.attached)})
        messages += render_rounds(exchange.rounds)
        if exchange.answer.content:
            messages.append({"role": "assistant", "content": exchange.answer.content})
    return messages


def render_rounds(rounds: Sequence[ToolRound]) -> list[dict[str, Any]]:
    """The API messages of tool rounds: each request's calls, then their results."""
    messages: list[dict[str, Any]] = []
    for each in rounds:
        calls = [call.as_json() for call in each.calls]
        messages.append({"role": "assistant", "content": each.text or None, "tool_calls": calls})
        messages += [
            {"role": "tool", "tool_call_id": r.call_id, "content": r.content} for r in each.results
        ]
    return messages
