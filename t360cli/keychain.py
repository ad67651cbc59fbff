"""API keys in the operating system's keychain, through ``keyring``: macOS Keychain,
Windows Credential Locker, Secret Service (GNOME Keyring, KWallet) on Linux.

``keyring`` takes about 55 ms to import, so it loads only here, and only when a key is
needed and given by no flag, variable, config file or ``api_key_cmd``, or when ``config``
stores, removes or shows one. A keychain counts as usable when it is one of keyring's own
operating-system backends; the plain-file backends of ``keyrings.alt`` are no safer than
t360's 0600 config file, so they are used only when chosen by name
(``PYTHON_KEYRING_BACKEND``, as the tests do). Every failure of a backend (locked,
refused, no D-Bus) is a ConfigError, exit 3.

Entries: service ``t360``, account ``api_key``, or ``profile:NAME`` for a profile's key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import ConfigError

SERVICE = "t360"


def account(profile: str | None) -> str:
    return f"profile:{profile}" if profile else "api_key"


def _failed(what: str, exc: Exception) -> ConfigError:
    reason = str(exc).strip() or type(exc).__name__
    return ConfigError(
        f"the keychain could not {what}: {reason}",
        "unlock it, or keep the key in the config file: t360 config set key_store file",
    )


def backend(environ: Mapping[str, str]) -> Any | None:
    """The keychain to use, or None when there is no usable one."""
    chosen = environ.get("PYTHON_KEYRING_BACKEND")
    try:
        import keyring
        from keyring.backends import fail
        from keyring.core import load_keyring

        # chosen by name in this run's environment (which keyring's own default, read
        # once per process from os.environ, would not see), else keyring's choice
        found = load_keyring(chosen) if chosen else keyring.get_keyring()
    except Exception as exc:  # a backend that cannot even start
        raise _failed("start", exc) from None
    if isinstance(found, fail.Keyring):
        return None
    if chosen:
        return found  # chosen by name: the user's word
    chained = getattr(found, "backends", None) or [found]
    if any(type(b).__module__.startswith("keyring.backends.") for b in chained):
        return found
    return None


def name(store: Any) -> str:
    """How a keychain is named to the user (``SecretService Keyring``)."""
    return str(getattr(store, "name", None) or type(store).__name__)


def get(environ: Mapping[str, str], profile: str | None) -> str | None:
    """The key kept for ``profile`` (or, failing that, the default one); None if none."""
    store = backend(environ)
    if store is None:
        return None
    try:
        for which in dict.fromkeys([profile, None]):
            key = store.get_password(SERVICE, account(which))
            if key:
                return str(key)
    except Exception as exc:  # keyring's errors, and a backend's own (D-Bus, locked)
        raise _failed("read the API key", exc) from None
    return None


def put(store: Any, profile: str | None, key: str) -> None:
    try:
        store.set_password(SERVICE, account(profile), key)
    except Exception as exc:
        raise _failed("store the API key", exc) from None


def remove(environ: Mapping[str, str], profile: str | None) -> bool:
    """Whether a key for ``profile`` was there and is gone."""
    store = backend(environ)
    if store is None:
        return False
    try:
        if store.get_password(SERVICE, account(profile)) is None:
            return False
        store.delete_password(SERVICE, account(profile))
    except Exception as exc:
        raise _failed("remove the API key", exc) from None
    return True
