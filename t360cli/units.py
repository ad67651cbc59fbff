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


def rounded_cost(value: float | None) -> float | None:
    """A cost for scripts (JSON, CSV): 9 significant digits, so that sums of prices do
    not come out as ``0.00047800000000000007``."""
    return None if value is None else float(f"{value:.9g}")


def rounded(value: float | None, decimals: int) -> float | None:
    """A measure for scripts (JSON, CSV) to ``decimals`` places: ms to 0.1 is plenty."""
    return None if value is None else round(value, decimals)


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


def size(count: int, *, binary: bool = False) -> str:
    """A size or a limit as the README writes it: in decimal units (``20 MB``, ``1.2 KB``),
    or in binary ones for the limits it gives so (``binary``: ``16 MiB``)."""
    base, unit = (1024, "iB") if binary else (1000, "B")
    for prefix, power in (("G", 3), ("M", 2), ("K", 1)):
        if count >= base**power:
            return f"{count / base**power:.1f}".removesuffix(".0") + f" {prefix}{unit}"
    return f"{count} B"
