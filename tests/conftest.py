"""Shared fixtures: an isolated home for every test, the stand-in server, and runners."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from t360cli.mockserver import MockServer


def pytest_configure(config: pytest.Config) -> None:
    """Hypothesis checks the same examples on every run (derived from each test's code, no
    database of past failures), so CI cannot fail on a new random draw; explore others
    with ``--hypothesis-seed=N``."""
    from hypothesis import settings  # here, not at the top: only once pytest runs

    seeded = config.getoption("hypothesis_seed", None) is not None
    settings.register_profile("t360", derandomize=not seeded, database=None)
    settings.load_profile("t360")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own config, data and state dirs and no T360_* variables."""
    for name in list(os.environ):
        if name.startswith("T360_") or name in ("NO_COLOR", "FORCE_COLOR"):
            monkeypatch.delenv(name)
    # the runner's editor and display: a test sets what it means t360 to find
    for name in ("VISUAL", "EDITOR", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    # never the machine's own keychain: none at all, unless a test chooses a file one
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    return tmp_path


@pytest.fixture
def server() -> Iterator[MockServer]:
    with MockServer() as running:
        yield running
