"""Live markdown on a terminal: the only module that imports rich.

Cost must stay linear in the answer's length, so the answer is cut into markdown blocks
as it streams. A finished block (followed by a blank line, outside any code fence) is
rendered once and printed for good; only the unfinished tail lives in a small region at
the bottom that is redrawn. Redraws run on a helper thread at most ``FPS`` times a
second, so a burst of tokens costs one redraw while a lone token still shows within a
frame. A redraw rewrites only the lines that changed since the last one (greedy word
wrap keeps earlier lines of a growing paragraph stable), so the bytes sent to the
terminal stay proportional to the text. When the answer ends, the tail is printed for
good and scrollback holds exactly one copy of the answer.
"""

from __future__ import annotations

import errno
import re
import threading
import time
from collections.abc import Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any, ClassVar

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.markdown import CodeBlock, Markdown, MarkdownElement
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.syntax import ANSI_LIGHT, ANSISyntaxTheme, Syntax
from rich.text import Text

from . import figures
from .environment import Environment
from .safety import sanitize
from .terminal import ReasoningView, Spinner, ViewSink

if TYPE_CHECKING:
    from rich.panel import Panel
    from rich.table import Table

    from .stats import Turn
    from .terminal import AnswerSink

FPS = 30
CODE_THEME = "monokai"
#: Code in answers: the terminal's own standard colours (which its palette keeps legible on
#: its own background, light or dark: bat's "ansi" theme), whitespace left unstyled.
ANSWER_CODE = ANSISyntaxTheme(
    {token: style for token, style in ANSI_LIGHT.items() if token != ("Text", "Whitespace")}
)

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")


class _Console(Console):
    """A rich Console that leaves a closed pipe to the boundary in ``cli.py`` (rich's own
    handling would exit 1 on the spot)."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError(errno.EPIPE, "the reader closed the pipe")


def _text_console(
    file: IO[str], env: Environment, *, terminal: bool, width: int | None = None
) -> _Console:
    """A console for untrusted text: no markup, emoji codes or highlighting read into it."""
    return _Console(
        file=file,
        force_terminal=terminal,
        no_color=env.no_color,
        highlight=False,
        emoji=False,
        markup=False,
        width=width,
    )


class _CodeBlock(CodeBlock):
    """A code block indented two columns, on the terminal's background: rich's own pads
    every line to the full width with background-coloured spaces, several times the
    bytes of the code, on every redraw."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        code = str(self.text).rstrip()
        syntax = Syntax(code, self.lexer_name, theme=ANSWER_CODE, word_wrap=True)
        yield Padding(syntax.highlight(code), (0, 0, 0, 2), expand=False)


class _Markdown(Markdown):
    elements: ClassVar[dict[str, type[MarkdownElement]]] = {
        **Markdown.elements,
        "fence": _CodeBlock,
        "code_block": _CodeBlock,
    }


def markdown(text: str) -> Markdown:
    """An answer's markdown as t360 shows it: links spelled out, never OSC 8."""
    return _Markdown(text, hyperlinks=False)


class BlockSplitter:
    """Cuts streamed markdown into finished blocks and an unfinished tail.

    A block ends at a blank line outside a code fence, or at the closing fence of a code
    block; the cut is made only once the next block starts, so a blank line followed by
    an indented line (a list item's continuation) keeps the block together. Text is kept
    as lists of pieces, so a long block or line costs linear time, not quadratic.
    """

    def __init__(self) -> None:
        self._lines: list[str] = []  # the finished lines of the unfinished block
        self._partial: list[str] = []  # pieces of the line being written
        self._fence: str | None = None  # the opening fence while inside a code block
        self._gap: int | None = None  # index in _lines of a blank line ending the block

    @property
    def tail(self) -> str:
        """The unfinished block's text so far."""
        done = "\n".join(self._lines) + "\n" if self._lines else ""
        return done + "".join(self._partial)

    def feed(self, text: str) -> list[str]:
        """Add streamed text; returns the blocks it finished, in order."""
        blocks: list[str] = []
        pos = 0
        while (end := text.find("\n", pos)) >= 0:
            piece = text[pos:end]
            line = "".join(self._partial) + piece if self._partial else piece
            self._partial = []
            self._finish_line(line, blocks)
            pos = end + 1
        if pos < len(text):
            self._partial.append(text[pos:] if pos else text)
            first = self._partial[0][:1]
            if self._gap is not None and first not in (" ", "\t"):
                self._cut(blocks)  # the next block has started
        return blocks

    def _finish_line(self, line: str, blocks: list[str]) -> None:
        if self._fence is not None:
            self._lines.append(line)
            if _closes(line, self._fence):
                self._fence = None
                blocks.append("\n".join(self._lines) + "\n")
                self._lines = []
            return
        if not line.strip():
            if self._gap is None:
                self._gap = len(self._lines)
            self._lines.append(line)
            return
        if self._gap is not None:
            if line[:1] in (" ", "\t"):
                self._gap = None  # an indented continuation: the same block
            else:
                self._cut(blocks)
        self._lines.append(line)
        opening = _FENCE.match(line)
        if opening:
            self._fence = opening.group(1)

    def _cut(self, blocks: list[str]) -> None:
        """Finish the block before the pending blank line; drop the blank lines."""
        block = self._lines[: self._gap]
        self._lines = []
        self._gap = None
        if any(line.strip() for line in block):
            blocks.append("\n".join(block) + "\n")


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return (
        len(line) - len(line.lstrip(" ")) <= 3
        and stripped.startswith(fence[0] * len(fence))
        and not stripped.strip(fence[0])
    )


class MarkdownSink:
    """The answer as live markdown on a terminal (stdout), reasoning dimmed on stderr."""

    def __init__(self, env: Environment, *, show_extras: bool) -> None:
        self.env = env
        self._out = env.stdout
        self.console = _text_console(env.stdout, env, terminal=True)
        self._region = LiveRegion(self.console, env.stdout)
        self._reasoning = ReasoningView(env, show=show_extras)
        self._spinner = Spinner(env, show=show_extras)
        self._quiet = not show_extras
        self._splitter = BlockSplitter()
        self._blocks: list[str] = []  # finished, not yet drawn
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._has_text = False

    # -- the streaming side (main thread) -------------------------------------------------

    def started(self, model: str) -> None:
        self._spinner.start(f"waiting for {model}")

    def text(self, text: str) -> None:
        if not self._has_text:
            self._spinner.stop()
            self._reasoning.end()
            self._has_text = True
            self._out.write("\x1b[?25l")  # hide the cursor while the region is live
            self._thread = threading.Thread(target=self._run, name="t360-render", daemon=True)
            self._thread.start()
        text = sanitize(text)
        with self._lock:
            blocks = self._splitter.feed(text)
            if blocks:
                self._blocks.extend(blocks)
        self._wake.set()

    def reasoning(self, text: str) -> None:
        if not self._has_text:
            self._spinner.stop()
            self._reasoning.write(text)

    def waiting(self, seconds: float, attempt: int, reason: str) -> None:
        self._spinner.wait(seconds, attempt, reason, quiet=self._quiet)

    def close(self) -> None:
        """Stop the redraws and print what is left for good."""
        self._spinner.stop()
        self._reasoning.end()
        if self._thread is None:
            return
        self._stop = True
        self._wake.set()
        self._thread.join()
        self._thread = None
        with self._lock:
            blocks, self._blocks = self._blocks, []
            tail = self._splitter.tail
        try:
            self._region.update(blocks, tail, final=True)
        finally:
            self._out.write("\n\x1b[?25h" if self._region.started else "\x1b[?25h")
            self._out.flush()

    # -- the drawing side (render thread, then close) -------------------------------------

    def _run(self) -> None:
        interval = 1 / FPS
        last = 0.0
        while not self._stop:
            self._wake.wait()
            delay = last + interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)  # throttle: a burst of tokens costs one redraw
            self._wake.clear()
            if self._stop:
                return  # close() draws the last frame itself
            with self._lock:
                blocks, self._blocks = self._blocks, []
                tail = self._splitter.tail
            self._region.update(blocks, tail)
            last = time.perf_counter()


class LiveRegion:
    """The bottom of the screen where the unfinished tail of an answer is redrawn.

    ``update`` prints finished blocks for good and brings the live lines up to date,
    writing only what changed; the sink decides when (and on which thread) to call it.
    """

    def __init__(self, console: Console, out: Any) -> None:
        self.console = console
        self._out = out
        self._height = max(console.height, 4)
        self._live: list[str] = []  # the lines of the live region now on screen
        self.started = False  # whether any line is on screen (the cursor ends it)
        self._skip = 0  # leading lines of the tail's rendering already made permanent

    def lines(self, text: str) -> list[str]:
        """``text`` (markdown) rendered for this console, as lines without trailing padding."""
        if not text.strip():
            return []
        rendered = self.console.render_lines(markdown(text), pad=False)
        with self.console.capture() as capture:
            self.console.print(_Lines([_sparing(line) for line in rendered]))
        lines = capture.get().split("\n")
        while lines and not lines[-1].strip():
            lines.pop()
        start = 0
        while start < len(lines) and not lines[start]:
            start += 1  # rich opens lists and tables with a blank line; blocks get one already
        return lines[start:]

    def update(self, blocks: list[str], tail: str, *, final: bool = False) -> None:
        """Print ``blocks`` for good and show ``tail`` live (for good too when final)."""
        permanent: list[str] = []
        for block in blocks:
            permanent += self.lines(block)[self._skip :]
            permanent.append("")  # the blank line between blocks
            self._skip = 0
        live = self.lines(tail)[self._skip :]
        if final:
            permanent, live = permanent + live, []
            while permanent and not permanent[-1].strip():
                permanent.pop()
        # Lines pushed above the screen can no longer be redrawn: make them permanent.
        overflow = len(live) - (self._height - 2)
        if overflow > 0:
            permanent += live[:overflow]
            live = live[overflow:]
            self._skip += overflow
        self._draw(permanent, live)

    def _draw(self, permanent: list[str], live: list[str]) -> None:
        """Bring the screen from the current live lines to ``permanent + live``.

        The cursor rests at the end of the last line drawn, so text appended to that line
        is written as it is, new lines are added below, and only when an earlier line
        changed does the cursor move up to rewrite from there.
        """
        new = permanent + live
        old = self._live
        same = 0
        for before, after in zip(old, new, strict=False):
            if before != after:
                break
            same += 1
        out: list[str] = []
        if same == len(old):
            rest = new[same:]
            if rest:
                out.append(("\n" if self.started else "") + "\n".join(rest))
        elif same == len(old) - 1 and new[same].startswith(old[same]):
            out.append("\n".join([new[same][len(old[same]) :], *new[same + 1 :]]))
        else:
            up = len(old) - 1 - same
            out.append((f"\x1b[{up}A" if up else "") + "\r\x1b[J" + "\n".join(new[same:]))
        if out:
            self._out.write("".join(out))
            self._out.flush()
        self._live = live
        self.started = self.started or bool(new)


def _sparing(line: list[Segment]) -> list[Segment]:
    """``line`` in fewer bytes, looking the same: spaces unstyled where their style does not
    show, runs of one style joined (rich restyles each span, reset to reset), and no
    trailing blanks (padding costs bytes on every redraw and keeps appended text from
    extending a line in place)."""
    segments = [
        segment._replace(style=None)
        if segment.style and not segment.text.strip(" ") and not _shows_on_blank(segment.style)
        else segment
        for segment in line
    ]
    joined = list(Segment.simplify(segments))
    while joined and not _shows_on_blank(joined[-1].style):
        text = joined[-1].text.rstrip(" ")
        if text:
            joined[-1] = joined[-1]._replace(text=text)
            break
        joined.pop()
    return joined


def _shows_on_blank(style: Style | None) -> bool:
    """Whether a space in ``style`` looks different from a plain one."""
    return style is not None and bool(
        style.bgcolor
        or style.reverse
        or style.underline
        or style.underline2
        or style.strike
        or style.overline
    )


#: The narrowest column ``t360 compare`` shows side by side; narrower, panels are stacked.
COLUMN_WIDTH = 40


class Columns:
    """``t360 compare`` on a terminal: a live column per model, side by side when each
    gets COLUMN_WIDTH columns, else a panel per model, stacked; each streams its answer
    as markdown and ends with its stats (on stderr at the end, the rest on stdout).

    Each answer is cut into markdown blocks as it streams (``BlockSplitter``): a finished
    block is rendered once, at its column's width, and kept as lines; only the unfinished
    tail is rendered again, and only when it grew. A frame shows the last lines of each
    answer that fit the screen, so its cost is the screen's, not the answers': the
    whole stays linear in their lengths. The threads that stream only add text under a
    lock; the main thread draws (``follow``), at most FPS frames a second, through one
    rich Live region, rewritten in place. At the end the region goes, and the answers are
    printed whole, side by side, once.
    """

    def __init__(self, env: Environment, models: Sequence[str], *, quiet: bool) -> None:
        from rich.live import Live

        self.env = env
        self.models = [sanitize(model) for model in models]
        self.quiet = quiet
        width = env.columns
        self.console = _text_console(env.stdout, env, terminal=True, width=width)
        self._stderr = _text_console(env.stderr, env, terminal=env.stderr_isatty, width=width)
        self.rows = env.size[1] if env.size is not None else self.console.height
        count = len(self.models)
        self.side_by_side = width >= COLUMN_WIDTH * count
        inner = (width - 3 * (count - 1)) // count if self.side_by_side else width - 4
        self._panes = [_Pane(self.console, inner) for _ in self.models]
        self._lock = threading.Lock()
        self._changed = threading.Event()
        self._live = Live(
            console=self.console,
            auto_refresh=False,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
            vertical_overflow="crop",
        )

    # -- the answers' threads -------------------------------------------------------------

    def sink(self, index: int) -> AnswerSink:
        return ViewSink(self, index)

    def add(self, index: int, text: str) -> None:
        pane = self._panes[index]
        text = sanitize(text)
        with self._lock:
            pane.pending += pane.splitter.feed(text)
            pane.dirty = True
            pane.state = "writing"
        self._changed.set()

    def thinking(self, index: int) -> None:
        self._state(index, "reasoning")  # reasoning is not shown, only said

    def waiting(self, index: int, seconds: float, attempt: int, reason: str) -> None:
        self._state(index, f"retry {attempt}", time.monotonic() + seconds)

    def _state(self, index: int, state: str, until: float | None = None) -> None:
        with self._lock:
            self._panes[index].state, self._panes[index].until = state, until
        self._changed.set()

    def finished(self, index: int, turn: Turn) -> None:
        with self._lock:
            self._panes[index].turn = turn
        self._changed.set()

    # -- the main thread ------------------------------------------------------------------

    def follow(self, done: threading.Event) -> None:
        self._live.start()
        while not done.is_set():
            self._changed.wait(0.1)  # new text, or a tenth of a second for the timers
            self._changed.clear()
            self._live.update(self._frame(), refresh=True)
            done.wait(1 / FPS)  # a burst of text costs one frame

    def close(self, turns: Sequence[Turn | None]) -> None:
        """The live region goes; the answers are printed whole, their stats on stderr."""
        self._live.stop()
        self._render()
        if self.side_by_side:
            answers = self._table(show_header=True)
            answers.add_row(*(_Lines(pane.whole()) for pane in self._panes))
            self.console.print(answers)
            under = [pane.stats(self.env, self.quiet) for pane in self._panes]
            if any(under):
                table = self._table(show_header=False)
                table.add_row(*(_Lines(lines) for lines in under))
                self._stderr.print(table)
            return
        for model, pane in zip(self.models, self._panes, strict=True):
            self.console.print(self._panel(model, pane, _Lines(pane.whole())))
            stats = pane.stats(self.env, self.quiet)
            if stats:
                self._stderr.print(_Lines(stats))

    # -- drawing --------------------------------------------------------------------------

    def _render(self) -> None:
        """Render what arrived since the last frame (each finished block once)."""
        for pane in self._panes:
            with self._lock:
                if not pane.dirty:
                    continue
                blocks, pane.pending = pane.pending, []
                tail, pane.dirty = pane.splitter.tail, False
            pane.draw(blocks, tail)

    def _frame(self) -> RenderableType:
        from rich.console import Group

        self._render()
        stats = [pane.stats(self.env, self.quiet) for pane in self._panes]
        if self.side_by_side:
            height = max(3, self.rows - 4 - max(len(lines) for lines in stats))
            table = self._table(show_header=True)
            table.add_row(*(_Lines(pane.last(height)) for pane in self._panes))
            if any(stats):
                table.add_row(*(_Lines(lines) for lines in stats))
            return table
        height = max(3, (self.rows - 1) // len(self._panes) - 2)
        return Group(
            *(
                self._panel(model, pane, _Lines([*pane.last(height - len(lines)), *lines]))
                for model, pane, lines in zip(self.models, self._panes, stats, strict=True)
            )
        )

    def _table(self, *, show_header: bool) -> Table:
        from rich import box
        from rich.table import Table

        table = Table(
            box=box.MINIMAL,
            show_edge=False,
            show_header=show_header,
            pad_edge=False,
            padding=(0, 1),
        )
        for model, pane in zip(self.models, self._panes, strict=True):
            table.add_column(self._title(model, pane), width=pane.width, no_wrap=True)
        return table

    def _panel(self, model: str, pane: _Pane, body: _Lines) -> Panel:
        from rich.panel import Panel

        return Panel(
            body, title=self._title(model, pane), title_align="left", width=self.env.columns
        )

    def _title(self, model: str, pane: _Pane) -> Text:
        title = Text(model, style="bold")
        status = pane.status()
        if status:
            title.append(f" {status}", style="dim")
        return title


class _Pane:
    """One answer in a ``Columns`` view: its blocks as they stream (the threads' side, under
    the view's lock), their lines once rendered (the main thread's)."""

    def __init__(self, console: Console, width: int) -> None:
        self._console = console
        self.width = width
        self.splitter = BlockSplitter()
        self.pending: list[str] = []  # finished blocks, not rendered yet
        self.dirty = False
        self.state = "waiting"
        self.until: float | None = None  # when a retry's wait ends
        self.began = time.monotonic()
        self.turn: Turn | None = None
        self._lines: list[list[Segment]] = []  # the finished blocks, rendered
        self._tail: list[list[Segment]] = []  # the unfinished one, rendered

    def draw(self, blocks: list[str], tail: str) -> None:
        for block in blocks:
            self._lines += [*self._markdown(block), []]
        self._tail = self._markdown(tail)

    def _markdown(self, text: str) -> list[list[Segment]]:
        if not text.strip():
            return []
        options = self._console.options.update_width(self.width)
        lines = self._console.render_lines(markdown(text), options, pad=False)
        # rich opens lists and tables with a blank line; blocks get one already
        shown = [i for i, line in enumerate(lines) if "".join(s.text for s in line).strip()]
        return lines[shown[0] : shown[-1] + 1] if shown else []

    def last(self, count: int) -> list[list[Segment]]:
        """The last ``count`` lines of the answer so far."""
        if count <= 0:
            return []
        if len(self._tail) >= count:
            return self._tail[-count:]
        return [*self._lines[-(count - len(self._tail)) :], *self._tail]

    def whole(self) -> list[list[Segment]]:
        lines = [*self._lines, *self._tail]
        while lines and not lines[-1]:
            lines.pop()
        return lines

    def status(self) -> str:
        turn = self.turn
        if turn is not None:
            return "interrupted" if turn.interrupted else "failed" if turn.error else ""
        if self.until is not None and self.state.startswith("retry"):
            return f"{self.state} in {max(0.0, self.until - time.monotonic()):.0f} s"
        if self.state == "waiting":
            return f"waiting {time.monotonic() - self.began:.1f} s"
        return self.state

    def stats(self, env: Environment, quiet: bool) -> list[list[Segment]]:
        """Under the answer once it ended: its stats (unless quiet), the cut notice, the
        error."""
        turn = self.turn
        if turn is None:
            return []
        lines: list[list[Segment]] = []
        footer = "" if quiet else env.shown(figures.footer(turn, width=10_000))
        if footer:
            lines += [_segments(line, "dim") for line in _packed(footer.split(" · "), self.width)]
        if turn.finish_reason == "length":
            lines.append(_segments("the answer was cut at the token limit", "yellow"))
        if turn.error is not None:
            error = Text(env.shown(turn.error.line()), style="red")
            lines += self._console.render_lines(
                error, self._console.options.update_width(self.width), pad=False
            )
        return lines


def _packed(parts: list[str], width: int) -> list[str]:
    """``parts`` joined by `` · `` into lines of at most ``width`` (a part too long alone
    gets a line of its own): a stats line that wraps between its fields."""
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + 3 + len(part) <= width:
            lines[-1] += f" · {part}"
        else:
            lines.append(part)
    return lines


def _segments(text: str, style: str) -> list[Segment]:
    return [Segment(text, Style.parse(style))]


class _Lines:
    """Rendered lines as a rich renderable (a cell of a table, the body of a panel)."""

    def __init__(self, lines: list[list[Segment]]) -> None:
        self.lines = lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Segment]:
        for line in self.lines:
            yield from line
            yield Segment.line()


def _console(env: Environment) -> Console:
    """A console for tables on stdout: the terminal's width, or unbounded in a pipe."""
    terminal = env.stdout_isatty and not env.dumb
    return _Console(
        file=env.stdout,
        no_color=env.no_color,
        highlight=False,
        force_terminal=terminal,
        width=env.columns if terminal else 400,
    )


def _numeric(cell: str) -> bool:
    return cell[:1].isdigit() or cell.startswith("$") or cell in {"n/a", ""}


def print_table(
    env: Environment,
    headers: list[str],
    rows: list[list[str]],
    priority: list[int] | None = None,
) -> None:
    """A table on stdout; columns with nothing in them are left out, numbers go right; on a
    narrow terminal the least important columns (latest in ``priority``) too."""
    from rich.table import Table

    keep = [i for i in range(len(headers)) if i == 0 or any(row[i] for row in rows)]
    if env.stdout_isatty:
        fits = fitting(headers, rows, env.columns, priority or list(range(len(headers))))
        keep = [i for i in keep if i in fits]
    table = Table(box=None, header_style="bold", pad_edge=False)
    for i in keep:
        right = i > 0 and all(_numeric(row[i]) for row in rows)
        table.add_column(headers[i], justify="right" if right else "left")
    for row in rows:
        table.add_row(*(sanitize(row[i]) for i in keep))
    _console(env).print(table)


class ModelProgress:
    """Per model on a terminal's stderr while bench runs: a bar, done/total, errors and the
    running median TTFT (transient: gone when the table comes)."""

    def __init__(self, env: Environment, models: list[str], count: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        console = _Console(file=env.stderr, no_color=env.no_color)
        name = max(len(model) for model in models)
        self._progress = Progress(
            TextColumn("{task.description}", style="bold"),
            BarColumn(bar_width=max(5, min(30, env.columns - name - 40))),
            MofNCompleteColumn(),
            TextColumn("{task.fields[errors]} · p50 {task.fields[p50]}"),
            console=console,
            transient=True,
        )
        self._tasks = {
            model: self._progress.add_task(
                sanitize(model).ljust(name), total=count, errors="0 errors", p50="n/a"
            )
            for model in models
        }
        self._progress.start()

    def update(self, model: str, done: int, errors: int, p50: str) -> None:
        self._progress.update(
            self._tasks[model],
            completed=done,
            errors=f"{errors} error{'s' * (errors != 1)}",
            p50=p50,
        )

    def close(self) -> None:
        self._progress.stop()


def fitting(
    headers: list[str], rows: list[list[str]], width: int, priority: list[int]
) -> list[int]:
    """The columns to keep so the table fits ``width``: the least important (latest in
    ``priority``) go first; the first column always stays (it is cut instead)."""
    sizes = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]
    keep = list(range(len(headers)))
    for column in reversed(priority):
        if sum(sizes[i] + 2 for i in keep) <= width or len(keep) <= 2:
            break
        if column in keep and column != 0:
            keep.remove(column)
    return keep


def _table(
    env: Environment,
    title: str,
    headers: list[str],
    rows: list[tuple[str, list[str]]],
    priority: list[int],
) -> Any:
    from rich.table import Table

    cells = [[key, *values] for key, values in rows]
    keep = fitting(headers, cells, env.columns, priority) if env.stdout_isatty else None
    table = Table(title=title, title_justify="left", box=None, header_style="bold", pad_edge=False)
    for i in keep or range(len(headers)):
        table.add_column(headers[i], justify="left" if i == 0 else "right", no_wrap=i > 0)
    for row in cells:
        table.add_row(*(sanitize(row[i]) for i in keep or range(len(headers))))
    return table


def print_stats(
    env: Environment,
    columns: list[str],
    by_model: list[tuple[str, list[str]]],
    by_provider: list[tuple[str, list[str]]],
    charts: list[str],
    priority: list[int],
) -> None:
    """The stats tables (on a narrow terminal, only the columns that fit, by
    ``priority``), then the charts' lines."""
    console = _console(env)
    console.print(_table(env, "By model (times in ms)", ["model", *columns], by_model, priority))
    console.print()
    console.print(_table(env, "By provider", ["provider", *columns], by_provider, priority))
    if charts:
        console.print()
        print_chart(console, charts)


def print_lines(env: Environment, lines: list[str]) -> None:
    """Chart lines on stdout, styled as ``print_chart`` does."""
    print_chart(_console(env), lines)


def print_chart(console: Console, lines: list[str]) -> None:
    """Chart lines (``charts``): bars in colour, titles in bold (NO_COLOR: no colour)."""
    from .charts import EIGHTHS

    for line in lines:
        body = line.strip()
        if body and set(body) <= set(EIGHTHS):
            style = "cyan"
        elif line[:1] not in (" ", ""):
            style = "bold"
        else:
            style = None
        console.print(sanitize(line), style=style, markup=False, highlight=False, crop=True)


def print_code(env: Environment, code: str, language: str) -> None:
    """``code`` highlighted for ``language`` on stdout (a terminal); made safe first."""
    from rich.syntax import Syntax

    console = _console(env)
    console.print(Syntax(sanitize(code), language, theme=CODE_THEME, word_wrap=True))
