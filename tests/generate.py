"""Generated files: shell completions and the README's command reference.

    .venv/bin/python -m tests.generate      # rewrite them after changing a command

The tests regenerate both and fail when the committed copies have drifted.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from typer.completion import get_completion_script

from tests.helpers import T360

ROOT = Path(__file__).resolve().parent.parent
SHELLS = {"bash": "t360.bash", "zsh": "_t360", "fish": "t360.fish"}
#: Every command and subcommand, in the order the reference lists them.
COMMANDS = [
    [],
    ["chat"],
    ["models"],
    ["config"],
    ["config", "set"],
    ["config", "get"],
    ["config", "unset"],
    ["config", "show"],
    ["config", "path"],
    ["config", "edit"],
    ["history"],
    ["history", "list"],
    ["history", "show"],
    ["history", "export"],
    ["history", "search"],
    ["history", "delete"],
    ["stats"],
    ["bench"],
    ["cmd"],
    ["roles"],
    ["tools"],
    ["mock-server"],
]
START, END = "<!-- reference:start -->", "<!-- reference:end -->"


def completions() -> dict[Path, str]:
    return {
        ROOT / "completions" / name: get_completion_script(
            prog_name="t360", complete_var="_T360_COMPLETE", shell=shell
        )
        + "\n"
        for shell, name in SHELLS.items()
    }


def help_text(args: list[str]) -> str:
    env = {**os.environ, "COLUMNS": "100", "TERM": "dumb"}
    proc = subprocess.run(
        [T360, *args, "--help"], capture_output=True, text=True, env=env, timeout=60, check=True
    )
    return proc.stdout.rstrip() + "\n"


def reference() -> str:
    parts = [START, ""]
    for args in COMMANDS:
        title = " ".join(["t360", *args])
        parts += [f"#### `{title}`", "", "```text", help_text(args).rstrip(), "```", ""]
    return "\n".join([*parts, END])


def readme() -> str:
    text = (ROOT / "README.md").read_text()
    return re.sub(
        re.escape(START) + ".*?" + re.escape(END), lambda _: reference(), text, flags=re.S
    )


def main() -> None:
    for path, content in completions().items():
        path.write_text(content)
    (ROOT / "README.md").write_text(readme())


if __name__ == "__main__":
    main()
