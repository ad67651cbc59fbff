"""Project hygiene: CI runs the README's command; start-up imports stay light."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import t360cli
from t360cli.mockserver import MockServer
from tests.helpers import T360, chat_env, run_t360

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```sh\n(python3 -m venv .*?)\n```", readme)
    assert len(commands) == 2, commands
    install_and_run, test = commands
    assert "t360 --help" in install_and_run and "pytest" in test
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in ci_lines


def test_changelog_has_an_unreleased_section() -> None:
    assert "## [Unreleased]" in (ROOT / "CHANGELOG.md").read_text()


def test_version_is_single_sourced() -> None:
    assert importlib.metadata.version("t360") == t360cli.__version__
    result = run_t360("--version")
    assert (result.code, result.out) == (0, f"t360 {t360cli.__version__}\n")


def imported_by(*args: str, env: dict[str, str] | None = None) -> set[str]:
    """Top-level packages a real ``python -m t360cli ARGS`` run imports."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "t360cli", *args],
        input=b"",
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    names = re.findall(rb"^import time:\s+\d+ \|\s+\d+ \|\s+([\w.]+)", proc.stderr, re.M)
    return {name.decode().split(".")[0] for name in names}


HEAVY = {
    "httpx",
    "httpcore",
    "rich",
    "typer",
    "click",
    "sqlite3",
    "prompt_toolkit",
    "platformdirs",
    "pydantic",
    "markdown_it",
    "pygments",
}


def test_version_imports_nothing_heavy() -> None:
    assert imported_by("--version") & HEAVY == set()


def test_the_installed_script_answers_version_without_loading_re() -> None:
    """The console script as installed: pip 25 and later write one that does not import
    ``re`` (older ones do, before t360's code runs: ~5 ms, 1.6x python's own start on the
    benchmark machine), and t360's --version path loads nothing that does either."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", T360, "--version"],
        capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    names = re.findall(rb"^import time:\s+\d+ \|\s+\d+ \|\s+([\w.]+)", proc.stderr, re.M)
    assert b"re" not in names, (
        f"{T360} imports re: reinstall it with a current pip (pip install -U pip), as the"
        " README's commands do"
    )


def test_piped_chat_never_loads_rich(server: MockServer) -> None:
    import os

    env = {**os.environ, **chat_env(server)}
    modules = imported_by("chat", "-m", "echo", "hi", env=env)
    assert {"httpx", "sqlite3"} <= modules  # the run really made its request and saved it
    assert modules & {"rich", "markdown_it", "pygments", "prompt_toolkit"} == set()
    unsaved = imported_by("chat", "--no-save", "-m", "echo", "hi", env=env)
    assert "httpx" in unsaved and "sqlite3" not in unsaved


def test_every_command_function_is_glue_of_at_most_60_lines() -> None:
    """A command (a Typer callback in t360cli/commands/) reads options, builds, runs,
    reports: its signature and body together fit in 60 lines; the work is elsewhere."""
    import ast

    from t360cli.cli import COMMANDS

    commands = Path(__file__).parent.parent / "t360cli" / "commands"
    callbacks = {(module, attribute) for module, attribute, group in COMMANDS.values() if not group}
    long = []
    for path in sorted(commands.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef):
                continue
            decorated = any("command" in ast.unparse(d) for d in node.decorator_list)
            if (path.stem, node.name) in callbacks or decorated:
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > 60:
                    long.append(f"{path.stem}.{node.name}: {lines} lines")
    assert long == []
