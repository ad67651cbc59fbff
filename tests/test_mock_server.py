"""The stand-in server as a newcomer meets it: the README's Quick start, t360's default
model, and the mistakes of its command line."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
from pathlib import Path

import pytest

from t360cli.commands.mock import mock_server
from t360cli.mockserver import SCENARIOS, MockServer
from t360cli.mockserver.scenarios import SUGGESTED
from tests.helpers import T360, chat_env, invoke

ROOT = Path(__file__).resolve().parent.parent


def quick_start() -> list[list[str]]:
    """The lines of each ``sh`` block of the README's Quick start."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    return [block.splitlines() for block in re.findall(r"```sh\n(.*?)```", section, re.S)]


def test_the_quick_start_runs_as_written_against_the_mock(
    server: MockServer, tmp_path: Path
) -> None:
    first, offline = quick_start()
    start, exports, *commands = offline
    # `t360 mock-server &` is this test's server; the export line is run as written,
    # with the port this server got instead of the default one the README gives
    default = f"http://127.0.0.1:{inspect.signature(mock_server).parameters['port'].default}/v1"
    assert start.partition("#")[0].strip() == "t360 mock-server &" and default in start
    assert default in exports
    exports = exports.replace(default, server.url)
    # the first example too, which users run with the mock's variables still set
    commands += [line for line in first if line.startswith("t360 chat ")]
    assert any("Write a haiku" in line for line in commands)
    path = f"{Path(T360).parent}:{os.environ['PATH']}"
    for line in commands:
        done = subprocess.run(
            ["bash", "-c", f"{exports}\n{line}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=tmp_path,
            env={**os.environ, "PATH": path},
        )
        assert done.returncode == 0, (line, done.stderr)
        assert done.stdout.strip(), line
        assert "MockProvider" in done.stderr  # the footer
        if 'echo "exit code $?"' in line:  # the README shows a failure on purpose
            assert done.stdout.endswith("exit code 4\n"), done.stdout
        else:
            assert "error" not in done.stderr, (line, done.stderr)


def test_a_model_that_names_no_scenario_gets_a_plain_answer_and_a_notice(
    server: MockServer,
) -> None:
    for extra in ([], ["--no-stream"]):
        result = invoke("chat", *extra, "Write a haiku about coding.", env=chat_env(server))
        assert result.code == 0, result.err
        notice, _, answer = result.out.partition("\n\n")
        assert notice.startswith("(t360 mock server: no scenario is named glm-5.1, so this")
        assert "-m NAME: echo, markdown, slow-first:400, error-mid, drop, …" in notice
        assert f"t360 models lists all {len(SCENARIOS)}." in notice
        assert answer == "Write a haiku about coding.\n"
    assert {name.partition(":")[0] for name in SUGGESTED} <= set(SCENARIOS)
    assert [call.body["model"] for call in server.calls] == ["glm-5.1", "glm-5.1"]


@pytest.mark.parametrize("port", ["99999", "65536", "-1"])
def test_a_port_out_of_range_is_a_usage_error(port: str) -> None:
    result = invoke("mock-server", "--port", port)
    assert result.code == 2
    assert (
        result.err
        == f"t360: error: --port must be from 0 to 65535, got {port}; 0 picks a free one\n"
    )
