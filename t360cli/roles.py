"""Roles: a system prompt, an optional prompt template, a model and request options, saved
under a name (``-r NAME``, REPL ``/role NAME``).

Two places define them: ``[roles.NAME]`` tables in the config file, and, for long
prompts, Markdown files ``roles/NAME.md`` in the config directory, whose body is the
system prompt, with the other keys as TOML front matter between ``+++`` lines:

    +++
    model = "glm-5.1"
    temperature = 0.2
    prompt = "Review this:\\n\\n{input}"
    +++
    You are a strict code reviewer. ...
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from .errors import ConfigError, UsageError

if TYPE_CHECKING:
    from .environment import Environment

PLACEHOLDER = "{input}"
KEYS = ("system", "prompt", "model", "temperature", "options")


class Role(NamedTuple):
    name: str
    system: str | None = None
    #: A template for the user's message; ``{input}`` is replaced by the user's text.
    prompt: str | None = None
    model: str | None = None
    temperature: float | None = None
    options: dict[str, Any] = {}  # noqa: RUF012 - never mutated: merged into a new dict
    #: Where it is defined, for messages.
    origin: str = "config file"

    def layer(self) -> dict[str, object | None]:
        """What the role sets among the settings (a layer of ``config.resolve``)."""
        return {"model": self.model, "system": self.system}

    def apply(self, text: str) -> str:
        """The user message for ``text``: the template filled in, or ``text`` as it is.

        A template without ``{input}`` is a fixed prompt: the user's text, if any, follows
        it after a blank line. A template that needs input and gets none is a usage error.
        """
        if self.prompt is None:
            return text
        if PLACEHOLDER in self.prompt:
            if not text.strip():
                raise UsageError(
                    f"role {self.name!r} needs your text for its {PLACEHOLDER}",
                    "pass it as an argument, or pipe it in",
                )
            return self.prompt.replace(PLACEHOLDER, text)
        return f"{self.prompt}\n\n{text}" if text.strip() else self.prompt

    @property
    def summary(self) -> str:
        """The first line of the system prompt (``t360 roles``)."""
        first = (self.system or "").strip().splitlines()
        return first[0] if first else ""


def _checked(name: str, table: dict[str, Any], origin: str) -> Role:
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise ConfigError(
            f"role {name!r} in {origin} has unknown keys: {', '.join(unknown)}",
            f"a role takes {', '.join(KEYS)}",
        )
    for key in ("system", "prompt", "model"):
        if key in table and not (isinstance(table[key], str) and table[key].strip()):
            raise ConfigError(f"role {name!r} in {origin}: {key} must be non-empty text")
    temperature = table.get("temperature")
    if temperature is not None and (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not (math.isfinite(temperature) and temperature >= 0)
    ):
        raise ConfigError(f"role {name!r} in {origin}: temperature must be a number from 0 up")
    options = table.get("options", {})
    if not isinstance(options, dict):
        raise ConfigError(f"role {name!r} in {origin}: options must be a table")
    return Role(
        name,
        table.get("system"),
        table.get("prompt"),
        table.get("model"),
        None if temperature is None else float(temperature),
        options,
        origin,
    )


def read_file(name: str, path: Path) -> Role:
    """A role from a Markdown file: optional ``+++`` TOML front matter, then the system
    prompt."""
    from .config import parse_toml
    from .prompt import read_file as read_text

    text = read_text(path, "role file")
    front: dict[str, Any] = {}
    if text.startswith("+++"):
        head, sep, body = text[3:].partition("\n+++")
        if not sep:
            raise ConfigError(f"role file {path} opens front matter (+++) but never closes it")
        front = parse_toml(head, f"the front matter of role file {path}")
        text = body.partition("\n")[2]
    if "system" in front:
        raise ConfigError(f"role file {path}: the system prompt is the body, not a key")
    body = text.strip()
    return _checked(name, {**front, **({"system": body} if body else {})}, str(path))


def _defined(env: Environment, table: dict[str, object]) -> dict[str, Callable[[], Role]]:
    """Every role's name, with how to read it (a role is checked when it is used)."""
    defined = table.get("roles") or {}
    if not isinstance(defined, dict):
        raise ConfigError("[roles] in the config file must be a table")
    found: dict[str, Callable[[], Role]] = {}
    for name, entry in defined.items():
        if not isinstance(entry, dict):
            raise ConfigError(f"[roles.{name}] in the config file must be a table")
        found[name] = functools.partial(_checked, name, entry, "the config file")
    folder = env.paths.config_dir / "roles"
    for path in sorted(folder.glob("*.md")) if folder.is_dir() else []:
        if path.stem in found:
            raise ConfigError(
                f"role {path.stem!r} is defined twice: in the config file and in {path}",
                "keep one",
            )
        found[path.stem] = functools.partial(read_file, path.stem, path)
    return found


def all_roles(env: Environment, table: dict[str, object]) -> dict[str, Role]:
    """Every role, checked: the config file's tables, then the files in ``roles/``."""
    return {name: read() for name, read in _defined(env, table).items()}


def names(env: Environment, table: dict[str, object]) -> list[str]:
    """The names of every role, unchecked."""
    return list(_defined(env, table))


def find(env: Environment, table: dict[str, object], name: str) -> Role:
    """The role called ``name``; a usage error naming the known ones if there is none."""
    defined = _defined(env, table)
    if name not in defined:
        known = ", ".join(sorted(defined)) or "none (add [roles.NAME] or roles/NAME.md)"
        raise UsageError(f"unknown role {name!r}", f"known roles: {known}")
    return defined[name]()
