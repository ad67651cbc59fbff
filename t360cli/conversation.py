"""A conversation as typed exchanges, and the one function that renders it for the API.

An ``Exchange`` keeps what the user typed apart from the text that was sent (a role's
template, -f texts laid out around it), the tool rounds of its answer, and the answer
with the model that gave it and how it ended. ``/retry``, ``/undo``, ``/compact``,
``/save`` and the ``-c`` recap work on exchanges; nothing parses sent text back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .attachments import Attachment, content


@dataclass(frozen=True)
class Answer:
    """The text of an answer's last request (its earlier ones are the tool rounds), the
    model that gave it, and whether it is whole."""

    content: str
    model: str | None = None
    provider: str | None = None
    partial: bool = False
    interrupted: bool = False


@dataclass(frozen=True)
class Exchange:
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
    #: The answer's tool calls and their results, as API messages, in order.
    rounds: tuple[dict[str, Any], ...] = ()

    def said(self) -> str:
        """The answer's texts, from each of its requests, joined."""
        texts = [m["content"] for m in self.rounds if m["role"] == "assistant" and m["content"]]
        return "\n\n".join([*texts, self.answer.content] if self.answer.content else texts)


def question(text: str, attached: Sequence[Attachment] = ()) -> Exchange:
    """A message sent as it was typed (no role, no -f texts), not answered yet."""
    return Exchange(text, text, attached=tuple(attached))


def render(exchanges: Sequence[Exchange]) -> list[dict[str, Any]]:
    """The API messages of a conversation (the system prompt left to the caller)."""
    messages: list[dict[str, Any]] = []
    for exchange in exchanges:
        messages.append({"role": "user", "content": content(exchange.sent, exchange.attached)})
        messages += exchange.rounds
        if exchange.answer.content:
            messages.append({"role": "assistant", "content": exchange.answer.content})
    return messages
