"""Settings: where each value comes from, resolved in one pure function.

Precedence, highest first: command-line flag > ``T360_*`` environment > config file >
built-in default. ``resolve()`` takes the three layers as plain mappings, so the whole
precedence matrix is testable without touching the process environment or the disk.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from .errors import ConfigError, UsageError

DEFAULT_BASE_URL = "https://api.token360.ai/v1"
DEFAULT_MODEL = "glm-5.1"

Source = Literal["flag", "env", "file", "default"]

#: Environment variable for each setting that has one.
ENV_VARS: dict[str, str] = {
    "api_key": "T360_API_KEY",
    "base_url": "T360_BASE_URL",
    "model": "T360_MODEL",
    "debug": "T360_DEBUG",
}


def redact(key: str | None) -> str:
    """A key shortened so it can be recognised but not used: ``sk-ab…wxyz``."""
    if not key:
        return "(not set)"
    if len(key) <= 12:
        return "…" * 3
    return f"{key[:5]}…{key[-4:]}"


_KEY_PATTERN = re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}")
_secrets: set[str] = set()


def scrub(text: str) -> str:
    """``text`` with every API key it may hold replaced by its redacted form."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, redact(secret))
    return _KEY_PATTERN.sub(lambda m: redact(m.group()), text)


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
    connect_timeout: float = 10.0
    retries: int = 2
    #: Log request and response metadata to stderr (the key redacted).
    debug: bool = False
    #: Where each value came from: "flag", "env", "file" or "default".
    sources: Mapping[str, Source] = MappingProxyType({})

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in self._fields
            if name not in ("api_key", "sources")
        )
        return f"Settings(api_key={redact(self.api_key)!r}, {shown})"


def _url(value: object) -> str:
    text = str(value).strip().rstrip("/")
    scheme, _, rest = text.partition("://")
    if scheme not in ("http", "https") or not rest or rest.startswith("/"):
        raise ValueError("must start with http:// or https:// and name a host")
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise ValueError("must not contain spaces or control characters")
    return text


def _positive_float(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError("must be a number of seconds")
    number = float(value)  # type: ignore[arg-type]
    if not number > 0 or number == float("inf"):
        raise ValueError("must be a positive number of seconds")
    return number


def _count(value: object) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError("must be a whole number")
    number: int = int(value)  # type: ignore[call-overload]
    if number < 0:
        raise ValueError("must be zero or more")
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


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return value


#: Every setting the file may hold, with the function that checks and converts it.
PARSERS: dict[str, Callable[[object], Any]] = {
    "api_key": lambda v: _text(v).strip(),
    "base_url": _url,
    "model": lambda v: _text(v).strip(),
    "system": _text,
    "timeout": _positive_float,
    "connect_timeout": _positive_float,
    "retries": _count,
    "debug": _flag,
}


def config_path() -> Path:
    import platformdirs

    return platformdirs.user_config_path("t360") / "config.toml"


def state_path() -> Path:
    import platformdirs

    return platformdirs.user_state_path("t360")


def data_path() -> Path:
    import platformdirs

    return platformdirs.user_data_path("t360")


def cache_path() -> Path:
    import platformdirs

    return platformdirs.user_cache_path("t360")


def load_file(path: Path) -> dict[str, object]:
    """The config file's table; empty when the file does not exist."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {path}: {exc.strerror or exc}",
            "check its permissions",
        ) from None
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    try:
        table: dict[str, object] = tomllib.loads(raw.decode("utf-8"))
        return table
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"config file {path} is not valid TOML: {exc}",
            "fix the line named, or delete the file",
        ) from None


def resolve(
    flags: Mapping[str, object | None],
    env: Mapping[str, str],
    file: Mapping[str, object],
    *,
    file_name: str = "config file",
) -> tuple[Settings, list[str]]:
    """Merge the layers into Settings; returns them with warnings for the user.

    A bad flag value is a usage error (exit 2); a bad value from the environment or the
    file is a configuration error (exit 3). Unknown keys in the file are warned about,
    not fatal, so a newer config never breaks an older t360.
    """
    warnings = [
        f"{file_name}: unknown setting {name!r} ignored" for name in file if name not in PARSERS
    ]
    values: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    for name, parse in PARSERS.items():
        layers: list[tuple[Source, object | None, str]] = [
            ("flag", flags.get(name), f"--{name.replace('_', '-')}"),
            ("env", env.get(ENV_VARS[name]) if name in ENV_VARS else None, ENV_VARS.get(name, "")),
            ("file", file.get(name), f"{name} in {file_name}"),
        ]
        for source, raw, label in layers:
            if raw is None or (source == "env" and raw == ""):
                continue
            try:
                values[name] = parse(raw)
            except (ValueError, TypeError) as exc:
                error = UsageError if source == "flag" else ConfigError
                shown = "(hidden)" if name == "api_key" else repr(raw)
                raise error(f"invalid {label}: {shown} {exc}") from None
            sources[name] = source
            break
        else:
            sources[name] = "default"
    return Settings(**values, sources=sources), warnings


def load_settings(flags: Mapping[str, object | None]) -> tuple[Settings, list[str]]:
    """Settings for this process: its flags, its environment and its config file."""
    path = config_path()
    settings, warnings = resolve(flags, os.environ, load_file(path), file_name=str(path))
    if settings.api_key:
        _secrets.add(settings.api_key)
    return settings, warnings


def check_name(name: str) -> None:
    if name not in PARSERS:
        raise UsageError(f"unknown setting {name!r}", f"known settings: {', '.join(PARSERS)}")


def parse_value(name: str, value: object) -> object:
    """A setting's value checked and converted, as ``config set`` stores it."""
    check_name(name)
    try:
        return PARSERS[name](value)
    except (ValueError, TypeError) as exc:
        shown = "(hidden)" if name == "api_key" else repr(value)
        raise UsageError(f"invalid value for {name}: {shown} {exc}") from None


def write_file(path: Path, table: dict[str, object]) -> None:
    """Replace the config file atomically, private from the first byte.

    The directory is made 0700 and the file 0600 when they are created, so there is no
    moment at which another user could read the key; the new content goes to a temporary
    file that is renamed over the old one, so a crash never leaves half a file.
    """
    import tomli_w

    data = tomli_w.dumps(table).encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
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
