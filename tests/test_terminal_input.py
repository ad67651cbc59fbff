"""What the user types at a terminal (issue 29.4): a one-key question interrupted leaves
the next output on a line of its own; keys typed while a REPL answer streams are neither
echoed into it nor lost, Ctrl-D included; the editor gets a prompt ending in a newline."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pexpect

from t360cli.mockserver import MockServer
from tests.helpers import chat_env, invoke, spawn_t360
from tests.test_cmd import spawn_cmd
from tests.test_repl import PROMPT, Session
from tests.test_tools import SDK, configure

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def rest(child: pexpect.spawn) -> str:
    """Everything the program writes from here to its end, without colour codes."""
    child.expect(pexpect.EOF)
    child.close()
    return ANSI.sub("", str(child.before))


def test_ctrl_c_at_the_cmd_question_ends_its_line(server: MockServer) -> None:
    child = spawn_cmd(server, "echo hi")  # up to "[r]un [e]dit [c]opy [q]uit"
    child.sendintr()
    assert rest(child) == " \r\n"  # the shell's prompt starts a line of its own
    assert child.exitstatus == 130


def test_ctrl_c_at_the_tool_question_ends_its_line(server: MockServer) -> None:
    configure(test=SDK)
    child = spawn_t360(
        "chat", "-T", "test", "-m", "tool-use:echo", "q", env=chat_env(server), encoding="utf-8"
    )
    child.expect_exact("run it? [y]es [n]o [a]lways")
    child.sendintr()
    after = rest(child)
    assert after.startswith(" \r\n"), after  # the footer is not glued to the question
    assert "interrupted" in after and child.exitstatus == 130


def test_keys_typed_during_an_answer_wait_unechoed_for_the_next_prompt(
    server: MockServer,
) -> None:
    session = Session(server, "-m", "slow:50", "--raw")
    session.child.sendline("go")
    session.child.expect_exact("Lorem")  # the answer is streaming
    session.child.send("typed ahead")
    session.child.expect_exact("TTFT")  # the footer: the answer is over
    assert "typed" not in session.child.before  # not echoed into the answer
    session.child.expect_exact(PROMPT)
    session.child.expect_exact("typed ahead")  # on the next prompt's line, to edit or send
    session.child.sendcontrol("u")
    assert session.leave() == 0


def test_ctrl_d_during_an_answer_leaves_once_it_is_over(server: MockServer) -> None:
    session = Session(server, "-m", "slow:50")
    session.child.sendline("go")
    session.child.expect_exact("Lorem")
    session.child.sendcontrol("d")
    session.child.expect_exact("TTFT")  # the answer ends as usual, then the REPL
    session.child.expect(pexpect.EOF, timeout=10)
    session.child.close()
    assert session.child.exitstatus == 0


def test_the_editor_gets_the_prompt_on_a_line_of_its_own(
    server: MockServer, tmp_path: Path
) -> None:
    editor = tmp_path / "append.sh"  # an editor that adds a line at the end
    editor.write_text('#!/bin/sh\necho "second line" >> "$1"\n')
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    result = invoke(
        "chat", "--editor", "-m", "echo", "first", "line", env=chat_env(server, EDITOR=str(editor))
    )
    assert result.code == 0, result.err
    assert result.out == "first line\nsecond line\n"
