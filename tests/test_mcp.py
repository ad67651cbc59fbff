"""The MCP client (t360cli/mcp.py) against a server built with the official SDK, a
server written by hand for the corners of the protocol, and the reference server
``mcp-server-time`` from PyPI. Every server is a real process on stdio, stopped after."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from t360cli.mcp import MCPError, Server, whole

HERE = Path(__file__).parent / "mcp"
SDK = [sys.executable, str(HERE / "sdk_server.py")]
RAW = [sys.executable, str(HERE / "raw_server.py")]


def gone(pid: int, within: float = 10.0) -> bool:
    """Whether process ``pid`` has ended (waited for, up to ``within`` seconds)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # our own child: reap it
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            pass
        time.sleep(0.02)
    return False


def read_pid(path: Path, within: float = 20.0) -> str:
    """The text a process wrote to ``path`` (its pid, or a mark), once it is there."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        time.sleep(0.02)
    raise AssertionError(f"nothing written to {path} in {within} s")


def make(tmp_path: Path, argv: list[str], **environ: str) -> Server:
    return Server(
        "test", argv, environ={**os.environ, **environ}, cwd=None, log=tmp_path / "test.log"
    )


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = make(tmp_path_factory.mktemp("sdk"), SDK)
    server.start(30)
    yield server
    server.close()


def test_the_handshake_negotiates_a_version_and_lists_the_tools(sdk: Server) -> None:
    assert sdk.protocol == "2025-11-25" and sdk.info["name"] == "t360-test"
    tools = {tool.name: tool for tool in sdk.tools(10)}
    assert {"echo", "slow", "fail", "big", "meet", "picture"} <= set(tools)
    assert tools["echo"].description.startswith("Say the text back.")
    assert tools["echo"].schema["properties"]["text"]["type"] == "string"


def test_a_call_answers_and_a_failing_tool_says_so(sdk: Server) -> None:
    result = sdk.call("echo", {"text": "hi"}, whole).result(10)
    assert result["content"][0]["text"] == "echo: hi" and not result["isError"]
    failed = sdk.call("fail", {"reason": "why"}, whole).result(10)
    assert failed["isError"] and "failed on purpose: why" in failed["content"][0]["text"]


def test_calls_under_way_together_run_together(sdk: Server) -> None:
    first, second = sdk.call("meet", {"text": "a"}, whole), sdk.call("meet", {"text": "b"}, whole)
    assert [first.result(15)["content"][0]["text"], second.result(15)["content"][0]["text"]] == [
        "met",
        "met",
    ]


def test_a_silent_call_times_out_is_cancelled_and_the_server_goes_on(sdk: Server) -> None:
    said: list[str] = []
    sdk.debug = said.append
    try:
        with pytest.raises(MCPError, match=r"no answer within 0\.3 s"):
            sdk.call("slow", {"seconds": 30}, whole).result(0.3)
    finally:
        sdk.debug = None
    assert said[-1] == "mcp test → notifications/cancelled"
    assert sdk.request("ping", None, 10) == {}  # still answering
    assert (
        sdk.call("echo", {"text": "after"}, whole).result(10)["content"][0]["text"] == "echo: after"
    )


def test_ctrl_c_while_waiting_cancels_the_call_and_is_raised(sdk: Server) -> None:
    import signal
    import threading

    request = sdk.call("slow", {"seconds": 30}, whole)
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    said: list[str] = []
    sdk.debug = said.append
    try:
        with pytest.raises(KeyboardInterrupt):  # wherever it lands, never past this block
            timer.start()
            request.result(20)
    finally:
        sdk.debug = None
    timer.join()
    assert said == ["mcp test → notifications/cancelled"]
    assert sdk.call("echo", {"text": "x"}, whole).result(10)["content"][0]["text"] == "echo: x"


def test_the_hand_written_server_corners(tmp_path: Path) -> None:
    server = make(tmp_path, [*RAW, "--pages", "3"])
    try:
        server.start(20)
        assert server.protocol == "2025-06-18"  # an older version is accepted
        names = [tool.name for tool in server.tools(10)]
        assert names == ["answers", "environment", "extra1", "extra2"]  # every page
        replies = json.loads(server.call("answers", {}, whole).result(10)["content"][0]["text"])
        assert replies["s1"]["code"] == -32601  # roots/list: method not found
        assert replies["s2"] == {}  # ping answered
    finally:
        server.close()
    assert "raw server starting" in (tmp_path / "test.log").read_text()  # stderr: the log


def test_an_unknown_protocol_version_is_refused(tmp_path: Path) -> None:
    server = make(tmp_path, [*RAW, "--version", "1999-01-01"])
    try:
        with pytest.raises(MCPError, match="speaks MCP protocol '1999-01-01'"):
            server.start(20)
    finally:
        server.close()


def test_a_missing_command_and_an_early_exit_are_clear(tmp_path: Path) -> None:
    with pytest.raises(MCPError, match="command not found: no-such-mcp-server"):
        make(tmp_path, ["no-such-mcp-server"]).start(5)
    server = make(tmp_path, [*RAW, "--exit-at-start"])
    with pytest.raises(MCPError, match=r"exited \(status 7\)"):
        server.start(20)
    server.close()


def mcp_server_time() -> str:
    """The reference server's command: beside this interpreter when not on PATH (CI runs
    the venv's python without activating it)."""
    found = shutil.which("mcp-server-time") or str(Path(sys.executable).parent / "mcp-server-time")
    if not Path(found).exists():
        pytest.skip("mcp-server-time is not installed")
    return found


def test_the_reference_server_from_pypi(tmp_path: Path) -> None:
    server = make(tmp_path, [mcp_server_time()])
    try:
        server.start(60)
        assert {"get_current_time", "convert_time"} <= {t.name for t in server.tools(10)}
        result = server.call("get_current_time", {"timezone": "Europe/Paris"}, whole).result(20)
        assert json.loads(result["content"][0]["text"])["timezone"] == "Europe/Paris"
    finally:
        server.close()


@pytest.mark.parametrize("how", ["close", "kill_all"])
def test_a_stubborn_server_and_what_it_started_are_ended(tmp_path: Path, how: str) -> None:
    """close: stdin, then SIGTERM, then SIGKILL to the group; kill_all: what a second
    Ctrl-C does just before os._exit, every running server's group at once."""
    from t360cli import mcp

    pidfile, childfile = tmp_path / "server.pid", tmp_path / "child.pid"
    args = ["--stubborn", "--pidfile", str(pidfile), "--child", str(childfile)]
    server = make(tmp_path, [*RAW, *args])
    server.start(20)
    pid, child = int(read_pid(pidfile)), int(read_pid(childfile))
    if how == "kill_all":
        mcp.kill_all()
        assert gone(pid) and gone(child)
    server.close()
    assert gone(pid) and gone(child)
    assert pid not in mcp._RUNNING


def test_the_log_keeps_a_mebibyte_of_a_run_and_the_server_never_waits_on_stderr(
    tmp_path: Path,
) -> None:
    from t360cli.mcp import MAX_LOG

    server = make(tmp_path, [*RAW, "--stderr", "5"])  # 5 MiB on stderr before each answer
    try:
        server.start(20)
        for _ in range(2):  # it is read to the end each time, past the cap
            assert server.call("answers", {}, whole).result(20)["content"][0]["text"]
    finally:
        server.close()
    log = (tmp_path / "test.log").read_bytes()
    assert b"raw server starting" in log
    assert MAX_LOG < len(log) < MAX_LOG + 1000
    assert log.count(b"MiB kept, the rest left out") == 1


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="the sweep reads /proc")
def test_what_the_server_started_in_a_session_of_its_own_is_ended_too(tmp_path: Path) -> None:
    """A daemon that holds the server's pipes (its 60 s sleep kept close waiting for it)."""
    escaped = tmp_path / "escaped.pid"
    server = make(tmp_path, [*RAW, "--escape", str(escaped)])
    server.start(20)
    pid = int(read_pid(escaped))
    assert os.getsid(pid) == pid  # out of the server's group: its SIGKILL misses it
    began = time.monotonic()
    server.close()
    assert time.monotonic() - began < 10
    assert gone(pid)


def test_deep_nesting_from_a_server_is_not_read_and_the_reader_goes_on(tmp_path: Path) -> None:
    """Before its answer, a line nested 100,000 deep (json gives up: RecursionError);
    then the answer, nested 150 deep: a clear error rather than a walk off the stack."""
    server = make(tmp_path, [*RAW, "--deep"])
    try:
        server.start(20)
        for _ in range(2):
            with pytest.raises(MCPError, match="its answer is nested deeper than 100 levels"):
                server.call("answers", {}, whole).result(10)
        assert server.request("ping", None, 10) == {}
    finally:
        server.close()


def test_lone_surrogates_from_a_server_become_replacement_characters(tmp_path: Path) -> None:
    server = make(tmp_path, [*RAW, "--surrogate"])
    try:
        server.start(20)
        (tool, *_) = server.tools(10)
        assert tool.name == "lone\ufffd" and tool.description == "lone\ufffd tool"
        result = server.call(tool.name, {}, whole).result(10)
        assert result["content"][0]["text"] == "half \ufffd a pair"
    finally:
        server.close()
