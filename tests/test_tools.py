"""Tools over MCP end to end: offered with -T, approved, run, answered, looped, limited,
saved, continued; ``t360 tools``; and the mock server's tool-using models. The MCP
servers are real processes (tests/mcp), the gateway the mock server."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pexpect
import pytest
import tomli_w

from t360cli.conversation import ToolCall, render
from t360cli.environment import Environment
from t360cli.mockserver import MockServer
from t360cli.mockserver.scenarios import SCENARIOS
from t360cli.mockserver.wire import Reply, Server, Step, chunk, sse, stream_of, usage_for, words
from t360cli.tools import MAX_RESULT, ServerConfig, function_name, result_text, server_environment
from tests.helpers import (
    KEY,
    T360,
    chat_env,
    fake_environment,
    invoke,
    open_history,
    paths,
    repl_run,
    run_t360,
    spawn_t360,
)
from tests.test_mcp import HERE, gone, mcp_server_time, read_pid
from tests.test_repl import Session

#: The reference server, built with the official SDK: for the tests that pin the protocol.
SDK = {"command": sys.executable, "args": [str(HERE / "sdk_server.py")]}
#: Its standard-library twin (the same tools and results), for the others: it starts in a
#: few ms where the SDK's imports take half a second of CPU.
LITE = {"command": sys.executable, "args": [str(HERE / "lite_server.py")]}
RAW = {"command": sys.executable, "args": [str(HERE / "raw_server.py")]}


def configure(top: Mapping[str, object] | None = None, /, **servers: dict[str, Any]) -> None:
    """The config file: these MCP servers, and the ``top`` settings."""
    path = paths().config_file
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(tomli_w.dumps({**(top or {}), "mcp_servers": servers}))
    path.chmod(0o600)


def model_calling(monkeypatch: pytest.MonkeyPatch, *calls: tuple[str, str]) -> str:
    """A model of the mock server, for this test only, that makes these calls (function
    name, arguments as the model writes them) in one answer, each in one chunk; once
    answered, it says the start of each result."""

    def reply(model: str, prompt: str, arg: str, server: Server) -> Reply:
        messages = server.calls[-1].body["messages"]
        if messages[-1]["role"] == "tool":
            results = [m["content"][:200] for m in messages if m["role"] == "tool"]
            return Reply(steps=stream_of(model, prompt, words(f"Results: {' | '.join(results)}")))
        steps: list[Step] = [sse(chunk(model, content=None))]
        for index, (name, arguments) in enumerate(calls):
            function = {"name": name, "arguments": arguments}
            call = {"index": index, "id": f"call_{index}", "type": "function"}
            steps.append(sse(chunk(model, tool_calls=[{**call, "function": function}])))
        steps.append(sse(chunk(model, finish="tool_calls", usage=usage_for(prompt, ["x"]))))
        return Reply(steps=[*steps, sse("[DONE]")])

    monkeypatch.setitem(SCENARIOS, "calling", ("the calls of one test", reply))
    return "calling"


def ask(server: MockServer, *args: str) -> Any:
    return invoke("chat", *args, env=chat_env(server))


def test_a_tool_runs_with_yes_and_the_answer_goes_on(server: MockServer) -> None:
    configure(test=SDK)
    result = ask(server, "-T", "test", "-y", "-m", "tool-use:echo", "what?")
    assert result.code == 0, result.err
    assert result.out == "Let me check. \nThe tool said: echo: what?\n"  # text before kept
    assert 'tool test/echo {"text":"what?"}' in result.err
    assert "↳ echo: what?" in result.err
    assert "2 requests · 1 tool call" in result.err
    first, second = server.calls[-2:]
    offered = [tool["function"]["name"] for tool in first.body["tools"]]
    assert offered == ["echo", "slow", "fail", "big", "meet", "picture"]
    called, answer = second.body["messages"][-2:]
    assert called["content"] == "Let me check. "
    assert called["tool_calls"][0]["function"] == {"name": "echo", "arguments": '{"text": "what?"}'}
    call_id = called["tool_calls"][0]["id"]
    assert answer == {"role": "tool", "tool_call_id": call_id, "content": "echo: what?"}


def test_json_sums_the_requests_and_lists_the_tool_runs(server: MockServer) -> None:
    configure(test=LITE)
    result = ask(server, "-T", "test", "-y", "--json", "-m", "tool-use:echo", "q")
    obj = json.loads(result.out)
    assert obj["content"] == "Let me check. \n\nThe tool said: echo: q"
    # 1 prompt + 1 completion token, then 1 + 5: summed over both requests
    assert obj["usage"]["prompt_tokens"] == 2 and obj["usage"]["completion_tokens"] == 6
    assert obj["usage"]["total_tokens"] == 8 and obj["usage"]["cost"] == pytest.approx(14e-6)
    assert obj["finish_reason"] == "stop" and obj["error"] is None
    (run,) = obj["tool_runs"]
    assert run["id"] == obj["tool_calls"][0]["id"]
    assert {k: run[k] for k in ("name", "server", "arguments", "output", "error", "approved")} == {
        "name": "echo",
        "server": "test",
        "arguments": {"text": "q"},
        "output": "echo: q",
        "error": None,
        "approved": True,
    }
    assert run["duration_ms"] > 0


def test_without_a_terminal_a_call_is_declined_and_the_user_told_how(server: MockServer) -> None:
    configure(test=LITE)
    result = ask(server, "-T", "test", "--json", "-m", "tool-use:echo", "q")
    assert result.code == 0
    assert (
        "declined test/echo: no terminal to ask; pass -y, or add 'echo' to auto_approve in"
        " [mcp_servers.test]" in result.err
    )
    obj = json.loads(result.out)
    assert obj["content"].endswith("The tool said: declined by the user")
    assert obj["tool_runs"][0]["approved"] is False
    assert obj["tool_runs"][0]["duration_ms"] is None


def test_auto_approve_runs_that_tool_without_yes(server: MockServer) -> None:
    configure(test={**LITE, "auto_approve": ["echo"]})
    assert ask(server, "-T", "test", "-m", "tool-use:echo", "q").out.endswith("echo: q\n")


def test_a_failing_call_and_a_timeout_are_error_results(server: MockServer) -> None:
    configure(test={**LITE, "timeout": 30})  # a failure's answer, however loaded the machine
    failed = ask(server, "-T", "test", "-y", "-m", "tool-use:fail", "q")
    assert failed.code == 0
    assert "The tool said: error: Error executing tool fail: failed on purpose" in failed.out
    assert "↳ error: Error executing tool fail" in failed.err
    configure(test={**LITE, "timeout": 1})
    slow = ask(server, "-T", "test", "-y", "--json", "-m", "tool-use:slow", "q")
    run = json.loads(slow.out)["tool_runs"][0]
    assert run["error"] == "no answer within 1 s" and run["approved"] is True
    assert run["duration_ms"] >= 1000
    assert server.calls[-1].body["messages"][-1]["content"] == "error: no answer within 1 s"
    with open_history() as history:  # tok/s in stats: the second the tool took is not generation
        row = history.query("SELECT * FROM responses ORDER BY created DESC LIMIT 1")[0]
        assert row["generation_ms"] <= row["latency_ms"] - row["ttft_ms"] - 1000


def test_a_big_result_is_cut_and_an_image_is_a_placeholder(server: MockServer) -> None:
    configure(test=SDK)
    big = ask(server, "-T", "test", "-y", "-m", "tool-use:big", "q")
    sent = server.calls[-1].body["messages"][-1]["content"]
    assert sent.startswith("x" * MAX_RESULT) and sent.endswith(
        "[50,000 more characters were left out by t360]"
    )
    assert "the result of big was cut to 100,000 characters" in big.err
    ask(server, "-T", "test", "-y", "-m", "tool-use:picture", "q")
    assert (
        server.calls[-1].body["messages"][-1]["content"]
        == "a caption\n[image image/png, 100 bytes]"
    )


def test_two_calls_run_at_once_and_answer_in_call_order(server: MockServer) -> None:
    configure(test=SDK)
    result = ask(server, "-T", "test", "-y", "--json", "-m", "tool-pair:meet", "q")
    obj = json.loads(result.out)
    assert [run["output"] for run in obj["tool_runs"]] == ["met", "met"]  # concurrently
    called = server.calls[-1].body["messages"][-3]
    answers = server.calls[-1].body["messages"][-2:]
    assert [a["tool_call_id"] for a in answers] == [c["id"] for c in called["tool_calls"]]


def test_the_round_limit_stops_with_exit_6_keeping_the_text(server: MockServer) -> None:
    configure(test=LITE)
    result = ask(server, "-T", "test", "-y", "--max-tool-rounds", "2", "-m", "tool-loop", "q")
    assert result.code == 6
    assert result.out == "Let me check. \n" * 3
    assert "the model still called tools after 2 rounds: stopped" in result.err
    assert len(server.calls) == 3
    continued = ask(server, "-c", "-m", "echo", "next")  # the unanswered calls left out
    assert continued.code == 0, continued.err


def test_continuing_a_tool_answer_sends_a_valid_order(server: MockServer) -> None:
    configure(test=LITE)
    ask(server, "-T", "test", "-y", "-m", "tool-use:echo", "first")
    result = ask(server, "-c", "-m", "echo", "second")
    assert result.code == 0, result.err  # the mock refuses (400) a misplaced tool message
    roles = [m["role"] for m in server.calls[-1].body["messages"]]
    assert roles == ["user", "assistant", "tool", "assistant", "user"]
    with open_history() as history:
        (conversation,) = history.recent()
        messages = history.messages(conversation.id)
        assert [m.role for m in messages] == ["user", "assistant", "tool", "assistant"] * 1 + [
            "user",
            "assistant",
        ]
        rows = history.query("SELECT completion_tokens FROM responses ORDER BY created")
        assert [row[0] for row in rows] == [6, 1]  # one row per answer, its tokens summed
    shown = invoke("history", "show", conversation.id).out
    assert 'called echo({"text": "first"})' in shown and "**Result of echo:**" in shown
    assert "## Assistant" not in shown and shown.count("## tool-use:echo") == 2
    exported = json.loads(invoke("history", "export", conversation.id, "--format", "json").out)
    tool = exported["messages"][2]
    assert tool["tool_call_id"] == exported["messages"][1]["tool_calls"][0]["id"]
    assert tool["tool_run"]["server"] == "test"


def test_an_answer_with_tool_rounds_loads_back_as_it_was_made_and_sent(
    server: MockServer,
) -> None:
    """The exchange Chat.ask made and the one the history loads back are equal (tool
    rounds, how each call ran, the answer's metrics), and render to exactly the messages
    the answer's last request sent, then its text."""
    from t360cli.config import Settings
    from t360cli.conversation import question
    from t360cli.request import RequestOptions
    from t360cli.session import Chat
    from t360cli.terminal import NullSink
    from t360cli.tools import Toolbox

    env = fake_environment()
    settings = Settings(api_key=KEY, base_url=server.url, model="tool-use:echo")
    chat = Chat(env, settings, RequestOptions())
    config = ServerConfig("test", str(LITE["command"]), tuple(LITE["args"]))
    chat.tools = Toolbox(
        env, [config], settings=settings, yes=True, quiet=True, approve=None, show=[].append
    )
    chat.tools.start()
    try:
        turn = chat.ask(question("first"), lambda: NullSink(env, show_extras=False))
    finally:
        chat.close()
    assert turn.error is None and turn.requests == 2, env.stderr.getvalue()
    with open_history() as history:
        loaded = history.context(chat.conversation_id or "")
    assert loaded == chat.exchanges
    (exchange,) = loaded
    (called,) = exchange.rounds
    assert called.text == "Let me check. " and [c.name for c in called.calls] == ["echo"]
    (result,) = called.results
    assert result.run is not None and result.run.server == "test" and result.run.approved
    assert (result.call_id, result.content) == (called.calls[0].id, "echo: first")
    sent = server.calls[-1].body["messages"]
    assert render(loaded) == [*sent, {"role": "assistant", "content": exchange.answer.content}]
    assert exchange.said() == turn.content
    metrics = exchange.answer.metrics
    assert metrics is not None and turn.ttft is not None
    assert metrics.ttft_ms == turn.ttft * 1000 and metrics.retries == turn.retries == 0
    assert metrics.completion_tokens == turn.tokens("completion_tokens") and not metrics.estimated
    assert (metrics.cost, metrics.latency_ms) == (turn.cost, turn.latency * 1000)


def test_retry_of_an_answer_with_tool_rounds_sends_the_message_alone_again(
    server: MockServer,
) -> None:
    configure(test=LITE)
    result = repl_run("first", "/retry", args=("-T", "test", "-y", "-m", "tool-use:echo"),
                      env=chat_env(server))  # fmt: skip
    assert result.code == 0, result.err
    asked = [call.body["messages"] for call in server.calls if call.body.get("tools")]
    assert len(asked) == 4  # the answer's two requests, twice
    assert asked[2] == asked[0] == [{"role": "user", "content": "first"}]
    roles = [m["role"] for m in asked[3]]
    assert roles == ["user", "assistant", "tool"]  # the retried call and result are gone
    with open_history() as history:
        (conversation,) = history.recent()
        (exchange,) = history.context(conversation.id)
    assert [len(r.results) for r in exchange.rounds] == [1]
    said = {"role": "assistant", "content": "The tool said: echo: first"}
    assert render([exchange]) == [*asked[3], said]


def test_without_T_a_tool_call_is_printed_not_run(server: MockServer) -> None:
    tools = json.dumps([{"type": "function", "function": {"name": "echo", "parameters": {}}}])
    result = ask(server, "--json", "-o", f"tools={tools}", "-m", "tool-use", "q")
    obj = json.loads(result.out)
    assert result.code == 0 and obj["finish_reason"] == "tool_calls"
    assert obj["tool_runs"] is None and len(server.calls) == 1
    plain = ask(server, "-o", f"tools={tools}", "-m", "tool-use", "q")
    assert "tool call: echo({})" in plain.err
    configure(test=LITE)
    both = ask(server, "-T", "test", "-o", f"tools={tools}", "-m", "tool-use", "q")
    assert both.code == 2 and "give either -T or -o tools=…, not both" in both.err


def test_a_server_that_cannot_start_is_exit_3_and_nothing_is_sent(server: MockServer) -> None:
    configure(broken={"command": "no-such-mcp-server"})
    result = ask(server, "-T", "broken", "-m", "echo", "q")
    assert result.code == 3
    assert "MCP server 'broken' cannot start: command not found: no-such-mcp-server" in result.err
    assert not server.calls
    unknown = ask(server, "-T", "nope", "-m", "echo", "q")
    assert unknown.code == 2 and "no MCP server 'nope' in the config file" in unknown.err


def test_with_all_a_server_that_cannot_start_is_named_and_the_others_offered(
    server: MockServer,
) -> None:
    configure(test=LITE, broken={"command": "no-such-mcp-server"})
    result = ask(server, "-T", "all", "-y", "-m", "tool-use:echo", "q")
    assert result.code == 0, result.err
    assert (
        "t360: MCP server 'broken' cannot start: command not found: no-such-mcp-server;"
        " going on without it (check [mcp_servers.broken]" in result.err
    )
    assert result.out.endswith("The tool said: echo: q\n")
    assert server.calls[0].body["tools"][0]["function"]["name"] == "echo"
    named = ask(server, "-T", "all", "-T", "broken", "-m", "echo", "q")  # by name: needed
    assert named.code == 3 and "error: MCP server 'broken' cannot start" in named.err
    configure(broken={"command": "no-such-mcp-server"}, gone={"command": "no-such-either"})
    calls = len(server.calls)
    none = ask(server, "-T", "all", "-m", "echo", "q")
    assert none.code == 3 and len(server.calls) == calls  # every one failed: nothing sent
    assert "t360: error: MCP server 'broken' cannot start: command not found" in none.err
    assert "t360: MCP server 'gone' cannot start: command not found: no-such-either" in none.err


def test_servers_slow_to_start_are_said_to_be_awaited_once_unless_quiet(
    server: MockServer,
) -> None:
    configure(slow={**RAW, "args": [*RAW["args"], "--slow-start", "3"]})
    result = ask(server, "-T", "slow", "-y", "-m", "tool-use:answers", "q")
    assert result.code == 0, result.err
    assert result.err.count("waiting for MCP server slow…") == 1
    quiet = ask(server, "-T", "slow", "-y", "-q", "-m", "tool-use:answers", "q")
    assert quiet.code == 0, quiet.err
    assert "waiting" not in quiet.err


def test_servers_get_the_environment_without_t360_variables(server: MockServer) -> None:
    configure(raw={**RAW, "env": {"SECRET_SEEN": "from the config"}})
    result = ask(server, "-T", "all", "-y", "--json", "-m", "tool-use:environment", "q")
    seen = json.loads(json.loads(result.out)["tool_runs"][0]["output"])
    assert seen["secret"] == "from the config" and "HOME" in seen["names"]
    assert not [name for name in seen["names"] if name.startswith("T360_")]
    env: Environment = fake_environment(vars={"KEEP": "1", "T360_X": "2", "OTHER": KEY})
    env.secrets.add(KEY)
    assert server_environment(env, ServerConfig("s", "c", env={"E": "3"})) == {
        "KEEP": "1",
        "E": "3",
    }


def test_dry_run_shows_the_tools_offered(server: MockServer) -> None:
    configure(test=LITE)
    result = ask(server, "-T", "test", "--dry-run", "-m", "echo", "q")
    body = json.loads(result.out)["body"]
    assert [t["function"]["name"] for t in body["tools"]][:2] == ["echo", "slow"]


def test_non_streamed_answers_run_tools_too(server: MockServer) -> None:
    configure(test=LITE)
    result = ask(server, "-T", "test", "-y", "--no-stream", "-m", "tool-use:echo", "q")
    assert result.code == 0 and result.out.endswith("The tool said: echo: q\n")


def test_tools_lists_each_server_and_one_that_fails(server: MockServer) -> None:
    configure(test=LITE, broken={"command": "no-such-mcp-server"})
    result = invoke("tools")
    assert result.code == 3
    assert "test\techo\tSay the text back.\n" in result.out  # the description's first line
    assert "MCP server 'broken' cannot start" in result.err
    one = json.loads(invoke("tools", "test", "--json").out)
    assert one["test"]["error"] is None and one["test"]["tools"][0]["name"] == "echo"


def test_names_offered_are_valid_and_distinct() -> None:
    taken: dict[str, object] = {}
    for server, tool in (("a", "get time"), ("b", "get time"), ("c", "x" * 80), ("a", "ok")):
        taken[function_name(server, tool, taken)] = None
    assert list(taken) == ["get_time", "b_get_time", "x" * 64, "ok"]


def test_results_join_text_and_use_structured_content_alone() -> None:
    assert result_text(
        {"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
    ) == ("a\nb", None, 0)
    assert result_text({"content": [], "structuredContent": {"n": 1}}) == ('{"n": 1}', None, 0)
    link = {"type": "resource_link", "uri": "file:///x"}
    assert result_text({"content": [link], "isError": True}) == (
        "",
        "[resource link file:///x]",
        0,
    )


def test_the_mock_refuses_a_tool_message_without_its_call(server: MockServer) -> None:
    messages = [
        {"role": "user", "content": "q"},
        {"role": "tool", "tool_call_id": "c", "content": "r"},
    ]
    response = httpx.post(
        f"{server.url}/chat/completions",
        json={"model": "echo", "messages": messages},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert response.status_code == 400 and "answers no tool call" in response.text


# -- on a terminal ---------------------------------------------------------------------


def test_approval_in_the_repl_yes_no_always(server: MockServer, tmp_path: Path) -> None:
    started = tmp_path / "started"
    configure(test={**LITE, "env": {"MCP_TEST_STARTED": str(started)}})
    session = Session(server, "-T", "test", "-m", "tool-use:echo")
    child = session.child
    for message, key, said in (("one", "y", "echo: one"), ("two", "n", "declined by the user")):
        child.sendline(message)
        child.expect_exact("[y]es [n]o [a]lways")
        child.send(key)
        child.expect_exact(f"The tool said: {said}")
    child.sendline("three")
    child.expect_exact("[y]es [n]o [a]lways")
    child.send("a")
    child.expect_exact("The tool said: echo: three")
    child.sendline("four")  # "always": no question this time
    assert child.expect([r"\[y\]es \[n\]o", "The tool said: echo: four"]) == 1
    session.send("/tools", "test: echo, slow, fail, big, meet, picture")
    saved = tmp_path / "chat.md"
    session.send(f"/save {saved}", "saved to")
    text = saved.read_text()
    assert 'called echo({"text": "one"})' in text and "**Result of echo:**" in text
    session.send("/model tool-use:slow")
    child.sendline("five")
    child.expect_exact("[y]es [n]o [a]lways")
    child.send("y")
    read_pid(started)  # waits until the call runs
    child.sendintr()  # cancels the call and ends this turn only
    child.expect_exact("interrupted")
    session.send("/model echo")
    session.send("six is answered", "six is answered")
    session.send("/tools remove test", "no tools offered")
    assert session.leave() == 0


def test_ctrl_c_during_a_tool_cancels_it_exits_130_and_leaves_no_process(
    server: MockServer, tmp_path: Path
) -> None:
    pidfile, started = tmp_path / "server.pid", tmp_path / "started"
    environ = {"MCP_TEST_PIDFILE": str(pidfile), "MCP_TEST_STARTED": str(started)}
    configure(test={**SDK, "env": environ})
    child = spawn_t360("chat", "-T", "test", "-y", "-m", "tool-use:slow", "q", env=chat_env(server))
    pid = int(read_pid(pidfile))
    read_pid(started)  # the call is running
    child.expect_exact("running test/slow")  # the spinner, on a terminal
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert gone(pid)
    with open_history() as history:
        (conversation,) = history.recent()
        tool = [m for m in history.messages(conversation.id) if m.role == "tool"]
        assert tool[0].content == "cancelled by the user (Ctrl-C)"


def test_the_reference_server_configured_as_the_readme_shows_in_real_pipes(
    server: MockServer,
) -> None:
    configure(
        time={
            "command": mcp_server_time(),
            "args": ["--local-timezone", "Europe/Paris"],
            "auto_approve": ["get_current_time"],
        }
    )
    env = chat_env(server)
    result = run_t360("chat", "-T", "time", "-m", "tool-use", "Asia/Tokyo", env=env)
    assert result.code == 0, result.err
    assert '"timezone": "Asia/Tokyo"' in result.out and "+09:00" in result.out
    convert = run_t360("chat", "-T", "time", "--json", "-m", "tool-use:convert_time", "x", env=env)
    assert json.loads(convert.stdout)["tool_runs"][0]["error"] == "declined by the user"
    allowed = run_t360("chat", "-T", "time", "-y", "-m", "tool-use:convert_time", "x", env=env)
    assert allowed.code == 0 and "The tool said: error:" in allowed.out  # "x" is no timezone


def test_closing_stops_a_server_that_is_still_starting(tmp_path: Path) -> None:
    import time

    from t360cli.tools import Toolbox, configured

    pidfile = tmp_path / "pid"
    args = [*RAW["args"], "--slow-start", "60", "--pidfile", str(pidfile)]
    configure(slow={**RAW, "args": args})
    from t360cli.config import Settings, read_config

    env = fake_environment(vars=dict(os.environ))
    servers = list(configured(read_config(env)).values())
    toolbox = Toolbox(
        env, servers, settings=Settings(), yes=False, quiet=True, approve=None, show=[].append
    )
    toolbox.start()
    pid = int(read_pid(pidfile))
    began = time.monotonic()
    toolbox.close()  # not after its 60 s initialize
    assert time.monotonic() - began < 20
    assert gone(pid)


def test_a_bad_server_entry_is_a_configuration_error(server: MockServer) -> None:
    configure(test={**LITE, "timeout": "soon"})
    result = ask(server, "-T", "test", "-m", "echo", "q")
    assert result.code == 3
    assert "[mcp_servers.test]: timeout must be a number of seconds above 0" in result.err
    configure(test={**LITE, "autoapprove": ["echo"]})
    result = ask(server, "-T", "test", "-m", "echo", "q")
    assert result.code == 3 and "[mcp_servers.test] has unknown keys: autoapprove" in result.err


def test_ctrl_c_at_the_question_runs_nothing_and_exits_130(server: MockServer) -> None:
    configure(test=LITE)
    args = ("chat", "-q", "-T", "test", "-m", "tool-use:echo", "q")
    child = spawn_t360(*args, env=chat_env(server))
    child.expect_exact('tool test/echo {"text":"q"}')  # even with -q: what is asked about
    child.expect_exact("[y]es [n]o [a]lways")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert len(server.calls) == 1  # the model was not asked again


def test_escapes_from_a_server_never_reach_the_terminal(server: MockServer) -> None:
    configure(raw={**RAW, "args": [*RAW["args"], "--evil"]})
    result = invoke(
        "chat", "-T", "raw", "-y", "-m", "tool-use", "q", env=chat_env(server), tty=True
    )
    assert result.code == 0, result.err
    assert "wiped" in result.err and "wiped" in result.out  # shown, and answered with
    for shown in (result.out, result.err):
        assert "\x1b[2J" not in shown and "\x1b]" not in shown and "\x1b[31m" not in shown
    assert server.calls[0].body["tools"][0]["function"]["name"] == "ev__31mil"  # a valid name
    listed = invoke("tools", tty=True)
    assert "\x1b]52" not in listed.out and "\x1b[31m" not in listed.out


def test_schema_checks_the_answer_after_the_tool_calls(server: MockServer) -> None:
    configure(test=LITE)
    result = ask(
        server, "-T", "test", "-y", "--json", "--schema", "answer", "-m", "tool-use:echo", "q"
    )
    assert result.code == 0, result.err
    assert json.loads(result.out)["content"] == 'Let me check. \n\n{"answer": "echo: q"}'


def test_debug_logs_each_message_to_a_server_but_not_its_content(server: MockServer) -> None:
    configure(raw=RAW)
    listed = invoke("tools", "--debug")
    for line in ("mcp raw started", "mcp raw → initialize #1", "mcp raw ← #1 result in"):
        assert f"t360 debug: {line}" in listed.err
    assert "mcp raw ← roots/list request: not supported" in listed.err
    assert "mcp raw ← notifications/message (ignored)" in listed.err
    assert "mcp raw stopped" in listed.err
    configure(test=LITE)
    result = ask(server, "-T", "test", "-y", "--debug", "-m", "tool-use:echo", "secret words")
    debug = [line for line in result.err.splitlines() if line.startswith("t360 debug: mcp")]
    assert any("→ tools/call #" in line for line in debug)
    assert not [line for line in debug if "secret" in line]  # no arguments, no results
    assert "echo: secret words" in result.out


def test_long_arguments_are_shown_whole_before_the_question(server: MockServer) -> None:
    configure(test=LITE)
    prompt = "word " * 40 + "THE-END"
    child = spawn_t360("chat", "-T", "test", "-m", "tool-use:echo", prompt, env=chat_env(server))
    child.expect_exact('"text": "word word')  # the indented form, under the cut line
    child.expect_exact("THE-END")
    child.expect_exact("[y]es [n]o [a]lways")
    child.send("n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_config_show_lists_the_servers_without_env_values() -> None:
    configure(
        time={"command": "mcp-server-time", "env": {"TOKEN": "s3cret"}, "auto_approve": ["a"]}
    )
    shown = invoke("config", "show")
    assert (
        "[mcp_servers.time] mcp-server-time; env TOKEN; auto_approve a; timeout 60 s" in shown.out
    )
    as_json = json.loads(invoke("config", "show", "--json").out)["mcp_servers"]["time"]
    assert as_json["env"] == ["TOKEN"] and "s3cret" not in shown.out + json.dumps(as_json)


def test_the_repl_reports_a_server_that_could_not_start_and_goes_on(server: MockServer) -> None:
    configure(test=LITE, broken={"command": "no-such-mcp-server"})
    session = Session(server, "-T", "test", "-T", "broken", "-m", "echo")
    session.send("/tools", "MCP server 'broken' cannot start: command not found", "test: echo")
    session.send("/tools add broken", "MCP server 'broken' cannot start")  # tried again
    answered = session.send("still here", "still here", "still here")  # the line, the answer
    assert "cannot start" not in answered  # the session went on without it
    assert session.leave() == 0


# -- hostile servers and models ----------------------------------------------------------


def test_arguments_a_server_does_not_read_fail_after_the_timeout(
    server: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the pipe's 64 KiB, to a server that stopped reading: the write never ends,
    and the call fails after its timeout as an unanswered one does."""
    configure(deaf={**RAW, "args": [*RAW["args"], "--deaf"], "timeout": 1})
    model = model_calling(monkeypatch, ("answers", json.dumps({"text": "x" * 300_000})))
    result = run_t360("chat", "-T", "deaf", "-y", "--json", "-m", model, "q", env=chat_env(server))
    assert result.code == 0, result.err
    assert json.loads(result.out)["tool_runs"][0]["error"] == "no answer within 1 s"


@pytest.mark.parametrize("how", ["SIGTERM", "Ctrl-C"])
def test_a_server_flooding_pings_it_does_not_read_cannot_keep_t360_running(
    server: MockServer, tmp_path: Path, how: str
) -> None:
    """It answers the call with 20,000 pings and never reads: the answers fill its pipe
    and are dropped; the run still ends at once, and the server with it."""
    pidfile, flooding = tmp_path / "server.pid", tmp_path / "flooding"
    args = [*RAW["args"], "--ping-flood", str(flooding), "--pidfile", str(pidfile)]
    configure(flood={**RAW, "args": args})
    child = spawn_t360(
        "chat", "-T", "flood", "-y", "-m", "tool-use:answers", "q", env=chat_env(server)
    )
    pid = int(read_pid(pidfile))
    try:
        read_pid(flooding)  # 3000 pings out: their answers fill its stdin
        child.expect_exact("running flood/answers")
        began = time.monotonic()
        if how == "SIGTERM":
            child.kill(signal.SIGTERM)
        else:
            child.sendintr()
        child.expect(pexpect.EOF, timeout=10)
        assert time.monotonic() - began < 8  # a second or two by design, on a loaded machine
        child.close()
        assert child.exitstatus == 130
        assert gone(pid)
    finally:
        child.close(force=True)  # on failure: the hung run, and its server
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def test_memory_is_bounded_by_the_calls_times_the_cut_not_their_replies(
    server: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """30 calls at once, each answered with 16 MiB: each result is cut as it is read,
    so the run fits in an address space that half of the replies would overflow (it
    needs about 230 MiB; replies kept whole, 17 of the 30 fitted in 400, the rest timed out).
    Two malloc arenas at most, so that the address space follows the heap."""
    configure(big={**RAW, "args": [*RAW["args"], "--big", "16"], "timeout": 30})
    model = model_calling(monkeypatch, *[("answers", "{}")] * 30)
    limit = 400 * 2**20

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    run = subprocess.run(
        [T360, "chat", "-T", "big", "-y", "-m", model, "q"],
        capture_output=True,
        env={**os.environ, **chat_env(server), "MALLOC_ARENA_MAX": "2"},
        preexec_fn=limited,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    assert run.stdout.decode().count("x" * 200) == 30
    cut = f"\n[{16 * 2**20 - MAX_RESULT:,} more characters were left out by t360]"
    sent = server.calls[-1].body["messages"]
    assert [m["content"] for m in sent if m["role"] == "tool"] == ["x" * MAX_RESULT + cut] * 30


def test_a_tool_call_without_a_name_is_shown_as_such(
    server: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(test=LITE)
    model = model_calling(monkeypatch, ("", ""))
    result = ask(server, "-T", "test", "-y", "--json", "-m", model, "q")
    assert result.code == 0, result.err
    assert "tool (unnamed tool) {}" in result.err
    assert json.loads(result.out)["tool_runs"][0]["error"] == "the call names no tool"


def test_without_T_a_tool_call_without_a_name_is_shown_as_such(
    server: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = model_calling(monkeypatch, ("", '{"a": 1}'))
    result = ask(server, "-m", model, "q")
    assert result.code == 0, result.err
    assert 'tool call: (unnamed tool)({"a": 1})' in result.err


def test_arguments_nested_past_what_json_reads_are_the_tools_error(
    server: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(test=LITE)
    model = model_calling(monkeypatch, ("echo", "[" * 100_000))
    result = ask(server, "-T", "test", "-y", "--json", "-m", model, "q")
    assert result.code == 0, result.err
    (run,) = json.loads(result.out)["tool_runs"]
    assert run["error"] == "the arguments are not a JSON object" and run["approved"] is False
    assert server.calls[-1].body["messages"][-1]["content"].startswith("error: the arguments")


def test_lone_surrogates_in_a_tools_name_and_result_do_not_end_the_turn(
    server: MockServer,
) -> None:
    configure(raw={**RAW, "args": [*RAW["args"], "--surrogate"]})
    result = ask(server, "-T", "raw", "-y", "-m", "tool-use", "q")
    assert result.code == 0, result.err
    assert "tool raw/lone\ufffd {}" in result.err
    assert result.out.endswith("The tool said: half \ufffd a pair\n")


def test_a_lone_surrogate_in_the_models_arguments_becomes_a_replacement_character(
    server: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(test=LITE)
    model = model_calling(monkeypatch, ("echo", '{"text": "a\\ud800b"}'))
    result = ask(server, "-T", "test", "-y", "--json", "-m", model, "q")
    assert result.code == 0, result.err
    (run,) = json.loads(result.out)["tool_runs"]
    assert run["arguments"] == {"text": "a\ufffdb"} and run["output"] == "echo: a\ufffdb"


#: A made-up GitHub token, as a tool might return it.
TOKEN = "ghp_" + "a1B2" * 9


@pytest.mark.parametrize("mode", ["refuse", "redact"])
def test_a_tool_result_holding_a_secret_is_withheld_or_redacted(
    server: MockServer, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """Issue 31: under refuse the model is told the result was withheld, and which kinds
    of secret it held; under redact it gets the result redacted; the turn goes on (no
    exit 6), and neither the history nor stderr's result line holds the secret."""
    configure(test=LITE)
    model = model_calling(monkeypatch, ("echo", json.dumps({"text": f"token {TOKEN}"})))
    env = {**chat_env(server), "T360_SECRETS": mode}
    result = invoke("chat", "-T", "test", "-y", "--json", "-m", model, "q", env=env)
    assert result.code == 0, result.err
    (run,) = json.loads(result.out)["tool_runs"]
    sent = server.calls[-1].body["messages"][-1]["content"]
    if mode == "refuse":
        said = "withheld by t360's secrets guard: it held a secret (GitHub token)"
        assert (run["output"], run["error"], sent) == (None, said, said)
        assert "secret found: tool test/echo line 1: GitHub token" in result.err
        assert "the result of test/echo was withheld from the model" in result.err
        assert "--allow-secrets" in result.err
    else:
        assert run["output"] == sent == "echo: token [REDACTED:GitHub token]"
        assert "1 secret redacted before sending" in result.err
    assert "↳ echo: token ghp_" not in result.err
    with open_history() as history:
        (conversation,) = history.recent()
        saved = [m.content for m in history.messages(conversation.id) if m.role == "tool"]
        assert saved == [sent]
        stored = history.query("SELECT tool_run FROM messages WHERE role = 'tool'")[0][0]
        assert json.loads(stored)["output"] == run["output"]  # its arguments: the model's


@pytest.mark.parametrize("command", ["tools", "chat"])
def test_a_key_from_api_key_cmd_is_kept_from_the_servers_too(
    server: MockServer, command: str
) -> None:
    """The key is known before any server starts, so that another variable holding it
    (here SECRET_SEEN) is not passed on, as with T360_API_KEY."""
    configure({"base_url": server.url, "api_key_cmd": f"echo {KEY}"}, raw=RAW)
    if command == "tools":
        listed = run_t360("tools", "raw", env={"SECRET_SEEN": KEY})
        assert listed.code == 0, listed.err
        assert "raw\tenvironment\tenvironment tool\n" in listed.out  # not "SECRET_SEEN is set"
        return
    args = ("chat", "-T", "raw", "-y", "--json", "-m", "tool-use:environment", "q")
    result = run_t360(*args, env={"SECRET_SEEN": KEY})
    assert result.code == 0, result.err
    seen = json.loads(json.loads(result.out)["tool_runs"][0]["output"])
    assert seen["secret"] is None and "SECRET_SEEN" not in seen["names"]


@pytest.mark.parametrize(
    ("entry", "said"),
    [
        ({"command": "mcp\0server"}, "command holds a NUL character"),
        ({"args": ["a\0b"]}, "args holds a NUL character"),
        ({"env": {"TOKEN": "a\0b"}}, "env holds a NUL character"),
        ({"env": {"A\0B": "1"}}, "env holds a NUL character"),
        ({"env": {"A=B": "1"}}, "env has a bad variable name 'A=B'"),
        ({"cwd": "/tmp\0x"}, "cwd holds a NUL character"),
    ],
)
def test_what_no_process_can_be_given_is_a_configuration_error(
    server: MockServer, entry: dict[str, Any], said: str
) -> None:
    configure(bad={**RAW, **entry})
    result = ask(server, "-T", "bad", "-m", "echo", "q")
    assert result.code == 3 and f"[mcp_servers.bad]: {said}" in result.err
    assert "Traceback" not in result.err


def test_start_up_has_its_own_timeout(server: MockServer) -> None:
    """A server slower to start than a call may take is fine; one slower than its
    start_timeout cannot start."""
    slow = {**RAW, "args": [*RAW["args"], "--slow-start", "3"], "timeout": 2}
    configure(slow=slow)
    result = ask(server, "-T", "slow", "-y", "-m", "tool-use:answers", "q")
    assert result.code == 0, result.err
    configure(slow={**slow, "args": [*RAW["args"], "--slow-start", "60"], "start_timeout": 1})
    began = time.monotonic()
    result = ask(server, "-T", "slow", "-m", "echo", "q")
    assert time.monotonic() - began < 10
    assert result.code == 3
    assert "MCP server 'slow' cannot start: it did not start within 1 s (its start_timeout)" in (
        result.err
    )


def _toolbox(*, approve: Any, quiet: bool, yes: bool = False) -> tuple[Any, list[str], Environment]:
    """A Toolbox offering ``test/echo`` (no server started: the calls are declined before
    one would run), its lines collected, its warnings on the fake stderr."""
    from t360cli.config import Settings
    from t360cli.mcp import Tool
    from t360cli.tools import Toolbox

    env = fake_environment()
    shown: list[str] = []
    toolbox = Toolbox(
        env,
        [ServerConfig("test", "true")],
        settings=Settings(),
        yes=yes,
        quiet=quiet,
        approve=approve,
        show=shown.append,
    )
    toolbox.offered = {"echo": ("test", Tool("echo", "Echo.", {}))}
    return toolbox, shown, env


def _call(name: str, arguments: str) -> ToolCall:
    return ToolCall("c1", name, arguments)


def test_the_toolbox_asks_and_shows_through_the_callbacks_it_is_given() -> None:
    asked: list[tuple[str, dict[str, Any]]] = []

    def approve(line: str, arguments: dict[str, Any]) -> str:
        asked.append((line, arguments))
        return "no"

    toolbox, shown, env = _toolbox(approve=approve, quiet=True)
    runs, stop = toolbox.run([_call("echo", '{"text": "q"}'), _call("nope", "{}")])
    assert stop is None
    assert asked == [('tool test/echo {"text":"q"}', {"text": "q"})]
    # -q: a call that could be asked about is shown all the same (an unknown tool too)
    assert shown == ['tool test/echo {"text":"q"}', "tool nope {}"]
    assert [(run.error, run.approved) for run in runs] == [
        ("declined by the user", False),
        ("no tool named 'nope'", False),
    ]
    assert env.stderr.getvalue() == ""  # nothing written behind the callbacks' backs


def test_without_anyone_to_ask_a_call_is_declined_with_a_warning() -> None:
    toolbox, shown, env = _toolbox(approve=None, quiet=False)
    runs, _ = toolbox.run([_call("echo", '{"text": "q"}')])
    assert runs[0].error == "declined by the user"
    assert shown == ['tool test/echo {"text":"q"}']
    assert "declined test/echo: no terminal to ask; pass -y, or add 'echo' to auto_approve" in (
        env.stderr.getvalue()
    )
    quiet, shown, _ = _toolbox(approve=None, quiet=True)
    quiet.run([_call("echo", '{"text": "q"}')])
    assert shown == []  # -q, and nothing asked: no line


def test_always_is_remembered_for_the_tool_and_not_asked_again(tmp_path: Path) -> None:
    from t360cli.config import Settings, read_config
    from t360cli.tools import Toolbox, configured

    configure(test=LITE)
    env = fake_environment(vars=dict(os.environ))
    answers = iter(["always"])
    asked: list[str] = []

    def approve(line: str, arguments: dict[str, Any]) -> str:
        asked.append(line)
        return next(answers)

    shown: list[str] = []
    servers = list(configured(read_config(env)).values())
    toolbox = Toolbox(
        env,
        servers,
        settings=Settings(),
        yes=False,
        quiet=False,
        approve=approve,
        show=shown.append,
    )
    try:
        toolbox.start()
        toolbox.ready()
        function = next(name for name, (_, tool) in toolbox.offered.items() if tool.name == "echo")
        first, _ = toolbox.run([_call(function, '{"text": "one"}')])
        second, _ = toolbox.run([_call(function, '{"text": "two"}')])
    finally:
        toolbox.close()
    assert asked == ['tool test/echo {"text":"one"}']  # the second call ran unasked
    assert toolbox.always == {("test", "echo")}
    assert [run.approved for run in [*first, *second]] == [True, True]
    assert any("two" in line for line in shown if line.startswith("  ↳"))
