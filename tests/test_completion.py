"""Shell completion and generated docs: no drift, and real shells completing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from t360cli.mockserver import MockServer
from tests import generate
from tests.helpers import T360, chat_env, run_t360

ROOT = Path(__file__).resolve().parent.parent


def test_completion_scripts_are_generated_and_current() -> None:
    for path, content in generate.completions().items():
        assert path.read_text() == content, f"{path} drifted: run python -m tests.generate"


def test_readme_reference_is_current() -> None:
    assert (ROOT / "README.md").read_text() == generate.readme(), (
        "the README's reference drifted: run python -m tests.generate"
    )


def shell_env(server: MockServer) -> dict[str, str]:
    return {**os.environ, **chat_env(server), "PATH": f"{Path(T360).parent}:{os.environ['PATH']}"}


def bash_complete(line: str, env: dict[str, str]) -> list[str]:
    words = line.split(" ")
    script = (
        f"source {ROOT / 'completions' / 't360.bash'}\n"
        f"COMP_WORDS=({' '.join(repr(w) for w in words)})\n"
        f"COMP_CWORD={len(words) - 1}\n"
        "_t360_completion t360\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    proc = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60, check=True
    )
    return [line for line in proc.stdout.splitlines() if line]


@pytest.fixture
def with_history(server: MockServer) -> str:
    """A models cache and a saved conversation to complete from; its id."""
    assert run_t360("models", env=chat_env(server)).code == 0
    result = run_t360("chat", "--json", "-m", "echo", "remember this", env=chat_env(server))
    import json

    return str(json.loads(result.out)["conversation_id"])


def test_bash_completes_commands_options_keys_models_and_ids(
    server: MockServer, with_history: str
) -> None:
    env = shell_env(server)
    assert bash_complete("t360 con", env) == ["config"]
    assert bash_complete("t360 h", env) == ["history"]
    assert "--model" in bash_complete("t360 chat --mo", env)
    assert bash_complete("t360 config set ba", env) == ["base_url"]
    assert bash_complete("t360 chat -m rate-limit", env) == [
        "rate-limit",
        "rate-limit-ms",
        "rate-limit-long",
    ]
    assert bash_complete("t360 bench -m ech", env) == ["echo", "echo-key"]
    assert bash_complete(f"t360 history show {with_history[:3]}", env) == [with_history]


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed (apt install fish)")
def test_fish_completes(server: MockServer, with_history: str) -> None:
    env = shell_env(server)

    def complete(line: str) -> list[str]:
        script = f"source {ROOT / 'completions' / 't360.fish'}; complete -C '{line}'"
        proc = subprocess.run(
            ["fish", "-c", script], capture_output=True, text=True, env=env, timeout=60, check=True
        )
        return [row.split("\t")[0] for row in proc.stdout.splitlines()]

    assert complete("t360 con") == ["config"]
    assert complete("t360 config get mo") == ["model"]
    assert "echo" in complete("t360 chat -m ec")
    assert complete(f"t360 history export {with_history[:4]}") == [with_history]


def test_bash_completes_mcp_server_names(server: MockServer) -> None:
    from tests.test_tools import SDK, configure

    configure(time=SDK, test=SDK)
    env = shell_env(server)
    assert bash_complete("t360 chat -T t", env) == ["time", "test"]
    assert bash_complete("t360 chat -T a", env) == ["all"]
    assert bash_complete("t360 tools te", env) == ["test"]
