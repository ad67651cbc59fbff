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
    #: Prices the gateway gave that cannot be true, ignored (their names).
    ignored: tuple[str, ...] = ()

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


#: A price per token outside these bounds (free aside) cannot be true: $10,000 per
#: million tokens at most, and at least a millionth of a dollar per million.
MAX_PRICE = 0.01
MIN_PRICE = 1e-12
#: The longest context length believed.
MAX_CONTEXT = 100_000_000


def _price(value: object) -> float | None:
    number = _number(value)
    return number if number is not None and _sane(number) else None


def _sane(price: float) -> bool:
    return price == 0 or MIN_PRICE <= price <= MAX_PRICE


def from_gateway(item: Mapping[str, Any]) -> ModelInfo:
    """One object of ``GET /models``: ``context_length`` and ``pricing`` when present;
    prices that cannot be true are left out and named in ``ignored``."""
    found = item.get("pricing")
    pricing: Mapping[str, Any] = found if isinstance(found, dict) else {}
    length = _number(item.get("context_length"))
    ignored = tuple(
        name
        for name, key in (("price_in", "prompt"), ("price_out", "completion"))
        if _number(pricing.get(key)) is not None and _price(pricing.get(key)) is None
    )
    return ModelInfo(
        str(item["id"]),
        int(length) if length and length <= MAX_CONTEXT else None,
        _price(pricing.get("prompt")),
        _price(pricing.get("completion")),
        ignored,
    )


def remember(paths: Paths, base_url: str, items: list[dict[str, Any]], now: float) -> None:
    """Keep what the gateway said, for completion and the guards."""
    models = {}
    for item in items:
        found = item.get("pricing")
        pricing: Mapping[str, Any] = found if isinstance(found, dict) else {}
        owned = item.get("owned_by")
        models[str(item["id"])] = {  # as the gateway said: lookup() judges the prices
            "context_length": _number(item.get("context_length")),
            "price_in": _number(pricing.get("prompt")),
            "price_out": _number(pricing.get("completion")),
            "owned_by": owned if isinstance(owned, str) else None,
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
    return _owners(models) if isinstance(models, dict) else {}


def _owners(models: Mapping[str, Any]) -> dict[str, str]:
    return {
        str(name): owned
        if isinstance(entry, dict) and isinstance(owned := entry.get("owned_by"), str)
        else ""
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
            number = _number(value)
            if number is None:
                raise ConfigError(f'[models."{name}"] {key} must be a number from 0 up')
            if key != "context_length" and not _sane(number):
                raise ConfigError(
                    f'[models."{name}"] {key} = {value} is not a price per token t360 believes',
                    f"give USD per token, 0 or from {MIN_PRICE:g} to {MAX_PRICE:g}",
                )
    return models


def lookup(paths: Paths, table: Mapping[str, object], model: str) -> ModelInfo:
    """What is known of ``model``: the cache (any age), then the config's overrides."""
    models = _cache(paths).get("models")
    return _known(models if isinstance(models, dict) else {}, overrides(table), model)


def _known(models: Mapping[str, Any], config: Mapping[str, Any], model: str) -> ModelInfo:
    """``model`` as the cached ``models`` say, then as the config's overrides say."""
    entry = models.get(model)
    info = ModelInfo(model)
    if isinstance(entry, dict):
        info = from_gateway(
            {
                "id": model,
                "context_length": entry.get("context_length"),
                "pricing": {"prompt": entry.get("price_in"), "completion": entry.get("price_out")},
            }
        )
    override = config.get(model, {})
    length = _number(override.get("context_length"))
    return info._replace(
        context_length=int(length) if length else info.context_length,
        price_in=_number(override.get("price_in")) if "price_in" in override else info.price_in,
        price_out=_number(override.get("price_out")) if "price_out" in override else info.price_out,
        ignored=tuple(name for name in info.ignored if name not in override),
    )


class Listed(NamedTuple):
    """A model as ``t360 models`` lists it."""

    info: ModelInfo
    owner: str
    aliases: tuple[str, ...]


#: How ``t360 models --sort`` orders them.
SORTS = ("price", "context", "name")


def catalogue(
    paths: Paths,
    table: Mapping[str, object],
    aliases: Mapping[str, str],
    *,
    search: str | None = None,
    sort: str | None = None,
) -> list[Listed]:
    """The cached models, with what is known of each (the cache read once): with
    ``search``, those whose id, owner or an alias holds it (any case); ``sort`` by price
    (cheapest first: prompt and completion prices per token added), context (longest
    first) or name, unknown prices and lengths last; otherwise in the gateway's order."""
    data = _cache(paths).get("models")
    models: dict[str, Any] = data if isinstance(data, dict) else {}
    config = overrides(table)
    named: dict[str, list[str]] = {}
    for alias, target in aliases.items():
        named.setdefault(target, []).append(alias)
    listed = [
        Listed(_known(models, config, name), owner, tuple(named.get(name, ())))
        for name, owner in _owners(models).items()
    ]
    if search:
        needle = search.casefold()
        listed = [
            item
            for item in listed
            if any(needle in text.casefold() for text in (item.info.id, item.owner, *item.aliases))
        ]
    if sort == "price":
        listed.sort(key=_price_order)
    elif sort == "context":
        listed.sort(key=lambda item: -(item.info.context_length or -1))
    elif sort == "name":
        listed.sort(key=lambda item: item.info.id.casefold())
    return listed


def _price_order(item: Listed) -> tuple[bool, float]:
    info = item.info
    if info.price_in is None or info.price_out is None:
        return True, 0.0
    return False, info.price_in + info.price_out
