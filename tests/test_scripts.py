"""t360 in shell scripts: stdin, files, closed pipes, colour rules, the README example."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import httpx

from t360cli.mockserver import SCENARIOS, MockServer
from tests.helpers import KEY, T360, chat_env, fake_environment, first_line, run_t360

ROOT = Path(__file__).resolve().parent.parent


def bash(script: str, server: MockServer) -> subprocess.CompletedProcess[bytes]:
    """A shell script run in real pipes, with t360 pointed at the stand-in server."""
    return subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        timeout=60,
        check=False,
        env={**os.environ, **chat_env(server)},
    )


def sent(server: MockServer) -> str:
    """The user message of the last request the server saw."""
    return str(server.calls[-1].body["messages"][-1]["content"])


def test_piped_stdin_is_the_prompt(server: MockServer) -> None:
    result = run_t360("chat", "-m", "echo", input=b"Why is the sky blue?\n", env=chat_env(server))
    assert (result.code, result.out) == (0, "Why is the sky blue?\n")
    assert sent(server) == "Why is the sky blue?"


def test_argument_and_stdin_go_in_one_message(server: MockServer) -> None:
    run_t360("chat", "-m", "echo", "Summarize", input=b"line one\nline two\n", env=chat_env(server))
    assert sent(server) == "Summarize\n\nline one\nline two"


def test_a_dash_puts_stdin_at_its_place(server: MockServer) -> None:
    run_t360(
        "chat",
        "-m",
        "echo",
        "Translate",
        "-",
        "into French",
        input=b"bonjour\n",
        env=chat_env(server),
    )
    assert sent(server) == "Translate\n\nbonjour\n\ninto French"


def test_empty_stdin_adds_nothing(server: MockServer) -> None:
    run_t360("chat", "-m", "echo", "hi", input=b"", env=chat_env(server))
    assert sent(server) == "hi"
    with Path(os.devnull).open("rb") as devnull:
        proc = subprocess.run(
            [T360, "chat", "-m", "echo", "hi"],
            stdin=devnull,
            capture_output=True,
            env={**os.environ, **chat_env(server)},
            timeout=30,
            check=False,
        )
    assert proc.returncode == 0 and sent(server) == "hi"


def test_no_prompt_at_all_is_a_usage_error(server: MockServer) -> None:
    for stdin in (b"", b"  \n\n"):
        result = run_t360("chat", "-m", "echo", input=stdin, env=chat_env(server))
        assert result.code == 2 and "no prompt given" in result.err
    assert server.calls == []  # no empty request was sent


def test_no_stdin_never_waits_for_a_writer_that_keeps_stdin_open(server: MockServer) -> None:
    with subprocess.Popen(
        [T360, "chat", "-n", "-m", "echo", "question"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **chat_env(server)},
    ) as proc:
        try:
            # stdin stays open the whole time; the answer is small, so the pipe holds it
            assert proc.wait(timeout=20) == 0
            assert proc.stdout is not None and proc.stdout.read() == b"question\n"
        finally:
            proc.kill()


def test_while_read_loop_with_no_stdin_does_not_swallow_the_file(
    server: MockServer, tmp_path: Path
) -> None:
    questions = tmp_path / "questions.txt"
    questions.write_text("first\nsecond\nthird\n")
    proc = bash(
        f'while read -r q; do "{T360}" chat -q -n -m echo "$q"; done < "{questions}"', server
    )
    assert proc.stdout == b"first\nsecond\nthird\n"


def test_non_utf8_stdin_is_refused_clearly(server: MockServer) -> None:
    result = run_t360("chat", "-m", "echo", input=b"caf\xe9\n", env=chat_env(server))
    assert result.code == 2 and "stdin is not UTF-8 text (bad byte at offset 3)" in result.err


def test_files_are_fenced_and_labelled(server: MockServer, tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text("print('hi')\n")
    notes = tmp_path / "notes.md"
    notes.write_text("has ``` fences inside")
    run_t360("chat", "-m", "echo", "-f", str(app), "-f", str(notes), "Why?", env=chat_env(server))
    assert sent(server) == (
        f"Why?\n\n{app}:\n```\nprint('hi')\n```\n\n{notes}:\n````\nhas ``` fences inside\n````"
    )


def test_system_file(server: MockServer, tmp_path: Path) -> None:
    system = tmp_path / "system.txt"
    system.write_text("You are terse.\n")
    run_t360("chat", "-m", "echo", "--system-file", str(system), "hi", env=chat_env(server))
    assert server.calls[-1].body["messages"][0] == {"role": "system", "content": "You are terse.\n"}
    both = run_t360("chat", "-s", "x", "--system-file", str(system), "hi", env=chat_env(server))
    assert both.code == 2


def test_missing_file_is_a_usage_error(server: MockServer, tmp_path: Path) -> None:
    result = run_t360("chat", "-f", str(tmp_path / "nope.py"), "hi", env=chat_env(server))
    assert result.code == 2 and "cannot read file" in result.err and "nope.py" in result.err


def test_force_color_colours_stderr_never_piped_stdout(server: MockServer) -> None:
    result = run_t360("chat", "-m", "echo", "hi", env=chat_env(server, FORCE_COLOR="1"))
    assert result.out == "hi\n" and "\x1b[" in result.err
    plain = run_t360(
        "chat", "-m", "echo", "hi", env=chat_env(server, FORCE_COLOR="1", NO_COLOR="1")
    )
    assert "\x1b[" not in plain.err


def test_a_closed_pipe_ends_quietly_and_drops_the_connection(server: MockServer) -> None:
    script = f'"{T360}" chat -m lorem:200000 hi | head -c 20; echo " status=${{PIPESTATUS[0]}}"'
    started = time.monotonic()
    proc = bash(script, server)
    assert proc.stdout == b"Lorem ipsum dolor si status=0\n"
    assert proc.stderr == b""  # no traceback, no "Broken pipe"
    assert server.wait_for(lambda: server.disconnects >= 1, timeout=10)
    assert time.monotonic() - started < 30


def test_a_failed_answer_keeps_its_exit_code_when_the_reader_is_gone(server: MockServer) -> None:
    """`--json | true`: the reader left before the error object; the run still says 4."""
    script = (
        f'"{T360}" chat -m status:500 --retries 0 --json hi | true; echo "$' + '{PIPESTATUS[0]}"'
    )
    proc = bash(script, server)
    assert proc.stdout == b"4\n"
    assert b"HTTP 500" in proc.stderr and b"Traceback" not in proc.stderr


def test_a_standard_stream_closed_at_start_is_nowhere_not_a_crash(server: MockServer) -> None:
    """Started with stdin, stdout or stderr closed (`<&-`, `>&-`, `2>&-`), a run ends as it
    would have: the answer where it can go, and its own exit code."""
    for closed, status in (("<&-", 0), (">&-", 0), ("2>&-", 0)):
        proc = bash(f'"{T360}" chat -m echo hi {closed}; echo " status=$?"', server)
        assert proc.stdout.endswith(f" status={status}\n".encode()), (closed, proc)
        assert b"internal error" not in proc.stderr
    failed = bash(f'"{T360}" chat -m status:500 --retries 0 hi 2>&-; echo "status=$?"', server)
    assert failed.stdout == b"status=4\n"


def test_a_flag_that_is_not_utf8_is_a_usage_error_naming_it(server: MockServer) -> None:
    result = run_t360("chat", "-n", "-m", "e\udcff", "hi", env=chat_env(server))
    assert result.code == 2
    assert result.err.splitlines() == [
        "t360: error: --model is not valid UTF-8 (bad byte at character 2);"
        " fix the terminal's or the script's encoding"
    ]


def test_readme_exit_code_script(server: MockServer, tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    script = re.search(r"```bash\n(#!/usr/bin/env bash\n.*?)```", readme, re.S)
    assert script, "the README's example script"
    path = tmp_path / "ask.sh"
    path.write_text(script.group(1))
    env = {**os.environ, **chat_env(server), "PATH": f"{Path(T360).parent}:{os.environ['PATH']}"}

    def run(model: str, **extra: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["bash", str(path), "hello"],
            capture_output=True,
            timeout=60,
            check=False,
            env={**env, "T360_MODEL": model, **extra},
        )

    ok = run("echo")
    assert (ok.returncode, ok.stdout) == (0, b"hello\n")
    assert b"rate limited" in run("rate-limit-long").stderr
    no_key = run("echo", T360_API_KEY="")
    assert no_key.returncode == 3 and b"set T360_API_KEY" in no_key.stderr


def test_mock_server_command() -> None:
    with subprocess.Popen(
        [T360, "mock-server", "--port", "0"],  # 0: a free port, picked as it binds
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    ) as proc:
        try:
            assert proc.stderr is not None
            banner = first_line(proc.stderr)
            found = re.search(r"http://127\.0\.0\.1:(\d+)/v1", banner)
            assert found, banner
            port = int(found[1])
            models = httpx.get(
                f"http://127.0.0.1:{port}/v1/models",
                timeout=10,
                headers={"Authorization": "Bearer sk-mock"},
            ).json()
            assert {m["id"] for m in models["data"]} == set(SCENARIOS)
            result = run_t360(
                "chat",
                "-m",
                "echo",
                "offline",
                env={"T360_API_KEY": "sk-mock", "T360_BASE_URL": f"http://127.0.0.1:{port}/v1"},
            )
            assert result.out == "offline\n"
            busy = run_t360("mock-server", "--port", str(port))
            assert busy.code == 2 and "cannot listen" in busy.err
        finally:
            proc.terminate()


def test_plain_http_to_a_remote_host_warns() -> None:
    import io

    from t360cli.commands.common import warn_plain_http
    from t360cli.config import Settings

    def warning(url: str) -> str:
        err = io.StringIO()
        warn_plain_http(fake_environment(stderr=err), Settings(api_key=KEY, base_url=url))
        return err.getvalue()

    assert "unencrypted to gateway.example" in warning("http://gateway.example:8080/v1")
    for quiet in (
        "https://gateway.example/v1",
        "http://127.0.0.2:9/v1",
        "http://localhost/v1",
        "http://[::1]:80/v1",
        "http://127.0.0.1/v1",
        "http://localhost:8080/v1",
    ):
        assert warning(quiet) == "", quiet
