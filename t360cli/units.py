"""How costs, durations, token counts and speeds are written, everywhere t360 shows them.

Unknown values are ``n/a``, never zeros; an estimate carries a leading ``~``.
"""

from __future__ import annotations

import math

NA = "n/a"


def cost(value: float | None) -> str:
    """``$0.000123``: up to six decimals, trailing zeros cut; not a real amount: n/a."""
    if value is None or not math.isfinite(value):
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


def size(count: int) -> str:
    """A size or a limit in decimal units, as the README writes them: ``20 MB``, ``1.2 KB``."""
    for unit, scale in (("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1_000)):
        if count >= scale:
            return f"{count / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{count} B"
