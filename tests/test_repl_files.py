"""REPL /file and /paste (issues 29 and 32): what -f and --paste add, for the next message."""

from __future__ import annotations

from pathlib import Path

from t360cli.mockserver import MockServer
from tests.test_clipboard import tools, xclip_with_text
from tests.test_repl import Session


def test_file_adds_a_file_and_a_folder_to_the_next_message_only(
    server: MockServer, tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("remember the milk\n")
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "main.py").write_text("print('hi')\n")
    repl = Session(server, "-m", "echo")
    try:
        repl.send(f"/file {tmp_path / 'notes.txt'}", "added")
        repl.send(f"/file {folder}", "1 text files")
        repl.send("/file", "notes.txt", str(folder / "main.py"))
        repl.send("what is in these?", "remember the milk")
        repl.send("and now?", "and now?")
        shown = repl.send(f"/attach {tmp_path / 'notes.txt'}", "text file")
        assert "add it with /file" in shown
        assert repl.leave() == 0
    finally:
        if repl.child.isalive():
            repl.child.terminate(force=True)
    first, second = (c.body["messages"][-1]["content"] for c in server.calls[-2:])
    assert (
        first.startswith("what is in these?\n\n") and "notes.txt:\n```\nremember the milk" in first
    )
    assert f"{folder / 'main.py'}:\n```\nprint('hi')" in first
    assert second == "and now?"


def test_paste_adds_the_clipboard_and_the_guard_sees_it(server: MockServer, tmp_path: Path) -> None:
    env = tools(tmp_path, xclip=xclip_with_text("copied words"))
    repl = Session(server, "-m", "echo", **env)
    try:
        repl.send("/paste", "added the clipboard (12 characters)")
        repl.send("explain", "copied words")
        (tmp_path / "bin" / "xclip").write_text(
            "#!/bin/sh\n" + xclip_with_text("AKIAIOSFODNN7EXAMPLE") + "\n"
        )
        repl.send("/paste", "added the clipboard")
        shown = repl.send("and this?", "nothing was sent")
        assert "clipboard line 1: AWS access key id" in shown
        assert repl.leave() == 0
    finally:
        if repl.child.isalive():
            repl.child.terminate(force=True)
    assert server.calls[-1].body["messages"][-1]["content"] == (
        "explain\n\nclipboard:\n```\ncopied words\n```"
    )
