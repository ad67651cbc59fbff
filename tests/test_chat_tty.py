"""`t360 chat` in a real pseudo-terminal: live markdown, terminal safety, Ctrl-C."""

from __future__ import annotations

import re

import pexpect
import pytest

from t360cli.mockserver import MockServer
from t360cli.mockserver.wire import MARKDOWN
from t360cli.terminal import Spinner
from tests.helpers import chat_env, fake_environment, run_tty, spawn_t360

SGR = re.compile(rb"\x1b\[([0-9;]*)m")
# Sequences model text could use to take over a terminal; none may reach it.
HOSTILE = [b"\x1b[2J", b"\x1b[H", b"\x1b]0;", b"\x1b]52;", b"\x1b]8;;https://evil", b"\xc2\x9b"]


def colours(data: bytes) -> set[int]:
    """The colour parameters of every SGR sequence in ``data``."""
    found: set[int] = set()
    for params in SGR.findall(data):
        for value in params.split(b";"):
            if value and (30 <= int(value) <= 49 or 90 <= int(value) <= 107):
                found.add(int(value))
    return found


def test_markdown_is_rendered_live_and_scrollback_holds_one_copy(server: MockServer) -> None:
    run = run_tty("chat", "-m", "markdown", "hi", env=chat_env(server), rows=12)
    assert run.code == 0
    lines = run.screen(rows=12)
    text = "\n".join(lines)
    assert "Streaming report" in text and "# Streaming" not in text  # heading rendered
    assert "**bold**" not in text and "Here is bold, italic and inline code" in text
    assert " • first item" in text and "def answer() -> int:" in text
    assert "link (https://example.com)" in text  # links spelled out, never OSC 8
    for unique in ("Streaming report", "first item", "return 42", "A quote to finish."):
        assert sum(unique in line for line in lines) == 1, unique
    assert lines[-1].startswith("markdown · ") and "TTFT" in lines[-1]
    assert all(len(line) <= 80 for line in lines)  # the footer fits the terminal
    assert colours(run.data)  # colour on a colour terminal
    assert b"\x1b]8;" not in run.data


def test_redraws_rewrite_only_what_changed(server: MockServer) -> None:
    """A word every 35 ms, so nearly every word is a redraw: all t360 writes to the
    terminal, footer included, stays within 3x the markdown the model sent (issue #28),
    and leaves the screen one draw of the whole answer leaves."""
    slow = run_tty("chat", "-m", "markdown:35", "hi", env=chat_env(server))
    fast = run_tty("chat", "-m", "markdown", "hi", env=chat_env(server))
    assert slow.code == 0 and len(slow.data) <= 3 * len(MARKDOWN.encode())
    assert slow.screen()[:-1] == fast.screen()[:-1]  # all but the footer's timings


def test_code_blocks_keep_the_terminal_background_unpadded(server: MockServer) -> None:
    import pyte

    run = run_tty("chat", "-m", "markdown", "hi", env=chat_env(server))
    screen = pyte.Screen(80, 24)
    pyte.ByteStream(screen).feed(run.data)
    rows = [y for y, line in enumerate(screen.display) if "answer()" in line or "42" in line]
    assert [screen.display[y].rstrip() for y in rows] == [
        "  def answer() -> int:",
        "      return 42",
    ]
    assert {screen.buffer[y][x].bg for y in rows for x in range(80)} == {"default"}


@pytest.mark.parametrize("mode", [[], ["--raw"]])
def test_escape_sequences_from_the_model_never_reach_the_terminal(
    server: MockServer, mode: list[str]
) -> None:
    run = run_tty("chat", *mode, "-m", "escape", "hi", env=chat_env(server))
    assert run.code == 0
    for sequence in HOSTILE:
        assert sequence not in run.data, sequence
    text = "\n".join(run.screen())
    assert "safe ␛[2J␛[Hcleared?" in text and "␛]52;c;" in text


def test_raw_mode_prints_markdown_source(server: MockServer) -> None:
    run = run_tty("chat", "--raw", "-m", "markdown", "hi", env=chat_env(server))
    text = "\n".join(run.screen())
    assert "# Streaming report" in text and "**bold**" in text and "```python" in text


def test_no_color_means_no_colour_codes(server: MockServer) -> None:
    run = run_tty("chat", "-m", "markdown", "hi", env=chat_env(server, NO_COLOR="1"))
    assert run.code == 0 and colours(run.data) == set()
    assert "Streaming report" in "\n".join(run.screen())


def test_dumb_terminal_gets_plain_text_without_cursor_movement(server: MockServer) -> None:
    run = run_tty("chat", "-m", "markdown", "hi", env=chat_env(server, TERM="dumb"))
    assert run.code == 0
    assert not re.search(rb"\x1b\[[0-9]*[ABJK]", run.data) and colours(run.data) == set()
    assert "**bold**" in "\n".join(run.screen())


def test_reasoning_is_dimmed_on_the_terminal_before_the_answer(server: MockServer) -> None:
    run = run_tty("chat", "-m", "reasoning", "hi", env=chat_env(server))
    assert b"\x1b[2mLet me \x1b[0m" in run.data
    lines = run.screen()
    assert lines.index("Let me think.") < lines.index("The answer is 42.")


def test_ctrl_c_mid_answer_keeps_the_text_and_exits_130(server: MockServer) -> None:
    child = spawn_t360("chat", "-m", "slow:100", "hi", env=chat_env(server))
    child.expect(b"amet")
    data: bytes = child.before + child.after
    child.sendintr()
    child.expect(pexpect.EOF)
    data += child.before
    child.close()
    assert child.exitstatus == 130
    assert server.wait_for(lambda: server.disconnects >= 1, timeout=30)  # connection closed
    assert b"Lorem ipsum" in data and b"interrupted" in data
    assert data.rfind(b"\x1b[?25h") > data.rfind(b"\x1b[?25l")  # cursor shown again


def test_a_spinner_waits_for_the_first_token_then_disappears(server: MockServer) -> None:
    run = run_tty("chat", "-m", "slow-first:1500", "hello", env=chat_env(server))
    assert run.code == 0
    assert b"waiting for slow-first:1500" in run.data  # shown on stderr while waiting
    screen = "\n".join(run.screen())
    assert "waiting" not in screen and screen.startswith("hello")  # erased before the answer
    quiet = run_tty("chat", "-q", "-m", "slow-first:600", "hi", env=chat_env(server))
    assert b"waiting" not in quiet.data


def test_a_spinner_stopped_before_its_first_frame_leaves_no_trace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What keeps a fast answer from flickering, without racing a clock: the first frame
    waits DELAY, and a stop before it neither draws, erases nor waits for it."""
    monkeypatch.setattr(Spinner, "DELAY", 3600.0)
    env = fake_environment()._replace(stderr_isatty=True)
    spinner = Spinner(env, show=True)
    spinner.start("waiting for echo")
    spinner.stop()
    assert env.stderr.getvalue() == ""  # type: ignore[attr-defined]
