"""Guards and structured output (issue 18): budgets, --max-cost, context limits, --dry-run,
--schema, -x. Every refusal sends nothing: the server's request log says so."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path

import pexpect
import pytest

from t360cli.errors import GuardError
from t360cli.guards import bound_cost, check_context, worst_case
from t360cli.mockserver import MockServer
from t360cli.modelinfo import ModelInfo
from tests.helpers import chat_env, invoke, open_history, paths, spawn_t360

PRICED = ModelInfo("m", 1000, price_in=1e-6, price_out=2e-6)


def write_config(text: str) -> None:
    path = paths().config_file
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(text)
    path.chmod(0o600)


def chats(server: MockServer) -> list[object]:
    return [call for call in server.calls if call.path.endswith("/chat/completions")]


# -- the arithmetic ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("max_cost", "estimate", "max_tokens", "expected"),
    [
        (0.001, 100, None, (450, True)),  # (0.001 - 100e-6) / 2e-6
        (0.001, 100, 200, (200, False)),  # the user's bound already fits
        (0.001, 100, 1000, (450, True)),  # lowered
        (0.0001021, 100, None, (1, True)),
    ],
)
def test_max_cost_sets_or_lowers_max_tokens(
    max_cost: float, estimate: int, max_tokens: int | None, expected: tuple[int, bool]
) -> None:
    assert tuple(bound_cost(max_cost, estimate, max_tokens, PRICED)) == expected


def test_max_cost_refuses_what_cannot_fit() -> None:
    with pytest.raises(GuardError, match="the prompt alone"):
        bound_cost(0.00005, 100, None, PRICED)
    with pytest.raises(GuardError, match="no room for an answer"):
        bound_cost(0.000101, 100, None, PRICED)
    with pytest.raises(GuardError, match="prices of x") as caught:
        bound_cost(1.0, 100, None, ModelInfo("x", 1000))
    assert '[models."x"]' in caught.value.line()


def test_context_and_worst_case() -> None:
    check_context(900, 100, PRICED)
    with pytest.raises(GuardError, match=r"about 901 tokens\) \+ 100 .* 1,000"):
        check_context(901, 100, PRICED)
    check_context(10**9, None, ModelInfo("unknown"))  # nothing known: nothing refused
    assert worst_case(100, 50, PRICED) == pytest.approx(100e-6 + 50 * 2e-6)
    assert worst_case(100, None, PRICED) == pytest.approx(100e-6 + 900 * 2e-6)
    assert worst_case(100, 50, ModelInfo("x")) is None


# -- refusals send nothing --------------------------------------------------------------


def test_an_oversized_prompt_is_refused_before_sending(server: MockServer) -> None:
    write_config('[models."echo"]\ncontext_length = 50\n')
    result = invoke("chat", "-m", "echo", "word " * 300, env=chat_env(server))
    assert result.code == 6 and "does not fit echo's context of 50 tokens" in result.err
    with_answer = invoke("chat", "-m", "echo", "--max-tokens", "45", "hi", env=chat_env(server))
    assert with_answer.code == 6 and "45 for the answer" in with_answer.err
    assert chats(server) == []
    assert not paths().history_db.exists()  # nothing saved either


def test_max_cost_with_unknown_prices_is_refused(server: MockServer) -> None:
    # the gateway's list (fetched for the prices) has no model "unpriced"
    refused = invoke("chat", "-m", "unpriced", "--max-cost", "1", "hi", env=chat_env(server))
    assert refused.code == 6 and 'set price_in and price_out in [models."unpriced"]' in refused.err
    assert chats(server) == []


def test_a_refused_key_before_the_request_still_names_the_model_in_json(
    server: MockServer,
) -> None:
    # --max-cost asks GET /models for the prices first: the gateway refuses the key there
    env = chat_env(server, T360_API_KEY="sk-invalid", T360_MODEL="echo")
    result = invoke("chat", "--json", "--max-cost", "1", "hi", env=env)
    obj = json.loads(result.out)
    assert result.code == 3 and obj["error"]["status"] == 401
    assert obj["model"] == "echo"


def test_max_cost_bounds_the_request_and_says_so(server: MockServer) -> None:
    write_config('[models."echo"]\nprice_in = 0.000001\nprice_out = 0.000002\n')
    result = invoke("chat", "-m", "echo", "--max-cost", "0.0001", "hi", env=chat_env(server))
    assert result.code == 0, result.err
    assert chats(server)[-1].body["max_tokens"] == 47  # (0.0001 - 6e-6) / 2e-6
    assert "limits the answer to 47 tokens" in result.err
    too_poor = invoke("chat", "-m", "echo", "--max-cost", "0.000001", "hi", env=chat_env(server))
    assert too_poor.code == 6 and "the prompt alone" in too_poor.err
    assert len(chats(server)) == 1


def test_max_cost_fetches_prices_from_the_gateway_when_needed(server: MockServer) -> None:
    result = invoke("chat", "-m", "echo", "--max-cost", "0.0001", "hi", env=chat_env(server))
    assert result.code == 0, result.err
    assert [call.path for call in server.calls] == ["/v1/models", "/v1/chat/completions"]
    assert "max_tokens" in server.calls[-1].body
    again = invoke("chat", "-m", "echo", "--max-cost", "0.0001", "hi", env=chat_env(server))
    assert again.code == 0 and len(server.calls) == 3  # the cached prices serve a day


def spend(amount: float, when: float) -> None:
    """An answer that cost ``amount``, saved at ``when``."""
    with open_history() as history:
        conversation = history.create("m", None, "spent")
    db = sqlite3.connect(paths().history_db)
    with db:
        cursor = db.execute(
            "INSERT INTO messages (conversation_id, role, content, created)"
            " VALUES (?, 'assistant', 'x', ?)",
            (conversation, when),
        )
        db.execute(
            "INSERT INTO responses (message_id, conversation_id, model, cost, partial, created,"
            " latency_ms, kind) VALUES (?, ?, 'm', ?, 0, ?, 100, 'bench')",
            (cursor.lastrowid, conversation, amount, when),
        )
    db.close()


def test_budgets_count_the_local_day_and_month(server: MockServer) -> None:
    write_config("budget_daily = 0.5\nbudget_monthly = 1.0\n")
    noon = time.mktime(time.strptime("2026-11-10 12:00", "%Y-%m-%d %H:%M"))
    spend(0.6, noon)  # a bench run counts too
    today = invoke("chat", "-m", "echo", "hi", env=chat_env(server), clock=noon + 3600)
    assert today.code == 6
    assert (
        "budget_daily of $0.5 is spent: $0.6 today" in today.err and "--ignore-budget" in today.err
    )
    tomorrow = invoke("chat", "-m", "echo", "hi", env=chat_env(server), clock=noon + 86400)
    assert tomorrow.code == 0, tomorrow.err
    # the month's remainder ($0.4 less this answer) is smaller than the day's
    assert re.search(r"budget \$0\.39\d* left$", tomorrow.err.splitlines()[-1])
    spend(0.5, noon + 2 * 86400)
    month = invoke("chat", "-m", "echo", "hi", env=chat_env(server), clock=noon + 3 * 86400)
    assert month.code == 6 and "budget_monthly of $1 is spent" in month.err
    ignored = invoke(
        "chat", "--ignore-budget", "-m", "echo", "hi", env=chat_env(server), clock=noon + 3 * 86400
    )
    assert ignored.code == 0
    next_month = invoke("chat", "-m", "echo", "hi", env=chat_env(server), clock=noon + 30 * 86400)
    assert next_month.code == 0
    assert len(chats(server)) == 3  # the refusals sent nothing
    stats = json.loads(invoke("stats", "--json", clock=noon + 3 * 86400).out)
    assert stats["budget"]["daily"] == 0.5 and stats["budget"]["monthly"] == 1.0


# -- --dry-run --------------------------------------------------------------------------


def test_dry_run_prints_the_request_and_sends_nothing(server: MockServer) -> None:
    write_config('[models."echo"]\ncontext_length = 8000\nprice_in = 1e-6\nprice_out = 2e-6\n')
    result = invoke(
        "chat",
        "--dry-run",
        "-m",
        "echo",
        "-s",
        "Be brief.",
        "--max-cost",
        "0.01",
        "hi",
        env=chat_env(server),
    )
    assert result.code == 0, result.err
    obj = json.loads(result.out)
    assert obj["url"] == f"{server.url}/chat/completions"
    assert obj["headers"]["Authorization"] == "Bearer …5f60"
    assert obj["body"]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
    ]
    assert obj["body"]["max_tokens"] > 0 and obj["refused"] is None
    estimates = obj["estimates"]
    assert estimates["context_length"] == 8000 and estimates["prompt_tokens"] > 0
    assert 0 < estimates["worst_case_cost"] <= 0.01
    assert server.calls == [] and not paths().history_db.exists()


# -- --schema -----------------------------------------------------------------------------


def test_the_three_schema_forms(server: MockServer, tmp_path: Path) -> None:
    concise = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer"},
            "score": {"type": "number"},
            "ok": {"type": "boolean"},
        },
        "required": ["name", "age", "score", "ok"],
        "additionalProperties": False,
    }
    schema_file = tmp_path / "person.json"
    schema_file.write_text(json.dumps(concise))
    for form in ("name, age int, score float, ok bool", json.dumps(concise), str(schema_file)):
        result = invoke("chat", "-m", "json-answer", "--schema", form, "who", env=chat_env(server))
        assert result.code == 0, result.err
        sent = chats(server)[-1].body["response_format"]
        assert sent == {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": concise, "strict": True},
        }
        assert json.loads(result.out) == {"name": "text", "age": 42, "score": 1.5, "ok": True}


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ("name, age integ", "unknown type 'integ'"),
        ("name age int", "cannot read"),
        ('{"type": "objekt"}', "not a valid JSON Schema"),
        ('{"type": ', "not valid JSON"),
        ('{"a": ' + "[" * 100_000, "nested too deeply"),  # too deep to parse
        ('{"not": ' * 500 + "{}" + "}" * 500, "nested too deeply"),  # too deep to check
    ],
)
def test_a_bad_schema_is_exit_2_before_sending(
    server: MockServer, schema: str, message: str
) -> None:
    result = invoke("chat", "-m", "json-answer", "--schema", schema, "x", env=chat_env(server))
    assert result.code == 2 and message in result.err
    assert server.calls == []


def test_an_answer_that_does_not_match_is_exit_7_and_still_printed(server: MockServer) -> None:
    result = invoke(
        "chat", "-m", "json-wrong", "--schema", "name, age int", "x", env=chat_env(server)
    )
    assert result.code == 7
    assert result.out == '{"name": 7, "extra": true}\n'
    assert "does not match --schema at $" in result.err
    not_json = invoke("chat", "-m", "echo", "--schema", "name", "plain words", env=chat_env(server))
    assert not_json.code == 7 and "not valid JSON" in not_json.err
    assert not_json.out == "plain words\n"


@pytest.mark.parametrize(
    "answer",
    ["[" * 100_000, "[" * 600 + "]" * 600],  # too deep to parse; to validate
)
def test_an_answer_nested_too_deeply_is_exit_7_and_still_printed(
    server: MockServer, tmp_path: Path, answer: str
) -> None:
    schema = tmp_path / "nested.json"
    schema.write_text('{"type": "array", "items": {"$ref": "#"}}')
    result = invoke(
        "chat", "-q", "-m", "echo:1000", "--schema", str(schema), answer, env=chat_env(server)
    )
    assert result.code == 7 and result.out == answer + "\n"
    assert result.err.splitlines() == [
        "t360: error: the answer is nested too deeply to be checked;"
        " the answer was printed as it came"
    ]


# -- -x / --extract-last ------------------------------------------------------------------

ANSWER = "Two ways:\n```python\nprint(1)\n```\nor\n~~~sh\necho 2\n~~~\ndone"


@pytest.mark.parametrize(
    ("flag", "answer", "out"),
    [
        ("-x", ANSWER, "print(1)\n"),
        ("--extract-last", ANSWER, "echo 2\n"),
        ("-x", "one:\n```\nonly\n```", "only\n"),
        ("--extract-last", "one:\n```\nonly\n```", "only\n"),
        ("-x", "no code here", ""),
    ],
)
def test_extract_prints_only_the_code_even_when_fences_arrive_split(
    server: MockServer, flag: str, answer: str, out: str
) -> None:
    result = invoke("chat", "-m", "echo:2", flag, "-n", answer, env=chat_env(server))
    assert result.code == 0 and result.out == out
    if not out:
        assert "no fenced code block" in result.err


def test_extract_shows_the_answer_arriving_on_a_terminal(server: MockServer) -> None:
    result = invoke(
        "chat", "-m", "echo:3", "-x", "--raw", "-n", ANSWER, env=chat_env(server), tty=True
    )
    assert result.out == "print(1)\n"
    assert "Two ways:" in result.err  # the whole answer, on stderr


# -- the REPL -----------------------------------------------------------------------------


def test_repl_shows_context_fullness_and_compacts(server: MockServer) -> None:
    write_config('[models."recall"]\ncontext_length = 220\n')
    child = spawn_t360(
        "chat", "-m", "recall", env=chat_env(server, PROMPT_TOOLKIT_NO_CPR="1"), encoding="utf-8"
    )
    child.expect("\u203a")
    child.sendline("the first question is rather long " * 5)
    child.expect(r"context \d+% full")
    child.expect("\u203a")
    child.sendline("/compact")
    child.expect_exact("compacted 1 exchange into a summary")
    child.expect("\u203a")
    child.sendline("next")
    child.expect_exact("A summary of our conversation so far")
    child.expect("\u203a")
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    with open_history() as history:
        kept = history.messages(history.latest() or "")
    assert kept[0].content.startswith("the first question")  # the history keeps it all
