"""The flags of a command, once parsed: frozen options objects, made once (``gather``)
from the Typer parameters, or for a one-shot chat from what ``chat_argv`` read, and
passed down; nothing below the command reads a flag.

``AskOptions`` are the flags of every command that asks a model (``chat``, ``cmd``,
``compare``), ``PromptOptions`` those of a one-shot's prompt (``chat``, ``compare``); each
command's own class lives with it. Made on the path of every one-shot, they are spared
what options never need, equality and a repr (each is code generated at import).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from t360cli.request import RequestOptions, parse_options

if TYPE_CHECKING:
    from collections.abc import Mapping

    from _typeshed import DataclassInstance

Options = TypeVar("Options", bound="DataclassInstance")


def gather(kind: type[Options], given: Mapping[str, object]) -> Options:
    """The options ``kind`` made of a command's parameters (its ``locals()`` as its first
    statement, each named as its field; ``ctx`` aside). A parameter without a field is a bug, said
    at once; a field without a parameter keeps its default."""
    names = {field.name for field in dataclasses.fields(kind)}
    stray = sorted(set(given) - names - {"ctx"})
    if stray:
        raise TypeError(f"{kind.__name__} has no field for {', '.join(stray)}")
    for name, value in given.items():
        if name not in _PATHS:
            _check_text(name, value)
    return kind(**{name: value for name, value in given.items() if name in names})


#: Flags whose values are paths (or URLs): bytes that are not UTF-8 are a file's name.
_PATHS = frozenset({"files", "attach", "system_file"})
#: How a parameter is named to the user, when not as ``--name``.
_SHOWN = {"prompt": "the prompt", "task": "the task", "models": "--model"}


def _check_text(name: str, value: object) -> None:
    """A flag's text that is not valid UTF-8 (it arrives with surrogate escapes) is a
    usage error naming the flag, before anything tries to send or show it."""
    from t360cli.prompt import check_argument

    shown = _SHOWN.get(name) or "--" + name.rstrip("_").replace("_", "-")
    for text in value if isinstance(value, list) else [value]:
        if isinstance(text, str):
            check_argument(text, shown)


@dataclass(frozen=True, eq=False, repr=False, init=False)  # a base: never made itself
class AskOptions:
    """What every command that asks a model takes: the gateway, the request, the role."""

    model: str | None = None
    role: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    option: list[str] | None = None
    quiet: bool = False
    no_save: bool = False
    no_stdin: bool = False
    timeout: float | None = None
    retries: int | None = None
    profile: str | None = None
    api_key: str | None = None
    base_url: str | None = None
    debug: bool = False
    allow_secrets: bool = False

    def request(self, *, stream: bool = True) -> RequestOptions:
        """The request options the flags give (``-o`` parsed), before a role's."""
        return RequestOptions(
            self.temperature, self.max_tokens, parse_options(self.option or []), stream
        )

    def flags(self) -> dict[str, object | None]:
        """The flags that layer over the settings (``config.resolve``)."""
        return {
            "api_key": self.api_key,
            "base_url": self.base_url,
            "model": self.model,
            "timeout": self.timeout,
            "retries": self.retries,
            "debug": self.debug or None,
            "profile": self.profile,
        }


@dataclass(frozen=True, eq=False, repr=False, init=False)  # a base: never made itself
class PromptOptions(AskOptions):
    """A one-shot's prompt and what guards it (``chat``, ``compare``)."""

    prompt: list[str] | None = None
    system: str | None = None
    system_file: Path | None = None
    files: list[str] | None = None
    attach: list[str] | None = None
    paste: bool = False
    json_out: bool = False
    max_cost: float | None = None
    ignore_budget: bool = False
    dry_run: bool = False

    def flags(self) -> dict[str, object | None]:
        """The flags that layer over the settings, the system prompt read from
        --system-file."""
        from t360cli.prompt import check_argument, read_file

        system = self.system
        if self.system_file is not None:
            system = read_file(self.system_file, "system file")
        return {
            **super().flags(),
            "system": check_argument(system, "--system") if system is not None else None,
        }


@dataclass(frozen=True, eq=False, repr=False)
class ChatOptions(PromptOptions):
    """``t360 chat``: a one-shot or the REPL, with tools, a schema, a conversation."""

    continue_: bool = False
    conversation: str | None = None
    raw: bool = False
    no_stream: bool = False
    editor: bool = False
    schema: str | None = None
    extract: bool = False
    extract_last: bool = False
    tools: list[str] | None = None
    yes: bool = False
    max_tool_rounds: int = 10

    @property
    def no_prompt(self) -> bool:
        """No prompt in the flags: the REPL, when stdin is a terminal."""
        return not (self.prompt or self.files or self.attach or self.editor or self.paste)
