"""What one turn produced and how fast: recorded from the events, shown as footer or JSON.

TTFT is measured from sending the request (of the attempt that answered) to the first
event carrying answer text, reasoning text or a tool call; a role-only chunk is not a
token. Latency runs from sending the request to the end of the stream. Both use the
monotonic ``perf_counter`` clock.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

from .errors import APIError, T360Error
from .events import Event, Finish, Meta, ReasoningDelta, Sent, TextDelta, ToolCallDelta, Usage


class ToolCall:
    """A tool call being assembled from its streamed fragments."""

    __slots__ = ("arguments", "id", "name", "type")

    def __init__(self) -> None:
        self.id: str | None = None
        self.type = "function"
        self.name = ""
        self.arguments: list[str] = []

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "function": {"name": self.name, "arguments": "".join(self.arguments)},
        }


class Recorder:
    """Accumulates one turn's events. ``add`` is on the per-token hot path."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.provider: str | None = None
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.tool_calls: dict[int, ToolCall] = {}
        self.usage: dict[str, Any] | None = None
        self.finish_reason: str | None = None
        self.sent: float = time.perf_counter()
        self.first: float | None = None
        self.end: float | None = None
        self.retries = 0
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
            call = self.tool_calls.setdefault(event.index, ToolCall())
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

    def finish(self) -> Turn:
        end = self.end if self.end is not None else time.perf_counter()
        return Turn(
            content="".join(self.content),
            reasoning="".join(self.reasoning) or None,
            model=self.model,
            provider=self.provider,
            finish_reason=self.finish_reason,
            usage=self.usage,
            tool_calls=[c.as_json() for _, c in sorted(self.tool_calls.items())] or None,
            ttft=None if self.first is None else self.first - self.sent,
            latency=end - self.sent,
            retries=self.retries,
            error=self.error,
            interrupted=self.interrupted,
        )


class Turn(NamedTuple):
    """The outcome of one request: what was said, by whom, how fast, and how it ended."""

    content: str
    reasoning: str | None
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

    @property
    def partial(self) -> bool:
        return self.error is not None or self.interrupted

    def tokens(self, name: str) -> int | None:
        value = (self.usage or {}).get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def cost(self) -> float | None:
        usage = self.usage or {}
        for value in (usage.get("cost"), usage.get("total_cost")):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
        return None

    @property
    def tokens_per_second(self) -> float | None:
        completion = self.tokens("completion_tokens")
        if completion is None or self.ttft is None:
            return None
        generating = self.latency - self.ttft
        return completion / generating if generating > 0 else None

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` object of SPEC.md."""
        error = None
        if self.error is not None:
            api = self.error if isinstance(self.error, APIError) else None
            error = {
                "message": self.error.message,
                "type": (api.type if api and api.type else None) or self.error.kind,
                "code": api.code if api else None,
                "status": api.status if api else None,
            }
        return {
            "content": self.content,
            "reasoning": self.reasoning,
            "model": self.model,
            "provider": self.provider,
            "finish_reason": self.finish_reason,
            "usage": self.usage,
            "tool_calls": self.tool_calls,
            "ttft_ms": None if self.ttft is None else round(self.ttft * 1000, 1),
            "latency_ms": round(self.latency * 1000, 1),
            "conversation_id": self.conversation_id,
            "error": error,
        }

    def footer(self, *, compact: bool = False) -> str:
        """The one-line stats footer. Unknown values say so; they are never zeros.

        The compact form (for the REPL) leaves out what the session already shows.
        """
        na = "n/a"
        prompt, completion = self.tokens("prompt_tokens"), self.tokens("completion_tokens")
        speed = self.tokens_per_second
        cost = self.cost
        speed_text = (
            f"tok/s {na}" if speed is None else f"{speed:.{0 if speed >= 100 else 1}f} tok/s"
        )
        cost_text = f"${cost:.6f}".rstrip("0").rstrip(".") if cost is not None else f"cost {na}"
        if compact:
            parts = [
                f"TTFT {_duration(self.ttft)}",
                speed_text,
                f"{_count(prompt)} in/{_count(completion)} out",
                cost_text,
            ]
        else:
            parts = [
                self.model,
                self.provider or f"provider {na}",
                f"TTFT {_duration(self.ttft)}",
                f"total {_duration(self.latency)}",
                speed_text,
                f"{_count(prompt)} in/{_count(completion)} out",
                cost_text,
                f"finish {self.finish_reason or na}",
            ]
        if self.retries:
            parts.append(f"{self.retries} {'retry' if self.retries == 1 else 'retries'}")
        if self.interrupted:
            parts.append("interrupted")
        elif self.error is not None:
            parts.append("failed")
        return " · ".join(parts)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _count(value: int | None) -> str:
    return "n/a" if value is None else f"{value:,}"
