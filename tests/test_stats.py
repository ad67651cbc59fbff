"""Turn statistics, and the footer and the --json object ``figures`` makes of them."""

from __future__ import annotations

import pytest

from t360cli.errors import APIError, NetworkError
from t360cli.events import Finish, Meta, ReasoningDelta, Sent, TextDelta, ToolCallDelta, Usage
from t360cli.figures import footer, turn_json
from t360cli.stats import BLOCK, Pieces, Recorder, Turn


def turn(**changes: object) -> Turn:
    base: dict[str, object] = dict(
        content="hi",
        reasoning=None,
        model="glm-5.1",
        provider="Parasail",
        finish_reason="stop",
        usage={
            "prompt_tokens": 12,
            "completion_tokens": 45,
            "total_tokens": 57,
            "cost": 0.000123,
            "cost_details": {"upstream": 0.0001},
        },
        tool_calls=None,
        ttft=0.412,
        latency=1.412,
    )
    base.update(changes)
    return Turn(**base)  # type: ignore[arg-type]


def test_footer_with_everything_known() -> None:
    assert footer(turn()) == (
        "glm-5.1 · Parasail · TTFT 412 ms · total 1.41 s · 45.0 tok/s · "
        "12 in/45 out · $0.000123 · finish stop"
    )


def test_footer_marks_unknowns_never_zero() -> None:
    line = footer(turn(provider=None, usage=None, finish_reason=None, ttft=None))
    assert line == (
        "glm-5.1 · provider n/a · TTFT n/a · total 1.41 s · tok/s n/a · "
        "n/a in/n/a out · cost n/a · finish n/a"
    )


def test_footer_marks_retries_interruptions_and_failures() -> None:
    assert footer(turn(interrupted=True)).endswith(" · interrupted")
    assert footer(turn(error=NetworkError("x"))).endswith(" · failed")
    # interrupted after a retry, before any text: no TTFT to put the retry beside
    waited = footer(turn(ttft=None, retries=1, interrupted=True))
    assert waited.endswith(" · 1 retry · interrupted")


def test_footer_shows_the_lived_ttft_with_the_retries_and_the_last_attempt_s() -> None:
    retried = turn(ttft=2.41, attempt_ttft=0.003, retries=2, waited=2.407, latency=3.0)
    assert "· TTFT 2.41 s (2 retries; 3 ms on the last) · total 3.00 s ·" in footer(retried)
    assert "TTFT 412 ms (1 retry; 5 ms on the last)" in footer(turn(attempt_ttft=0.005, retries=1))
    assert "retr" not in footer(turn(attempt_ttft=0.412))


def test_footer_says_when_tool_servers_delayed_the_first_request() -> None:
    assert " · tools ready 4.20 s" in footer(turn(tools_ready=4.2))
    assert " · tools ready 510 ms" in footer(turn(tools_ready=0.51))
    assert "tools ready" not in footer(turn(tools_ready=0.5))  # half a second or less: no
    assert "tools ready" not in footer(turn())


def test_json_keeps_every_usage_field_and_reports_errors() -> None:
    error = APIError("Rate limit exceeded", type="rate_limit_error", code="rate_limit", status=None)
    obj = turn_json(turn(error=error))
    assert obj["usage"]["cost_details"] == {"upstream": 0.0001}
    assert obj["error"] == {
        "message": "Rate limit exceeded",
        "type": "rate_limit_error",
        "code": "rate_limit",
        "status": None,
    }
    assert (obj["ttft_ms"], obj["latency_ms"]) == (412.0, 1412.0)
    assert turn_json(turn(error=NetworkError("lost")))["error"]["type"] == "network_error"


def test_json_has_the_attempt_s_ttft_the_retries_and_the_tools_times() -> None:
    timed = turn(ttft=2.41, attempt_ttft=0.0031, retries=2, tools_ready=0.25, tool_time=1.5)
    obj = turn_json(timed)
    assert {k: obj[k] for k in ("ttft_ms", "attempt_ttft_ms", "retries")} == {
        "ttft_ms": 2410.0,
        "attempt_ttft_ms": 3.1,
        "retries": 2,
    }
    assert (obj["tools_ready_ms"], obj["tool_ms"]) == (250.0, 1500.0)
    plain = turn_json(turn())  # no tools offered, no retry, no text: null, 0, null
    assert (plain["tools_ready_ms"], plain["tool_ms"], plain["retries"]) == (None, None, 0)
    assert turn_json(turn(ttft=None))["attempt_ttft_ms"] is None


def test_recorder_times_from_the_first_attempt_and_the_answering_one() -> None:
    recorder = Recorder("m")
    recorder.add(Sent())
    first_sent = recorder.sent
    recorder.add(Sent())  # a retry
    recorder.add(Sent())  # and another: this one answers
    recorder.add(TextDelta("a"))
    recorder.end = recorder.sent + 1.0
    result = recorder.finish()
    assert recorder.started == first_sent < recorder.sent and result.retries == 2
    assert recorder.first is not None
    assert result.ttft == recorder.first - first_sent  # what the user lived
    assert result.attempt_ttft == recorder.first - recorder.sent  # what the gateway saw
    assert result.latency == recorder.end - first_sent
    assert result.waited == recorder.sent - first_sent
    assert result.attempt_latency == pytest.approx(1.0)
    assert result.started == first_sent


def test_recorder_measures_ttft_from_the_last_sent_and_ignores_role_only_chunks() -> None:
    recorder = Recorder("m")
    recorder.add(Sent())
    recorder.add(Meta("m2", "P"))
    assert recorder.first is None  # no token yet
    recorder.add(ReasoningDelta("r"))
    first = recorder.first
    recorder.add(TextDelta("a"))
    recorder.add(ToolCallDelta(1, "id2", "function", "g", "{}"))
    recorder.add(ToolCallDelta(0, "id1", "function", "f", "{"))
    recorder.add(ToolCallDelta(0, None, None, None, "}"))
    recorder.add(Usage({"completion_tokens": 3}))
    recorder.add(Finish("tool_calls"))
    result = recorder.finish()
    assert first is not None and result.ttft == result.attempt_ttft == first - recorder.sent
    assert result.retries == 0 and result.waited == 0
    assert (result.model, result.provider, result.content, result.reasoning) == (
        "m2",
        "P",
        "a",
        "r",
    )
    assert [c["function"] for c in result.tool_calls or []] == [
        {"name": "f", "arguments": "{}"},
        {"name": "g", "arguments": "{}"},
    ]
    assert result.finish_reason == "tool_calls" and result.tokens("completion_tokens") == 3


def test_an_answer_of_several_requests_sums_them() -> None:
    from t360cli.stats import combine

    first = turn(content="Let me check.", finish_reason="tool_calls", ttft=0.2, latency=0.5)
    second = turn(content="", usage=None, ttft=0.3, latency=0.4)
    third = turn(content="It is noon.", provider="Other", ttft=0.25, latency=0.9)
    runs = [{"id": "a"}, {"id": "b"}]
    answer = combine([first, second, third], 2.5, runs)
    assert answer.content == "Let me check.\n\nIt is noon."
    assert answer.usage == {  # the request without usage adds nothing
        "prompt_tokens": 24,
        "completion_tokens": 90,
        "total_tokens": 114,
        "cost": 0.000246,
        "cost_details": {"upstream": 0.0002},
    }
    assert answer.ttft == 0.2 and answer.latency == 2.5 and answer.provider == "Other"
    # 90 tokens over the generation of the three requests, not over the tools' time too
    assert answer.tokens_per_second == pytest.approx(90 / (0.3 + 0.1 + 0.65))
    assert answer.requests == 3 and turn_json(answer)["tool_runs"] == runs
    assert footer(answer).endswith("finish stop · 3 requests · 2 tool calls")
    narrow = footer(answer, width=60)
    assert "2 tool calls" in narrow and "Other" not in narrow  # before the provider
    alone = turn()
    assert combine([alone], 9.0, None) is alone  # one request, no tools: as it was


def test_an_answer_of_several_requests_sums_their_retries_and_waits() -> None:
    from t360cli.stats import combine

    first = turn(ttft=0.2, attempt_ttft=0.05, retries=1, waited=0.15, started=7.0)
    second = turn(ttft=0.25, attempt_ttft=0.05, retries=2, waited=0.2, started=9.0)
    answer = combine([first, second], 2.5, [])
    # the first request's TTFT, lived and per attempt; retries and waits of both
    assert (answer.ttft, answer.attempt_ttft, answer.retries) == (0.2, 0.05, 3)
    assert answer.attempt_latency == pytest.approx(2.5 - 0.35)
    assert answer.started == 7.0  # the answer's clock: the first request's first attempt
    assert "TTFT 200 ms (3 retries; 50 ms on the last)" in footer(answer)


def test_only_a_turn_that_ended_before_any_token_is_unanswered() -> None:
    assert turn(ttft=None, error=NetworkError("x")).unanswered
    assert turn(ttft=None, interrupted=True).unanswered
    assert not turn(error=NetworkError("x")).unanswered  # text came first: a partial turn
    assert not turn(ttft=None, content="").unanswered  # an empty answer is still one


@pytest.mark.parametrize("count", [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 5])
def test_pieces_join_to_the_text_across_blocks(count: int) -> None:
    pieces = Pieces()
    for n in range(count):
        pieces.append(f"{n},")
    assert pieces.text() == "".join(f"{n}," for n in range(count))
    assert pieces.count == count
