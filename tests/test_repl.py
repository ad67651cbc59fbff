"""The REPL driven in a real pseudo-terminal, as a person would use it."""

from __future__ import annotations

import base64
import stat
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from t360cli.mockserver import MockServer
from tests.helpers import chat_env, open_history, paths, repl_run, spawn_t360

PROMPT = "\u203a"  # the REPL's prompt character


class Session:
    def __init__(self, server: MockServer, *args: str, **env: str) -> None:
        self.child = spawn_t360(
            "chat",
            *args,
            env=chat_env(server, PROMPT_TOOLKIT_NO_CPR="1", **env),
            encoding="utf-8",
        )
        self.child.expect(PROMPT)

    def send(self, line: str, *expect: str) -> str:
        """Type a line, wait for each expected text and the next prompt; what came back."""
        self.child.sendline(line)
        seen = ""
        for text in expect:
            self.child.expect_exact(text)
            seen += self.child.before + text
        self.child.expect(PROMPT)
        return str(seen + self.child.before)

    def leave(self) -> int:
        self.child.sendcontrol("d")
        self.child.expect(pexpect.EOF)
        self.child.close()
        return int(self.child.exitstatus)


@pytest.fixture
def repl(server: MockServer) -> Iterator[Session]:
    session = Session(server, "-m", "recall")
    yield session
    if session.child.isalive():
        session.child.terminate(force=True)


def test_two_turns_with_memory_then_ctrl_d_exits_0(server: MockServer) -> None:
    result = repl_run("hello one", "two", args=("-m", "recall"), env=chat_env(server))
    assert result.code == 0
    assert "you said: hello one\n" in result.out and "you said: hello one | two" in result.out
    assert "TTFT" in result.err
    with open_history() as history:
        assert [m.content for m in history.messages(history.latest() or "")][::2] == [
            "hello one",
            "two",
        ]


def test_exit_command(repl: Session) -> None:
    repl.child.sendline("/exit")
    repl.child.expect(pexpect.EOF)
    repl.child.close()
    assert repl.child.exitstatus == 0


def test_help_lists_every_command(server: MockServer) -> None:
    from t360cli.repl import COMMANDS

    out = repl_run("/help", args=("-m", "recall"), env=chat_env(server)).err
    for name in COMMANDS:
        assert name in out


def test_clear_model_and_system(server: MockServer) -> None:
    result = repl_run(
        "first", "/clear", "second", "/system Be brief.", "third", "/model echo", "just echo",
        "/model", args=("-m", "recall"), env=chat_env(server),
    )  # fmt: skip
    assert "you said: first\n" in result.out and "you said: second\n" in result.out
    assert "system: Be brief.; you said: second | third" in result.out
    assert "just echo" in result.out
    assert "new conversation" in result.err and "system prompt set" in result.err
    assert result.err.count("model: echo") == 2
    with open_history() as history:
        assert len(history.recent()) == 2


def test_retry_and_undo(server: MockServer) -> None:
    result = repl_run("one", "two", "/retry", "/undo", "three", args=("-m", "recall"),
                  env=chat_env(server))  # fmt: skip
    assert result.out.count("you said: one | two") == 2  # regenerated from the same context
    assert "dropped: two" in result.err and "you said: one | three" in result.out
    with open_history() as history:
        contents = [m.content for m in history.messages(history.latest() or "")]
    assert contents[::2] == ["one", "three"]


def test_stats_copy_and_save(repl: Session, tmp_path: Path) -> None:
    repl.send("/stats", "no answers yet")
    repl.send("/copy", "no answer to copy yet")
    repl.send("remember me", "you said: remember me")
    assert "1 answer (0 partial) · TTFT median" in repl.send("/stats", " out ")
    out = repl.send("/copy", "copied the last answer")
    if "OSC 52" in out:  # no clipboard tool on this machine: through the terminal
        payload = base64.b64encode(b"system: (none); you said: remember me").decode()
        assert f"\x1b]52;c;{payload}\x07" in out
    target = tmp_path / "chat.md"
    repl.send(f"/save {target}", "saved to")
    assert "## You\n\nremember me" in target.read_text()


def test_edit_composes_in_the_editor(server: MockServer, tmp_path: Path) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "composed in the editor" > "$1"\n')
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    session = Session(server, "-m", "recall", EDITOR=str(editor))
    session.send("/edit", "you said: composed in the editor")
    assert session.leave() == 0


def test_multi_line_block_and_paste_keep_their_lines(server: MockServer) -> None:
    session = Session(server, "-m", "recall", "--raw")
    session.child.sendline('"""first line')
    session.child.sendline('second line"""')
    session.child.expect_exact("you said: first line\r\nsecond line")
    session.child.expect(PROMPT)
    session.child.send("\x1b[200~pasted one\npasted two\x1b[201~")
    session.child.sendline("")
    session.child.expect_exact("pasted one\r\npasted two")
    session.child.expect(PROMPT)
    assert session.leave() == 0


def test_ctrl_c_cancels_the_answer_only_and_keeps_the_partial_text(server: MockServer) -> None:
    session = Session(server, "-m", "slow:100")
    session.child.sendline("go")
    session.child.expect_exact("amet")
    session.child.sendintr()
    session.child.expect_exact("interrupted")
    session.child.expect(PROMPT)
    assert server.wait_for(lambda: server.disconnects >= 1, timeout=30)
    session.send("/model recall", "model: recall")
    out = session.send("after", "you said: go | after")
    assert "after" in out
    session.child.send("half typed")
    session.child.sendintr()  # Ctrl-C at the prompt clears the line, nothing else
    session.send("/model", "model: recall")  # the next prompt takes input again
    assert session.leave() == 0
    with open_history() as history:
        first = history.messages(history.latest() or "")[1]
    assert first.partial and first.content.startswith("Lorem ipsum")


def test_an_api_error_is_shown_and_the_repl_goes_on(server: MockServer) -> None:
    session = Session(server, "-m", "error-mid")
    session.send("fail please", "Partial answer", "t360: error: Rate limit exceeded")
    session.send("/model echo", "model: echo")
    session.send("still alive", "still alive")
    assert session.leave() == 0


def test_continue_shows_recent_turns_and_input_history_persists(server: MockServer) -> None:
    first = Session(server, "-m", "recall")
    first.send("the first question", "you said: the first question")
    assert first.leave() == 0
    history_file = paths().state_dir / "repl-history"
    assert "the first question" in history_file.read_text()
    again = spawn_t360(
        "chat", "-c", env=chat_env(server, PROMPT_TOOLKIT_NO_CPR="1"), encoding="utf-8"
    )
    again.expect_exact("continuing")
    again.expect_exact("you: the first question")
    again.expect(PROMPT)
    again.send("\x1b[A")  # up arrow recalls the previous input
    again.expect_exact("the first question")
    again.sendcontrol("u")
    again.sendcontrol("d")
    again.expect(pexpect.EOF)
    again.close()
    assert again.exitstatus == 0


def typed(text: str) -> str:
    """A pattern for ``text`` as a terminal receives it: its letters, with any escape
    sequences (cursor, colour) that a redraw puts between them."""
    import re

    return r"(?:\x1b\[[0-9;?]*[A-Za-z])*".join(re.escape(char) for char in text)


def test_tab_completes_commands_and_model_ids(server: MockServer) -> None:
    from tests.helpers import run_t360

    assert run_t360("models", env=chat_env(server)).code == 0  # fills the model cache
    session = Session(server, "-m", "recall")
    session.child.send("/mo\t")
    session.child.expect(typed("/model"))  # a loaded machine may draw it in two frames
    session.child.send(" ech\t")
    session.child.expect(typed("echo"))
    session.child.sendline("")
    session.child.expect_exact("model: echo")
    session.child.expect(PROMPT)
    assert session.leave() == 0


def test_ctrl_r_searches_input_history(repl: Session) -> None:
    repl.send("hello one", "you said: hello one")
    repl.send("something else", "you said: hello one | something else")
    repl.child.sendcontrol("r")
    repl.child.expect_exact("reverse-i-search")
    repl.child.send("hel")
    repl.child.sendline("")  # ends the search with the match on the line
    repl.child.expect_exact("\u203a hello one")
    repl.child.sendline("")  # sends it
    repl.child.expect_exact("you said: hello one | something else | hello one")
    repl.child.expect(PROMPT)
    assert repl.leave() == 0


def test_a_message_that_failed_before_any_answer_is_not_kept_but_recalled(
    server: MockServer,
) -> None:
    session = Session(server, "-m", "recall", "--raw")
    session.send("first", "you said: first")
    session.send("/model status:404", "model: status:404")
    session.send("lost one", "HTTP 404", "/retry sends it again")
    session.child.send("\x1b[A")  # Up: the failed message is back on the line
    session.child.expect_exact("lost one")
    session.child.sendcontrol("u")
    session.send("/model recall", "model: recall")
    session.send("next", "you said: first | next")  # no dangling "lost one" before it
    session.send("/model status:404", "model: status:404")
    session.send("lost again", "HTTP 404")
    session.send("/model recall", "model: recall")
    session.send("/retry", "you said: first | next | lost again")  # sent again, alone
    assert session.leave() == 0
    with open_history() as history:
        contents = [m.content for m in history.messages(history.latest() or "")]
    assert contents[::2] == ["first", "next", "lost again"]


def test_a_message_composed_in_the_editor_is_recalled_with_up(
    server: MockServer, tmp_path: Path
) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "composed in the editor" > "$1"\n')
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    session = Session(server, "-m", "status:404", EDITOR=str(editor))
    session.send("/edit", "HTTP 404")
    session.child.send("\x1b[A")  # Up: the message, not the /edit that composed it
    session.child.expect_exact("composed in the editor")
    session.child.sendcontrol("u")
    assert session.leave() == 0


def write_config(text: str) -> None:
    path = paths().config_file
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(text)
    path.chmod(0o600)


def test_retry_applies_a_roles_template_once_and_the_history_keeps_what_was_typed(
    server: MockServer,
) -> None:
    write_config('[roles.review]\nprompt = "Review this:\\n\\n{input}"\n')
    result = repl_run("x = 1", "/retry", args=("-m", "recall", "-r", "review"),
                      env=chat_env(server))  # fmt: skip
    assert result.out.count("you said: Review this:\n\nx = 1") == 2, result.out
    assert "Review this:\n\nReview this:" not in result.out
    with open_history() as history:
        exchange = history.context(history.latest() or "")[-1]
    assert (exchange.typed, exchange.role, exchange.sent) == (
        "x = 1",
        "review",
        "Review this:\n\nx = 1",
    )


def test_save_and_the_recap_label_each_answer_with_its_own_model_and_state(
    server: MockServer, tmp_path: Path
) -> None:
    target = tmp_path / "chat.md"
    repl_run("one", "/model error-mid", "two", f"/save {target}", args=("-m", "recall"),
             env=chat_env(server))  # fmt: skip
    saved = target.read_text()
    assert "## recall\n\nsystem: (none); you said: one" in saved
    assert "## error-mid (partial)\n\nPartial answer" in saved
    recap = repl_run(args=("-c",), env=chat_env(server)).err
    assert "recall: system: (none); you said: one" in recap
    assert "error-mid (partial): Partial answer" in recap


def test_compact_summarises_a_conversation_too_long_for_the_context_in_pieces(
    server: MockServer,
) -> None:
    write_config('[models."echo"]\ncontext_length = 350\n')
    long = [f"question {n} " + "x" * 190 for n in range(3)]
    result = repl_run(*long, "/compact", "/model recall", "next", args=("-m", "echo"),
                      env=chat_env(server))  # fmt: skip
    assert "does not fit" not in result.err, result.err
    assert "compacted 3 exchanges into a summary" in result.err
    assert "you said: A summary of our conversation so far" in result.out
    with open_history() as history:
        kept = history.messages(history.latest() or "")
    assert kept[0].content.startswith("question 0")  # the history keeps it all


def test_compact_leaves_out_an_exchange_that_cannot_fit_even_alone(server: MockServer) -> None:
    write_config('[models."echo"]\ncontext_length = 400\n')
    result = repl_run("y" * 600, "hi", "/compact", args=("-m", "echo"), env=chat_env(server))
    assert "1 exchange too long for echo's context even alone" in result.err, result.err
    assert "compacted 2 exchanges into a summary" in result.err


def test_compare_keeps_what_was_typed_apart_from_the_roles_template(server: MockServer) -> None:
    write_config('[roles.review]\nprompt = "Review this:\\n\\n{input}"\n')
    repl_run("/compare recall echo", "x = 1", args=("-r", "review"), env=chat_env(server))
    with open_history() as history:
        kept = [history.context(c.id)[-1] for c in history.recent()]
    assert [(e.typed, e.sent, e.role) for e in kept] == [
        ("x = 1", "Review this:\n\nx = 1", "review")
    ] * 2


def test_retry_after_a_failure_sends_the_message_with_its_file(
    server: MockServer, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("the file's words")
    typed = (f"/file {notes}", "read it", "/model recall", "/retry")
    result = repl_run(*typed, args=("-m", "status:400", "--retries", "0"), env=chat_env(server))
    assert "not kept in the conversation" in result.err
    assert "the file's words" in result.out and "read it" in result.out, result.err
