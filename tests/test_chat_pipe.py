"""`t360 chat` end to end in real pipes against the stand-in server."""

from __future__ import annotations

import json
import re

import pytest

from t360cli.mockserver import MockServer
from tests.helpers import KEY, chat_env, invoke, refused_port, run_t360


def test_one_shot_streams_the_answer_to_stdout_and_stats_to_stderr(server: MockServer) -> None:
    result = run_t360("chat", "-m", "echo", "Write a haiku", env=chat_env(server))
    assert result.code == 0, result.err
    assert result.out == "Write a haiku\n"
    footer = result.err.strip().splitlines()[-1]
    for part in (
        "echo",
        "MockProvider",
        "TTFT",
        "tok/s",
        "3 in/3 out",
        "$0.000009",
        "finish stop",
    ):
        assert part in footer
    assert "\x1b" not in result.out + result.err  # no ANSI anywhere when piped


def test_request_carries_flags_system_and_options(server: MockServer) -> None:
    result = run_t360(
        "chat",
        "-m",
        "echo",
        "-s",
        "Be brief.",
        "--temperature",
        "0.2",
        "--max-tokens",
        "50",
        "-o",
        "top_p=0.9",
        "-o",
        'stop=["x"]',
        "-o",
        "user=alice",
        "hello",
        env=chat_env(server),
    )
    assert result.code == 0, result.err
    body = server.calls[-1].body
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello"},
    ]
    assert (body["temperature"], body["max_tokens"], body["top_p"], body["stop"], body["user"]) == (
        0.2,
        50,
        0.9,
        ["x"],
        "alice",
    )
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert server.calls[-1].headers["authorization"] == f"Bearer {KEY}"


def test_quiet_hides_the_footer(server: MockServer) -> None:
    result = run_t360("chat", "-q", "-m", "echo", "hi", env=chat_env(server))
    assert (result.code, result.out, result.err) == (0, "hi\n", "")


def test_no_stream_asks_for_a_whole_completion(server: MockServer) -> None:
    result = run_t360("chat", "--no-stream", "-m", "echo", "all at once", env=chat_env(server))
    assert (result.code, result.out) == (0, "all at once\n")
    assert server.calls[-1].body["stream"] is False
    assert "stream_options" not in server.calls[-1].body


@pytest.mark.parametrize(
    ("model", "out"),
    [
        ("reasoning", "The answer is 42.\n"),
        ("reasoning-content", "Done.\n"),
        ("usage-separate", "Usage comes last.\n"),
        ("odd-shapes", "odd shapes\n"),
        ("bom", "BOM handled.\n"),
        ("split", "héllo wörld ✓ 🎉 done\n"),
        ("json", "hi\n"),
        ("keepalive:300", "still here\n"),
    ],
)
def test_stream_shapes(server: MockServer, model: str, out: str) -> None:
    result = run_t360("chat", "-m", model, "hi", env=chat_env(server))
    assert (result.code, result.out) == (0, out), result.err


def test_reasoning_never_reaches_stdout(server: MockServer) -> None:
    result = run_t360("chat", "-m", "reasoning", "--json", "hi", env=chat_env(server))
    obj = json.loads(result.out)
    assert obj["content"] == "The answer is 42." and obj["reasoning"] == "Let me think. "


def test_piped_output_is_byte_exact_even_with_escape_sequences(server: MockServer) -> None:
    result = run_t360("chat", "-m", "escape", "hi", env=chat_env(server))
    assert result.code == 0
    assert b"\x1b[2J\x1b[H" in result.stdout and b"\x1b]52;c;" in result.stdout
    assert result.stdout.endswith(b" end\n") and not result.stdout.endswith(b"\n\n")


def test_length_finish_prints_a_notice_and_succeeds(server: MockServer) -> None:
    result = run_t360("chat", "-m", "length", "hi", env=chat_env(server))
    assert result.code == 0
    assert "the answer was cut" in result.err and "finish length" in result.err


def test_tool_calls_are_shown_and_in_json(server: MockServer) -> None:
    result = run_t360("chat", "-m", "tools", "weather?", env=chat_env(server))
    assert result.code == 0 and result.out == ""
    assert 'tool call: get_weather({"city": "Paris"})' in result.err
    obj = json.loads(run_t360("chat", "-m", "tools", "--json", "w", env=chat_env(server)).out)
    assert obj["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        }
    ]
    assert obj["finish_reason"] == "tool_calls"


def test_missing_values_are_unavailable_not_zero(server: MockServer) -> None:
    """Without usage (llama.cpp), tokens and speed are estimated from the streamed chunks
    and marked with ~; what cannot be estimated says n/a; --json keeps usage null."""
    result = invoke("chat", "-m", "no-usage", "hi", env=chat_env(server))
    footer = result.err.strip().splitlines()[-1]
    assert "provider n/a" in footer and "cost n/a" in footer
    assert "~3 out" in footer  # "No usage here." came in three chunks
    assert re.search(r"~\d+ in/", footer) and re.search(r"~[\d.,]+ tok/s", footer)
    assert " 0 " not in footer
    as_json = invoke("chat", "-m", "no-usage", "--json", "hi", env=chat_env(server))
    assert json.loads(as_json.out)["usage"] is None


def test_json_object_on_success(server: MockServer) -> None:
    result = run_t360("chat", "-m", "echo", "--json", "json please", env=chat_env(server))
    assert result.code == 0
    obj = json.loads(result.out)
    assert set(obj) == {
        "content",
        "reasoning",
        "model",
        "provider",
        "finish_reason",
        "usage",
        "tool_calls",
        "ttft_ms",
        "latency_ms",
        "attempt_ttft_ms",
        "retries",
        "tools_ready_ms",
        "tool_ms",
        "conversation_id",
        "tool_runs",
        "error",
    }
    assert obj["tool_runs"] is None  # no -T: no tools offered
    assert obj["content"] == "json please" and obj["provider"] == "MockProvider"
    assert obj["usage"] == {
        "prompt_tokens": 2,
        "completion_tokens": 2,
        "total_tokens": 4,
        "cost": 6e-06,
    }
    assert obj["error"] is None and obj["finish_reason"] == "stop"
    assert 0 < obj["ttft_ms"] <= obj["latency_ms"]


@pytest.mark.parametrize(
    ("model", "code", "partial", "message"),
    [
        ("error-mid", 4, "Partial answer ", "Rate limit exceeded"),
        ("error-openrouter", 4, "Partial answer ", "Provider returned error"),
        ("invalid-json", 4, "Before garbage ", "not JSON: '{\"choices\": [ this is not json'"),
        ("non-object", 4, "x", "not an object: '[1, 2, 3]'"),
        ("truncated", 4, "This answer is cut ", "ended before the answer was complete"),
        ("drop", 5, "Dropped after this ", "lost"),
        ("reset", 5, "Reset after this ", "lost"),
        ("no-newline:17", 4, "", "longer than 16 MiB without a line break"),
        ("html-502", 4, "", "HTTP 502 from the gateway: Bad Gateway: '<html>"),
        ("empty-503", 4, "", "HTTP 503 from the gateway: Service Unavailable (empty body)"),
        ("status:404", 4, "", "HTTP 404"),
        ("status:401", 3, "", "HTTP 401"),
        ("status:403", 3, "", "HTTP 403"),
        ("status:402", 4, "", "out of credit"),
        ("rate-limit-long", 4, "", "asks to wait 120 s"),
    ],
)
def test_failures_keep_partial_text_and_exit_with_the_documented_code(
    server: MockServer, model: str, code: int, partial: str, message: str
) -> None:
    result = run_t360("chat", "-m", model, "--retries", "0", "hi", env=chat_env(server))
    assert result.code == code, result.err
    assert result.out == (partial + "\n" if partial else "")
    error_lines = [line for line in result.err.splitlines() if line.startswith("t360: error:")]
    assert len(error_lines) == 1 and message in error_lines[0]
    assert "Traceback" not in result.err and KEY not in result.err


@pytest.mark.parametrize(
    ("model", "code", "kind"),
    [
        ("error-mid", 4, "rate_limit_error"),
        ("truncated", 4, "stream_error"),
        ("drop", 5, "network_error"),
        ("status:401", 3, "mock_error"),
        ("status:404", 4, "mock_error"),
    ],
)
def test_json_object_on_failure(server: MockServer, model: str, code: int, kind: str) -> None:
    result = run_t360("chat", "-m", model, "--retries", "0", "--json", "hi", env=chat_env(server))
    assert result.code == code
    obj = json.loads(result.out)  # exactly one object, nothing else on stdout
    assert obj["error"]["type"] == kind and obj["error"]["message"]
    if model.startswith("status:"):
        assert obj["error"]["status"] == int(model.split(":")[1])


def test_json_object_when_no_key_is_set(server: MockServer) -> None:
    result = run_t360("chat", "--json", "-m", "echo", "hi", env={"T360_BASE_URL": server.url})
    assert result.code == 3
    obj = json.loads(result.out)
    assert obj["error"]["type"] == "config_error" and obj["content"] == ""


def test_no_key_is_exit_3_with_both_ways_to_set_one() -> None:
    result = run_t360("chat", "hi")
    assert result.code == 3
    assert "no API key" in result.err and "T360_API_KEY" in result.err
    assert "t360 config set api_key" in result.err


def test_unreachable_gateway_is_exit_5() -> None:
    with refused_port() as port:
        env = {"T360_API_KEY": KEY, "T360_BASE_URL": f"http://127.0.0.1:{port}/v1"}
        result = run_t360("chat", "--retries", "0", "hi", env=env)
    assert result.code == 5 and "cannot connect to 127.0.0.1" in result.err


def test_stall_after_text_is_exit_5_with_partial_text(server: MockServer) -> None:
    result = run_t360("chat", "-m", "stall:5000", "--timeout", "1.5", "hi", env=chat_env(server))
    assert result.code == 5
    assert result.out == "Stalling now \n"
    assert "no data from 127.0.0.1 for 1.5 s" in result.err


def test_key_never_appears_even_when_the_server_echoes_it(server: MockServer) -> None:
    result = run_t360(  # the secrets guard would refuse to send it: allowed, once
        "chat", "-m", "echo", "--json", "--allow-secrets", f"my key is {KEY}", env=chat_env(server)
    )
    assert result.code == 0  # the answer itself is the user's business; errors are ours
    bad = run_t360(
        "chat",
        "--api-key",
        "sk-invalid",
        "-m",
        "echo",
        "--retries",
        "0",
        "hi",
        env=chat_env(server),
    )
    assert bad.code == 3 and "sk-invalid" not in bad.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["chat", "--temperature", "hot", "x"], "Invalid value"),
        (["chat", "--max-tokens", "0", "x"], "Invalid value"),
        (["chat", "--bogus", "x"], "No such option"),
        (["chat", "-o", "novalue", "x"], "-o expects KEY=VALUE"),
        (["chat", "--base-url", "ftp://x", "x"], "--base-url"),
        (["chat"], "no prompt given"),
    ],
)
def test_usage_errors_are_exit_2(args: list[str], message: str) -> None:
    result = run_t360(*args, env={"T360_API_KEY": KEY})
    assert result.code == 2, result.err
    assert message in result.err and "Traceback" not in result.err


def test_ttft_is_measured_from_sending_the_request(server: MockServer) -> None:
    result = run_t360("chat", "-m", "slow-first:400", "--json", "hi", env=chat_env(server))
    obj = json.loads(result.out)
    # The server holds the first text back 400 ms after it read the request: TTFT can
    # only be longer (a lower bound only; a loaded machine adds its own delay).
    assert obj["ttft_ms"] >= 400, obj
    assert obj["latency_ms"] >= obj["ttft_ms"]
