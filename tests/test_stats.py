"""Turn statistics: the footer and the --json object."""

from __future__ import annotations

import pytest

from t360cli.errors import APIError, NetworkError
from t360cli.events import Finish, Meta, ReasoningDelta, Sent, TextDelta, ToolCallDelta, Usage
from t360cli.stats import Recorder, Turn


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
    assert turn().footer() == (
        "glm-5.1 · Parasail · TTFT 412 ms · total 1.41 s · 45.0 tok/s · "
        "12 in/45 out · $0.000123 · finish stop"
    )


def test_footer_marks_unknowns_never_zero() -> None:
    footer = turn(provider=None, usage=None, finish_reason=None, ttft=None).footer()
    assert footer == (
        "glm-5.1 · provider n/a · TTFT n/a · total 1.41 s · tok/s n/a · "
        "n/a in/n/a out · cost n/a · finish n/a"
    )


def test_footer_marks_retries_interruptions_and_failures() -> None:
    assert turn(retries=1, interrupted=True).footer().endswith(" · 1 retry · interrupted")
    assert turn(retries=2, error=NetworkError("x")).footer().endswith(" · 2 retries · failed")


def test_json_keeps_every_usage_field_and_reports_errors() -> None:
    error = APIError("Rate limit exceeded", type="rate_limit_error", code="rate_limit", status=None)
    obj = turn(error=error).as_json()
    assert obj["usage"]["cost_details"] == {"upstream": 0.0001}
    assert obj["error"] == {
        "message": "Rate limit exceeded",
        "type": "rate_limit_error",
        "code": "rate_limit",
        "status": None,
    }
    assert (obj["ttft_ms"], obj["latency_ms"]) == (412.0, 1412.0)
    assert turn(error=NetworkError("lost")).as_json()["error"]["type"] == "network_error"


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
    assert first is not None and result.ttft == first - recorder.sent
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
    assert answer.requests == 3 and answer.as_json()["tool_runs"] == runs
    assert answer.footer().endswith("finish stop · 3 requests · 2 tool calls")
    narrow = answer.footer(width=60)
    assert "2 tool calls" in narrow and "Other" not in narrow  # before the provider
    alone = turn()
    assert combine([alone], 9.0, None) is alone  # one request, no tools: as it was
