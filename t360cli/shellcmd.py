"""``t360 cmd``: the system prompt that asks for one shell command, and what is made of the
answer: the command alone, and whether it looks destructive. Pure functions, no I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

from .structured import code_blocks

_PROMPT_MARK = re.compile(r"^\s*[$#>]\s+")

#: What makes a command "look destructive": a reason for each pattern.
DANGERS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\brm\s+(-\S*\s+)*-\S*[rRf]"), "rm with -r or -f deletes without asking"),
    (re.compile(r"\bdd\b[^\n]*\bof=/dev/"), "dd writes over a device"),
    (re.compile(r"\bmkfs(\.\w+)?\b"), "mkfs formats a file system"),
    (re.compile(r">\s*/dev/(sd|hd|nvme|vd|xvd|disk|mmcblk)"), "it writes over a disk"),
    (
        re.compile(r"\bchmod\s+(-\S+\s+)*-\S*R\S*\s+0?777\s+/(\s|$)"),
        "chmod -R 777 / opens up every file",
    ),
    (re.compile(r":\s*\(\s*\)\s*\{[^}]*:\s*\|\s*:\s*&[^}]*\}\s*;\s*:"), "a fork bomb"),
    (
        re.compile(r"\b(curl|wget|fetch)\b[^|\n]*\|\s*(sudo\s+)?(ba|z|k|da|fi)?sh\b"),
        "it runs a script straight from the network",
    ),
    (re.compile(r"\b(shred|wipefs)\b"), "it destroys data for good"),
]


class Command(NamedTuple):
    text: str
    #: The model insisted on several lines: it is a script, shown as such.
    script: bool


def system_prompt(os_name: str, shell: str) -> str:
    return (
        f"You turn a task into exactly one shell command for {os_name}, run by {shell}. "
        "Answer with the command and nothing else: no explanation, no Markdown, no code "
        "fences, no leading $. Prefer one line; use several only if the task cannot be done "
        "in one. If the task is unclear, answer with the safest command that helps."
    )


def describe_system(environ: Mapping[str, str], platform_name: str) -> tuple[str, str]:
    """The OS as users call it, and the shell's name (from ``$SHELL``, else sh)."""
    os_name = {"Darwin": "macOS", "Linux": "Linux", "Windows": "Windows"}.get(
        platform_name, platform_name or "a Unix-like system"
    )
    shell = environ.get("SHELL", "").rstrip("/").rsplit("/", 1)[-1] or "sh"
    return os_name, shell


def extract(answer: str) -> Command:
    """The command in the model's answer: the first fenced block's content if there is
    one, prompt marks (``$ ``) removed, blank lines dropped."""
    blocks = code_blocks(answer)
    body = blocks[0] if blocks else answer
    lines = [_PROMPT_MARK.sub("", line, count=1).rstrip() for line in body.strip().splitlines()]
    lines = [line for line in lines if line.strip() and not line.strip().startswith("```")]
    return Command("\n".join(lines), len(lines) > 1)


def dangers(command: str) -> list[str]:
    """Why ``command`` looks destructive (empty when it does not)."""
    return [reason for pattern, reason in DANGERS if pattern.search(command)]
