"""A local Token360 stand-in: real HTTP on 127.0.0.1, real SSE framing, scenarios by model.

Used by the tests and, as ``t360 mock-server``, by anyone who wants to try t360 or test a
script offline. Standard library only: ``wire`` frames the bytes, ``scenarios``
holds the replies, ``server`` serves them. The model name picks the scenario, optionally
with an argument after a colon (``slow-first:400``); ``GET /v1/models`` lists them. Any
other model (the default ``glm-5.1``) gets a plain answer: a notice, then the prompt back.
Bodies are sent with chunked transfer encoding, each step of a scenario as its own
chunk, so tests control how the bytes are split and when the connection ends.
"""

from __future__ import annotations

from .scenarios import SCENARIOS
from .server import MockServer
from .wire import Call

__all__ = ["SCENARIOS", "Call", "MockServer"]
