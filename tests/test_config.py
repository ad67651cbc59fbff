"""Settings: precedence flag > env > file > default, validation, the config file."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from t360cli.config import (
    DEFAULT_BASE_URL,
    DEFAULT_MODEL,
    Settings,
    config_path,
    load_file,
    load_settings,
    redact,
    resolve,
    scrub,
)
from t360cli.errors import ConfigError, UsageError

LAYERS = ("flag", "env", "file")


@pytest.mark.parametrize(
    "present", [c for n in range(4) for c in itertools.combinations(LAYERS, n)]
)
@pytest.mark.parametrize(
    ("name", "env_var"),
    [("api_key", "T360_API_KEY"), ("base_url", "T360_BASE_URL"), ("model", "T360_MODEL")],
)
def test_precedence_matrix(present: tuple[str, ...], name: str, env_var: str) -> None:
    value = {"flag": "https://flag.test", "env": "https://env.test", "file": "https://file.test"}
    flags = {name: value["flag"]} if "flag" in present else {}
    env = {env_var: value["env"]} if "env" in present else {}
    file = {name: value["file"]} if "file" in present else {}
    settings, warnings = resolve(flags, env, file)
    expected_source = present[0] if present else "default"
    assert settings.sources[name] == expected_source
    defaults = {"api_key": None, "base_url": DEFAULT_BASE_URL, "model": DEFAULT_MODEL}
    assert getattr(settings, name) == (value[present[0]] if present else defaults[name])
    assert warnings == []


def test_empty_environment_variable_does_not_count() -> None:
    settings, _ = resolve({}, {"T360_MODEL": ""}, {"model": "from-file"})
    assert settings.model == "from-file"


def test_no_fallback_to_other_vendors_variables() -> None:
    settings, _ = resolve({}, {"OPENAI_API_KEY": "sk-openai-0123456789"}, {})
    assert settings.api_key is None


def test_defaults() -> None:
    settings, _ = resolve({}, {}, {})
    assert (settings.base_url, settings.model, settings.timeout, settings.retries) == (
        "https://api.token360.ai/v1",
        "glm-5.1",
        120.0,
        2,
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"base_url": "ftp://x"}, "--base-url"),
        ({"timeout": -1.0}, "--timeout"),
        ({"retries": -2}, "--retries"),
        ({"model": " "}, "--model"),
    ],
)
def test_bad_flag_values_are_usage_errors(flags: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        resolve(flags, {}, {})


@pytest.mark.parametrize(
    ("env", "file"),
    [
        ({"T360_BASE_URL": "not a url"}, {}),
        ({}, {"timeout": "soon"}),
        ({}, {"retries": 1.5}),
        ({}, {"timeout": True}),
    ],
)
def test_bad_env_or_file_values_are_config_errors(
    env: dict[str, str], file: dict[str, object]
) -> None:
    with pytest.raises(ConfigError):
        resolve({}, env, file)


def test_unknown_file_keys_warn() -> None:
    _, warnings = resolve({}, {}, {"modle": "x"})
    assert warnings == ["config file: unknown setting 'modle' ignored"]


def test_trailing_slash_of_base_url_is_dropped() -> None:
    settings, _ = resolve({"base_url": "http://127.0.0.1:9/v1/"}, {}, {})
    assert settings.base_url == "http://127.0.0.1:9/v1"


def test_config_file_is_read_from_xdg_config_home(isolated: Path) -> None:
    path = config_path()
    assert path == isolated / "xdg_config_home" / "t360" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text('model = "from-file"\ntimeout = 5\n')
    settings, _ = load_settings({})
    assert (settings.model, settings.timeout, settings.sources["model"]) == (
        "from-file",
        5.0,
        "file",
    )


def test_missing_file_is_empty(tmp_path: Path) -> None:
    assert load_file(tmp_path / "nope.toml") == {}


def test_broken_toml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('model = "ok"\napi_key = \n')
    with pytest.raises(ConfigError, match=rf"{path}.*line 2"):
        load_file(path)


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.mkdir()
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_file(path)


def test_key_never_in_repr_or_errors() -> None:
    key = "sk-secret-abcdefghijklmnop"
    settings = Settings(api_key=key)
    assert key not in repr(settings) and "sk-se…mnop" in repr(settings)
    assert redact(key) == "sk-se…mnop"
    assert key not in scrub(f"Incorrect API key provided: {key}.")


def test_invalid_key_value_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve({}, {}, {"api_key": 12345})
    assert "12345" not in caught.value.message
