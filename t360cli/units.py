"""How costs, durations, token counts and speeds are written, everywhere t360 shows them.

Unknown values are ``n/a``, never zeros; an estimate carries a leading ``~``.
"""

from __future__ import annotations

NA = "n/a"


def cost(value: float | None) -> str:
    """``$0.000123``: up to six decimals, trailing zeros cut."""
    if value is None:
        return NA
    text = f"${value:,.6f}".rstrip("0").rstrip(".")
    return "$0" if text == "$" else text


def duration(seconds: float | None) -> str:
    """``412 ms`` below a second, ``1.23 s`` above."""
    if seconds is None:
        return NA
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def milliseconds(value: float | None) -> str:
    """A table cell in ms: ``1,234``."""
    return NA if value is None else f"{value:,.0f}"


def count(value: int | None, *, estimate: bool = False) -> str:
    if value is None:
        return NA
    return f"~{value:,}" if estimate else f"{value:,}"


def speed(value: float | None) -> str:
    """Tokens per second: no decimals from 100 up."""
    if value is None:
        return NA
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"
