"""``t360 models``: what the gateway offers, found and ordered (issue 29.7)."""

from __future__ import annotations

import json
import re

from t360cli.mockserver import MockServer
from tests.helpers import chat_env, invoke, paths

ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: The mock gives every model 131,072 tokens at $1/$2 per million; these differ.
CONFIG = """
[aliases]
fast = "echo"

[models."echo"]
context_length = 8000
price_in = 0.000005
price_out = 0.00001

[models."lorem"]
context_length = 1000000
price_in = 0.0000001
price_out = 0.0000002
"""


def listed(server: MockServer, *args: str) -> list[str]:
    result = invoke("models", *args, env=chat_env(server))
    assert result.code == 0, result.err
    return result.out.splitlines()


def configure() -> None:
    paths().config_file.parent.mkdir(parents=True, exist_ok=True)
    paths().config_file.write_text(CONFIG)


def test_search_finds_ids_aliases_and_owners_in_any_case(server: MockServer) -> None:
    configure()
    assert listed(server, "--search", "ECHO") == ["echo", "echo-key"]
    assert listed(server, "--search", "fast") == ["echo"]  # its alias
    everything = listed(server)
    assert listed(server, "--search", "mock") == everything  # the owner of them all
    none = invoke("models", "--search", "no-such-model", env=chat_env(server))
    assert none.code == 0 and none.out == "" and "no model matches 'no-such-model'" in none.err
    raw = json.loads(invoke("models", "--json", "--search", "echo", env=chat_env(server)).out)
    assert [item["id"] for item in raw["data"]] == ["echo", "echo-key"]
    assert raw["data"][0]["owned_by"] == "mock"  # the gateway's own objects


def test_sort_by_price_context_or_name(server: MockServer) -> None:
    configure()
    by_price = listed(server, "--sort", "price")
    assert by_price[0] == "lorem" and by_price[-1] == "echo"
    by_context = listed(server, "--sort", "context")
    assert by_context[0] == "lorem" and by_context[-1] == "echo"
    assert listed(server, "--sort", "name") == sorted(by_price, key=str.casefold)
    assert listed(server, "--search", "lorem", "--sort", "price") == ["lorem"]
    wrong = invoke("models", "--sort", "speed", env=chat_env(server))
    assert wrong.code == 2 and "speed" in wrong.err


def test_the_terminal_table_keeps_context_and_prices_when_narrow(server: MockServer) -> None:
    configure()
    wide = invoke("models", "--sort", "context", env=chat_env(server), tty=True, columns=200)
    lines = ANSI.sub("", wide.out).splitlines()
    assert lines[0].split() == ["model", "aliases", "owner", "context", "$/M", "in", "$/M", "out"]
    assert lines[1].split() == ["lorem", "mock", "1,000,000", "0.1", "0.2"]
    narrow = invoke("models", "--sort", "price", env=chat_env(server), tty=True, columns=50)
    lines = ANSI.sub("", narrow.out).splitlines()
    assert lines[0].split() == ["model", "context", "$/M", "in", "$/M", "out"]
    assert lines[-1].split() == ["echo", "8,000", "5", "10"]
