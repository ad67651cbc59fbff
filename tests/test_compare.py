"""`t360 compare`: one prompt to several models at once, in pipes, as JSON, in a terminal,
saved, guarded, interrupted; and the REPL's /compare and /keep."""

from __future__ import annotations

import json
import threading

import pexpect
import pytest

from t360cli.config import Settings
from t360cli.figures import turn_json
from t360cli.mockserver import MockServer
from t360cli.request import estimate_tokens
from t360cli.stats import Turn
from tests.helpers import KEY, TtyRun, chat_env, invoke, open_history, run_tty, spawn_t360

PROMPT = "\u203a"  # the REPL's prompt character


def test_piped_each_answer_in_full_in_the_order_given_stats_on_stderr(
    server: MockServer,
) -> None:
    # the first model answers last: the order given holds all the same
    result = invoke("compare", "-m", "slow-first:300", "-m", "echo", "hello", env=chat_env(server))
    assert result.code == 0, result.err
    assert result.out == "== slow-first:300 ==\nhello\n== echo ==\nhello\n"
    lines = result.err.splitlines()
    assert lines[0].startswith("slow-first:300 · MockProvider · TTFT")
    assert lines[1].startswith("echo · MockProvider · TTFT")
    assert lines[2].startswith("fastest first token: echo ")
    assert "cheapest: " in lines[2] and lines[2].endswith("finish: slow-first:300 stop, echo stop")
    assert "\x1b" not in result.out + result.err


def test_every_request_is_in_flight_at_once_on_one_connection_each(server: MockServer) -> None:
    models = ["slow-first:1500", "slow-first:1501", "slow-first:1502"]
    given = [arg for model in models for arg in ("-m", model)]
    result = invoke("compare", *given, "-q", "hi", env=chat_env(server))
    assert result.code == 0, result.err
    assert server.peak == 3  # all three were being answered at the same time
    assert server.connections == 3
    assert sorted(call.body["model"] for call in server.calls) == models


def test_json_is_one_object_with_each_chat_json_object_in_order(server: MockServer) -> None:
    result = invoke("compare", "--json", "-m", "recall", "-m", "echo", "hi", env=chat_env(server))
    assert result.code == 0, result.err
    obj = json.loads(result.out)
    assert list(obj) == ["answers"]
    answers = obj["answers"]
    assert [a["model"] for a in answers] == ["recall", "echo"]
    assert [a["content"] for a in answers] == ["system: (none); you said: hi", "hi"]
    chat_keys = set(turn_json(Turn("", None, "m", None, None, None, None, None, 0.0)))
    assert all(set(answer) == chat_keys for answer in answers)
    assert all(a["error"] is None and a["finish_reason"] == "stop" for a in answers)
    ids = [a["conversation_id"] for a in answers]
    assert None not in ids and len(set(ids)) == 2


def test_an_error_in_one_model_leaves_the_others_whole(server: MockServer) -> None:
    args = ["compare", "--retries", "0", "-m", "echo", "-m", "status:500", "-m", "recall"]
    result = invoke(*args, "hello", env=chat_env(server))
    assert result.code == 4  # the failing model's code
    assert result.out == (
        "== echo ==\nhello\n== status:500 ==\n== recall ==\nsystem: (none); you said: hello\n"
    )
    assert "t360: error: status:500: HTTP 500 from the gateway" in result.err
    assert "finish: echo stop, status:500 failed, recall stop" in result.err
    answers = json.loads(invoke(*args, "--json", "hi", env=chat_env(server)).out)["answers"]
    assert [a["error"] and a["error"]["status"] for a in answers] == [None, 500, None]
    assert [a["content"] for a in answers] == ["hi", "", "system: (none); you said: hi"]


def test_a_retry_is_said_with_its_model_and_waits_in_its_own_answer(server: MockServer) -> None:
    for args in ([], ["--json"]):
        flaky = "flaky:" + "0" * len(args) + "1"  # HTTP 503 once, then an echo
        result = invoke("compare", *args, "-m", flaky, "-m", "echo", "hi", env=chat_env(server))
        assert result.code == 0, result.err
        assert f"t360: {flaky}: HTTP 503 from the gateway: upstream busy" in result.err
        assert "; retry 1 in " in result.err


def test_an_error_mid_answer_keeps_its_text(server: MockServer) -> None:
    result = invoke("compare", "-m", "error-mid", "-m", "echo", "hey", env=chat_env(server))
    assert result.code == 4
    assert result.out == "== error-mid ==\nPartial answer \n== echo ==\nhey\n"


@pytest.mark.parametrize(
    ("models", "code"),
    [
        (["status:401", "status:500"], 3),
        (["status:500", "status:401"], 4),
        (["echo", "status:404"], 4),
    ],
)
def test_the_exit_code_is_the_first_failing_models_in_the_order_given(
    server: MockServer, models: list[str], code: int
) -> None:
    given = [arg for model in models for arg in ("-m", model)]
    result = invoke("compare", "--retries", "0", *given, "hi", env=chat_env(server))
    assert result.code == code, result.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "echo"], "compare needs 2 models or more, got 1"),
        ([], "compare needs 2 models or more, got 0"),
        (["-m", "echo", "-m", "echo"], "echo is given twice"),
        (["-m", "fast", "-m", "echo"], "echo is given twice"),  # an alias of echo
    ],
)
def test_fewer_than_two_models_is_a_usage_error(
    server: MockServer, args: list[str], message: str
) -> None:
    invoke("config", "set", "aliases.fast", "echo")
    result = invoke("compare", *args, "hi", env=chat_env(server))
    assert (result.code, result.out) == (2, "")
    assert message in result.err
    assert server.calls == []


def test_each_model_gets_a_conversation_tagged_as_one_comparison(server: MockServer) -> None:
    args = ["compare", "--json", "--retries", "0", "-m", "echo", "-m", "recall"]
    result = invoke(*args, "-m", "status:500", "hello", env=chat_env(server))
    echo, recall, failed = (a["conversation_id"] for a in json.loads(result.out)["answers"])
    assert failed is None  # it failed before any text: no conversation, its error counted
    with open_history() as history:
        rows = history.query("SELECT model, conversation_id, comparison FROM responses")
    assert {row["model"]: row["conversation_id"] for row in rows} == {
        "echo": echo,
        "recall": recall,
        "status:500": None,
    }
    assert len({row["comparison"] for row in rows}) == 1 and rows[0]["comparison"]

    shown = invoke("history", "show", echo).out
    assert f"compared with recall (`{recall}`), status:500 (no answer: HTTP 500 from" in shown
    both = invoke("history", "show", echo, "--compared").out
    assert both.index(f"`{echo}` · echo") < both.index(f"`{recall}` · recall")

    again = invoke("chat", "--conversation", recall, "again", env=chat_env(server))
    assert again.out == "system: (none); you said: hello | again\n"  # continued
    stats = json.loads(invoke("stats", "--json").out)["by_model"]
    assert (stats["echo"]["requests"], stats["recall"]["requests"]) == (1, 2)
    assert (stats["status:500"]["requests"], stats["status:500"]["errors"]) == (1, 1)


def test_no_save_keeps_the_comparison_out_of_the_history(server: MockServer) -> None:
    result = invoke("compare", "--no-save", "--json", "-m", "echo", "-m", "recall", "hi",
                    env=chat_env(server))  # fmt: skip
    assert [a["conversation_id"] for a in json.loads(result.out)["answers"]] == [None, None]
    with open_history() as history:
        assert history.query("SELECT count(*) FROM responses")[0][0] == 0


def test_the_prompt_is_taken_as_chat_takes_it(server: MockServer) -> None:
    result = invoke(
        "compare", "-m", "recall", "-m", "echo", "-s", "Be brief.", "--temperature", "0.3",
        "--max-tokens", "40", "-o", "top_p=0.5", "Summarise", input="piped text",
        env=chat_env(server),
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "== recall ==\nsystem: Be brief.; you said: Summarise\n\npiped text\n" in result.out
    for call in server.calls:
        body = call.body
        assert body["messages"][0] == {"role": "system", "content": "Be brief."}
        assert (body["temperature"], body["max_tokens"], body["top_p"]) == (0.3, 40, 0.5)


def test_the_secrets_guard_refuses_before_anything_is_sent(server: MockServer) -> None:
    result = invoke("compare", "-m", "echo", "-m", "recall", f"key {KEY}", env=chat_env(server))
    assert result.code == 6 and server.calls == []
    assert "prompt line 1" in result.err


def test_dry_run_shows_every_request_and_sends_nothing(server: MockServer) -> None:
    result = invoke("compare", "--dry-run", "-m", "echo", "-m", "recall", "hi",
                    env=chat_env(server))  # fmt: skip
    assert result.code == 0, result.err
    requests = json.loads(result.out)["requests"]
    assert [r["body"]["model"] for r in requests] == ["echo", "recall"]
    assert all(r["url"].endswith("/chat/completions") and r["refused"] is None for r in requests)
    assert server.calls == []


def test_max_cost_is_split_so_the_worst_cases_add_up_to_it(server: MockServer) -> None:
    # the mock's prices: $0.000001 a prompt token, $0.000002 a completion token
    result = invoke("compare", "--max-cost", "0.001", "-m", "echo", "-m", "recall", "hi",
                    env=chat_env(server))  # fmt: skip
    assert result.code == 0, result.err
    assert "--max-cost $0.001 is split: $0.0005 a model" in result.err
    prompt = estimate_tokens([{"role": "user", "content": "hi"}])
    bodies = [call.body for call in server.calls if call.path.endswith("/chat/completions")]
    assert len(bodies) == 2
    for body in bodies:
        worst = prompt * 0.000001 + body["max_tokens"] * 0.000002
        assert 0.0005 - 0.000002 < worst <= 0.0005 + 1e-12


def test_a_guard_that_refuses_one_model_sends_nothing(server: MockServer) -> None:
    invoke("config", "set", "budget_daily", "0.000001")
    invoke("chat", "-m", "echo", "spend a little", env=chat_env(server))
    sent = len(server.calls)
    result = invoke("compare", "-m", "echo", "-m", "recall", "hi", env=chat_env(server))
    assert result.code == 6 and len(server.calls) == sent
    assert "t360: error: echo: budget_daily of $0.000001 is spent" in result.err


def test_gateway_interrupt_ends_a_request_another_thread_waits_on(server: MockServer) -> None:
    from t360cli.client import Gateway

    settings = Settings(api_key=KEY, base_url=server.url)
    payload = {"model": "slow-first:30000", "messages": [], "stream": True}
    ended: list[BaseException] = []

    def wait_for_the_answer() -> None:
        try:
            list(gateway.chat(payload))
        except BaseException as exc:
            ended.append(exc)

    with Gateway(settings, connections=2) as gateway:
        thread = threading.Thread(target=wait_for_the_answer)
        thread.start()
        assert server.wait_for(lambda: server.in_flight == 1)
        gateway.interrupt()
        thread.join(timeout=10)
        assert not thread.is_alive() and isinstance(ended[0], KeyboardInterrupt)
        assert server.wait_for(lambda: server.disconnects == 1)  # the gateway stops too
        later = list(gateway.chat({**payload, "model": "echo"}))  # later requests go on
        assert any(type(event).__name__ == "TextDelta" for event in later)


# -- on a terminal ------------------------------------------------------------------------


def test_a_terminal_shows_a_column_per_model_side_by_side(server: MockServer) -> None:
    run = run_tty("compare", "-m", "markdown", "-m", "echo", "hello world",
                  env=chat_env(server), columns=130, rows=40)  # fmt: skip
    assert run.code == 0
    lines = run.screen(columns=130, rows=40)
    header = next(line for line in lines if line.startswith("markdown "))
    assert header.split() == ["markdown", "│", "echo"]
    assert header.index("│") == 64  # two columns of the same width
    side = next(line for line in lines if "Streaming report" in line)
    assert side.endswith("│ hello world")  # the two answers side by side
    for unique in ("Streaming report", "first item", "return 42", "A quote to finish."):
        assert sum(unique in line for line in lines) == 1, unique  # one copy, rendered
    assert "# Streaming" not in "\n".join(lines) and b"\x1b]8;" not in run.data
    stats = [line for line in lines if "MockProvider" in line]
    assert stats and "│ echo · MockProvider · TTFT" in stats[0]
    assert stats[0].startswith("markdown · MockProvider · TTFT")
    assert lines[-1].startswith("fastest first token: ")
    assert lines[-1].endswith("finish: markdown stop, echo stop")
    assert all(len(line) < 130 for line in lines)


def test_a_narrow_terminal_stacks_a_panel_per_model(server: MockServer) -> None:
    run = run_tty("compare", "-m", "echo", "-m", "recall", "-m", "markdown", "hello",
                  env=chat_env(server), columns=100, rows=40)  # fmt: skip
    assert run.code == 0
    lines = run.screen(columns=100, rows=40)
    titles = [line for line in lines if line.startswith("╭─ ")]
    assert [title.split()[1] for title in titles] == ["echo", "recall", "markdown"]
    assert "│ hello" in lines[lines.index(titles[0]) + 1]
    assert sum("Streaming report" in line for line in lines) == 1


def test_ctrl_c_stops_every_model_and_keeps_what_arrived(server: MockServer) -> None:
    child = spawn_t360("compare", "-m", "slow:100", "-m", "slow-first:30000", "hi",
                       env=chat_env(server), columns=100)  # fmt: skip
    child.expect(b"amet")
    data: bytes = child.before + child.after
    child.sendintr()
    child.expect(pexpect.EOF)  # at once: the model still waiting was stopped too
    data += child.before
    child.close()
    assert child.exitstatus == 130
    assert server.wait_for(lambda: server.disconnects >= 2, timeout=30)
    screen = "\n".join(TtyRun(None, None, data).screen(columns=100))
    assert "Lorem ipsum dolor sit amet" in screen and "interrupted" in screen
    with open_history() as history:
        rows = history.query("SELECT model, error, partial FROM responses ORDER BY model")
        saved = history.query("SELECT content FROM messages WHERE role = 'assistant'")
    assert [(r["model"], r["error"], r["partial"]) for r in rows] == [
        ("slow-first:30000", "interrupted", 1),
        ("slow:100", "interrupted", 1),
    ]
    assert saved[0]["content"].startswith("Lorem ipsum dolor sit amet")


# -- the REPL -------------------------------------------------------------------------------


def test_repl_compare_then_keep_goes_on_with_the_chosen_answer(server: MockServer) -> None:
    child = spawn_t360("chat", "-m", "recall", env=chat_env(server, PROMPT_TOOLKIT_NO_CPR="1"),
                       columns=110, encoding="utf-8")  # fmt: skip

    def send(line: str, expect: str) -> str:
        child.sendline(line)
        child.expect_exact(expect)
        seen = str(child.before)
        child.expect(PROMPT)
        return seen

    try:
        child.expect(PROMPT)
        send("first", "TTFT")
        send("/compare echo recall", "side by side")
        shown = send("second", "/keep MODEL")
        assert "fastest first token: " in shown and "finish: echo stop, recall stop" in shown
        send("/keep recall", "kept the answer of recall")
        third = send("third", "TTFT")
        assert "you said: first | second | third" in third  # the kept answer, remembered
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    with open_history() as history:
        kept = history.latest() or ""
        users = [m.content for m in history.messages(kept) if m.role == "user"]
        assert users == ["first", "second", "third"]  # the kept exchange moved here
        rows = history.query("SELECT model, conversation_id FROM responses WHERE comparison"
                             " IS NOT NULL ORDER BY model")  # fmt: skip
    assert [r["model"] for r in rows] == ["echo", "recall"]
    assert rows[1]["conversation_id"] == kept and rows[0]["conversation_id"] != kept
    assert (
        f"compared with echo (`{rows[0]['conversation_id']}`)"
        in invoke("history", "show", kept).out
    )


def test_tab_completes_the_command_and_its_model_ids(server: MockServer) -> None:
    from tests.test_completion import bash_complete, shell_env

    assert invoke("models", env=chat_env(server)).code == 0  # the ids TAB offers
    env = shell_env(server)
    assert bash_complete("t360 comp", env) == ["compare"]
    assert bash_complete("t360 compare -m echo -m rec", env) == ["recall"]
    assert "--max-cost" in bash_complete("t360 compare --max-", env)


def test_piped_compare_never_loads_rich(server: MockServer) -> None:
    import os

    from tests.test_project import imported_by

    env = {**os.environ, **chat_env(server)}
    modules = imported_by("compare", "-m", "echo", "-m", "recall", "hi", env=env)
    assert {"httpx", "sqlite3"} <= modules  # the run really made its requests and saved them
    assert modules & {"rich", "markdown_it", "pygments", "prompt_toolkit"} == set()
