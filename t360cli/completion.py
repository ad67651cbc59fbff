"""Shell completion (TAB), answered before Typer or anything else of t360 loads.

The scripts in ``completions/`` (and those ``--install-completion`` writes) run ``t360``
with ``_T360_COMPLETE`` set. ``__main__`` hands such a run to ``answer`` first thing, so a
TAB costs little more than the interpreter's start-up. Commands, options and what each
option takes come from ``completion_table.TABLE``, generated from the Typer app by
``python -m tests.generate`` (a test fails when it drifts); values come from what the
normal commands keep: the config file (aliases, profiles, roles, MCP servers), the model
cache of ``t360 models``, and the history (models used, conversation ids). No TAB ever
makes a network call, and a value source that cannot be read offers nothing.

The protocol is Typer's, so scripts installed by earlier versions keep working:
``complete_bash`` reads ``COMP_WORDS``/``COMP_CWORD`` and prints one value a line;
``complete_zsh`` and ``complete_fish`` read ``_TYPER_COMPLETE_ARGS`` (and fish
``_TYPER_COMPLETE_FISH_ACTION``); ``complete_powershell``/``complete_pwsh`` read
``_TYPER_COMPLETE_ARGS`` and ``_TYPER_COMPLETE_WORD_TO_COMPLETE``.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
from collections.abc import Callable, Mapping

TYPE_CHECKING = False  # typing costs a TAB 2 ms to import: mypy reads the names below
if TYPE_CHECKING:
    from typing import IO, Any

    Option = tuple[str, bool, str, tuple[str, ...], str]

VAR = "_T360_COMPLETE"

#: Which values an option or an argument takes, by its name.
OPTION_VALUES = {
    "--model": "model",
    "--profile": "profile",
    "--role": "role",
    "--tools": "server",
    "--conversation": "conversation",
}
ARGUMENT_VALUES = {
    ("config", "set"): "setting",
    ("config", "get"): "setting",
    ("config", "unset"): "setting",
    ("history", "show"): "conversation",
    ("history", "export"): "conversation",
    ("history", "delete"): "conversation",
    ("history", "rename"): "conversation",
    ("tools",): "server",
}

Item = tuple[str, str]  # a value and its help (may be empty)


def answer(environ: Mapping[str, str], out: IO[str]) -> None:
    """Print the completions the shell asks for in ``environ``."""
    instruction = environ.get(VAR, "")
    shell = instruction.removeprefix("complete_")
    if shell == "bash":
        words = _split(environ.get("COMP_WORDS", ""))
        cword = _int(environ.get("COMP_CWORD"), len(words))
        args, incomplete = words[1:cword], words[cword] if cword < len(words) else ""
    else:
        line = environ.get("_TYPER_COMPLETE_ARGS", "")
        words = _split(line)[1:]
        if shell in ("powershell", "pwsh"):
            incomplete = environ.get("_TYPER_COMPLETE_WORD_TO_COMPLETE", "")
            if incomplete and words and words[-1] == incomplete:
                words = words[:-1]
            args = words
        elif words and not line.endswith(" "):
            args, incomplete = words[:-1], words[-1]
        else:
            args, incomplete = words, ""
    items = complete(args, incomplete, environ)
    if shell == "zsh":
        if items:
            listed = "\n".join(_zsh(value, help) for value, help in items)
            out.write(f"_arguments '*: :(({listed}))'")
        else:
            out.write("_files")
    elif shell == "fish":
        if environ.get("_TYPER_COMPLETE_FISH_ACTION") == "is-args":
            raise SystemExit(0 if items else 1)
        out.write("\n".join(f"{v}\t{' '.join(h.split())}" if h else v for v, h in items))
    elif shell in ("powershell", "pwsh"):
        out.write("\n".join(f"{v}:::{h or ' '}" for v, h in items))
    else:
        out.write("\n".join(value for value, _ in items))
    out.flush()


def _split(line: str) -> list[str]:
    """Words as the shell wrote them; an open quote closes at the end."""
    lexer = shlex.shlex(line, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    words: list[str] = []
    try:
        words.extend(lexer)
    except ValueError:  # an unclosed quote: the word being typed
        words.append(lexer.token)
    return words


def _int(value: str | None, default: int) -> int:
    try:
        return int(value or "")
    except ValueError:
        return default


def _zsh(value: str, help: str) -> str:
    def escape(text: str) -> str:
        return (
            text.replace('"', '""')
            .replace("'", "''")
            .replace("$", "\\$")
            .replace("`", "\\`")
            .replace(":", r"\\:")
        )

    return f'"{escape(value)}":"{escape(help)}"' if help else f'"{escape(value)}"'


def _node(path: tuple[str, ...]) -> tuple[tuple[tuple[str, str], ...], dict[str, Option]]:
    """A command's subcommands, and its options by name; none for an unknown path."""
    from .completion_table import TABLE

    for where, commands, options in TABLE:
        if where == path:
            return commands, {option[0]: option for option in options}
    return (), {}


def complete(args: list[str], incomplete: str, environ: Mapping[str, str]) -> list[Item]:
    """What may follow ``args`` (the words after ``t360``) and starts with ``incomplete``."""
    path: tuple[str, ...] = ()
    commands, options = _node(path)
    positional = 0
    expecting: Option | None = None  # the option whose value comes next
    for word in args:
        if expecting is not None:
            expecting = None
        elif word.startswith("-") and word != "-":
            option = options.get(word.partition("=")[0])
            if option is not None and option[1] and "=" not in word:
                expecting = option
        elif word in dict(commands):
            path = (*path, word)
            commands, options = _node(path)
            positional = 0
        elif commands:  # not a command of this group: nothing follows it
            return []
        else:
            positional += 1
    if expecting is not None:
        return _values(expecting, incomplete, environ)
    if incomplete.startswith("-"):
        if "=" in incomplete:
            name, _, start = incomplete.partition("=")
            option = options.get(name)
            if option is None or not option[1]:
                return []
            return [(f"{name}={v}", h) for v, h in _values(option, start, environ)]
        return [(name, o[4]) for name, o in options.items() if name.startswith(incomplete)]
    if commands:
        return [(name, help) for name, help in commands if name.startswith(incomplete)]
    kind = ARGUMENT_VALUES.get(path)
    if kind is None or positional:  # only the first argument has values to offer
        return []
    return _found(kind, incomplete, environ)


def _values(option: Option, incomplete: str, environ: Mapping[str, str]) -> list[Item]:
    if option[3]:
        return [(choice, "") for choice in option[3] if choice.startswith(incomplete)]
    kind = OPTION_VALUES.get(option[2])
    return _found(kind, incomplete, environ) if kind else []


# -- value sources: what the normal commands keep -------------------------------------------
#
# Each source is read from the files it depends on (the config file, the model cache, the
# history database), and what it found is kept in ``completion.tsv`` in the cache folder,
# stamped with those files' sizes and times: a TAB reads that one small file and runs
# neither the TOML parser nor SQLite until one of them changes.


def _dirs(environ: Mapping[str, str]) -> tuple[str, str, str]:
    """The config, data and cache directories, as platformdirs gives them on this OS,
    without importing it on Linux (where they are the XDG ones)."""
    if sys.platform.startswith("linux"):
        home = environ.get("HOME") or os.path.expanduser("~")

        def xdg(name: str, default: str) -> str:
            value = environ.get(name, "")
            base = value if os.path.isabs(value) else os.path.join(home, default)
            return os.path.join(base, "t360")

        return (
            xdg("XDG_CONFIG_HOME", ".config"),
            xdg("XDG_DATA_HOME", ".local/share"),
            xdg("XDG_CACHE_HOME", ".cache"),
        )
    import platformdirs

    return (
        str(platformdirs.user_config_path("t360")),
        str(platformdirs.user_data_path("t360")),
        str(platformdirs.user_cache_path("t360")),
    )


Found = dict[str, list[Item]]  # kind -> values


def _from_config(config: str) -> Found:
    """Aliases, profiles, roles (tables and ``roles/*.md``) and MCP servers."""
    found: Found = {"model": [], "profile": [], "role": [], "server": []}
    path = os.path.join(config, "config.toml")
    table: dict[str, Any] = {}
    if os.path.isfile(path) and os.path.getsize(path) <= 1_000_000:
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - Python 3.10
            import tomli as tomllib
        with open(path, "rb") as handle:
            table = tomllib.load(handle)

    def part(name: str) -> dict[str, Any]:
        value = table.get(name)
        return value if isinstance(value, dict) else {}

    found["model"] = [(name, f"alias of {target}") for name, target in part("aliases").items()]
    found["profile"] = [(name, "") for name in part("profiles")]
    for name, role in part("roles").items():
        system = role.get("system") if isinstance(role, dict) else ""
        found["role"].append((name, str(system or "").strip().partition("\n")[0]))
    folder = os.path.join(config, "roles")
    if os.path.isdir(folder):
        names = sorted(name for name in os.listdir(folder) if name.endswith(".md"))
        found["role"] += [(name[:-3], "") for name in names]
    found["server"] = [("all", "every configured server")]
    for name, server in part("mcp_servers").items():
        if isinstance(server, dict):
            command = [str(server.get("command", "")), *map(str, server.get("args") or [])]
            found["server"].append((name, str(server.get("url") or " ".join(command)).strip()))
    return found


def _from_model_cache(cache: str) -> Found:
    """The model ids ``t360 models`` cached."""
    import json

    with open(os.path.join(cache, "models.json"), "rb") as handle:
        models = json.load(handle).get("models") or {}
    return {"model": [(str(name), "") for name in models]}


def _from_history(data: str) -> Found:
    """The models used, most recent first, and recent conversations (as ``History.models``
    and ``History.recent`` list them)."""
    path = os.path.join(data, "history.db")
    if not os.path.isfile(path):
        return {}
    import sqlite3
    from urllib.parse import quote

    used = "SELECT model FROM responses GROUP BY model ORDER BY max(created) DESC LIMIT 50"
    recent = (
        "SELECT id, title FROM conversations WHERE kind IN ('chat', 'cmd')"
        " ORDER BY updated DESC LIMIT 50"
    )
    try:
        db = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, timeout=0.2)
        try:
            models = [(str(model), "") for (model,) in db.execute(used) if model is not None]
            titles = db.execute(recent).fetchall()
        finally:
            db.close()
    except sqlite3.Error:
        return {}
    return {
        "model": models,
        "conversation": [(str(id), " ".join(str(title).split())[:60]) for id, title in titles],
    }


def _stamp(paths: list[str]) -> str:
    """Sizes and times of the files a source read (absent ones too), as one word."""
    marks = []
    for path in paths:
        try:
            found = os.stat(path)
            marks.append(f"{found.st_size}:{found.st_mtime_ns}")
        except OSError:
            marks.append("-")
    return ",".join(marks)


def _gather(environ: Mapping[str, str]) -> Found:
    """Every source's values: from ``completion.tsv`` when its stamp still holds, read
    again (and the file rewritten) when not."""
    config, data, cache = _dirs(environ)
    sources: dict[str, tuple[list[str], Callable[[], Found]]] = {
        "config": (
            [os.path.join(config, "config.toml"), os.path.join(config, "roles")],
            lambda: _from_config(config),
        ),
        "models": ([os.path.join(cache, "models.json")], lambda: _from_model_cache(cache)),
        "history": (
            [os.path.join(data, "history.db"), os.path.join(data, "history.db-wal")],
            lambda: _from_history(data),
        ),
    }
    kept = os.path.join(cache, "completion.tsv")
    sections: dict[str, tuple[str, list[str]]] = {}
    with contextlib.suppress(OSError, UnicodeDecodeError), open(kept, encoding="utf-8") as handle:
        name = ""
        for line in handle.read().splitlines():
            if line.startswith("#"):
                name, _, stamp = line[1:].partition("\t")
                sections[name] = (stamp, [])
            elif name:
                sections[name][1].append(line)
    changed = False
    for name, (paths, read) in sources.items():
        stamp = _stamp(paths)
        if sections.get(name, ("", []))[0] == stamp:
            continue
        changed = True
        try:
            fresh = read()
        except (OSError, ValueError, LookupError, TypeError, AttributeError):
            fresh = {}  # a source that cannot be read (bad TOML or JSON) offers nothing
        rows = [
            f"{kind}\t{value}\t{help}"
            for kind, items in fresh.items()
            for value, help in items
            if not any(c in value + help for c in "\t\n\r")
        ]
        sections[name] = (stamp, rows)
    if changed:
        with contextlib.suppress(OSError):
            os.makedirs(cache, exist_ok=True)
            temporary = f"{kept}.{os.getpid()}"
            with open(temporary, "w", encoding="utf-8") as handle:
                for name, (stamp, rows) in sections.items():
                    handle.write("".join([f"#{name}\t{stamp}\n", *(f"{r}\n" for r in rows)]))
            os.replace(temporary, kept)
    found: Found = {}
    for name in sources:  # config first: aliases lead the models
        for row in sections.get(name, ("", []))[1]:
            kind, value, help = [*row.split("\t"), "", ""][:3]
            found.setdefault(kind, []).append((value, help))
    return found


def _found(kind: str, incomplete: str, environ: Mapping[str, str]) -> list[Item]:
    if kind == "setting":
        from .completion_table import SETTINGS

        items = [(name, "") for name in SETTINGS]
    else:
        items = _gather(environ).get(kind, [])
    return [(v, h) for v, h in dict(items).items() if v.startswith(incomplete)]


def main() -> None:
    """``__main__``'s entry for a completion request."""
    with contextlib.suppress(BrokenPipeError):  # the shell stopped reading: nothing to say
        answer(os.environ, sys.stdout)
