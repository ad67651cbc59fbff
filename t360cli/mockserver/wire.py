"""The mock server's wire: chunks, SSE framing, usage, and the steps a reply is made of."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

PROVIDER = "MockProvider"
LOREM = (
    "Lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet,",
    "consectetur",
    "adipiscing",
    "elit,",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua.",
)
MARKDOWN = """# Streaming report

Here is **bold**, *italic* and `inline code` in a paragraph that runs long enough to wrap
on a narrow terminal, with a [link](https://example.com) in it.

- first item
- second item with `code`

```python
def answer() -> int:
    return 42
```

| model | ttft |
|-------|------|
| glm   | 0.4  |

> A quote to finish.
"""


class Reset:
    """Step: end the connection with a TCP reset."""


class Cut:
    """Step: close the connection in the middle of the chunked body."""


Step = bytes | float | type[Reset] | type[Cut]


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    content_type: str = "text/event-stream"
    #: Close the chunked body properly (the last chunk) after the steps.
    finish: bool = True


@dataclass
class Call:
    """One request, as the server saw it."""

    scenario: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    #: When it arrived (time.monotonic), for retry timing.
    at: float = field(default_factory=time.monotonic)


def sse(obj: object) -> bytes:
    data = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)
    return f"data: {data}\n\n".encode()


def chunk(model: str, **delta: Any) -> dict[str, Any]:
    """A chat.completion.chunk; ``finish`` and ``usage`` are taken out of ``delta``."""
    finish = delta.pop("finish", None)
    usage = delta.pop("usage", None)
    obj: dict[str, Any] = {
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": model,
        "provider": PROVIDER,
        "choices": [{"index": 0, "delta": {"role": "assistant", **delta}, "finish_reason": finish}],
    }
    if usage is not None:
        obj["usage"] = usage
    return obj


def usage_for(prompt: str, pieces: list[str]) -> dict[str, Any]:
    prompt_tokens = max(1, len(prompt.split()))
    completion = len(pieces)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
        "cost": round((prompt_tokens + 2 * completion) * 1e-6, 9),
    }


def words(text: str) -> list[str]:
    """Text cut into word-sized pieces that join back to exactly ``text``."""
    pieces: list[str] = []
    current = ""
    for ch in text:
        current += ch
        if ch in " \n":
            pieces.append(current)
            current = ""
    if current:
        pieces.append(current)
    return pieces


def stream_of(
    model: str, prompt: str, pieces: list[str], *, finish: str = "stop", delay: float = 0.0
) -> list[Step]:
    """A well-formed stream: role chunk, text chunks, finish chunk with usage, [DONE]."""
    steps: list[Step] = [sse(chunk(model, content=None))]
    for piece in pieces:
        if delay:
            steps.append(delay)
        steps.append(sse(chunk(model, content=piece)))
    steps.append(sse(chunk(model, finish=finish, usage=usage_for(prompt, pieces))))
    steps.append(sse("[DONE]"))
    return steps


def completion_of(
    model: str, prompt: str, text: str, finish: str = "stop", **message: Any
) -> bytes:
    """A non-streamed chat.completion body."""
    pieces = words(text)
    return json.dumps(
        {
            "id": "chatcmpl-mock",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": model,
            "provider": PROVIDER,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, **message},
                    "finish_reason": finish,
                }
            ],
            "usage": usage_for(prompt, pieces),
        }
    ).encode()


def lorem(count: int) -> list[str]:
    return [LOREM[i % len(LOREM)] + " " for i in range(count)]


def error_body(message: str, kind: str, code: str | int) -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "code": code}}).encode()


class Server(Protocol):
    """What a scenario may ask of the server: the calls so far."""

    calls: list[Call]

    def count(self, model: str) -> int:
        """How many calls named this exact model so far (this one included)."""
        ...
