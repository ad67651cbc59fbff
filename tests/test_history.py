"""Conversation history: the database, the journal, and the commands around it."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from t360cli.attachments import from_bytes
from t360cli.conversation import (
    Answer,
    Exchange,
    ToolCall,
    ToolResult,
    ToolRound,
    ToolRun,
    question,
    render,
)
from t360cli.errors import APIError, ConfigError, NetworkError, UsageError
from t360cli.history import MIGRATIONS, History
from t360cli.mockserver import MockServer
from t360cli.session import TurnJournal
from t360cli.stats import Pieces, Turn
from tests.helpers import T360, chat_env, invoke, open_history, paths, run_t360


def pieces(*texts: str) -> Pieces:
    made = Pieces()
    for text in texts:
        made.append(text)
    return made


def a_turn(content: str = "answer", **changes: object) -> Turn:
    base: dict[str, object] = dict(
        content=content,
        reasoning=None,
        model="m",
        provider="P",
        finish_reason="stop",
        usage={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3, "cost": 0.5},
        tool_calls=None,
        ttft=0.1,
        latency=0.2,
    )
    base.update(changes)
    return Turn(**base)  # type: ignore[arg-type]


def test_schema_is_versioned_and_newer_databases_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    with History.open(path) as history:
        assert history.query("PRAGMA user_version")[0][0] == len(MIGRATIONS)
        assert history.query("PRAGMA journal_mode")[0][0] == "wal"
    with History.open(path):
        pass  # opening again migrates nothing and fails nothing
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(ConfigError, match="newer t360"):
        History.open(path)


def test_a_corrupt_database_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConfigError, match="cannot open the history database"):
        History.open(path)


def test_ids_resolve_by_unique_prefix(tmp_path: Path) -> None:
    with History.open(tmp_path / "h.db") as history:
        first = history.create("m", None, "one")
        assert len(first) == 8 and history.resolve(first[:4]) == first
        with pytest.raises(UsageError, match="no conversation"):
            history.resolve("ffffffff" if not first.startswith("f") else "00000000")
        with pytest.raises(UsageError, match="not a conversation id"):
            history.resolve("zz")
        db = sqlite3.connect(history.path)
        with db:
            db.execute(
                "INSERT INTO conversations VALUES (?, 't', 'm', NULL, 'chat', 0, 0)",
                (first[:2] + "x",),
            )
        db.close()
        with pytest.raises(UsageError, match="several"):
            history.resolve(first[:2])


def test_a_conversation_named_but_unreadable_is_damage_not_a_usage_error(tmp_path: Path) -> None:
    # A damaged index can name an id whose row then cannot be found (CI met this once).
    with (
        History.open(tmp_path / "h.db") as history,
        pytest.raises(ConfigError, match="lists conversation 'deadbeef' but cannot read"),
    ):
        history.get("deadbeef")


def test_journal_writes_nothing_before_the_first_token_then_checkpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TurnJournal, "INTERVAL", 3600.0)  # the second call is within it
    path = tmp_path / "h.db"
    opened: list[History] = []

    def opener() -> History:
        opened.append(History.open(path))
        return opened[-1]

    journal = TurnJournal(opener, None, question("question"), model="m", system="sys", warn=print)
    assert opened == []
    journal.progress(pieces("par"), pieces())
    journal.progress(pieces("par", "tial"), pieces())  # within the interval: no write
    with History.open(path) as history:
        conversation = history.recent()[0]
        assert (conversation.title, conversation.system) == ("question", "sys")
        messages = history.messages(conversation.id)
        assert [(m.role, m.content, m.partial) for m in messages] == [
            ("user", "question", False),
            ("assistant", "par", True),
        ]
    journal.finish(a_turn("partial answer", error=NetworkError("lost")))
    with History.open(path) as history:
        last = history.messages(conversation.id)[-1]
        assert (last.content, last.partial, last.error) == ("partial answer", True, "lost")
        row = history.query("SELECT * FROM responses")[0]
        assert (row["ttft_ms"], row["cost"], json.loads(row["usage"])["total_tokens"]) == (
            100.0,
            0.5,
            3,
        )


def test_a_write_interrupted_after_its_begin_does_not_cost_the_answer(tmp_path: Path) -> None:
    """SIGHUP landing just after a checkpoint's BEGIN left that transaction open, so the
    final write failed and only the first checkpoint stayed (a flaky test found it)."""
    path = tmp_path / "h.db"
    opened: list[History] = []
    warnings: list[str] = []

    def opener() -> History:
        opened.append(History.open(path))
        return opened[-1]

    journal = TurnJournal(opener, None, question("q"), model="m", system=None, warn=warnings.append)
    journal.progress(pieces("Lorem "), pieces())
    opened[-1].query("BEGIN IMMEDIATE")  # where the signal left the next write
    journal.finish(a_turn("Lorem ipsum dolor"))
    assert warnings == []
    with History.open(path) as history:
        last = history.messages(history.latest() or "")[-1]
        assert last.content == "Lorem ipsum dolor"


def test_a_request_failing_before_any_token_is_no_turn_but_its_metrics_are_kept(
    tmp_path: Path,
) -> None:
    path = tmp_path / "h.db"
    failed = a_turn("", ttft=None, usage=None, retries=2, error=APIError("gone", status=404))
    journal = TurnJournal(
        lambda: History.open(path), None, question("q"), model="m", system=None, warn=print
    )
    journal.finish(failed)
    journal.summary(failed)  # an answer of one request: nothing more to write
    assert (journal.conversation_id, journal.message_id) == (None, None)
    with History.open(path) as history:
        assert history.recent() == [] and history.query("SELECT * FROM messages") == []
        (row,) = history.query("SELECT * FROM responses")
    assert (row["model"], row["error"], row["status"], row["retries"]) == ("m", "gone", 404, 2)
    assert (row["conversation_id"], row["message_id"], row["kind"]) == (None, None, "chat")
    assert (row["ttft_ms"], row["latency_ms"]) == (None, 200.0)


def test_a_request_failing_before_any_token_leaves_the_conversation_it_continued_alone(
    tmp_path: Path,
) -> None:
    path = tmp_path / "h.db"
    with History.open(path) as history:
        cid = history.create("m", None, "t")
        history.finish_turn(history.begin_turn(cid, "a", "m"), a_turn("A"))
    journal = TurnJournal(
        lambda: History.open(path), cid, question("b"), model="m", system=None, warn=print
    )
    journal.finish(a_turn("", ttft=None, interrupted=True))  # Ctrl-C before the first token
    with History.open(path) as history:
        assert [m.content for m in history.messages(cid)] == ["a", "A"]
        rows = history.query("SELECT * FROM responses ORDER BY id")
    assert [(r["conversation_id"], r["message_id"] is None, r["error"]) for r in rows] == [
        (cid, False, None),
        (cid, True, "interrupted"),
    ]


def test_a_failing_database_costs_a_warning_not_the_answer(tmp_path: Path) -> None:
    warnings: list[str] = []

    def broken() -> History:
        raise ConfigError("cannot open the history database x: disk I/O error")

    journal = TurnJournal(broken, None, question("q"), model="m", system=None, warn=warnings.append)
    journal.progress(pieces("a"), pieces())
    journal.finish(a_turn())
    assert len(warnings) == 1 and "could not save" in warnings[0]


def test_context_leaves_out_empty_answers_and_drop_last_undoes(tmp_path: Path) -> None:
    with History.open(tmp_path / "h.db") as history:
        cid = history.create("m", None, "t")
        for user, answer in (("a", "A"), ("b", ""), ("c", "C")):
            message = history.begin_turn(cid, user, "m")
            history.finish_turn(message, a_turn(answer))
        assert [m["content"] for m in render(history.context(cid))] == ["a", "A", "b", "c", "C"]
        assert history.drop_last(cid) == 2
        assert [m["content"] for m in render(history.context(cid))] == ["a", "A", "b"]


def test_search_treats_wildcards_literally(tmp_path: Path) -> None:
    with History.open(tmp_path / "h.db") as history:
        cid = history.create("m", None, "t")
        history.finish_turn(history.begin_turn(cid, "100% sure_thing", "m"), a_turn("no"))
        history.finish_turn(history.begin_turn(cid, "1000 sures", "m"), a_turn("no"))
        assert [m.content for _, m in history.search("0% sure_")] == ["100% sure_thing"]


# -- end to end ---------------------------------------------------------------------------


def saved(conversation: str | None = None) -> list[tuple[str, str]]:
    with open_history() as history:
        cid = conversation or history.latest()
        assert cid is not None
        return [(m.role, m.content) for m in history.messages(cid)]


def test_one_shot_is_saved_and_continued(server: MockServer) -> None:
    env = chat_env(server)
    first = run_t360("chat", "-m", "recall", "-s", "Be kind.", "--json", "first", env=env)
    cid = json.loads(first.out)["conversation_id"]
    assert cid and saved(cid)[0] == ("user", "first")
    second = run_t360("chat", "-c", "second", env=env)
    # the conversation's own model and system prompt carry on
    assert second.out == "system: Be kind.; you said: first | second\n"
    third = run_t360("chat", "--conversation", cid[:3], "third", env=env)
    assert third.out.endswith("you said: first | second | third\n")
    assert [role for role, _ in saved(cid)] == ["user", "assistant"] * 3


def test_no_save_keeps_the_call_out_of_the_history(server: MockServer) -> None:
    run_t360("chat", "--no-save", "-m", "echo", "secret", env=chat_env(server))
    assert not paths().history_db.exists()
    run_t360("chat", "-m", "echo", "kept", env=chat_env(server))
    run_t360("chat", "--no-save", "-m", "echo", "secret", env=chat_env(server))
    assert saved() == [("user", "kept"), ("assistant", "kept")]


def test_continue_without_history_is_a_usage_error(server: MockServer) -> None:
    result = run_t360("chat", "-c", "hi", env=chat_env(server))
    assert result.code == 2 and "no saved conversation" in result.err


def test_a_failed_turn_in_a_continued_conversation_leaves_no_message_behind(
    server: MockServer,
) -> None:
    env = chat_env(server)
    first = run_t360("chat", "-m", "recall", "--json", "first", env=env)
    cid = json.loads(first.out)["conversation_id"]
    failed = run_t360("chat", "-c", "-m", "status:404", "--json", "lost", env=env)
    assert failed.code == 4 and json.loads(failed.out)["conversation_id"] == cid
    again = run_t360("chat", "-c", "-m", "recall", "next", env=env)
    assert again.out == "system: (none); you said: first | next\n"  # "lost" was not kept
    assert [content for _, content in saved(cid)][::2] == ["first", "next"]


def test_a_failed_turn_is_saved_as_partial(server: MockServer) -> None:
    run_t360("chat", "-m", "error-mid", "hi", env=chat_env(server))
    with open_history() as history:
        last = history.messages(history.latest() or "")[-1]
        assert (last.content, last.partial, last.error) == (
            "Partial answer ",
            True,
            "Rate limit exceeded",
        )


def test_loaded_answers_carry_their_own_metrics(server: MockServer) -> None:
    """Each answer of a loaded conversation has the figures its --json said (times as
    lived, tokens, cost), its own model and state; without usage, they say so."""
    env = chat_env(server)
    first = json.loads(invoke("chat", "-m", "rate-limit-ms", "--json", "one", env=env).out)
    invoke("chat", "-c", "-m", "error-mid", "two", env=env)
    invoke("chat", "-c", "-m", "no-usage", "three", env=env)
    with open_history() as history:
        answers = [e.answer for e in history.context(first["conversation_id"])]
    one, two, three = [a.metrics for a in answers if a.metrics is not None]
    assert (one.model, one.served, one.retries) == ("rate-limit-ms", first["model"], 1)
    assert one.ttft_ms == pytest.approx(first["ttft_ms"], abs=0.05) and one.ttft_ms >= 250
    assert one.attempt_ttft_ms == pytest.approx(first["attempt_ttft_ms"], abs=0.05)
    assert one.latency_ms == pytest.approx(first["latency_ms"], abs=0.05)
    usage = first["usage"]
    assert (one.prompt_tokens, one.completion_tokens, one.total_tokens) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
        usage["total_tokens"],
    )
    assert one.cost == usage["cost"] and not one.estimated and one.error is None
    assert (answers[1].model, answers[1].partial, two.error) == (
        "error-mid",
        True,
        "Rate limit exceeded",
    )
    assert three.estimated and three.completion_tokens is None and three.cost is None


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL])
def test_a_process_stopped_mid_answer_leaves_the_partial_turn(
    server: MockServer, how: signal.Signals
) -> None:
    proc = subprocess.Popen(
        [T360, "chat", "-m", "slow:150", "hi"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **chat_env(server)},
    )
    assert proc.stdout is not None
    shown = b""
    for marker in (b"sit ", b"elit,"):  # four words in, and more than a checkpoint interval
        while marker not in shown:  # bounded: the answer is finite, and EOF fails the test
            more = proc.stdout.read1(4096)  # type: ignore[attr-defined]
            assert more, f"t360 ended before {marker!r}: {shown!r}"
            shown += more
    proc.send_signal(how)
    out, err = proc.communicate(timeout=10)
    shown += out
    assert server.wait_for(lambda: server.disconnects >= 1, timeout=30)
    with open_history() as history:
        last = history.messages(history.latest() or "")[-1]
    assert last.role == "assistant" and last.partial and last.content
    assert shown.decode().startswith(last.content)  # nothing saved that was not shown
    if how == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.returncode == 130 and shown.decode().rstrip("\n") == last.content
        assert last.error == "interrupted" and b"interrupted" in err


def test_concurrent_writers(server: MockServer) -> None:
    env = {**os.environ, **chat_env(server)}
    procs = [
        subprocess.Popen(
            [T360, "chat", "-q", "-m", "lorem:200", f"writer {i}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        for i in range(4)
    ]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    with open_history() as history:
        conversations = history.recent()
        assert sorted(c.title for c in conversations) == [f"writer {i}" for i in range(4)]
        assert all(len(history.messages(c.id)) == 2 for c in conversations)


def test_history_commands(server: MockServer, tmp_path: Path) -> None:
    env = chat_env(server)
    run_t360("chat", "-m", "echo", "alpha question", env=env)
    run_t360("chat", "-m", "markdown", "beta 100% question", env=env)
    listing = run_t360("history", "list", env=env)
    assert listing.code == 0
    lines = listing.out.splitlines()
    assert len(lines) == 2 and "beta 100% question" in lines[0] and "alpha" in lines[1]
    beta = lines[0].split()[0]
    items = json.loads(run_t360("history", "list", "--json", env=env).out)
    assert [i["turns"] for i in items] == [1, 1] and items[0]["id"] == beta

    shown = run_t360("history", "show", beta[:5], env=env)
    assert shown.code == 0 and "## You\n\nbeta 100% question" in shown.out
    assert "# Streaming report" in shown.out

    exported = json.loads(run_t360("history", "export", beta, "--format", "json", env=env).out)
    assert exported["id"] == beta
    assert exported["messages"][1]["metrics"]["provider"] == "MockProvider"
    target = tmp_path / "out.md"
    assert run_t360("history", "export", beta, "-o", str(target), env=env).code == 0
    assert target.read_text() == shown.out
    assert run_t360("history", "export", beta, "--format", "pdf", env=env).code == 2

    found = run_t360("history", "search", "100%", env=env)
    assert found.code == 0 and found.out.startswith(beta) and "beta 100% question" in found.out
    assert run_t360("history", "search", "nowhere", env=env).out == ""

    refused = run_t360("history", "delete", beta, env=env)
    assert refused.code == 2 and "--yes" in refused.err
    assert run_t360("history", "delete", beta, "--yes", env=env).code == 0
    assert len(run_t360("history", "list", env=env).out.splitlines()) == 1
    missing = run_t360("history", "show", beta, env=env)
    assert missing.code == 2 and "no conversation" in missing.err


def test_history_list_by_model_with_aliases(server: MockServer) -> None:
    env = chat_env(server)
    assert invoke("chat", "-m", "echo", "first on echo", env=env).code == 0
    assert invoke("chat", "-m", "lorem:3", "on lorem", env=env).code == 0
    switched = json.loads(invoke("chat", "--json", "-m", "echo", "echo, then", env=env).out)
    again = ("--conversation", switched["conversation_id"], "-m", "lorem:3", "lorem")
    assert invoke("chat", *again, env=env).code == 0  # now a lorem conversation, echo too
    paths().config_file.parent.mkdir(parents=True, exist_ok=True)
    paths().config_file.write_text('[aliases]\nfast = "echo"\n')
    for name in ("echo", "fast"):
        listed = json.loads(invoke("history", "list", "--model", name, "--json").out)
        assert [c["title"] for c in listed] == ["echo, then", "first on echo"]
    only = invoke("history", "list", "-m", "lorem:3").out.splitlines()
    assert [line.split(maxsplit=5)[-1] for line in only] == ["echo, then", "on lorem"]
    none = invoke("history", "list", "-m", "nowhere")
    assert none.code == 0 and none.out == "" and "no saved conversations with nowhere" in none.err


def test_history_rename_gives_a_title_of_ones_own(server: MockServer) -> None:
    result = json.loads(
        invoke("chat", "--json", "-m", "echo", "a first question", env=chat_env(server)).out
    )
    conversation = result["conversation_id"]
    renamed = invoke("history", "rename", conversation[:4], "Trip", "plans\tfor", "June")
    assert renamed.code == 0 and renamed.err == f"renamed {conversation}: Trip plans for June\n"
    listed = json.loads(invoke("history", "list", "--json").out)
    assert [c["title"] for c in listed] == ["Trip plans for June"]
    assert invoke("history", "show", conversation).out.startswith("# Trip plans for June")
    long = invoke("history", "rename", conversation, "x" * 100)
    assert (
        long.code == 0
        and len(json.loads(invoke("history", "list", "--json").out)[0]["title"]) == 60
    )
    empty = invoke("history", "rename", conversation, " ")
    assert empty.code == 2 and empty.err.count("\n") == 1 and "title is empty" in empty.err
    missing = invoke("history", "rename", "ffffffff", "x")
    assert missing.code == 2 and "no conversation" in missing.err


# -- attachments in the store -------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + bytes(24)  # what the type sniffer needs of a PNG


def an_image_conversation(server: MockServer, tmp_path: Path) -> str:
    image = tmp_path / "red.png"
    image.write_bytes(PNG)
    result = invoke("chat", "--json", "-m", "parts", "-a", str(image), "look", env=chat_env(server))
    assert result.code == 0, result.err
    return str(json.loads(result.out)["conversation_id"])


def rewrite_attachments(sha256: str | None) -> None:
    """What a crafted or damaged database holds: another reference on every attachment."""
    db = sqlite3.connect(paths().history_db)
    with db:
        db.execute("UPDATE attachments SET sha256 = ?", (sha256,))
    db.close()


@pytest.mark.parametrize("reference", ["../../private.png", "absolute", None])
def test_an_attachment_row_naming_another_file_is_damaged_history_never_read_or_deleted(
    server: MockServer, tmp_path: Path, reference: str | None
) -> None:
    conversation = an_image_conversation(server, tmp_path)
    private = paths().data_dir.parent / "private.png"  # ../../ from the store
    private.write_bytes(PNG + b"not for the gateway")
    rewrite_attachments(str(private) if reference == "absolute" else reference)
    sent = len(server.calls)
    again = invoke("chat", "-m", "parts", "-c", "and now?", env=chat_env(server))
    assert again.code == 3 and len(server.calls) == sent
    assert again.err.splitlines() == [
        f"t360: error: the history is damaged: the attachment {str(tmp_path / 'red.png')!r}"
        f" of conversation {conversation} is not a stored attachment (no sha256 or an unknown"
        f" kind); delete the conversation (t360 history delete {conversation}) or start a new one"
    ]
    deleted = invoke("history", "delete", conversation, "--yes")
    assert deleted.code == 0 and private.exists()
    named = reference is not None  # a reference to a file, never followed
    assert ("1 of its attachment references were damaged" in deleted.err) == named


@pytest.mark.parametrize(
    ("damage", "said"), [("remove", "is missing from"), ("alter", "does not match its sha256")]
)
def test_continuing_without_an_attachment_s_bytes_is_damaged_history(
    server: MockServer, tmp_path: Path, damage: str, said: str
) -> None:
    conversation = an_image_conversation(server, tmp_path)
    blob = paths().data_dir / "attachments" / hashlib.sha256(PNG).hexdigest()
    if damage == "remove":
        blob.unlink()
    else:
        blob.write_bytes(PNG + b"changed")
    sent = len(server.calls)
    again = invoke("chat", "-m", "parts", "-c", "and now?", env=chat_env(server))
    assert again.code == 3 and len(server.calls) == sent  # not sent without the image
    assert said in again.err and f"t360 history delete {conversation}" in again.err


def write_lock_free(database: Path) -> bool:
    """Whether another run could write to ``database`` at this moment (without waiting)."""
    probe = sqlite3.connect(database, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        probe.close()


def meanwhile(
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    database: Path,
    other: Callable[[], object],
    *,
    before: bool,
) -> list[object]:
    """Another run interleaved, deterministically: the first time this run calls
    ``Path.<method>`` on a stored attachment, ``other`` runs just ``before`` (or just
    after) that call, if it could write then. The list returned holds what it returned."""
    real = getattr(Path, method)
    ran: list[object] = []

    def interleaved(path: Path, *args: Any, **kwargs: Any) -> Any:
        can = path.parent.name == "attachments" and not ran and write_lock_free(database)
        if can and before:
            ran.append(other())
        result = real(path, *args, **kwargs)
        if can and not before:
            ran.append(other())
        return result

    monkeypatch.setattr(Path, method, interleaved)
    return ran


@pytest.mark.parametrize("interleaving", ["delete, then attach", "attach, then delete"])
def test_a_blob_deleted_while_another_run_attaches_it_is_never_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, interleaving: str
) -> None:
    database = tmp_path / "h.db"
    image = from_bytes("red.png", PNG)
    with History.open(database) as deleter, History.open(database) as writer:
        first = deleter.create("m", None, "first")
        deleter.begin_turn(first, "look", "m", [image])
        second = writer.create("m", None, "second")

        def attach() -> int:
            return writer.begin_turn(second, "look too", "m", [image])

        def delete() -> int:
            return deleter.delete(first)

        if interleaving == "delete, then attach":  # attach just before the blob's unlink
            ran = meanwhile(monkeypatch, "unlink", database, attach, before=True)
            delete()
        else:  # delete just after the writer saw the blob stored
            ran = meanwhile(monkeypatch, "exists", database, delete, before=False)
            attach()
        monkeypatch.undo()
        if not ran:  # the lock made the other run wait its turn
            (attach if interleaving == "delete, then attach" else delete)()
        sent = render(writer.context(second))[0]["content"]
    assert sent[1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_migration_from_schema_1_fills_in_the_kind(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0])
    db.execute("INSERT INTO conversations VALUES ('b1', 't', 'm', NULL, 'bench', 0, 0)")
    db.execute("INSERT INTO messages VALUES (1, 'b1', 'assistant', 'x', NULL, NULL, 0)")
    db.execute(
        "INSERT INTO responses (message_id, conversation_id, model, partial, created)"
        " VALUES (1, 'b1', 'm', 0, 0)"
    )
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with History.open(path) as history:
        assert history.query("PRAGMA user_version")[0][0] == len(MIGRATIONS)
        assert history.query("SELECT kind FROM responses")[0][0] == "bench"


def test_migration_7_keeps_every_row_and_times_the_old_ones_per_attempt_too(
    tmp_path: Path,
) -> None:
    path = tmp_path / "six.db"
    db = sqlite3.connect(path)  # foreign keys off, as any tool may have written it
    for script in MIGRATIONS[:6]:
        db.executescript(script)
    db.execute("INSERT INTO conversations VALUES ('c1', 't', 'm', NULL, 'chat', 0, 0)")
    db.execute(
        "INSERT INTO messages (id, conversation_id, role, content, created)"
        " VALUES (5, 'c1', 'assistant', 'x', 0)"
    )
    db.execute(
        "INSERT INTO responses (message_id, conversation_id, model, ttft_ms, latency_ms,"
        " partial, created, error) VALUES (5, 'c1', 'm', 40, 90, 0, 0, NULL),"
        " (9, 'gone', 'm', 60, 70, 1, 0, 'boom')"  # its message and conversation deleted
    )
    db.execute("PRAGMA user_version = 6")
    db.commit()
    db.close()
    with History.open(path) as history:
        assert history.query("PRAGMA user_version")[0][0] == len(MIGRATIONS)
        rows = [
            tuple(row)
            for row in history.query(
                "SELECT message_id, conversation_id, ttft_ms, attempt_ttft_ms, latency_ms,"
                " attempt_latency_ms, retries, error FROM responses ORDER BY id"
            )
        ]
        assert history.query("PRAGMA foreign_key_check") == []
    assert rows == [
        (5, "c1", 40.0, 40.0, 90.0, 90.0, None, None),
        (None, None, 60.0, 60.0, 70.0, 70.0, None, "boom"),
    ]


def test_migration_8_leaves_earlier_answers_out_of_any_comparison(tmp_path: Path) -> None:
    path = tmp_path / "seven.db"
    db = sqlite3.connect(path)
    for script in MIGRATIONS[:7]:
        db.executescript(script)
    db.execute("INSERT INTO responses (model, created) VALUES ('m', 0)")
    db.execute("PRAGMA user_version = 7")
    db.commit()
    db.close()
    with History.open(path) as history:
        assert history.query("PRAGMA user_version")[0][0] == len(MIGRATIONS) == 9
        assert [tuple(r) for r in history.query("SELECT model, comparison FROM responses")] == [
            ("m", None)
        ]
        plan = history.query("EXPLAIN QUERY PLAN SELECT id FROM responses WHERE comparison = 'c'")
        assert "responses_by_comparison" in str([tuple(row) for row in plan])


def test_a_transcript_of_exchanges_shows_parts_calls_results_and_each_answers_model() -> None:
    from t360cli.history import to_markdown, transcript

    image = from_bytes("i.png", b"\x89PNG\r\n\x1a\n", "-a")
    rounds = (ToolRound("", (a_call("c1"),), (a_result("c1", "echoed"),)),)
    exchanges = [
        Exchange("look", "look", Answer("Done.", "m"), attached=(image,), rounds=rounds),
        Exchange("more", "more", Answer("Half", "other", partial=True)),
    ]
    text = to_markdown("t", "s", None, transcript(exchanges))
    assert "## You\n\nlook" in text and "*called echo({})*" in text and "i.png" in text
    assert "**Result of echo:**\n\n```\nechoed\n```" in text and "## m\n\nDone." in text
    assert "## other (partial)\n\nHalf" in text


def test_an_answer_that_ended_whole_on_its_tool_round_has_no_empty_heading() -> None:
    """Nothing after the round (and nothing partial): no "## m" over no text; an answer
    cut during its tools keeps its "(partial)" heading."""
    from t360cli.history import to_markdown, transcript

    rounds = (ToolRound("Checking.", (a_call("c1"),), (a_result("c1", "echoed"),)),)
    whole = to_markdown(
        "t", "s", None, transcript([Exchange("q", "q", Answer("", "m"), rounds=rounds)])
    )
    assert whole.count("## m") == 1 and whole.rstrip().endswith("```")
    cut = Exchange("q", "q", Answer("", "m", partial=True), rounds=rounds)
    assert to_markdown("t", "s", None, transcript([cut])).count("## m (partial)") == 1


def a_call(name: str) -> ToolCall:
    return ToolCall(name, "echo", "{}")


def a_result(call_id: str, output: str) -> ToolResult:
    return ToolRun(call_id, "echo", "test", {}, output, None, True, 1.5).result()


def test_tool_calls_are_saved_only_with_their_results(tmp_path: Path) -> None:
    ran, left = a_call("c1"), a_call("c2")
    with History.open(tmp_path / "h.db") as history:
        cid = history.create("m", None, "t")
        first = history.begin_turn(cid, "q", "m")
        history.finish_turn(first, a_turn("Let me check.", tool_calls=[ran.as_json()]))
        done = ToolRound("Let me check.", (ran,), (a_result("c1", "r"),))
        last = history.add_tool_results(cid, first, done)
        history.finish_turn(last, a_turn("", tool_calls=[left.as_json()]))  # the round limit
        assert [m.tool_calls for m in history.messages(cid)] == [(), (ran,), (), ()]
        assert render(history.context(cid)) == [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "Let me check.", "tool_calls": [ran.as_json()]},
            {"role": "tool", "tool_call_id": "c1", "content": "r"},
        ]


def test_export_and_show_read_the_exchanges_with_each_message_as_saved(tmp_path: Path) -> None:
    call = a_call("c1")
    with History.open(tmp_path / "h.db") as history:
        cid = history.create("m", None, "t")
        first = history.begin_turn(cid, "Review: q", "m", typed="q", role="review")
        history.finish_turn(
            first, a_turn("Let me check.", reasoning="hm", tool_calls=[call.as_json()])
        )
        done = ToolRound("Let me check.", (call,), (a_result("c1", "r"),), "hm")
        last = history.add_tool_results(cid, first, done)
        history.finish_turn(last, a_turn("Done."))
        exported = history.export_json(cid)["messages"]
        shown = history.export_markdown(cid)
        (exchange,) = history.exchanges(cid)
    assert (exchange.typed, exchange.role, exchange.rounds) == ("q", "review", (done,))
    assert exported[:3] == [
        {"role": "user", "content": "Review: q"},
        {
            "role": "assistant",
            "content": "Let me check.",
            "reasoning": "hm",
            "tool_calls": [call.as_json()],
        },
        {
            "role": "tool",
            "content": "r",
            "tool_call_id": "c1",
            "tool_run": {
                "id": "c1",
                "name": "echo",
                "server": "test",
                "arguments": {},
                "output": "r",
                "error": None,
                "approved": True,
                "duration_ms": 1.5,
            },
        },
    ]
    answer = exported[3]
    assert list(answer) == ["role", "content", "metrics"] and answer["content"] == "Done."
    assert list(answer["metrics"]) == [
        "model",
        "served_model",
        "provider",
        "ttft_ms",
        "latency_ms",
        "attempt_ttft_ms",
        "attempt_latency_ms",
        "retries",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "cost",
        "finish_reason",
        "error",
        "ran",
        "ran_status",
        "comparison",
        "partial",
    ]
    assert answer["metrics"]["ttft_ms"] == 100 and answer["metrics"]["partial"] is False
    assert "## m\n\nLet me check.\n\n*called echo({})*\n\n**Result of echo:**" in shown
    assert shown.endswith("## m\n\nDone.\n")


def test_migration_9_leaves_out_the_calls_saved_without_results(tmp_path: Path) -> None:
    path = tmp_path / "eight.db"
    db = sqlite3.connect(path)
    for script in MIGRATIONS[:8]:
        db.executescript(script)
    db.execute("INSERT INTO conversations VALUES ('c', 't', 'm', NULL, 'chat', 0, 0)")
    rows = [
        ("user", "q", None, None),
        ("assistant", "", json.dumps([a_call("c1").as_json(), a_call("c2").as_json()]), None),
        ("tool", "r", None, "c1"),
        ("assistant", "A", None, None),
        ("user", "again", None, None),
        ("assistant", "B", json.dumps([a_call("c3").as_json()]), None),  # interrupted
    ]
    for role, text, calls, answers in rows:
        db.execute(
            "INSERT INTO messages (conversation_id, role, content, tool_calls, tool_call_id,"
            " created) VALUES ('c', ?, ?, ?, ?, 0)",
            (role, text, calls, answers),
        )
    db.execute("PRAGMA user_version = 8")
    db.commit()
    db.close()
    with History.open(path) as history:
        calls = [m.tool_calls for m in history.messages("c")]
        exchanges = history.context("c")
    assert calls == [(), (a_call("c1"),), (), (), (), ()]
    roles = [m["role"] for m in render(exchanges)]
    assert roles == ["user", "assistant", "tool", "assistant", "user", "assistant"]
    assert (exchanges[0].typed, exchanges[1].answer.content) == ("q", "B")
