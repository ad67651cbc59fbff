"""The clipboard as input (issue 32): fake clipboard tools on PATH, written here."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from t360cli.mockserver import MockServer
from tests.helpers import chat_env, invoke
from tests.test_attachments import png


def tools(tmp_path: Path, **scripts: str) -> dict[str, str]:
    """A PATH holding only these tools (name: shell script body) and the few real ones
    they use: not /usr/bin, where the runner's own xclip or wl-paste may be."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for name, body in scripts.items():
        path = folder / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    real = tmp_path / "real-bin"
    real.mkdir()
    for name in ("sh", "printf", "cat", "sleep", "yes"):
        found = shutil.which(name)
        assert found, name
        (real / name).symlink_to(found)
    return {"PATH": f"{folder}:{real}", "WAYLAND_DISPLAY": ""}


def xclip_with_text(text: str) -> str:
    targets = "printf 'TARGETS\\nUTF8_STRING\\n'"
    return f"""case "$*" in *TARGETS*) {targets} ;; *) printf '%s' '{text}' ;; esac"""


def sent(server: MockServer) -> object:
    return server.calls[-1].body["messages"][-1]["content"]


def test_paste_adds_the_text_as_a_block_labelled_clipboard(
    server: MockServer, tmp_path: Path
) -> None:
    env = {**chat_env(server), **tools(tmp_path, xclip=xclip_with_text("copied words"))}
    result = invoke("chat", "-m", "echo", "--paste", "explain", env=env)
    assert result.code == 0, result.err
    assert sent(server) == "explain\n\nclipboard:\n```\ncopied words\n```"


def test_an_image_on_the_clipboard_is_attached(server: MockServer, tmp_path: Path) -> None:
    picture = tmp_path / "shot.png"
    picture.write_bytes(png())
    wl_paste = f"""case "$*" in
  *--list-types*) printf 'text/plain\\nimage/png\\n' ;;
  *image/png*) cat '{picture}' ;;
  *) printf 'not this' ;;
esac"""
    env = {**chat_env(server), **tools(tmp_path, **{"wl-paste": wl_paste}), "WAYLAND_DISPLAY": "w"}
    for flags in (["--paste"], ["-a", "clipboard"]):
        result = invoke("chat", "-m", "echo", *flags, "what is this?", env=env)
        assert result.code == 0, result.err
        content = sent(server)
        assert isinstance(content, list) and content[1]["type"] == "image_url"
        assert content[1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_attach_clipboard_with_text_on_it_says_use_paste(
    server: MockServer, tmp_path: Path
) -> None:
    env = {**chat_env(server), **tools(tmp_path, xclip=xclip_with_text("words"))}
    result = invoke("chat", "-m", "echo", "-a", "clipboard", "x", env=env)
    assert result.code == 2 and "holds text, not an image; add it with --paste" in result.err


def test_no_clipboard_tool_is_exit_2_naming_what_was_looked_for(
    server: MockServer, tmp_path: Path
) -> None:
    result = invoke(
        "chat", "-m", "echo", "--paste", "x", env={**chat_env(server), **tools(tmp_path)}
    )
    assert result.code == 2
    assert "no clipboard tool found (looked for xclip, xsel, wl-paste)" in result.err
    assert server.calls == []


def test_a_secret_on_the_clipboard_is_refused(server: MockServer, tmp_path: Path) -> None:
    env = {**chat_env(server), **tools(tmp_path, xclip=xclip_with_text("AKIAIOSFODNN7EXAMPLE"))}
    result = invoke("chat", "-m", "echo", "--paste", "x", env=env)
    assert result.code == 6 and "clipboard line 1: AWS access key id" in result.err
    assert server.calls == []


def test_the_clipboard_is_read_bounded_and_within_a_deadline(
    server: MockServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    endless = tools(tmp_path, xsel="yes")
    result = invoke("chat", "-m", "echo", "--paste", "x", env={**chat_env(server), **endless})
    assert result.code == 2 and "the clipboard is over 4 MB" in result.err
    monkeypatch.setattr("t360cli.clipboard.TIMEOUT", 2.0)  # time for sh to write its pid
    pid_file = tmp_path / "xsel.pid"
    (tmp_path / "bin" / "xsel").write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 60\n")
    result = invoke("chat", "-m", "echo", "--paste", "x", env={**chat_env(server), **endless})
    assert result.code == 2 and "xsel did not answer within 2 s" in result.err
    assert server.calls == []
    with pytest.raises(ProcessLookupError):  # the tool was ended, not left behind
        os.kill(int(pid_file.read_text()), 0)
