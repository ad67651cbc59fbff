"""Local guards: a request is refused, or bounded, before anything is sent.

Pure functions of the settings, what is known of the model (``modelinfo``), the spend in
the history and the request; each refusal is a GuardError (exit 6) with one line naming
the numbers and what to do.

    context   estimated prompt tokens + max_tokens > the model's context length
    budget    spend today (this month) >= budget_daily (budget_monthly), bench included
    max-cost  the prompt alone costs more than --max-cost, or prices are unknown;
              otherwise max_tokens is set (or lowered) so the worst case fits
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from . import units
from .errors import GuardError
from .modelinfo import ModelInfo


class Budget(NamedTuple):
    daily: float | None
    monthly: float | None
    spent_today: float
    spent_month: float

    def left(self) -> float | None:
        """What may still be spent now: the smaller of the two budgets' remainders."""
        left = [
            budget - spent
            for budget, spent in ((self.daily, self.spent_today), (self.monthly, self.spent_month))
            if budget is not None
        ]
        return min(left) if left else None


def day_and_month_start(now: float) -> tuple[float, float]:
    """The start of the local calendar day and month containing ``now`` (unix time)."""
    local = time.localtime(now)
    day = time.mktime((local.tm_year, local.tm_mon, local.tm_mday, 0, 0, 0, 0, 0, -1))
    month = time.mktime((local.tm_year, local.tm_mon, 1, 0, 0, 0, 0, 0, -1))
    return day, month


def check_budget(budget: Budget) -> None:
    for name, limit, spent in (
        ("budget_daily", budget.daily, budget.spent_today),
        ("budget_monthly", budget.monthly, budget.spent_month),
    ):
        if limit is not None and spent >= limit:
            period = "today" if name == "budget_daily" else "this month"
            raise GuardError(
                f"{name} of {units.cost(limit)} is spent: {units.cost(spent)} {period}",
                "nothing was sent; add --ignore-budget to send anyway, or raise the budget",
            )


def check_context(estimate: int, max_tokens: int | None, info: ModelInfo) -> None:
    """Refused when the prompt and ``--max-tokens`` do not fit the model's context (a
    prompt that alone does not fit is said so, whatever set max_tokens)."""
    if info.context_length is None:
        return
    need = estimate + (max_tokens or 0)
    if need > info.context_length:
        fits = estimate <= info.context_length
        answer = f" + {max_tokens:,} for the answer (--max-tokens)" if max_tokens and fits else ""
        raise GuardError(
            f"the prompt (about {estimate:,} tokens){answer} does not fit {info.id}'s context "
            f"of {info.context_length:,} tokens",
            "nothing was sent; shorten it, start a new conversation, or /compact in the REPL",
        )


#: The largest max_tokens sent when the model's context length is not known.
MAX_ANSWER = 2**31 - 1


class CostBound(NamedTuple):
    #: The max_tokens to send (None: leave the request without one).
    max_tokens: int | None
    #: Whether the cap lowered (or set) max_tokens.
    binds: bool


def bound_cost(
    max_cost: float, estimate: int, max_tokens: int | None, info: ModelInfo
) -> CostBound:
    """The largest ``max_tokens`` for which the worst case costs at most ``max_cost``."""
    if not info.priced:
        raise GuardError(
            f"--max-cost needs the prices of {info.id}, and they are not known",
            f"nothing was sent; run t360 models --refresh, or set price_in and price_out in "
            f'[models."{info.id}"] of the config file',
        )
    assert info.price_in is not None and info.price_out is not None
    prompt_cost = estimate * info.price_in
    if prompt_cost > max_cost:
        raise GuardError(
            f"the prompt alone (about {estimate:,} tokens) costs about {units.cost(prompt_cost)}, "
            f"more than --max-cost {units.cost(max_cost)}",
            "nothing was sent; shorten the prompt or raise --max-cost",
        )
    room = (max_cost - prompt_cost) / info.price_out if info.price_out else None
    if room is None:
        return CostBound(max_tokens or 0, False) if max_tokens else CostBound(0, False)
    # never more than the model can answer: an int a gateway takes, whatever the prices
    limit = info.context_length - estimate if info.context_length else MAX_ANSWER
    affordable = math.floor(min(room, max(limit, 1)))
    if affordable < 1:
        raise GuardError(
            f"--max-cost {units.cost(max_cost)} leaves no room for an answer after the prompt",
            "nothing was sent; raise --max-cost",
        )
    if max_tokens is not None and max_tokens <= affordable:
        return CostBound(max_tokens, False)
    return CostBound(affordable, True)


def worst_case(estimate: int, max_tokens: int | None, info: ModelInfo) -> float | None:
    """The most the request can cost, when prices and a bound on the answer are known."""
    if not info.priced:
        return None
    assert info.price_in is not None and info.price_out is not None
    answer = max_tokens if max_tokens is not None else info.context_length
    if answer is None:
        return None
    if max_tokens is None and info.context_length is not None:
        answer = max(0, info.context_length - estimate)
    return round(estimate * info.price_in + answer * info.price_out, 9)


class Guard:
    """The guards of one run, applied to every request before it is sent (one-shot and
    each REPL turn). What it needs from outside comes as functions: what is known of a
    model, and the spend so far (None when no budget is set)."""

    def __init__(
        self,
        info: Callable[[str], ModelInfo],
        budget: Callable[[], Budget] | None,
        max_cost: float | None,
        warn: Callable[[str], None],
    ) -> None:
        self.info = info
        self.budget = budget
        self.max_cost = max_cost
        self.warn = warn

    def apply(self, payload: dict[str, Any], spent: float = 0.0) -> dict[str, Any]:
        """``payload``, checked and bounded; a GuardError if it must not be sent.
        ``spent``: what the earlier requests of the same answer cost (tool rounds), taken
        from what --max-cost allows."""
        from .request import estimate_tokens

        if self.budget is not None:
            check_budget(self.budget())
        estimate = estimate_tokens(payload["messages"])
        info = self.info(str(payload["model"]))
        if self.max_cost is not None:
            if info.ignored:
                self.warn(
                    f"the gateway's {' and '.join(info.ignored)} for {info.id} cannot be true "
                    f'and were ignored; set them in [models."{info.id}"] of the config file'
                )
            allowed = self.max_cost - spent
            bound = bound_cost(allowed, estimate, payload.get("max_tokens"), info)
            if bound.binds and bound.max_tokens is not None:
                payload = {**payload, "max_tokens": bound.max_tokens}
                tokens = bound.max_tokens
                self.warn(
                    f"--max-cost {units.cost(self.max_cost)} limits the answer to "
                    f"{tokens:,} token{'s' * (tokens != 1)} (max_tokens)"
                )
        check_context(estimate, payload.get("max_tokens"), info)
        return payload

    def fits(self, payload: dict[str, Any]) -> bool:
        """Whether ``payload`` fits its model's context, as ``apply`` checks it."""
        from .request import estimate_tokens

        estimate = estimate_tokens(payload["messages"])
        try:
            check_context(estimate, payload.get("max_tokens"), self.info(str(payload["model"])))
        except GuardError:
            return False
        return True

    def notes(self, payload: dict[str, Any] | None = None) -> tuple[str, ...]:
        """Footer fields: the budget left, when one is set; with the next request's
        ``payload`` (the REPL), how full the context is once past half."""
        from .request import estimate_tokens

        found: list[str] = []
        if self.budget is not None:
            left = self.budget().left()
            if left is not None:
                found.append(f"budget {units.cost(max(0.0, left))} left")
        if payload is not None:
            length = self.info(str(payload["model"])).context_length
            if length:
                used = estimate_tokens(payload["messages"]) / length
                if used > 0.5:
                    found.append(f"context {used:.0%} full")
        return tuple(found)

    def after(self, cost: float | None) -> None:
        """A reported cost over the cap (the estimate was low) is said, not hidden."""
        if self.max_cost is not None and cost is not None and cost > self.max_cost:
            self.warn(
                f"the gateway reports {units.cost(cost)}, over --max-cost "
                f"{units.cost(self.max_cost)}: the prompt estimate was low"
            )
