"""Chunk decoding: every shape the protocol page and real gateways produce."""

from __future__ import annotations

import pytest

from t360cli.errors import StreamError
from t360cli.events import (
    ChunkDecoder,
    ErrorEvent,
    Finish,
    Meta,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    Usage,
    parse_data,
    snippet,
)


def chunk(delta: dict[str, object] | None = None, **top: object) -> dict[str, object]:
    obj: dict[str, object] = {"id": "c1", "object": "chat.completion.chunk", "model": "m"}
    if delta is not None:
        obj["choices"] = [{"index": 0, "delta": delta, "finish_reason": None}]
    obj.update(top)
    return obj


def test_role_repeated_in_every_chunk_is_not_text() -> None:
    decoder = ChunkDecoder()
    events = [
        *decoder.decode(chunk({"role": "assistant"})),
        *decoder.decode(chunk({"role": "assistant", "content": "Hel"})),
        *decoder.decode(chunk({"role": "assistant", "content": "lo"})),
    ]
    assert [e for e in events if isinstance(e, TextDelta)] == [TextDelta("Hel"), TextDelta("lo")]
    assert events[0] == Meta("m", None)
    assert sum(isinstance(e, Meta) for e in events) == 1  # reported on change only


@pytest.mark.parametrize(
    "obj",
    [
        chunk({"content": None}),
        chunk({}),
        chunk(None, choices=[]),
        chunk(None, choices=None),
        chunk(None),
        chunk(None, choices=["not a dict"]),
        chunk({"content": 5}),
    ],
)
def test_shapes_without_text_give_no_text(obj: dict[str, object]) -> None:
    assert not [e for e in ChunkDecoder().decode(obj) if isinstance(e, TextDelta)]


def test_usage_in_stop_chunk_and_in_its_own_chunk() -> None:
    usage = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3, "cost": 0.5}
    stop = chunk({"content": None}, usage=usage)
    stop["choices"][0]["finish_reason"] = "stop"  # type: ignore[index]
    assert ChunkDecoder().decode(stop)[-2:] == [Finish("stop"), Usage(usage)]
    assert ChunkDecoder().decode(chunk(None, choices=[], usage=usage))[-1] == Usage(usage)


def test_provider_is_reported() -> None:
    events = ChunkDecoder().decode(chunk({"content": "x"}, provider="Parasail"))
    assert events[0] == Meta("m", "Parasail")


def test_token360_error_object() -> None:
    error = {"message": "Rate limit exceeded", "type": "rate_limit_error", "code": "rate_limit"}
    events = ChunkDecoder().decode({"error": error})
    assert events == [ErrorEvent("Rate limit exceeded", "rate_limit_error", "rate_limit")]


def test_openrouter_error_shape_with_finish_reason_error() -> None:
    obj = chunk({"content": ""}, error={"code": 502, "message": "Provider returned error"})
    obj["choices"][0]["finish_reason"] = "error"  # type: ignore[index]
    assert ChunkDecoder().decode(obj)[-1] == ErrorEvent("Provider returned error", None, 502)
    bare = chunk({"content": ""})
    bare["choices"][0]["finish_reason"] = "error"  # type: ignore[index]
    assert isinstance(ChunkDecoder().decode(bare)[-1], ErrorEvent)


def test_reasoning_is_taken_once_from_whichever_field_carries_it() -> None:
    both = chunk(
        {"reasoning": "think", "reasoning_details": [{"type": "reasoning.text", "text": "think"}]}
    )
    assert [e for e in ChunkDecoder().decode(both) if isinstance(e, ReasoningDelta)] == [
        ReasoningDelta("think")
    ]
    deepseek = chunk({"reasoning_content": "hmm"})
    assert ReasoningDelta("hmm") in ChunkDecoder().decode(deepseek)
    details = chunk({"reasoning_details": [{"type": "reasoning.summary", "summary": "sum"}]})
    assert ReasoningDelta("sum") in ChunkDecoder().decode(details)


def test_tool_call_fragments() -> None:
    decoder = ChunkDecoder()
    first = decoder.decode(
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "a",
                        "type": "function",
                        "function": {"name": "f", "arguments": "{"},
                    }
                ]
            }
        )
    )
    assert ToolCallDelta(0, "a", "function", "f", "{") in first
    no_index = decoder.decode(chunk({"tool_calls": [{"function": {"arguments": {"k": 1}}}]}))
    assert ToolCallDelta(0, None, None, None, '{"k": 1}') in no_index


def test_whole_completion_message() -> None:
    obj = {
        "model": "m",
        "choices": [{"message": {"content": "all", "reasoning": "r"}, "finish_reason": "stop"}],
    }
    events = ChunkDecoder().decode(obj, part="message")
    assert events[1:] == [ReasoningDelta("r"), TextDelta("all"), Finish("stop")]


@pytest.mark.parametrize(
    "data", ["{nope", "[1, 2]", '"text"', "null", "12", '{"a": 1} {"b": 2}', '{"a": 1}x', " "]
)
def test_parse_data_refuses_anything_but_an_object(data: str) -> None:
    with pytest.raises(StreamError, match="gateway sent"):
        parse_data(data)


@pytest.mark.parametrize("data", ['{"a": [1]}', ' {"a": [1]}', '{"a": [1]}\t ', '\n{"a": [1]} '])
def test_parse_data_takes_an_object_with_whitespace_around_it(data: str) -> None:
    assert parse_data(data) == {"a": [1]}


def test_snippet_is_short_single_line_and_printable() -> None:
    text = snippet("a\nb\x1b[31m" + "x" * 500)
    assert "\n" not in text and "\x1b" not in text and len(text) <= 80
