"""Fenced code blocks (``-x``, ``--schema``'s tolerance of fences, ``t360 cmd``): found as
CommonMark finds them, in one pass, whatever the answer holds."""

from __future__ import annotations

import subprocess
import sys

import pytest

from t360cli.structured import code_blocks


@pytest.mark.parametrize(
    ("answer", "blocks"),
    [
        (
            "Two:\n```python\nprint(1)\n```\nor\n~~~sh\necho 2\n~~~\ndone",
            ["print(1)\n", "echo 2\n"],
        ),
        ("```\n```", [""]),
        ("````\n```\n\n````\n", ["```\n\n"]),  # a shorter fence inside is content
        ("```\ncode\n````", ["code\n"]),  # closed by a longer fence of the same character
        ("```\nx\n~~~\n```", ["x\n~~~\n"]),  # not by the other character
        ("```\nx\n``` y\n```", ["x\n``` y\n"]),  # not by a fence with words after it
        ("   ```\nindented\n   ```  ", ["indented\n"]),
        ("```a`b\nx\n```\ny\n```", ["y\n"]),  # a backtick in the info string: inline code
        ("text\n```sh\nls\n", ["ls\n"]),  # never closed: runs to the end
        ("no fences ``` here", []),
        ("```", []),
    ],
)
def test_fenced_blocks_are_found_as_commonmark_finds_them(answer: str, blocks: list[str]) -> None:
    assert code_blocks(answer) == blocks


#: What every answer goes through when it holds fences: -x, --schema, t360 cmd.
_READ_EVERYWHERE = """
import sys
from t360cli.errors import SchemaError
from t360cli.shellcmd import extract
from t360cli.structured import code_blocks, validate

answer = sys.stdin.read()
code_blocks(answer)
extract(answer)
try:
    validate(answer, {"type": "object"})
except SchemaError:
    pass
"""


@pytest.mark.parametrize("line", ["```x\n", "~~~~ a\n```\n", " ```py\n~~~\n````` b\n"])
def test_a_megabyte_of_unclosed_fences_is_read_in_linear_time(line: str) -> None:
    answer = line * (1_000_000 // len(line))
    # Quadratic matching took minutes on this; linear work takes a fraction of a second.
    subprocess.run(
        [sys.executable, "-c", _READ_EVERYWHERE], input=answer, text=True, timeout=10, check=True
    )
