"""Regenerate the README's SVG screenshots from real runs against ``t360 mock-server``.

    .venv/bin/python docs/screenshots.py

Each scene runs the installed t360 in a pseudo-terminal, replays what it wrote through a
terminal emulator (pyte), and saves the final screen as SVG with rich.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from pathlib import Path

import pexpect
import pyte
from rich.console import Console
from rich.style import Style
from rich.text import Text

from t360cli.mockserver import MockServer

HERE = Path(__file__).resolve().parent
T360 = str(Path(sys.executable).parent / "t360")
COLUMNS, ROWS = 92, 60


def _colour(name: str) -> str | None:
    if name == "default":
        return None
    if len(name) == 6 and all(c in "0123456789abcdef" for c in name.lower()):
        return f"#{name}"
    return name.replace("bright", "bright_") if name.startswith("bright") else name


def screen_text(data: bytes) -> list[Text]:
    screen = pyte.Screen(COLUMNS, ROWS)
    pyte.ByteStream(screen).feed(data)
    lines: list[Text] = []
    for y in range(ROWS):
        text = Text()
        row = screen.buffer[y]
        for x in range(COLUMNS):
            char = row[x]
            text.append(
                char.data,
                Style(
                    color=_colour(char.fg),
                    bgcolor=_colour(char.bg),
                    bold=char.bold,
                    italic=char.italics,
                    underline=char.underscore,
                    reverse=char.reverse,
                ),
            )
        text.rstrip()
        lines.append(text)
    while lines and not lines[-1].plain.strip():
        lines.pop()
    return lines


def save(lines: list[Text], name: str, title: str) -> None:
    console = Console(
        record=True,
        width=COLUMNS,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
    )
    for line in lines:
        console.print(line, soft_wrap=True)
    console.save_svg(str(HERE / name), title=title)


def spawn(args: list[str], env: dict[str, str]) -> pexpect.spawn:
    return pexpect.spawn(T360, args, env=env, dimensions=(ROWS, COLUMNS), timeout=30)


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="t360-shots-"))
    with MockServer() as server:
        env = {
            **os.environ,
            "TERM": "xterm-256color",
            "PROMPT_TOOLKIT_NO_CPR": "1",
            "T360_API_KEY": "sk-mock",
            "T360_BASE_URL": server.url,
            "XDG_CONFIG_HOME": str(home / "c"),
            "XDG_DATA_HOME": str(home / "d"),
            "XDG_STATE_HOME": str(home / "s"),
            "XDG_CACHE_HOME": str(home / "k"),
        }
        env.pop("NO_COLOR", None)
        shell = b"\x1b[32m$\x1b[0m "

        child = spawn(["chat", "-m", "markdown", "Show me a streaming report"], env)
        child.expect(pexpect.EOF)
        save(
            screen_text(
                shell + b"t360 chat -m markdown 'Show me a streaming report'\r\n" + child.before
            ),
            "oneshot.svg",
            "t360 chat",
        )

        child = spawn(["chat", "-m", "recall"], env)
        child.expect("\u203a".encode())
        data = shell + b"t360 chat -m recall\r\n" + child.before + child.after
        for line, done in (
            ("My name is Ada.", b"TTFT"),
            ("What did I say?", b"TTFT"),
            ("/stats", b"answers"),
        ):
            child.sendline(line)
            child.expect(done)
            data += child.before + child.after
            child.expect("\u203a".encode())
            data += child.before + child.after
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
        save(screen_text(data + child.before), "repl.svg", "t360 chat (REPL)")

        for model in ("echo", "slow-first:350", "slow-first:120", "reasoning", "echo"):
            for _ in range(3):
                spawn(["chat", "-q", "-m", model, "hello"], env).expect(pexpect.EOF)
        child = spawn(["stats"], env)
        child.expect(pexpect.EOF)
        save(screen_text(shell + b"t360 stats\r\n" + child.before), "stats.svg", "t360 stats")

        command = ["bench", "-m", "echo", "-m", "slow-first:120", "-m", "slow-first:400", "-n", "4"]
        child = spawn(command, env)
        child.expect(pexpect.EOF)
        typed = ("t360 " + " ".join(command) + "\r\n").encode()
        save(screen_text(shell + typed + child.before), "bench.svg", "t360 bench")

        command = ["compare", "-m", "markdown", "-m", "lorem:45", "Show me a streaming report"]
        child = spawn(command, env)
        child.expect(pexpect.EOF)
        typed = b"t360 compare -m markdown -m lorem:45 'Show me a streaming report'\r\n"
        save(screen_text(shell + typed + child.before), "compare.svg", "t360 compare")
    names = ("oneshot.svg", "repl.svg", "stats.svg", "bench.svg", "compare.svg")
    print("wrote", ", ".join(str(HERE / n) for n in names))


if __name__ == "__main__":
    main()
