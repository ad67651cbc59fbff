"""The phases of a run's start, for ``--debug``: when t360's code began, when the early
connection was made and its handshake done, when the rest of t360 had loaded, when the
request went out and when the first byte of the answer came back.

A mark is one clock read, made whether or not ``--debug`` is on (it is not known that
early); only ``--debug`` prints them, once, as one line after the first answer byte.
Standard library only: ``__main__`` marks the entry before anything else loads.
"""

from __future__ import annotations

import time

#: (what, when): perf_counter readings, in the order they were made (threads append too).
_MARKS: list[tuple[str, float]] = []


def mark(what: str) -> None:
    """Note that ``what`` just happened (the first time only)."""
    if all(seen != what for seen, _ in _MARKS):
        _MARKS.append((what, time.perf_counter()))


def line() -> str | None:
    """``phases: loaded 52 ms · connected 12 ms · …`` in ms since t360's entry, in time
    order; None without an entry mark (t360 run in-process, as the tests do)."""
    marks = sorted(_MARKS, key=lambda pair: pair[1])
    start = next((when for what, when in marks if what == "entry"), None)
    if start is None:
        return None
    shown = [f"{what} {(when - start) * 1000:.0f} ms" for what, when in marks if what != "entry"]
    return "phases since t360's entry: " + " · ".join(shown)
