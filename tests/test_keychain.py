"""API keys in the OS keychain (issue 31): a file keychain under the test's own home
(keyrings.alt) stands in for the real one, which no test touches."""

from __future__ import annotations

import pytest
from keyring.backend import KeyringBackend
from keyring.errors import KeyringLocked

from t360cli.mockserver import MockServer
from tests.helpers import invoke, paths

FILE_KEYRING = "keyrings.alt.file.PlaintextKeyring"
KEPT = "sk-kept-4f8a1c93e27b0042"


class LockedKeyring(KeyringBackend):
    """A keychain that is locked: every read and write is refused."""

    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("the collection is locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked("the collection is locked")

    def delete_password(self, service: str, username: str) -> None:
        raise KeyringLocked("the collection is locked")


@pytest.fixture
def keychain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", FILE_KEYRING)


def gateway(server: MockServer) -> dict[str, str]:
    return {"T360_BASE_URL": server.url}


def test_the_key_goes_to_the_keychain_never_the_file(server: MockServer, keychain: None) -> None:
    stored = invoke("config", "set", "api_key", KEPT)
    assert stored.code == 0 and "saved in the keychain (" in stored.err
    assert KEPT not in stored.err
    config = paths().config_file
    assert not config.exists() or KEPT not in config.read_text()
    result = invoke("chat", "-m", "echo", "hi", env=gateway(server))
    assert result.code == 0, result.err
    assert server.calls[-1].headers["authorization"] == f"Bearer {KEPT}"
    shown = invoke("config", "show").out
    assert "api_key          …0042  (keyring)" in shown and KEPT not in shown


def test_a_key_already_in_the_file_moves_to_the_keychain(keychain: None) -> None:
    config = paths().config_file
    config.parent.mkdir(parents=True)
    config.write_text('# my settings\napi_key = "sk-old-key-in-the-file-0001"\nmodel = "x"\n')
    assert invoke("config", "set", "api_key", KEPT).code == 0
    assert config.read_text() == '# my settings\nmodel = "x"\n'


def test_a_profile_keeps_its_own_key(server: MockServer, keychain: None) -> None:
    config = paths().config_file
    config.parent.mkdir(parents=True)
    config.write_text("[profiles.work]\n")
    assert invoke("config", "set", "api_key", "sk-default-key-00000001").code == 0
    assert invoke("config", "set", "-p", "work", "api_key", KEPT).code == 0
    assert invoke("chat", "-p", "work", "-m", "echo", "hi", env=gateway(server)).code == 0
    assert server.calls[-1].headers["authorization"] == f"Bearer {KEPT}"
    assert invoke("chat", "-m", "echo", "hi", env=gateway(server)).code == 0
    assert server.calls[-1].headers["authorization"] == "Bearer sk-default-key-00000001"


def test_the_environment_beats_the_keychain(server: MockServer, keychain: None) -> None:
    assert invoke("config", "set", "api_key", KEPT).code == 0
    env = {**gateway(server), "T360_API_KEY": "sk-from-the-environment-9"}
    assert invoke("chat", "-m", "echo", "hi", env=env).code == 0
    assert server.calls[-1].headers["authorization"] == "Bearer sk-from-the-environment-9"


def test_unset_removes_it_from_the_keychain(server: MockServer, keychain: None) -> None:
    assert invoke("config", "set", "api_key", KEPT).code == 0
    removed = invoke("config", "unset", "api_key")
    assert removed.code == 0 and "removed from the keychain" in removed.err
    result = invoke("chat", "-m", "echo", "hi", env=gateway(server))
    assert result.code == 3 and "no API key" in result.err


def test_the_keychain_key_is_a_known_secret(server: MockServer, keychain: None) -> None:
    assert invoke("config", "set", "api_key", "plainkeychainword").code == 0
    result = invoke("chat", "-m", "echo", "is plainkeychainword right?", env=gateway(server))
    assert result.code == 6 and "your t360 API key" in result.err
    assert server.calls == []


def test_without_a_usable_keychain_the_file_is_used_and_said() -> None:
    stored = invoke("config", "set", "api_key", KEPT)
    assert stored.code == 0 and "no usable keychain here" in stored.err
    assert KEPT in paths().config_file.read_text()
    insisted = invoke("config", "set", "api_key", KEPT, env={"T360_KEY_STORE": "keyring"})
    assert insisted.code == 3 and "no usable keychain" in insisted.err


def test_key_store_file_keeps_it_in_the_file(keychain: None) -> None:
    assert invoke("config", "set", "key_store", "file").code == 0
    assert invoke("config", "set", "api_key", KEPT).code == 0
    assert KEPT in paths().config_file.read_text()


def test_a_locked_keychain_is_exit_3_in_one_line(
    server: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", f"{__name__}.LockedKeyring")
    stored = invoke("config", "set", "api_key", KEPT)
    assert stored.code == 3 and "the keychain could not store the API key" in stored.err
    assert "key_store file" in stored.err and KEPT not in stored.err
    result = invoke("chat", "-m", "echo", "hi", env=gateway(server))
    assert result.code == 3 and "could not read the API key: the collection is locked" in result.err
    assert len(result.err.strip().splitlines()) == 1
