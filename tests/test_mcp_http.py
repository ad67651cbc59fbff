"""MCP servers over streamable HTTP (issue 32): t360's own client against a server built
with the official SDK's streamable HTTP transport (a process on 127.0.0.1) and against a
hostile one written by hand (tests/mcp/http_server.py, in this process); then end to end:
``-T``, ``t360 tools``, ``config show``, the proxy and TLS trust of the gateway."""

from __future__ import annotations

import json
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pexpect
import pytest
import trustme

from t360cli.mcp import PROTOCOL, MCPError, Reach, whole
from t360cli.mcp_http import RemoteServer
from t360cli.mockserver import MockServer
from tests.helpers import KEY, chat_env, first_line, invoke, paths, repl_run, spawn_t360
from tests.mcp.http_server import HostileServer
from tests.proxies import Socks5Proxy
from tests.test_mcp import HERE
from tests.test_tools import configure

SDK_HTTP = [sys.executable, str(HERE / "sdk_server.py"), "--http"]
#: A made-up token for the headers: it must never be shown.
TOKEN = "tok-9f8e7d6c5b4a39281706"


@contextmanager
def sdk_server(*args: str) -> Iterator[str]:
    """The SDK's server over HTTP on a free port of 127.0.0.1; its URL, once it listens."""
    process = subprocess.Popen(
        [*SDK_HTTP, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert process.stdout is not None
    try:
        yield f"http://127.0.0.1:{first_line(process.stdout, 60)}/mcp"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


@pytest.fixture(scope="module")
def sdk_url() -> Iterator[str]:
    with sdk_server() as url:
        yield url


def remote(
    tmp_path: Path, url: str, headers: dict[str, str] | None = None, **environ: str
) -> RemoteServer:
    return RemoteServer(
        "remote",
        url,
        headers or {},
        environ=environ,
        reach=Reach(None, None, 10, {}),
        timeout=30,
        start_timeout=30,
        log=tmp_path / "remote.log",
    )


# -- the client against the SDK's server -------------------------------------------------


def test_the_sdk_server_over_http_lists_calls_cancels_and_ends_the_session(
    sdk_url: str, tmp_path: Path
) -> None:
    server = remote(tmp_path, sdk_url)
    said: list[str] = []
    server.debug = said.append
    server.start(30)
    try:
        assert server.protocol == PROTOCOL and server.info["name"] == "t360-test"
        tools = {tool.name: tool for tool in server.tools(10)}
        assert tools["echo"].description.startswith("Say the text back.")
        assert server.call("echo", {"text": "hi"}, whole).result(10)["content"][0]["text"] == (
            "echo: hi"
        )
        failed = server.call("fail", {"reason": "why"}, whole).result(10)
        assert failed["isError"] and "failed on purpose: why" in failed["content"][0]["text"]
        first, second = (server.call("meet", {"text": t}, whole) for t in "ab")  # at once
        assert [r.result(15)["content"][0]["text"] for r in (first, second)] == ["met", "met"]
        with pytest.raises(MCPError, match=r"no answer within 0\.5 s"):
            server.call("slow", {"seconds": 30}, whole).result(0.5)
        assert said[-1] == "mcp remote → notifications/cancelled"
        assert server.request("ping", None, 10) == {}  # the session goes on
        session = server._endpoint.session if server._endpoint else None
        assert session
    finally:
        server.close()
    again = httpx.post(  # DELETE ended it: the server no longer knows it
        sdk_url,
        json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
        headers={"Mcp-Session-Id": session, "Accept": "application/json, text/event-stream"},
    )
    assert again.status_code == 404


def test_the_sdk_server_answering_with_json_bodies(tmp_path: Path) -> None:
    with sdk_server("--json-response") as url:
        server = remote(tmp_path, url)
        try:
            server.start(30)
            result = server.call("echo", {"text": "json"}, whole).result(10)
            assert result["content"][0]["text"] == "echo: json"
            first, second = (server.call("meet", {"text": t}, whole) for t in "ab")
            assert [r.result(15)["content"][0]["text"] for r in (first, second)] == ["met"] * 2
        finally:
            server.close()


# -- the client against a hostile server -------------------------------------------------


def test_what_the_client_sends_session_version_headers_and_answers_to_pings(
    tmp_path: Path,
) -> None:
    with HostileServer() as hostile:
        server = remote(
            tmp_path, hostile.url, {"X-Token": "Bearer ${SOME_TOKEN}"}, SOME_TOKEN=TOKEN
        )
        try:
            server.start(20)
            assert server.call("answers", {}, whole).result(10)["content"][0]["text"] == "called"
        finally:
            server.close()
        assert hostile.deleted_any.wait(10) and hostile.deleted == ["s1"]
    initialize, *rest = hostile.posted
    assert hostile.methods()[0] == "initialize"
    assert "mcp-session-id" not in initialize.headers
    assert initialize.headers["accept"] == "application/json, text/event-stream"
    assert initialize.headers["x-token"] == f"Bearer {TOKEN}"  # ${VAR} expanded at use
    methods = hostile.methods()
    agreed = methods.index("notifications/initialized")
    assert agreed < methods.index("tools/call")
    for later in rest:
        assert later.headers["mcp-session-id"] == "s1"
    for later in hostile.posted[agreed:]:  # the version once agreed
        assert later.headers["mcp-protocol-version"] == "2025-06-18"
    answers = [p.message for p in rest if "method" not in p.message]
    assert {"jsonrpc": "2.0", "id": "p1", "result": {}} in answers  # its pings, answered


def test_a_forgotten_session_is_started_afresh_once(tmp_path: Path) -> None:
    with HostileServer("forget") as hostile:
        server = remote(tmp_path, hostile.url)
        try:
            server.start(20)
            assert server.call("answers", {}, whole).result(10)["content"][0]["text"] == "called"
        finally:
            server.close()
    assert hostile.methods().count("initialize") == 2 and hostile.calls == 2
    assert hostile.posted[-1].headers["mcp-session-id"] == "s2"


def test_an_endless_stream_costs_the_call_its_timeout_and_is_left(tmp_path: Path) -> None:
    with HostileServer("endless") as hostile:
        server = remote(tmp_path, hostile.url)
        try:
            server.start(20)
            began = time.monotonic()
            with pytest.raises(MCPError, match="no answer within 1 s"):
                server.call("answers", {}, whole).result(1)
            assert time.monotonic() - began < 10
            assert hostile.left.wait(10)  # t360 stopped reading it
            assert server.request("ping", None, 10) == {}
        finally:
            server.close()


def test_a_message_past_the_limit_is_cut_off_as_it_is_read(tmp_path: Path) -> None:
    """One message that never ends (a data line of up to 64 MiB): refused at 32 MiB,
    long before the call's 30 s."""
    with HostileServer("huge") as hostile:
        server = remote(tmp_path, hostile.url)
        try:
            server.start(20)
            with pytest.raises(MCPError, match="it sent a message over 32 MiB"):
                server.call("answers", {}, whole).result(30)
        finally:
            server.close()


# -- end to end ---------------------------------------------------------------------------


def ask(gateway: MockServer, *args: str, **env: str) -> Any:
    return invoke("chat", *args, env={**chat_env(gateway), **env})


def test_a_remote_server_serves_chat_tools_and_the_repl_alike(
    server: MockServer, sdk_url: str
) -> None:
    configure(remote={"url": sdk_url, "auto_approve": ["echo"]})
    result = ask(server, "-T", "remote", "-m", "tool-use:echo", "what?")
    assert result.code == 0, result.err
    assert result.out == "Let me check. \nThe tool said: echo: what?\n"
    assert 'tool remote/echo {"text":"what?"}' in result.err
    listed = invoke("tools", "remote")
    assert listed.code == 0 and "remote\techo\tSay the text back.\n" in listed.out
    as_json = json.loads(invoke("tools", "--json").out)["remote"]
    assert as_json["url"] == sdk_url and as_json["command"] is None
    everything = ask(server, "-T", "all", "-y", "-m", "tool-use:echo", "all")
    assert everything.code == 0 and everything.out.endswith("echo: all\n")
    lines = ("/tools add remote", "what now?")
    in_repl = repl_run(*lines, args=("-m", "tool-use:echo"), env=chat_env(server))
    assert in_repl.code == 0, in_repl.err
    assert "remote: echo, slow, fail, big, meet, picture" in in_repl.out + in_repl.err
    assert "The tool said: echo: what now?" in in_repl.out


def test_headers_take_variables_at_use_and_a_refusal_names_the_server_only(
    server: MockServer, tmp_path: Path
) -> None:
    with sdk_server("--token", TOKEN) as url:
        configure(remote={"url": url, "headers": {"Authorization": "Bearer ${MCP_TOKEN}"}})
        good = ask(server, "-T", "remote", "-y", "-m", "tool-use:echo", "q", MCP_TOKEN=TOKEN)
        assert good.code == 0, good.err
        assert good.out.endswith("echo: q\n")
        unset = ask(server, "-T", "remote", "-m", "echo", "q")
        assert unset.code == 3
        assert (
            "MCP server 'remote' cannot start: its headers use ${MCP_TOKEN}, which is not set"
            in unset.err
        )
        wrong = ask(server, "-T", "remote", "-m", "echo", "q", MCP_TOKEN=TOKEN[::-1])
    assert wrong.code == 3
    (line,) = wrong.err.splitlines()
    assert line.startswith(
        f"t360: error: MCP server 'remote' cannot start: {url} refused t360 (HTTP 401"
        " Unauthorized): check its headers; check [mcp_servers.remote] in the config file"
    )
    with HostileServer("unauthorized") as hostile:  # its error body echoes the header
        configure(remote={"url": hostile.url, "headers": {"Authorization": "Bearer ${MCP_TOKEN}"}})
        echoed = ask(server, "-T", "remote", "-m", "echo", "q", MCP_TOKEN=TOKEN)
    assert echoed.code == 3 and "refused t360 (HTTP 401" in echoed.err
    log = (paths().state_dir / "mcp" / "remote.log").read_text()
    assert "bad credentials" in log  # the server's words are kept for the user
    for shown in (good.err, unset.err, wrong.err, echoed.err, log):
        assert TOKEN not in shown and TOKEN[::-1] not in shown


@pytest.mark.parametrize(
    ("how", "said"),
    [
        ("trickle", "it did not start within 1 s (its start_timeout)"),
        ("bad-session", "it gave an invalid session id (not visible ASCII)"),
    ],
)
def test_a_hostile_server_cannot_start_in_one_clear_line(
    server: MockServer, how: str, said: str
) -> None:
    with HostileServer(how) as hostile:
        configure(hostile={"url": hostile.url, "start_timeout": 1})
        began = time.monotonic()
        result = ask(server, "-T", "hostile", "-m", "echo", "q")
        assert time.monotonic() - began < 10
        if how == "trickle":
            assert hostile.left.wait(10)  # the stream was given up
    assert result.code == 3
    *_, line = result.err.splitlines()  # after "waiting for MCP server hostile…", if it was
    assert f"t360: error: MCP server 'hostile' cannot start: {said}" in line
    assert result.err.count("error") == 1
    assert not server.calls


def test_endless_and_huge_answers_are_the_tools_errors_and_the_answer_goes_on(
    server: MockServer,
) -> None:
    for how, error in (("endless", "no answer within 1 s"), ("huge", "over 32 MiB")):
        with HostileServer(how) as hostile:
            configure(hostile={"url": hostile.url, "timeout": 1 if how == "endless" else 60})
            result = ask(server, "-T", "hostile", "-y", "--json", "-m", "tool-use", "q")
        assert result.code == 0, result.err
        assert error in json.loads(result.out)["tool_runs"][0]["error"]


@pytest.mark.parametrize(
    ("how", "when"), [("SIGTERM", "call"), ("Ctrl-C", "call"), ("Ctrl-C", "start")]
)
def test_ctrl_c_or_sigterm_ends_the_run_within_a_second(
    server: MockServer, how: str, when: str
) -> None:
    """While a call's stream goes on for ever, or while the server trickles its answer to
    initialize (start_timeout 60): exit 130 at once, the session ended on the way out."""
    with HostileServer("endless" if when == "call" else "trickle") as hostile:
        configure(hostile={"url": hostile.url, "start_timeout": 60})
        args = ("chat", "-T", "hostile", "-y", "-m", "tool-use", "q")
        child = spawn_t360(*args, env=chat_env(server))
        try:
            child.expect_exact("running hostile/answers" if when == "call" else "waiting for MCP")
            began = time.monotonic()
            if how == "SIGTERM":
                child.kill(signal.SIGTERM)
            else:
                child.sendintr()
            child.expect(pexpect.EOF, timeout=10)
            # about a second by design (the DELETE, the process's exit); 6 on a loaded
            # machine, far from the 60 s the server would hold it
            assert time.monotonic() - began < 6
            child.close()
            assert child.exitstatus == 130
            assert hostile.deleted_any.wait(10)  # the session ended on the way out
            if when == "call":
                assert "notifications/cancelled" in hostile.methods()
        finally:
            child.close(force=True)


def test_config_show_names_the_url_and_header_names_never_their_values() -> None:
    configure(
        remote={
            "url": "https://mcp.example.com/mcp?key=abc123",
            "headers": {"Authorization": f"Bearer {TOKEN}"},
            "start_timeout": 5,
        },
        local={"command": "mcp-server-time"},
    )
    shown = invoke("config", "show")
    assert shown.code == 0, shown.err
    assert (
        "[mcp_servers.remote] https://mcp.example.com/mcp?…; headers Authorization;"
        " timeout 60 s; start_timeout 5 s\n" in shown.out
    )
    assert "[mcp_servers.local] mcp-server-time; timeout 60 s; start_timeout 30 s\n" in shown.out
    as_json = json.loads(invoke("config", "show", "--json").out)["mcp_servers"]
    assert as_json["remote"]["url"] == "https://mcp.example.com/mcp?…"
    assert as_json["remote"]["headers"] == ["Authorization"]
    assert as_json["local"]["start_timeout"] == 30
    for text in (shown.out, json.dumps(as_json)):
        assert TOKEN not in text and "abc123" not in text


@pytest.mark.parametrize(
    ("entry", "said"),
    [
        ({}, "[mcp_servers.bad] needs either a command or a url"),
        (
            {"command": "x", "url": "https://h/mcp"},
            "[mcp_servers.bad] has both a command and a url",
        ),
        ({"url": "ftp://h/mcp"}, "url must start with http:// or https://"),
        ({"url": "https://u:p@h/mcp"}, "url must not hold user:password@"),
        ({"url": "https://h/mcp", "args": ["a"]}, "args go with a command, not a url"),
        ({"command": "x", "headers": {"A": "b"}}, "headers go with a url, not a command"),
        ({"url": "https://h/mcp", "headers": {"Accept": "x"}}, "may not set Accept"),
        ({"url": "https://h/mcp", "headers": {"A B": "x"}}, "bad header name 'A B'"),
        ({"url": "https://h/mcp", "headers": {"A": "x\ny"}}, "the value of headers.A must"),
        ({"url": "https://h/mcp", "headers": {"A": "${1X}"}}, "the value of headers.A must"),
    ],
)
def test_a_bad_server_entry_is_exit_3_naming_it(
    server: MockServer, entry: dict[str, Any], said: str
) -> None:
    configure(bad=entry)
    result = ask(server, "-T", "bad", "-m", "echo", "q")
    assert result.code == 3 and said in result.err, result.err
    assert "Traceback" not in result.err


# -- the gateway's network settings ------------------------------------------------------


def test_a_remote_server_is_reached_through_the_proxy_setting(
    server: MockServer, sdk_url: str
) -> None:
    configure(remote={"url": sdk_url})
    port = int(sdk_url.split(":")[2].split("/", maxsplit=1)[0])
    with Socks5Proxy() as proxy:
        result = ask(server, "-T", "remote", "-y", "-m", "tool-use:echo", "q", T360_PROXY=proxy.url)
    assert result.code == 0, result.err
    assert ("127.0.0.1", port) in proxy.targets


def test_a_remote_server_over_tls_needs_its_ca_trusted_like_the_gateway(
    server: MockServer, tmp_path: Path
) -> None:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with HostileServer(tls=context) as hostile:
        configure(remote={"url": hostile.url})
        refused = ask(server, "-T", "remote", "-m", "echo", "q")
        trusted = ask(
            server, "-T", "remote", "-y", "-m", "tool-use", "q", T360_CA_BUNDLE=str(bundle)
        )
    assert refused.code == 3
    assert "MCP server 'remote' cannot start: the TLS certificate of 127.0.0.1 is not trusted" in (
        refused.err
    )
    assert "t360 config set ca_bundle" in refused.err
    assert trusted.code == 0, trusted.err
    assert trusted.out.endswith("The tool said: called\n")


def test_the_key_is_never_sent_to_a_remote_server(server: MockServer) -> None:
    with HostileServer() as hostile:
        configure(remote={"url": hostile.url, "headers": {"X-Key": "${T360_API_KEY}"}})
        result = ask(server, "-T", "remote", "-m", "echo", "q")
    assert result.code == 3 and "${T360_API_KEY}, which is not set" in result.err
    assert KEY not in json.dumps([p.headers for p in hostile.posted])
