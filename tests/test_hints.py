"""Every error says what to do (issue 29): the ones that did not."""

from __future__ import annotations

from t360cli.mockserver import MockServer
from tests.helpers import chat_env, invoke


def test_an_error_in_the_stream_gives_advice_and_keeps_the_partial_answer(
    server: MockServer,
) -> None:
    result = invoke("chat", "-m", "error-mid", "-q", "hi", env=chat_env(server))
    assert result.code == 4 and result.out.startswith("Partial answer")
    assert "Rate limit exceeded; you are rate limited; wait a moment" in result.err


def test_a_400_gives_advice(server: MockServer) -> None:
    result = invoke("chat", "-m", "status:400", "--retries", "0", "hi", env=chat_env(server))
    assert result.code == 4 and "HTTP 400" in result.err
    assert "check -o options, --max-tokens and the model" in result.err
