"""``t360 cmd``: the system prompt that asks for one shell command, and what is made of the
answer: the command alone, whether it looks destructive, and whether it shows on a screen
as it runs. Pure functions, no I/O; each reads the command once, so a hostile answer of
megabytes costs linear time."""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import NamedTuple

from .structured import code_blocks

_PROMPT_MARK = re.compile(r"^\s*[$#>]\s+")

# -- what does not show -------------------------------------------------------------------

#: Letters and symbols that look like a blank but are not a space, for the shell or the eye.
_BLANK_LOOKING = frozenset("\u2800\u3164\u115f\u1160\uffa0")
#: Controls, format characters (zero-width, bidi, tags), separators other than the space,
#: private-use, surrogate and unassigned code points: none shows as what it is.
_UNSEEN_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp", "Co", "Cs", "Cn"})
#: Of those, the ones that separate words (the others join them, showing nothing).
_BREAKS = frozenset({"Cc", "Zs", "Zl", "Zp"})
#: Marks that show nothing: variation selectors, the combining grapheme joiner, ...
_IGNORABLE_MARKS = re.compile("[\u034f\u17b4\u17b5\u180b-\u180f\ufe00-\ufe0f\U000e0100-\U000e01ef]")
#: Spaces and tabs in a row beyond this push the rest of a command out of sight.
MAX_BLANKS = 16
_BLANKS = re.compile(f"[ \t]{{{MAX_BLANKS + 1},}}")


def _unseen(char: str) -> bool:
    if char in " \t\n":
        return False
    return (
        char in _BLANK_LOOKING
        or unicodedata.category(char) in _UNSEEN_CATEGORIES
        or _IGNORABLE_MARKS.match(char) is not None
    )


def _hiding(command: str) -> re.Pattern[str]:
    """What in ``command`` would not show: each run of one unseen character, and each run
    of more than MAX_BLANKS spaces and tabs."""
    chars = "".join(sorted(char for char in set(command) if _unseen(char)))
    if not chars:
        return _BLANKS
    return re.compile(f"([{re.escape(chars)}])\\1*|{_BLANKS.pattern}")


def unseen(command: str) -> list[str]:
    """What ``command`` holds that would not show on a screen as what runs, once each:
    ``U+2800 BRAILLE PATTERN BLANK``, ``40 blanks in a row``. Empty when it all shows."""
    found: dict[str, str] = {}
    for match in _hiding(command).finditer(command):
        char = match[0][0]
        if char in " \t":
            found.setdefault(" ", f"{len(match[0])} blanks in a row")
        else:
            found.setdefault(char, f"U+{ord(char):04X} {unicodedata.name(char, '')}".rstrip())
    return list(found.values())


def _escape(char: str) -> str:
    code = ord(char)
    if char == "\t":
        return "\\t"
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )


def visible(command: str) -> str:
    """``command`` with what would not show written as escapes (``\\u2800``, ``\\x20``),
    a run of one character as one escape and its count."""

    def escaped(match: re.Match[str]) -> str:
        return re.sub(
            r"(.)\1*",
            lambda run: _escape(run[1]) + (f"\u00d7{len(run[0])}" if len(run[0]) > 1 else ""),
            match[0],
        )

    return _hiding(command).sub(escaped, command)


def _as_read(command: str) -> str:
    """``command`` as an eye reads it: compatibility forms made plain (NFKC: fullwidth
    letters, ligatures), what looks blank made a space, what shows nothing removed."""
    text = unicodedata.normalize("NFKC", command)
    return text.translate(
        {
            ord(char): " "
            if char in _BLANK_LOOKING or unicodedata.category(char) in _BREAKS
            else None
            for char in set(text)
            if _unseen(char)
        }
    )


# -- what looks destructive ---------------------------------------------------------------


def _anywhere(pattern: str) -> Callable[[str], bool]:
    found = re.compile(pattern).search
    return lambda command: found(command) is not None


def _on_one_line(first: str, then: str) -> Callable[[str], bool]:
    """``first``, then ``then`` later on the same line. Each line is searched twice at
    most: one regex with a gap between the two would rescan the line from every ``first``."""
    first_found, then_found = re.compile(first).search, re.compile(then).search

    def check(command: str) -> bool:
        for line in command.split("\n"):
            start = first_found(line)
            if start is not None and then_found(line, start.end()) is not None:
                return True
        return False

    return check


_DOWNLOAD = re.compile(r"\b(curl|wget|fetch)\b")
_SHELL = re.compile(r"\s*(sudo\s+)?(ba|z|k|da|fi)?sh\b")


def _piped_to_shell(command: str) -> bool:
    """A download piped straight into a shell: one stage of a pipeline, then the next."""
    for line in command.split("\n"):
        stages = line.split("|")
        for stage, after in itertools.pairwise(stages):
            if _DOWNLOAD.search(stage) and _SHELL.match(after):
                return True
    return False


#: What makes a command "look destructive": a check and a reason for each. Every check is
#: linear in the command's length (no gap a regex would rescan from each start).
DANGERS: list[tuple[Callable[[str], bool], str]] = [
    (_anywhere(r"\brm\s+(-\S*\s+)*-\S*[rRf]"), "rm with -r or -f deletes without asking"),
    (_on_one_line(r"\bdd\b", r"\bof=/dev/"), "dd writes over a device"),
    (_anywhere(r"\bmkfs(\.\w+)?\b"), "mkfs formats a file system"),
    (_anywhere(r">\s*/dev/(sd|hd|nvme|vd|xvd|disk|mmcblk)"), "it writes over a disk"),
    (
        _anywhere(r"\bchmod\s+(-\S+\s+)*-[^\sR]*R\S*\s+0?777\s+/(\s|$)"),
        "chmod -R 777 / opens up every file",
    ),
    (_anywhere(r":\s*\(\s*\)\s*\{[^{}]*:\s*\|\s*:\s*&[^{}]*\}\s*;\s*:"), "a fork bomb"),
    (_piped_to_shell, "it runs a script straight from the network"),
    (_anywhere(r"\b(shred|wipefs)\b"), "it destroys data for good"),
    (_on_one_line(r"\bfind\b", r"\s-delete\b"), "find -delete deletes what it finds"),
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
    """Why ``command`` looks destructive (empty when it does not), judged on the command
    as an eye reads it, so that look-alike and invisible characters hide nothing."""
    read = _as_read(command)
    return [reason for check, reason in DANGERS if check(read)]
