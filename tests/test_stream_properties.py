"""Property tests: the stream parser does not care how the bytes are split, and never
raises anything but the project's own errors, whatever the bytes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from t360cli.client import Gateway
from t360cli.config import Settings
from t360cli.errors import T360Error
from t360cli.events import TextDelta
from t360cli.mockserver.wire import stream_of, words

SETTINGS = Settings(api_key="sk-prop-0123456789", base_url="http://gateway.test/v1", retries=0)
PAYLOAD = {"model": "m", "messages": [], "stream": True}


def split(data: bytes, cuts: list[int]) -> Iterator[bytes]:
    start = 0
    for cut in sorted({c % (len(data) + 1) for c in cuts}):
        if cut > start:
            yield data[start:cut]
            start = cut
    if start < len(data):
        yield data[start:]


def answer(parts: Iterator[bytes], content_type: str = "text/event-stream") -> str:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, headers={"content-type": content_type}, content=parts)
    )
    with Gateway(SETTINGS, transport=transport) as gateway:
        events = gateway.chat(PAYLOAD, lambda *a: None)
        return "".join(e.text for e in events if isinstance(e, TextDelta))


texts = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=60)


@settings(max_examples=150, deadline=None)
@given(
    text=texts,
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
    newline=st.sampled_from([b"\n", b"\r\n", b"\r"]),
    bom=st.booleans(),
)
def test_any_split_of_a_valid_stream_gives_the_same_text(
    text: str, cuts: list[int], newline: bytes, bom: bool
) -> None:
    pieces = words(text)
    steps = stream_of("m", "p", pieces)
    data = b"".join(s for s in steps if isinstance(s, bytes)).replace(b"\n", newline)
    if bom:
        data = b"\xef\xbb\xbf" + data
    assert answer(split(data, cuts)) == "".join(pieces)


@settings(max_examples=300, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=400),
        st.lists(
            st.sampled_from(
                [
                    b"data: ",
                    b"{",
                    b"}",
                    b'"choices"',
                    b":",
                    b"[",
                    b"]",
                    b'"delta"',
                    b'"content"',
                    b'"x"',
                    b"\n",
                    b"\r",
                    b"\n\n",
                    b"[DONE]",
                    b"null",
                    b",",
                    b'"error"',
                    b'"finish_reason"',
                    b'"stop"',
                    b"\xef\xbb\xbf",
                    b"\xff",
                    b'"usage"',
                    b'"tool_calls"',
                    b"0",
                    b": ping",
                ]
            ),
            max_size=60,
        ).map(b"".join),
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=500), max_size=20),
    content_type=st.sampled_from(["text/event-stream", "application/json"]),
)
def test_hostile_bytes_raise_only_our_own_errors(
    data: bytes, cuts: list[int], content_type: str
) -> None:
    with contextlib.suppress(T360Error):
        answer(split(data, cuts), content_type)
