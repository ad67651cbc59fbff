"""A turn's figures as they are shown: the one-line stats footer (``report`` prints it,
the comparison panels of ``render`` too) and the ``--json`` object of SPEC.md. ``stats``
measures; this says."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import units
from .errors import APIError

if TYPE_CHECKING:
    from .stats import Turn

#: The footer says how long the tool servers delayed the first request past this (s).
TOOLS_READY_SHOWN = 0.5


def turn_json(turn: Turn) -> dict[str, Any]:
    """The ``--json`` object of SPEC.md."""
    error = None
    if turn.error is not None:
        api = turn.error if isinstance(turn.error, APIError) else None
        error = {
            "message": turn.error.message,
            "type": (api.type if api and api.type else None) or turn.error.kind,
            "code": api.code if api else None,
            "status": api.status if api else None,
        }
    return {
        "content": turn.content,
        "reasoning": turn.reasoning,
        "model": turn.model,
        "provider": turn.provider,
        "finish_reason": turn.finish_reason,
        "usage": turn.usage,
        "tool_calls": turn.tool_calls,
        "ttft_ms": _ms(turn.ttft),
        "latency_ms": round(turn.latency * 1000, 1),
        "attempt_ttft_ms": _ms(turn.attempt_ttft),
        "retries": turn.retries,
        "tools_ready_ms": _ms(turn.tools_ready),
        "tool_ms": _ms(turn.tool_time),
        "conversation_id": turn.conversation_id,
        "tool_runs": turn.tool_runs,
        "error": error,
    }


def footer(
    turn: Turn, *, compact: bool = False, width: int = 200, extra: tuple[str, ...] = ()
) -> str:
    """The one-line stats footer, at most ``width`` columns: the least useful fields
    are dropped first, never wrapped. Unknown values say so; they are never zeros;
    estimates start with ``~``. The compact form (REPL) leaves out what the session
    already shows. A turn that failed before any text has no footer: its error line
    says it all.
    """
    if turn.error is not None and turn.ttft is None:
        return ""
    estimated = turn.estimated
    prompt = turn.tokens("prompt_tokens")
    prompt_text = units.count(prompt)
    if prompt is None and estimated and turn.prompt_estimate is not None:
        prompt_text = units.count(turn.prompt_estimate, estimate=True)
    out_text = units.count(turn.output_tokens(), estimate=estimated)
    speed = turn.tokens_per_second
    speed_text = f"{'~' if estimated else ''}{units.speed(speed)} tok/s"
    if speed is None:
        speed_text = "tok/s n/a"
    cost = turn.cost
    model = turn.model
    if turn.requested and turn.requested != turn.model:
        model = f"{turn.requested}→{turn.model}"
    failed = turn.partial
    ttft = f"TTFT {units.duration(turn.ttft)}"
    retried = ""
    if turn.retries:
        retried = f"{turn.retries} {'retry' if turn.retries == 1 else 'retries'}"
    if retried and turn.ttft is not None:  # the user's TTFT, and the gateway's
        if turn.attempt_ttft is not None:
            retried += f"; {units.duration(turn.attempt_ttft)} on the last"
        ttft, retried = f"{ttft} ({retried})", ""
    # (priority, text): the lowest priority goes first when the line is too long.
    parts: list[tuple[int, str]] = [
        (7, model) if not compact else (0, ""),
        (2, turn.provider or "provider n/a") if not compact else (0, ""),
        (9, ttft),
        (3, f"total {units.duration(turn.latency)}") if not compact else (0, ""),
        (6, speed_text),
        (5, f"{prompt_text} in/{out_text} out"),
        (8, units.cost(cost) if cost is not None else "cost n/a"),
        (1, f"finish {turn.finish_reason or 'n/a'}") if not compact else (0, ""),
    ]
    if failed:  # a partial answer: only what is known, no wall of n/a
        parts = [(p, t) for p, t in parts if "n/a" not in t]
    if retried:  # no TTFT to put them beside
        parts.append((4, retried))
    if turn.tools_ready is not None and turn.tools_ready > TOOLS_READY_SHOWN:
        parts.append((4, f"tools ready {units.duration(turn.tools_ready)}"))
    if turn.requests > 1:  # kept before speed and provider on a narrow screen
        parts.append((6, f"{turn.requests} requests"))
    if turn.tool_runs:
        calls = len(turn.tool_runs)
        parts.append((6, f"{calls} tool call{'' if calls == 1 else 's'}"))
    parts += [(4, text) for text in extra]
    if turn.interrupted:
        parts.append((10, "interrupted"))
    elif turn.error is not None:
        parts.append((10, "failed"))
    kept = [(p, t) for p, t in parts if t]
    while len(kept) > 1 and len(" · ".join(t for _, t in kept)) > width:
        kept.remove(min(kept, key=lambda item: item[0]))
    line = " · ".join(t for _, t in kept)
    return line if len(line) <= width else line[: max(1, width - 1)] + "…"


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)
