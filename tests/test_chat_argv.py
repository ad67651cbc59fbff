"""``t360 chat``'s fast reader of argv (``chat_argv``) against Typer's own reading: what
the fast one reads must be exactly what Typer passes, and it leaves the rest to Typer."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

import t360cli.commands.chat as chat_command
from t360cli.chat_argv import parse
from t360cli.cli import run
from t360cli.mockserver import MockServer
from tests.helpers import T360, chat_env, fake_environment

#: Command lines a user types, each read by both.
LINES = [
    [],
    ["hi"],
    ["hi", "there", "you"],
    ["-"],
    ["", "x"],
    ["-m", "fast", "hi"],
    ["--model", "fast", "hi"],
    ["--model=fast", "hi"],
    ["--model=", "hi"],
    ["hi", "-m", "fast", "again"],  # options between the words
    ["-q", "--json", "-x", "hi"],
    ["-f", "a.py", "-f", "-", "--file=b.py", "explain"],
    ["-a", "x.png", "--attach", "y.png", "what"],
    ["-o", "top_p=0.5", "-o", "seed=1", "hi"],
    ["--temperature", "0.2", "--max-tokens", "100", "hi"],
    ["--temperature", "1e-3", "hi"],
    ["--temperature", "nan", "hi"],
    ["--max-tokens", " 7 ", "hi"],
    ["--max-tokens", "1_000", "hi"],
    ["--max-tokens", "0", "hi"],  # below its range
    ["--max-tokens", "1.5", "hi"],
    ["--retries", "x", "hi"],
    ["--retries", "0", "--timeout", "2.5", "hi"],
    ["--max-tool-rounds", "3", "-T", "time", "-y", "hi"],
    ["-T", "a", "--tools", "b", "hi"],
    ["-c", "more"],
    ["--conversation", "ab12", "more"],
    ["-p", "work", "-r", "review", "hi"],
    ["--schema", "name, age int", "who"],
    ["--max-cost", "0.01", "--ignore-budget", "--dry-run", "hi"],
    ["--paste", "--allow-secrets", "--no-save", "--no-stream", "--raw", "hi"],
    ["-n", "--no-stdin", "--editor"],
    ["--api-key", "sk-x", "--base-url", "http://127.0.0.1:1/v1", "--debug", "hi"],
    ["-s", "be terse", "hi"],
    ["-s", "-be terse", "hi"],  # a value with a leading dash
    ["-m", "-x", "hi"],
    ["-m"],
    ["--quiet=yes", "hi"],
    ["-qy", "hi"],
    ["-mfast", "hi"],
    ["--", "-m", "hi"],
    ["--help"],
    ["hi", "-h"],
    ["--no-such-flag", "hi"],
    ["--mod", "fast", "hi"],
    ["--system-file", "/dev/null", "hi"],
    ["--system-file", "/no/such/file", "hi"],
    ["--extract", "--extract-last", "hi"],
    ["-q", "-q", "-m", "a", "-m", "b", "hi"],  # repeated: the last one counts
]


class _Read(Exception):
    """Raised where the chat command has its parameters: nothing runs."""


def typer_reads(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> dict[str, Any] | None:
    """The parameters Typer passes the chat function for ``args``; None if it refuses them."""
    seen: list[dict[str, Any]] = []

    def gather(kind: object, given: dict[str, Any]) -> object:
        seen.append({name: value for name, value in given.items() if name != "ctx"})
        raise _Read

    monkeypatch.setattr(chat_command, "gather", gather)
    code = run(["chat", *args], fake_environment())
    assert seen or code == 2, f"Typer neither read nor refused {args} (exit {code})"
    return seen[0] if seen else None


@pytest.mark.parametrize("args", LINES, ids=[" ".join(line) or "(none)" for line in LINES])
def test_the_fast_reader_reads_as_typer_does_or_leaves_it_to_typer(
    monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    fast = parse(args)
    if fast is not None:  # (repr: a NaN is not equal to itself)
        assert repr(fast) == repr(typer_reads(monkeypatch, args))


def test_what_users_type_most_is_read_without_typer() -> None:
    for args in (
        ["hi"],
        ["-m", "fast", "-q", "explain", "this"],
        ["-f", "-", "--json", "summarise"],
        ["--model=fast", "-o", "seed=1", "--max-tokens", "100", "hi"],
        ["-T", "time", "-y", "what time is it"],
        [],
    ):
        assert parse(args) is not None, args


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["-qy", "hi"],
        ["-mfast", "hi"],
        ["--", "hi"],
        ["-m", "-x", "hi"],
        ["--max-tokens", "0", "hi"],
        ["--retries", "x", "hi"],
        ["--quiet=yes", "hi"],
        ["--system-file", "/dev/null", "hi"],
        ["--no-such-flag"],
        ["-m"],
    ],
)
def test_what_is_not_plainly_valid_is_left_to_typer(args: list[str]) -> None:
    assert parse(args) is None


def test_the_table_is_generated_and_current() -> None:
    from tests import generate

    assert generate.ARGV_FILE.read_text() == generate.argv_table(), (
        "t360cli/argv_table.py drifted: run python -m tests.generate"
    )


def test_a_one_shot_runs_without_loading_typer(server: MockServer) -> None:
    """The real binary: a one-shot whose flags the fast reader takes never imports Typer;
    one it leaves to Typer does, and answers the same."""
    env = {**os.environ, **chat_env(server)}
    for args, typer_loads in ((["-m", "echo", "hi"], False), (["-qm", "echo", "hi"], True)):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", T360, "chat", *args],
            capture_output=True, text=True, env=env, timeout=60, check=True,
        )  # fmt: skip
        assert proc.stdout == "hi\n"
        loaded = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()}
        assert ("typer" in loaded) is typer_loads, args
