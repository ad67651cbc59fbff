"""The stand-in server as a newcomer meets it: the README's Quick start, t360's default
model, and the mistakes of its command line."""

from __future__ import annotations

import pytest

from tests.helpers import invoke


@pytest.mark.parametrize("port", ["99999", "65536", "-1"])
def test_a_port_out_of_range_is_a_usage_error(port: str) -> None:
    result = invoke("mock-server", "--port", port)
    assert result.code == 2
    assert (
        result.err
        == f"t360: error: --port must be from 0 to 65535, got {port}; 0 picks a free one\n"
    )
