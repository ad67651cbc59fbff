"""Shell completion and generated docs: no drift, and real shells completing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from t360cli.mockserver import MockServer
from tests import generate
from tests.helpers import T360, chat_env, run_process, run_t360

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


# -- TAB answered before Typer loads (issue 28) --------------------------------------------


def test_the_completion_table_is_generated_and_current() -> None:
    assert generate.TABLE_FILE.read_text() == generate.completion_table(), (
        "t360cli/completion_table.py drifted: run python -m tests.generate"
    )


def test_tab_loads_neither_typer_nor_the_commands(server: MockServer, with_history: str) -> None:
    env = {
        **shell_env(server),
        "_T360_COMPLETE": "complete_bash",
        "COMP_WORDS": "t360 chat -m ech",
        "COMP_CWORD": "3",
    }
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", T360],
        capture_output=True, text=True, env=env, timeout=60, check=True,
    )  # fmt: skip
    assert proc.stdout.split() == ["echo", "echo-key"]
    loaded = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()}
    assert not {"typer", "click", "httpx", "rich", "t360cli.cli", "t360cli.config"} & loaded


def complete_in(line: str, env: dict[str, str], shell: str = "bash") -> str:
    """What t360cli.completion prints for ``line`` in ``shell`` (in this process)."""
    import io

    from t360cli.completion import answer

    words = line.split(" ")
    request = {**env, "_T360_COMPLETE": f"complete_{shell}"}
    if shell == "bash":
        request |= {"COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)}
    else:
        request |= {"_TYPER_COMPLETE_ARGS": line, "_TYPER_COMPLETE_FISH_ACTION": "get-args"}
    out = io.StringIO()
    answer(request, out)
    return out.getvalue()


def test_options_values_choices_and_each_shells_format(isolated: Path) -> None:
    env = dict(os.environ)
    assert complete_in("t360 history export --format ", env) == "md\njson"
    assert complete_in("t360 history export --format=j", env) == "--format=json"
    assert complete_in("t360 config set ", env).split()[:2] == ["api_key", "base_url"]
    assert complete_in("t360 config set model ", env) == ""  # a value: nothing to offer
    assert complete_in("t360 chat --no-s", env).split() == [
        "--no-stream",
        "--no-save",
        "--no-stdin",
    ]
    assert complete_in("t360 'con", env) == "config"  # an open quote: the word typed
    zsh = complete_in("t360 con", env, "zsh")
    assert zsh == '_arguments \'*: :(("config":"Read and change settings (the config file)."))\''
    assert complete_in("t360 nothing-like-it ", env, "zsh") == "_files"
    assert (
        complete_in("t360 con", env, "fish")
        == "config\tRead and change settings (the config file)."
    )


def test_values_follow_the_config_file_as_it_changes(isolated: Path) -> None:
    env = dict(os.environ)
    config = isolated / "xdg_config_home" / "t360" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[profiles.work]\nmodel = "x"\n[aliases]\nfast = "glm-5.1-air"\n')
    assert complete_in("t360 chat -p ", env) == "work"
    assert complete_in("t360 chat -m f", env) == "fast"
    config.write_text('[profiles.work]\n[profiles.home]\n[mcp_servers.time]\ncommand = "t"\n')
    assert complete_in("t360 chat -p ", env) == "work\nhome"  # the kept values were renewed
    assert complete_in("t360 chat -T ", env) == "all\ntime"
    config.write_text("[profiles\n")  # broken: offers nothing, never fails
    assert complete_in("t360 chat -p ", env) == ""


# -- --help answered before Typer loads (issue 28) -----------------------------------------


def test_the_help_table_is_generated_and_current() -> None:
    assert generate.HELP_FILE.read_text() == generate.help_table(), (
        "t360cli/help_table.py drifted: run python -m tests.generate"
    )


@pytest.mark.parametrize("args", [["--help"], ["chat", "-h"], ["config", "set", "--help"]])
def test_help_is_typer_s_page_without_loading_typer(args: list[str]) -> None:
    env = {**os.environ, "COLUMNS": "120"}
    fast = subprocess.run(
        [sys.executable, "-X", "importtime", T360, *args],
        capture_output=True, text=True, env=env, timeout=60, check=True,
    )  # fmt: skip
    loaded = {line.rsplit("|", 1)[-1].strip() for line in fast.stderr.splitlines()}
    assert not {"typer", "click", "t360cli.cli"} & loaded
    typer_s = subprocess.run(
        [T360, *args], capture_output=True, text=True, timeout=60, check=True,
        env={**env, "T360_TYPER_HELP": "1"},
    )  # fmt: skip
    assert fast.stdout == typer_s.stdout


def test_a_narrow_terminal_gets_typer_s_own_wrapping() -> None:
    narrow = run_process("chat", "--help", env={"COLUMNS": "50"})
    assert narrow.code == 0 and max(len(line) for line in narrow.out.splitlines()) <= 50
