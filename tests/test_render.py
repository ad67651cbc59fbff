"""Terminal rendering: block splitting, sanitising, and the live region's economy."""

from __future__ import annotations

import io
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from t360cli.environment import Environment
from t360cli.mockserver.wire import MARKDOWN, words
from t360cli.render import BlockSplitter, LiveRegion, MarkdownSink
from t360cli.safety import sanitize
from tests.helpers import fake_environment

ANSI = re.compile(r"\x1b\[[0-9;]*m")
# an SGR that sets a background (the standard colours of code in answers: no 38;5;N to mistake)
BACKGROUND = re.compile(r"\x1b\[(?:[0-9]+;)*(?:4[0-8]|10[0-7])[;m]")


def blocks_of(pieces: list[str]) -> tuple[list[str], str]:
    splitter = BlockSplitter()
    blocks = [block for piece in pieces for block in splitter.feed(piece)]
    return blocks, splitter.tail


def test_blocks_end_at_blank_lines_and_closing_fences_not_inside_code() -> None:
    text = (
        "# Title\nPara one\ncontinues.\n\n```py\nx = 1\n\ny = 2\n```\nAfter fence\n\n"
        "1. item\n\n   more of the item\n\n2. two\n"
    )
    assert blocks_of([text]) == (
        [
            "# Title\nPara one\ncontinues.\n",
            "```py\nx = 1\n\ny = 2\n```\n",
            "After fence\n",
            "1. item\n\n   more of the item\n",
        ],
        "2. two\n",
    )


def test_a_block_is_cut_as_soon_as_the_next_one_starts() -> None:
    splitter = BlockSplitter()
    assert splitter.feed("First.\n\n") == []
    assert splitter.feed("S") == ["First.\n"]
    assert splitter.tail == "S"


def test_tilde_fences_and_longer_closing_fences() -> None:
    blocks, tail = blocks_of(["~~~\na\n\nb\n~~~~\n", "````\n```\n\n````\n"])
    assert blocks == ["~~~\na\n\nb\n~~~~\n", "````\n```\n\n````\n"] and tail == ""


@settings(max_examples=200, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=len(MARKDOWN)), max_size=40))
def test_any_split_gives_the_same_blocks(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    bounds = zip([0, *points], [*points, len(MARKDOWN)], strict=True)
    pieces = [MARKDOWN[a:b] for a, b in bounds if b > a]
    assert blocks_of(pieces) == blocks_of([MARKDOWN])


def test_sanitize_neutralises_controls_but_keeps_newline_and_tab() -> None:
    assert sanitize("a\tb\nc\x1b[2J\x07\x9b\x7f\r\n") == "a\tb\nc␛[2J␇\ufffd␡\n"


def test_sanitize_neutralises_bidi_controls() -> None:
    tricky = "admin\u202euser\u2066x\u2069 \u202a\u202b\u202c\u202d\u2067\u2068"
    assert sanitize(tricky) == "admin\ufffduser\ufffdx\ufffd " + "\ufffd" * 6


def fake_terminal() -> tuple[Environment, io.StringIO]:
    out = io.StringIO()
    return fake_environment(stdout=out, tty=True), out


def redraw_after_every_token(pieces: list[str], width: int = 60) -> int:
    """Bytes a sink writes when it redraws after every token (the worst case: real redraws
    are throttled)."""
    env, out = fake_terminal()
    console = MarkdownSink(env, show_extras=False).console
    console.width = width
    region, splitter = LiveRegion(console, out), BlockSplitter()
    for piece in pieces:
        region.update(splitter.feed(piece), splitter.tail)
    region.update([], splitter.tail, final=True)
    return len(out.getvalue().encode())


def test_bytes_written_stay_proportional_for_a_long_paragraph() -> None:
    pieces = [f"word{i} " for i in range(600)]
    assert redraw_after_every_token(pieces) < 1.1 * len("".join(pieces))


@pytest.mark.parametrize("width", [60, 100])
def test_bytes_written_stay_proportional_for_markdown(width: int) -> None:
    """Against the markdown the model sent, as issue #28 measures it."""
    text = MARKDOWN * 3
    assert redraw_after_every_token(words(text), width) < 2.5 * len(text.encode())


def test_code_blocks_are_indented_not_padded_to_the_width() -> None:
    env, out = fake_terminal()
    region = LiveRegion(MarkdownSink(env, show_extras=False).console, out)
    region.console.width = 100
    lines = region.lines("```python\nx = 1\n\nprint(x)\n```\n")
    assert [ANSI.sub("", line) for line in lines] == ["  x = 1", "", "  print(x)"]
    assert not any(BACKGROUND.search(line) for line in lines)


def test_blanks_whose_style_does_not_show_cost_no_bytes() -> None:
    env, out = fake_terminal()
    region = LiveRegion(MarkdownSink(env, show_extras=False).console, out)
    region.console.width = 100
    (quote,) = region.lines("> A quote.\n")
    assert quote.endswith("A quote.\x1b[0m")  # rich pads it to the width in its colour
    table = region.lines("| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert all(not line.endswith(" ") and " \x1b[0m" not in line for line in table)
