"""Timing as the user lived it (SPEC 0.3): retries and their waits inside TTFT, tool
rounds inside latency, the answering attempt's own TTFT beside them, and how long the
tool servers and the tools took. Lower bounds only: each is at least what was waited."""

from __future__ import annotations

import json
import re
import sys

from t360cli.mockserver import MockServer
from tests.helpers import chat_env, invoke
from tests.test_mcp import HERE
from tests.test_tools import configure

#: The wait ``rate-limit-ms`` asks for before its one retry (retry-after-ms: 250).
ASKED_WAIT_MS = 250


def seconds(text: str) -> float:
    """A duration as the footer writes it (``412 ms``, ``2.41 s``), in seconds."""
    value, unit = text.split()
    return float(value) / (1000 if unit == "ms" else 1)


def test_json_ttft_is_lived_through_the_retry_and_the_attempt_s_beside_it(
    server: MockServer,
) -> None:
    result = invoke("chat", "-m", "rate-limit-ms", "--json", "hi", env=chat_env(server))
    assert result.code == 0, result.err
    obj = json.loads(result.out)
    assert obj["retries"] == 1 and obj["content"] == "hi"
    assert obj["ttft_ms"] >= ASKED_WAIT_MS
    assert obj["ttft_ms"] - obj["attempt_ttft_ms"] >= ASKED_WAIT_MS
    assert obj["latency_ms"] >= obj["ttft_ms"] > obj["attempt_ttft_ms"] > 0
    assert (obj["tools_ready_ms"], obj["tool_ms"]) == (None, None)  # no -T


def test_the_footer_shows_the_lived_ttft_with_the_retries_and_the_last_attempt_s(
    server: MockServer,
) -> None:
    result = invoke("chat", "-m", "rate-limit-ms", "hi", env=chat_env(server))
    assert result.code == 0, result.err
    found = re.search(r" · TTFT ([\d.]+ m?s) \(1 retry; ([\d.]+ m?s) on the last\) · ", result.err)
    assert found is not None, result.err
    lived, last = seconds(found[1]), seconds(found[2])
    assert lived >= ASKED_WAIT_MS / 1000 and lived > last


def test_tool_servers_and_tools_are_timed_and_inside_the_latency(server: MockServer) -> None:
    # a server that takes 3 s to start, and a tool that runs until its timeout (1 s)
    slow_start = f"sleep 3; exec {sys.executable} {HERE / 'lite_server.py'}"
    configure(test={"command": "sh", "args": ["-c", slow_start], "timeout": 1})
    result = invoke(
        "chat", "-T", "test", "-y", "--json", "-m", "tool-use:slow", "q", env=chat_env(server)
    )
    assert result.code == 0, result.err
    obj = json.loads(result.out)
    assert obj["tool_runs"][0]["error"] == "no answer within 1 s"
    assert obj["tool_ms"] >= 1000
    assert obj["latency_ms"] >= obj["tool_ms"] + obj["ttft_ms"]
    # t360 waited for it, and timed the wait (up to 2 s of start-up spent before the wait,
    # on a loaded machine, still passes)
    assert obj["tools_ready_ms"] >= 1000
    assert re.search(r" · tools ready [\d.]+ m?s", result.err), result.err
