"""The HTTP client against httpx.MockTransport: status checks, SSE, retries."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable, Iterable, Iterator

import httpx
import pytest

from t360cli import client
from t360cli.client import Gateway, WaitHook
from t360cli.config import Settings
from t360cli.errors import APIError, AuthError, NetworkError, StreamError, T360Error
from t360cli.events import Event, Finish, Sent, TextDelta, Usage
from t360cli.mockserver.wire import chunk, sse, stream_of, words

SETTINGS = Settings(api_key="sk-unit-0123456789", base_url="http://gateway.test/v1", retries=2)
PAYLOAD = {"model": "m", "messages": [], "stream": True}
SSE = {"content-type": "text/event-stream"}


def body(*parts: bytes) -> Iterator[bytes]:
    yield from parts


def good_stream(text: str = "Hello there") -> list[bytes]:
    return [s for s in stream_of("m", "p", words(text)) if isinstance(s, bytes)]


def stream_chat(
    settings: Settings, payload: dict[str, object], wait: WaitHook, transport: httpx.BaseTransport
) -> Iterator[Event]:
    with Gateway(settings, transport=transport) as gateway:
        yield from gateway.chat(payload, wait)


class Script:
    """A scripted transport: one handler per request, in order; records the requests."""

    def __init__(self, *replies: Callable[[httpx.Request], httpx.Response]) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.replies[min(len(self.requests), len(self.replies)) - 1](request)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def ok(
    parts: Iterable[bytes], headers: dict[str, str] | None = None
) -> Callable[..., httpx.Response]:
    return lambda request: httpx.Response(200, headers=headers or SSE, content=body(*parts))


def status(code: int, content: bytes = b"", **headers: str) -> Callable[..., httpx.Response]:
    return lambda request: httpx.Response(code, headers=headers, content=content)


def collect(
    gateway: Script, settings: Settings = SETTINGS, waits: list[float] | None = None
) -> list[Event]:
    def wait(seconds: float, attempt: int, reason: T360Error) -> None:
        if waits is not None:
            waits.append(seconds)

    return list(stream_chat(settings, PAYLOAD, wait, gateway.transport))


def text_of(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def test_request_shape() -> None:
    gateway = Script(ok(good_stream()))
    collect(gateway)
    request = gateway.requests[0]
    assert request.url == "http://gateway.test/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-unit-0123456789"
    assert request.headers["accept"] == "text/event-stream"
    assert json.loads(request.content) == PAYLOAD


def test_stream_events_in_order() -> None:
    events = collect(Script(ok(good_stream("Hello there"))))
    assert isinstance(events[0], Sent)
    assert text_of(events) == "Hello there"
    assert Finish("stop") in events


def test_401_json_body_is_an_auth_error_not_an_sse_error() -> None:
    gateway = Script(
        status(
            401,
            b'{"error": {"message": "Invalid API key", "code": 401}}',
            **{"content-type": "application/json"},
        )
    )
    with pytest.raises(AuthError) as caught:
        collect(gateway)
    assert caught.value.status == 401
    assert "Invalid API key" in caught.value.message
    assert caught.value.exit_code == 3
    assert len(gateway.requests) == 1


@pytest.mark.parametrize("code", [400, 401, 402, 403, 404])
def test_client_errors_are_never_retried(code: int) -> None:
    gateway = Script(status(code, b'{"error": {"message": "no"}}'))
    with pytest.raises(APIError):
        collect(gateway)
    assert len(gateway.requests) == 1


@pytest.mark.parametrize("code", [408, 409, 429, 500, 502, 503, 504])
def test_retryable_statuses_are_retried_then_succeed(code: int) -> None:
    waits: list[float] = []
    gateway = Script(status(code), ok(good_stream("after retry")))
    assert text_of(collect(gateway, waits=waits)) == "after retry"
    assert len(gateway.requests) == 2
    assert len(waits) == 1 and 0.25 <= waits[0] <= 0.75  # backoff with jitter


def test_retries_stop_at_the_limit_with_growing_backoff() -> None:
    waits: list[float] = []
    gateway = Script(status(503))
    with pytest.raises(APIError, match="HTTP 503"):
        collect(gateway, Settings(api_key="sk-x", base_url="http://g.test", retries=3), waits)
    assert len(gateway.requests) == 4
    assert [0.25 <= waits[0] <= 0.75, 0.5 <= waits[1] <= 1.5, 1 <= waits[2] <= 3] == [True] * 3


def test_zero_retries() -> None:
    gateway = Script(status(503))
    with pytest.raises(APIError):
        collect(gateway, Settings(api_key="sk-x", base_url="http://g.test", retries=0))
    assert len(gateway.requests) == 1


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
    ],
)
def test_retry_after_is_honoured(headers: dict[str, str], expected: float) -> None:
    waits: list[float] = []
    collect(Script(status(429, **headers), ok(good_stream())), waits=waits)
    assert waits == [expected]


def test_retry_after_as_http_date() -> None:
    waits: list[float] = []
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    collect(Script(status(503, **{"retry-after": when}), ok(good_stream())), waits=waits)
    assert 25 <= waits[0] <= 31


def test_a_wait_longer_than_60_seconds_is_reported_not_slept() -> None:
    waits: list[float] = []
    gateway = Script(status(429, b"", **{"retry-after": "120"}))
    with pytest.raises(APIError) as caught:
        collect(gateway, waits=waits)
    assert waits == [] and len(gateway.requests) == 1
    assert "120 s" in (caught.value.hint or "")


def test_connection_failures_are_retried() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused")

    gateway = Script(refuse)
    with pytest.raises(NetworkError, match=r"cannot connect to gateway.test"):
        collect(gateway)
    assert len(gateway.requests) == 3


def test_no_retry_once_text_was_shown() -> None:
    def broken() -> Iterator[bytes]:
        yield from good_stream("partial words")[:2]
        raise httpx.ReadError("connection reset")

    gateway = Script(lambda request: httpx.Response(200, headers=SSE, content=broken()))
    events: list[Event] = []
    with pytest.raises(NetworkError, match="lost"):
        for event in stream_chat(SETTINGS, PAYLOAD, lambda *a: None, gateway.transport):
            events.append(event)
    assert text_of(events) == "partial "
    assert len(gateway.requests) == 1


def test_reading_stops_at_done() -> None:
    def then_explode() -> Iterator[bytes]:
        yield from good_stream("done")
        raise AssertionError("read past [DONE]")

    gateway = Script(lambda request: httpx.Response(200, headers=SSE, content=then_explode()))
    assert text_of(collect(gateway)) == "done"


def test_truncated_stream_is_a_stream_error() -> None:
    with pytest.raises(StreamError, match="ended before"):
        collect(Script(ok(good_stream("cut here")[:-2])))


def test_finish_without_done_is_complete() -> None:
    assert text_of(collect(Script(ok(good_stream("fine")[:-1])))) == "fine"


def test_error_event_mid_stream() -> None:
    error = sse(
        {
            "error": {
                "message": "Rate limit exceeded",
                "type": "rate_limit_error",
                "code": "rate_limit",
            }
        }
    )
    gateway = Script(ok([*good_stream("part")[:2], error, sse("[DONE]")]))
    with pytest.raises(APIError) as caught:
        collect(gateway)
    assert (caught.value.message, caught.value.type, caught.value.code) == (
        "Rate limit exceeded",
        "rate_limit_error",
        "rate_limit",
    )
    assert len(gateway.requests) == 1


def test_bom_split_across_reads() -> None:
    parts = good_stream("with bom")
    assert text_of(collect(Script(ok([b"\xef", b"\xbb\xbf" + parts[0], *parts[1:]])))) == (
        "with bom"
    )


def test_keepalive_comments_and_other_events_are_ignored() -> None:
    parts = good_stream("kept")
    stream = [b": keepalive\n\n", parts[0], b"event: ping\ndata: \n\n", *parts[1:]]
    assert text_of(collect(Script(ok(stream)))) == "kept"


def test_non_streamed_json_completion() -> None:
    obj = {
        "model": "m",
        "provider": "P",
        "usage": {"completion_tokens": 1},
        "choices": [
            {"message": {"role": "assistant", "content": "whole"}, "finish_reason": "stop"}
        ],
    }
    gateway = Script(ok([json.dumps(obj).encode()], {"content-type": "application/json"}))
    events = collect(gateway)
    assert text_of(events) == "whole" and Finish("stop") in events


def test_json_error_body_with_status_200() -> None:
    gateway = Script(ok([b'{"error": {"message": "quota"}}'], {"content-type": "application/json"}))
    with pytest.raises(APIError, match="quota"):
        collect(gateway)


def test_html_with_status_200_is_refused_with_a_snippet() -> None:
    gateway = Script(
        ok([b"<html><body>Login required</body></html>"], {"content-type": "text/html"})
    )
    with pytest.raises(StreamError, match=r"text/html.*Login required"):
        collect(gateway)


def test_html_error_page_and_empty_body() -> None:
    with pytest.raises(APIError, match=r"HTTP 502.*Bad Gateway"):
        collect(
            Script(status(502, b"<html><title>502 Bad Gateway</title></html>")),
            Settings(api_key="sk-x", base_url="http://g.test", retries=0),
        )
    with pytest.raises(APIError, match=r"HTTP 503.*\(empty body\)"):
        collect(Script(status(503)), Settings(api_key="sk-x", base_url="http://g.test", retries=0))


def test_a_line_without_end_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client, "MAX_LINE_BYTES", 1000)
    endless = [b"data: " + b"z" * 300] * 10
    with pytest.raises(StreamError, match="without a line break"):
        collect(Script(ok(endless)))


def test_one_mib_token_passes() -> None:
    parts = [sse(chunk("m", content="x" * (1 << 20))), sse(chunk("m", finish="stop"))]
    assert len(text_of(collect(Script(ok(parts))))) == 1 << 20


def gzipped(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data, compresslevel=9)


def test_a_gzip_body_is_decoded() -> None:
    body = b"".join(good_stream("packed answer"))
    headers = {**SSE, "content-encoding": "gzip"}
    assert text_of(collect(Script(ok([gzipped(body)], headers)))) == "packed answer"


def test_the_line_limit_counts_decoded_bytes_of_a_gzip_bomb() -> None:
    """200 KB of gzip that decodes to 200 MB without a line break: stopped at the limit,
    without ever holding the decoded body (the limit counts decoded bytes)."""
    import tracemalloc

    bomb = gzipped(b"data: " + b"z" * (200 * 2**20))
    assert len(bomb) < 300_000
    headers = {**SSE, "content-encoding": "gzip"}
    tracemalloc.start()
    try:
        with pytest.raises(StreamError, match="without a line break"):
            collect(Script(ok([bomb], headers)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * client.MAX_LINE_BYTES


def test_a_body_flagged_gzip_that_is_not_gzip_is_a_stream_error() -> None:
    headers = {**SSE, "content-encoding": "gzip"}
    with pytest.raises(StreamError, match="not valid gzip"):
        collect(Script(ok([b"this is plain text, not gzip"], headers)))


def test_an_unknown_content_encoding_is_a_stream_error() -> None:
    headers = {**SSE, "content-encoding": "br"}
    with pytest.raises(StreamError, match="'br'"):
        collect(Script(ok(good_stream(), headers)))


KEY = "sk-unit-0123456789"


@pytest.mark.parametrize(
    "echo",
    [
        f"invalid key {KEY}",
        f"invalid key {KEY[:11]}",  # cut by the server's own excerpt
        "invalid credentials " + __import__("base64").b64encode(f"Bearer {KEY}".encode()).decode(),
    ],
)
def test_the_key_is_scrubbed_from_error_text_where_it_enters(echo: str) -> None:
    body = json.dumps({"error": {"message": echo}}).encode()
    with pytest.raises(AuthError) as caught:
        collect(Script(status(401, body)))
    assert "0123456" not in caught.value.message
    assert "[redacted]" in caught.value.message or "…" in caught.value.message
    encoded = __import__("base64").b64encode(f"Bearer {KEY}".encode()).decode()
    assert encoded[8:20] not in caught.value.message


def test_usage_numbers_that_cannot_be_true_are_unavailable() -> None:
    final = (
        b'data: {"model": "m", "choices": [{"delta": {}, "finish_reason": "stop"}], "usage":'
        b' {"prompt_tokens": NaN, "completion_tokens": 1' + b"0" * 40 + b","
        b' "total_tokens": -5, "cost": Infinity, "cached": 3}}\n\n'
    )
    events = collect(Script(ok([*good_stream("hi")[:2], final, sse("[DONE]")])))
    usage = next(e for e in events if isinstance(e, Usage))
    assert usage.data == {
        "prompt_tokens": None,
        "completion_tokens": None,
        "total_tokens": None,
        "cost": None,
        "cached": 3,
    }
    assert set(usage.dropped) == {"prompt_tokens", "completion_tokens", "total_tokens", "cost"}
