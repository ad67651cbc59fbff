"""Settings: precedence flag > env > file > default, validation, the config file."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from t360cli.config import (
    DEFAULT_BASE_URL,
    DEFAULT_MODEL,
    Settings,
    load_file,
    resolve,
)
from t360cli.environment import Paths
from t360cli.errors import ConfigError, UsageError
from t360cli.safety import redact, scrub
from tests.helpers import invoke

LAYERS = ("flag", "conversation", "env", "file")


@pytest.mark.parametrize(
    "present", [c for n in range(5) for c in itertools.combinations(LAYERS, n)]
)
@pytest.mark.parametrize(
    ("name", "env_var"),
    [("api_key", "T360_API_KEY"), ("base_url", "T360_BASE_URL"), ("model", "T360_MODEL")],
)
def test_precedence_matrix(present: tuple[str, ...], name: str, env_var: str) -> None:
    value = {
        "flag": "https://flag.test",
        "conversation": "https://conversation.test",
        "env": "https://env.test",
        "file": "https://file.test",
    }
    flags = {name: value["flag"]} if "flag" in present else {}
    saved = {name: value["conversation"]} if "conversation" in present else {}
    env = {env_var: value["env"]} if "env" in present else {}
    file = {name: value["file"]} if "file" in present else {}
    settings, warnings = resolve(flags, env, file, conversation=saved)
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
        ({"timeout": float("nan")}, "--timeout"),
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
    path = Paths().config_file
    assert path == isolated / "xdg_config_home" / "t360" / "config.toml"
    path.parent.mkdir(parents=True, mode=0o700)
    path.write_text('model = "from-file"\ntimeout = 5\n')
    path.chmod(0o600)
    result = invoke("config", "show", "--json")
    assert result.code == 0, result.err
    shown = __import__("json").loads(result.out)
    assert shown["model"] == {"value": "from-file", "source": "file"}
    assert shown["timeout"] == {"value": 5.0, "source": "file"}
    assert result.err == ""


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
    assert key not in repr(settings) and "…mnop" in repr(settings)
    assert redact(key) == "…mnop"  # at most the last 4 characters
    assert key not in scrub(f"Incorrect API key provided: {key}.")
    assert "secret" not in scrub(f"Incorrect API key provided: {key[:12]}…", [key])


def test_invalid_key_value_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve({}, {}, {"api_key": 12345})
    assert "12345" not in caught.value.message


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("sk-line-one\nsk-line-two", "line break"),
        ("sk-with space-inside", "space"),
        ("sk-clé-non-ascii", "printable ASCII"),
        ("sk-bell\x07-inside", "printable ASCII"),
    ],
)
@pytest.mark.parametrize("layer", ["flag", "env", "file"])
def test_a_malformed_key_is_a_config_error_that_never_shows_it(
    key: str, reason: str, layer: str
) -> None:
    flags = {"api_key": key} if layer == "flag" else {}
    env = {"T360_API_KEY": key} if layer == "env" else {}
    file = {"api_key": key} if layer == "file" else {}
    with pytest.raises(ConfigError, match=reason) as caught:
        resolve(flags, env, file)
    assert "sk-" not in caught.value.line()


def test_surrounding_white_space_of_a_key_is_dropped() -> None:
    settings, _ = resolve({}, {"T360_API_KEY": " sk-pasted-0123456789\n"}, {})
    assert settings.api_key == "sk-pasted-0123456789"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:abc", "http://[::1", "https://", "http://host:99999"]
)
def test_a_malformed_base_url_is_a_usage_error_as_a_flag_and_config_elsewhere(url: str) -> None:
    with pytest.raises(UsageError, match="--base-url"):
        resolve({"base_url": url}, {}, {})
    with pytest.raises(ConfigError, match="T360_BASE_URL"):
        resolve({}, {"T360_BASE_URL": url}, {})
    with pytest.raises(ConfigError, match="base_url in"):
        resolve({}, {}, {"base_url": url})


@pytest.mark.parametrize("layer", ["flag", "env", "file"])
def test_a_password_in_the_base_url_is_refused_and_never_shown(layer: str) -> None:
    url = "https://alice:hunter2secret@gw.example.com/v1"
    flags = {"base_url": url} if layer == "flag" else {}
    env = {"T360_BASE_URL": url} if layer == "env" else {}
    file = {"base_url": url} if layer == "file" else {}
    with pytest.raises(ConfigError) as caught:
        resolve(flags, env, file)
    assert "hunter2" not in caught.value.line()
    assert "https://alice:***@gw.example.com/v1" in caught.value.line()


@pytest.mark.parametrize(("value", "ok"), [(10, True), (11, False), (-1, False)])
def test_retries_are_bounded_in_every_layer(value: int, ok: bool) -> None:
    for flags, file in (({"retries": value}, {}), ({}, {"retries": value})):
        if ok:
            assert resolve(flags, {}, file)[0].retries == value
        else:
            with pytest.raises((UsageError, ConfigError), match="from 0 to 10"):
                resolve(flags, {}, file)


def test_a_config_nested_thousands_deep_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match="too deeply"):
        load_file(path)
