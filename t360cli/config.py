"""Settings: where each value comes from, resolved in one pure function.

Precedence, highest first: command-line flag > the selected role (its model and system
prompt) > the continued conversation (its model and system prompt) > the selected profile
(``-p``/``T360_PROFILE``: any setting, and ``api_key_cmd``) > ``T360_*`` environment >
config file > built-in default. A profile or role is only ever selected explicitly, so
its values beat ambient environment variables. ``resolve()`` takes the layers as plain
mappings, so the whole precedence matrix is testable without touching the process
environment or the disk, and ``config show`` can say truthfully where each value came
from. Model aliases (``[aliases]``) apply to the resolved model, wherever it came from.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from .errors import ConfigError, UsageError
from .network import DEFAULT_CONNECT_TIMEOUT
from .safety import redact

if TYPE_CHECKING:
    from tomlkit import TOMLDocument

    from .environment import Environment

DEFAULT_BASE_URL = "https://api.token360.ai/v1"
DEFAULT_MODEL = "glm-5.1"

Source = Literal["flag", "role", "conversation", "profile", "env", "file", "keyring", "default"]

#: Tables the config file may hold besides plain settings.
TABLES = ("profiles", "aliases", "roles", "mcp_servers", "models")

#: Environment variable for each setting that has one.
ENV_VARS: dict[str, str] = {
    "api_key": "T360_API_KEY",
    "base_url": "T360_BASE_URL",
    "model": "T360_MODEL",
    "debug": "T360_DEBUG",
    "proxy": "T360_PROXY",
    "ca_bundle": "T360_CA_BUNDLE",
    "secrets": "T360_SECRETS",
    "key_store": "T360_KEY_STORE",
}


class Settings(NamedTuple):
    """The effective settings of one run. Immutable; the key never shows in its repr.

    A NamedTuple rather than a dataclass: it is defined at every start-up, and a frozen
    dataclass costs milliseconds to define.
    """

    api_key: str | None = None
    base_url: str = DEFAULT_BASE_URL
    model: str = DEFAULT_MODEL
    system: str | None = None
    #: Longest silence tolerated while waiting for data, in seconds.
    timeout: float = 120.0
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    retries: int = 2
    #: Log request and response metadata to stderr (the key redacted).
    debug: bool = False
    #: The proxy for every request (else the standard HTTPS_PROXY/ALL_PROXY/NO_PROXY).
    proxy: str | None = None
    #: Extra CA certificates (PEM) trusted beside the system's.
    ca_bundle: str | None = None
    #: USD that may be spent per local calendar day and month (history, bench included).
    budget_daily: float | None = None
    budget_monthly: float | None = None
    #: What the secrets guard does with a secret about to be sent: refuse, redact, warn, off.
    secrets: str = "refuse"
    #: Where ``config set api_key`` keeps the key: "keyring", "file", or None (the
    #: keychain when a usable one exists, else the file).
    key_store: str | None = None
    #: A shell command whose output is the key, run only when a key is needed.
    api_key_cmd: str | None = None
    #: The selected profile, if any.
    profile: str | None = None
    #: Where each value came from: "flag", "role", "conversation", "profile", "env",
    #: "file" or "default".
    sources: Mapping[str, Source] = MappingProxyType({})

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in self._fields
            if name not in ("api_key", "sources")
        )
        return f"Settings(api_key={redact(self.api_key)!r}, {shown})"


class CredentialsInURL(ValueError):
    """A URL with ``user:password@``: refused, and never shown with the password."""


def without_password(url: str) -> str:
    """``url`` with the password of its ``user:password@`` part replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if "@" not in authority:
        return url
    userinfo, _, host = authority.rpartition("@")
    user = userinfo.partition(":")[0]
    return f"{scheme}{sep}{user}:***@{host}{slash}{path}"


def _url(value: object) -> str:
    from urllib.parse import urlsplit

    text = str(value).strip().rstrip("/")
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise ValueError("must not contain spaces or control characters")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ValueError(f"is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must start with http:// or https:// and name a host")
    if parts.username is not None or parts.password is not None:
        raise CredentialsInURL("must not contain user:password@ (the key is sent as a header)")
    return text


def _proxy(value: object) -> str:
    from urllib.parse import urlsplit

    text = _text(value).strip()
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ValueError(f"is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https", "socks5", "socks5h") or not parts.hostname:
        raise ValueError("must be an http://, https://, socks5:// or socks5h:// URL with a host")
    return text


def _money(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError("must be an amount in USD")
    number = float(value)  # type: ignore[arg-type]
    if not 0 <= number < float("inf"):
        raise ValueError("must be an amount in USD, 0 or more")
    return number


def _file(value: object) -> str:
    return str(Path(_text(value).strip()).expanduser())


def _api_key(value: object) -> str:
    key = _text(value).strip()
    for position, ch in enumerate(key, 1):
        if ch.isspace():
            raise ValueError(f"has a space or line break at character {position}")
        if not (ch.isascii() and ch.isprintable()):
            raise ValueError(f"has a character that is not printable ASCII at {position}")
    return key


def _positive_float(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError("must be a number of seconds")
    number = float(value)  # type: ignore[arg-type]
    if not 0 < number < float("inf"):
        raise ValueError("must be a positive number of seconds")
    return number


#: The most retries anyone may ask for (from a flag, the environment or the file).
MAX_RETRIES = 10


def _retries(value: object) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError("must be a whole number")
    number: int = int(value)  # type: ignore[call-overload]
    if not 0 <= number <= MAX_RETRIES:
        raise ValueError(f"must be from 0 to {MAX_RETRIES}")
    return number


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def _choice(value: object, choices: tuple[str, ...]) -> str:
    text = str(value).strip().lower()
    if text not in choices:
        raise ValueError(f"must be one of {', '.join(choices)}")
    return text


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return value


#: Every setting the file may hold, with the function that checks and converts it.
PARSERS: dict[str, Callable[[object], Any]] = {
    "api_key": _api_key,
    "base_url": _url,
    "model": lambda v: _text(v).strip(),
    "system": _text,
    "timeout": _positive_float,
    "connect_timeout": _positive_float,
    "retries": _retries,
    "debug": _flag,
    "proxy": _proxy,
    "ca_bundle": _file,
    "budget_daily": _money,
    "budget_monthly": _money,
    "secrets": lambda v: _choice(v, ("refuse", "redact", "warn", "off")),
    "key_store": lambda v: _choice(v, ("keyring", "file")),
}


def load_file(path: Path) -> dict[str, object]:
    """The config file's table; empty when the file does not exist."""
    return parse_toml(_read(path), f"config file {path}")


def read_bytes(path: Path) -> bytes:
    """The config file as it is; empty when the file does not exist."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {path}: {exc.strerror or exc}",
            "check its permissions",
        ) from None


def _read(path: Path) -> str:
    """The config file's text; empty when the file does not exist."""
    try:
        return read_bytes(path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not UTF-8 text: {exc}", "fix it, or delete the file"
        ) from None


def parse_toml(text: str, what: str) -> dict[str, object]:
    """TOML text as a table; a ConfigError naming ``what`` and the line otherwise."""
    if not text:  # no config file (a key from the environment): no parser to load
        return {}
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    try:
        table: dict[str, object] = tomllib.loads(text)
        return table
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{what} is not valid TOML: {exc}", "fix the line named, or delete the file"
        ) from None
    except RecursionError:
        raise ConfigError(
            f"{what} nests tables or arrays too deeply to read", "fix the file, or delete it"
        ) from None


def _table(value: object, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a table", "see the README's Configuration section")
    return value


def resolve(
    flags: Mapping[str, object | None],
    env: Mapping[str, str],
    file: Mapping[str, object],
    *,
    conversation: Mapping[str, object | None] | None = None,
    role: Mapping[str, object | None] | None = None,
    role_name: str | None = None,
    file_name: str = "config file",
) -> tuple[Settings, list[str]]:
    """Merge the layers into Settings; returns them with warnings for the user.

    A bad flag value is a usage error (exit 2); a bad value from the environment or the
    file is a configuration error (exit 3), and so is a malformed API key or a URL with a
    password in it, wherever they come from. Unknown keys in the file are warned about,
    not fatal, so a newer config never breaks an older t360. An unknown profile is a
    usage error naming the known ones.
    """
    known = (*PARSERS, "api_key_cmd", *TABLES)
    warnings = [
        f"{file_name}: unknown setting {name!r} ignored" for name in file if name not in known
    ]
    profile_name = str(flags.get("profile") or env.get("T360_PROFILE") or "") or None
    profile = _profile(file, profile_name, file_name)
    warnings += [
        f"{file_name}: unknown setting {name!r} in profile {profile_name!r} ignored"
        for name in profile
        if name not in (*PARSERS, "api_key_cmd")
    ]
    saved = conversation or {}
    values: dict[str, Any] = {"profile": profile_name}
    sources: dict[str, Source] = {}
    for name, parse in PARSERS.items():
        layers: list[tuple[Source, object | None, str]] = [
            ("flag", flags.get(name), f"--{name.replace('_', '-')}"),
            ("role", (role or {}).get(name), f"{name} of role {role_name!r}"),
            ("conversation", saved.get(name), f"{name} of the continued conversation"),
            ("profile", profile.get(name), f"{name} in profile {profile_name!r}"),
            ("env", env.get(ENV_VARS[name]) if name in ENV_VARS else None, ENV_VARS.get(name, "")),
            ("file", file.get(name), f"{name} in {file_name}"),
        ]
        for source, raw, label in layers:
            if raw is None and name == "api_key" and source in ("profile", "file"):
                command = (profile if source == "profile" else file).get("api_key_cmd")
                if command is not None:  # the key of this layer comes from a command
                    values["api_key_cmd"] = _command(command, f"api_key_cmd{label[7:]}")
                    sources[name] = source
                    break
            if raw is None or (source == "env" and raw == ""):
                continue
            try:
                values[name] = parse(raw)
            except (ValueError, TypeError) as exc:
                raise _invalid(name, source, label, raw, exc) from None
            sources[name] = source
            break
        else:
            sources[name] = "default"
    aliases = aliases_in(file, file_name)
    if "model" in values:
        values["model"] = aliases.get(values["model"], values["model"])
    return Settings(**values, sources=sources), warnings


def _profile(file: Mapping[str, object], name: str | None, file_name: str) -> dict[str, Any]:
    profiles = _table(file.get("profiles"), f"[profiles] in {file_name}")
    if name is None:
        return {}
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "none (add [profiles.NAME] to the config file)"
        raise UsageError(f"unknown profile {name!r}", f"known profiles: {known}")
    return _table(profiles[name], f"[profiles.{name}] in {file_name}")


def _command(value: object, label: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{label} must be a non-empty string (a shell command)")
    return value


def aliases_in(file: Mapping[str, object], file_name: str = "config file") -> dict[str, str]:
    """The ``[aliases]`` table: short name -> model id."""
    table = _table(file.get("aliases"), f"[aliases] in {file_name}")
    for name, target in table.items():
        if not isinstance(target, str) or not target.strip():
            raise ConfigError(f"alias {name!r} in {file_name} must name a model id")
    return {name: str(target).strip() for name, target in table.items()}


#: The most of ``api_key_cmd``'s output read: a key is far shorter.
MAX_KEY_OUTPUT = 4_000


def api_key_from(command: str, environ: Mapping[str, str], timeout: float = 10.0) -> str:
    """Run ``api_key_cmd`` through the shell; its stdout, stripped, is the key. Failure,
    a timeout, empty output or more than MAX_KEY_OUTPUT bytes is exit 3 naming
    ``api_key_cmd`` and its status, never its output nor the command itself (either may
    hold the key, or part of it); ``config show`` shows the command as written. The
    command runs in a session of its own, so what it started ends with it."""
    from .bounded import Deadline, run
    from .units import size

    try:
        status, output = run(command, environ, MAX_KEY_OUTPUT, timeout)
    except Deadline:
        raise ConfigError(
            f"api_key_cmd did not finish within {timeout:g} s",
            "check that it runs without waiting for input (t360 config show shows it)",
        ) from None
    except OSError as exc:
        raise ConfigError(f"api_key_cmd could not run: {exc.strerror}") from None
    if len(output) > MAX_KEY_OUTPUT:
        raise ConfigError(
            f"api_key_cmd printed more than {size(MAX_KEY_OUTPUT)}",
            "it must print the key alone on stdout (t360 config show shows it)",
        )
    if status != 0:
        raise ConfigError(
            f"api_key_cmd failed with exit status {status}",
            "run it yourself to see why (t360 config show shows it)",
        )
    key = output.decode("utf-8", "replace").strip()
    if not key:
        raise ConfigError("api_key_cmd printed nothing", "it must print the key on stdout")
    try:
        return _api_key(key)
    except ValueError as exc:
        raise ConfigError(f"the key printed by api_key_cmd {exc}") from None


def _invalid(name: str, source: Source, label: str, raw: object, exc: Exception) -> Exception:
    if name == "api_key":  # never shown, and never a usage error: the key is wrong
        return ConfigError(f"invalid API key from {label}: it {exc}", "check the key")
    if isinstance(exc, CredentialsInURL):
        return ConfigError(
            f"invalid {label}: {without_password(str(raw))} {exc}",
            "remove the user:password@ part and set api_key instead",
        )
    error = UsageError if source == "flag" else ConfigError
    shown = without_password(str(raw)) if name == "proxy" else repr(raw)
    return error(f"invalid {label}: {shown} {exc}")


def read_config(env: Environment) -> dict[str, object]:
    """This run's config file (checked to be private), as a table."""
    path = env.paths.config_file
    check_private(env, path)
    return load_file(path)


def load_settings(
    env: Environment,
    flags: Mapping[str, object | None],
    conversation: Mapping[str, object | None] | None = None,
    *,
    table: Mapping[str, object] | None = None,
    role: Mapping[str, object | None] | None = None,
    role_name: str | None = None,
) -> Settings:
    """Settings for this run: its flags, its role, the conversation it continues, its
    profile, its environment and its config file (``table``, when already read).
    Warnings are shown; the key joins the secrets to scrub."""
    settings, warnings = resolve(
        flags,
        env.vars,
        read_config(env) if table is None else table,
        conversation=conversation,
        role=role,
        role_name=role_name,
        file_name=str(env.paths.config_file),
    )
    for warning in warnings:
        env.warn(warning)
    if settings.api_key:
        env.secrets.add(settings.api_key)
    return settings


def check_private(env: Environment, path: Path) -> None:
    """Warn when the config directory or file can be read or changed by others."""
    for place in (path.parent, path):
        try:
            mode = place.stat().st_mode & 0o777
        except OSError:
            continue
        if mode & 0o077:
            env.warn(
                f"{place} is readable or writable by others (mode {mode:o}); "
                f"run: chmod {'700' if place.is_dir() else '600'} {place}"
            )


ALIAS_PREFIX = "aliases."


def check_name(name: str) -> None:
    """A name ``config set`` takes: a setting, ``api_key_cmd``, or ``aliases.NAME``."""
    if name in PARSERS or name == "api_key_cmd":
        return
    if name.startswith(ALIAS_PREFIX) and name[len(ALIAS_PREFIX) :].strip():
        return
    raise UsageError(
        f"unknown setting {name!r}",
        f"known settings: {', '.join(PARSERS)}, api_key_cmd, aliases.NAME",
    )


def parse_value(name: str, value: object) -> object:
    """A setting's value checked and converted, as ``config set`` stores it."""
    check_name(name)
    if name not in PARSERS:  # api_key_cmd, or an alias's model id
        try:
            return _text(value).strip()
        except ValueError as exc:
            raise UsageError(f"invalid value for {name}: {value!r} {exc}") from None
    try:
        return PARSERS[name](value)
    except (ValueError, TypeError) as exc:
        if name == "api_key":
            raise ConfigError(f"invalid API key: it {exc}", "check the key") from None
        shown = without_password(str(value)) if isinstance(exc, CredentialsInURL) else repr(value)
        raise UsageError(f"invalid value for {name}: {shown} {exc}") from None


def set_in_file(path: Path, name: str, profile: str | None, value: object) -> None:
    """``config set``: ``name = value`` in the config file (in ``[profiles.PROFILE]``, or
    ``[aliases]`` for ``aliases.NAME``); every other line of the file is kept as it is."""

    def change(document: TOMLDocument, tidy: bool) -> bool:
        holder, key = _place(document, name, profile)
        _put(holder, key, value, tidy=tidy)
        return True

    _edit(path, change)


def unset_in_file(path: Path, name: str, profile: str | None) -> bool:
    """``config unset``: ``name``'s line removed from the config file, every other line
    kept as it is; False when it was not there."""

    def change(document: TOMLDocument, tidy: bool) -> bool:
        if profile is not None and profile not in _table(document.get("profiles"), "[profiles]"):
            raise UsageError(f"unknown profile {profile!r}", "see t360 config show")
        holder, key = _place(document, name, profile)
        if key not in holder:
            return False
        del holder[key]
        return True

    return _edit(path, change)


def _edit(path: Path, change: Callable[[TOMLDocument, bool], bool]) -> bool:
    """Apply ``change`` to the config file as tomlkit reads it (comments, order and layout
    kept) and write the result if it changed anything. ``change`` runs twice: placing a
    new key as tomlkit would, and tidier (``tidy``); the tidier text is the one written
    when it means the same (with dotted keys it may not)."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    text = _read(path)
    parse_toml(text, f"config file {path}")  # a broken file: the error every reader gives
    results = []
    try:
        for tidy in (False, True):
            document = tomlkit.parse(text)
            changed = change(document, tidy)
            results.append(tomlkit.dumps(document))
        plain, tidier = results
        meaning = parse_toml(plain, "the changed file")  # never write a file tomlkit broke
    except (TOMLKitError, ValueError, ConfigError) as exc:  # a new profile in an inline table
        raise ConfigError(
            f"cannot change config file {path}: {exc}", "change it with t360 config edit"
        ) from None
    if changed:
        write_file(path, (tidier if _meaning(tidier) == meaning else plain).encode())
    return changed


def _meaning(text: str) -> dict[str, object] | None:
    """What TOML text says; None when it is not TOML."""
    try:
        return parse_toml(text, "the changed config file")
    except ConfigError:
        return None


def _place(document: TOMLDocument, name: str, profile: str | None) -> tuple[dict[str, Any], str]:
    """Where ``config set``/``unset`` put ``name``: the table that holds it, and its key
    there (``aliases.NAME`` in ``[aliases]``; with a profile, in ``[profiles.PROFILE]``)."""
    import tomlkit

    if name.startswith(ALIAS_PREFIX):
        if profile is not None:
            raise UsageError("aliases are not per profile", "leave out -p")
        holder = document.setdefault("aliases", tomlkit.table())
        key = name[len(ALIAS_PREFIX) :].strip()
    elif profile is not None:
        # [profiles.NAME] headers alone, never an empty [profiles] above them
        profiles = document.setdefault("profiles", tomlkit.table(is_super_table=True))
        holder = _table(profiles, "[profiles]").setdefault(profile, tomlkit.table())
        key = name
    else:
        return document, name
    if not isinstance(holder, dict):
        raise ConfigError(f"cannot set {name}: its place in the config file is not a table")
    return holder, key


def _put(holder: dict[str, Any], key: str, value: object, *, tidy: bool) -> None:
    """``holder[key] = value``; a value replaced keeps its comment. ``tidy``: a new key
    goes on the line after the table's last value, above the comment lines that may end
    the table (they are about what follows; tomlkit would put it below them)."""
    import tomlkit
    from tomlkit.container import Container
    from tomlkit.items import AoT, Table

    body = (
        holder.body
        if isinstance(holder, Container)
        else holder.value.body
        if isinstance(holder, Table)
        else []  # an inline table: tomlkit's own way
    )
    values = [item for name, item in body if name is not None and not isinstance(item, AoT | Table)]
    if not tidy or key in holder or not values:
        holder[key] = value
        return
    last = values[-1].trivia
    before, _, after = last.trail.partition("\n")  # the end of its line, comment included
    last.trail = f"{before}\n{last.indent}{tomlkit.dumps({key: value})}{after}"


def write_file(path: Path, data: bytes) -> None:
    """Replace the config file atomically with ``data``, private from the first byte.

    The directory is made 0700 and the file 0600 when they are created, so there is no
    moment at which another user could read the key; the new content goes to a temporary
    file that is renamed over the old one, so a crash never leaves half a file.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if path.parent.stat().st_mode & 0o077:
            path.parent.chmod(0o700)  # it existed, open to others: not for a key
        fd, temporary = _private_temp(path)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            Path(temporary).replace(path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConfigError(
            f"cannot write config file {path}: {exc.strerror or exc}", "check its permissions"
        ) from None


def _private_temp(path: Path) -> tuple[int, str]:
    import tempfile

    fd, name = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
    os.fchmod(fd, 0o600)  # mkstemp already uses 0600; make it explicit
    return fd, name
