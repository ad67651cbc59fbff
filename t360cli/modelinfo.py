"""What is known about the gateway's models between runs: ids, context lengths, prices.

``GET /models`` (``t360 models``, and guards that need prices when the cache is stale)
writes a cache; completion and the REPL read its ids, so TAB never makes a network call.
``[models."ID"]`` in the config file (``context_length``, ``price_in``, ``price_out`` in
USD per token) overrides what the gateway says.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

from .environment import Paths
from .errors import ConfigError

CACHE_FILE = "models.json"
#: How long what ``GET /models`` said is trusted before it is asked again.
TTL = 24 * 3600


class ModelInfo(NamedTuple):
    id: str
    context_length: int | None = None
    #: USD per prompt token and per completion token.
    price_in: float | None = None
    price_out: float | None = None

    @property
    def priced(self) -> bool:
        return self.price_in is not None and self.price_out is not None


def _number(value: object) -> float | None:
    """A price or length as gateways send them (numbers, or numbers in strings)."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def from_gateway(item: Mapping[str, Any]) -> ModelInfo:
    """One object of ``GET /models``: ``context_length`` and ``pricing`` when present."""
    found = item.get("pricing")
    pricing: Mapping[str, Any] = found if isinstance(found, dict) else {}
    length = _number(item.get("context_length"))
    return ModelInfo(
        str(item["id"]),
        int(length) if length else None,
        _number(pricing.get("prompt")),
        _number(pricing.get("completion")),
    )


def remember(paths: Paths, base_url: str, items: list[dict[str, Any]], now: float) -> None:
    """Keep what the gateway said, for completion and the guards."""
    models = {
        str(item["id"]): {**from_gateway(item)._asdict(), "owned_by": item.get("owned_by")}
        for item in items
    }
    path = paths.cache_dir / CACHE_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"base_url": base_url, "fetched": now, "models": models}))
    except OSError:
        pass  # a cache is a convenience


def _cache(paths: Paths) -> dict[str, Any]:
    try:
        data = json.loads((paths.cache_dir / CACHE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def cached(paths: Paths) -> list[str]:
    """The model ids the gateway offered last time it was asked."""
    return list(owners(paths))


def owners(paths: Paths) -> dict[str, str]:
    """The cached model ids, each with who owns it ("" when the gateway did not say)."""
    models = _cache(paths).get("models")
    if not isinstance(models, dict):
        return {}
    return {
        str(name): str(entry.get("owned_by") or "") if isinstance(entry, dict) else ""
        for name, entry in models.items()
    }


def fresh(paths: Paths, base_url: str, now: float) -> bool:
    """Whether the cache answers for this gateway and is younger than TTL."""
    data = _cache(paths)
    fetched = data.get("fetched")
    return (
        data.get("base_url") == base_url
        and isinstance(fetched, (int, float))
        and 0 <= now - fetched < TTL
    )


def overrides(table: Mapping[str, object]) -> dict[str, dict[str, Any]]:
    """``[models."ID"]`` tables of the config file, checked."""
    models = table.get("models") or {}
    if not isinstance(models, dict):
        raise ConfigError('[models."ID"] in the config file must be tables')
    for name, entry in models.items():
        if not isinstance(entry, dict):
            raise ConfigError(f'[models."{name}"] in the config file must be a table')
        for key, value in entry.items():
            if key not in ("context_length", "price_in", "price_out"):
                raise ConfigError(
                    f'[models."{name}"] has an unknown key {key!r}',
                    "it takes context_length, price_in and price_out",
                )
            if _number(value) is None:
                raise ConfigError(f'[models."{name}"] {key} must be a number from 0 up')
    return models


def lookup(paths: Paths, table: Mapping[str, object], model: str) -> ModelInfo:
    """What is known of ``model``: the cache (any age), then the config's overrides."""
    models = _cache(paths).get("models")
    entry = models.get(model) if isinstance(models, dict) else None
    info = ModelInfo(model)
    if isinstance(entry, dict):
        info = from_gateway(
            {
                "id": model,
                "context_length": entry.get("context_length"),
                "pricing": {"prompt": entry.get("price_in"), "completion": entry.get("price_out")},
            }
        )
    override = overrides(table).get(model, {})
    length = _number(override.get("context_length"))
    return info._replace(
        context_length=int(length) if length else info.context_length,
        price_in=_number(override.get("price_in")) if "price_in" in override else info.price_in,
        price_out=_number(override.get("price_out")) if "price_out" in override else info.price_out,
    )
