"""What is known about the gateway's models between runs: their ids, kept for completion.

``t360 models`` writes the cache; shell completion and the REPL read it, so TAB never
makes a network call.
"""

from __future__ import annotations

import json
from typing import Any

from .environment import Paths

CACHE_FILE = "models.json"


def remember(paths: Paths, items: list[dict[str, Any]]) -> None:
    """Keep the ids for shell and REPL completion."""
    path = paths.cache_dir / CACHE_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps([item["id"] for item in items]))
    except OSError:
        pass  # a cache is a convenience


def cached(paths: Paths) -> list[str]:
    try:
        ids = json.loads((paths.cache_dir / CACHE_FILE).read_text())
    except (OSError, ValueError):
        return []
    return [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []
