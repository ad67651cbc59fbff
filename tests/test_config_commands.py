"""`t360 config` and `t360 models` end to end, and the key kept out of every output."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pexpect
import pytest

from t360cli import config as config_module
from t360cli.config import write_file
from t360cli.errors import ConfigError
from t360cli.mockserver import SCENARIOS, MockServer
from tests.helpers import (
    KEY,
    chat_env,
    invoke,
    paths,
    refused_port,
    run_t360,
    run_tty,
    spawn_t360,
)


def test_set_get_unset_show_path(server: MockServer) -> None:
    assert run_t360("config", "path").out == f"{paths().config_file}\n"
    assert run_t360("config", "set", "model", "echo").code == 0
    assert run_t360("config", "set", "timeout", "30").code == 0
    assert paths().config_file.read_text() == 'model = "echo"\ntimeout = 30.0\n'
    assert run_t360("config", "get", "model").out == "echo\n"
    shown = json.loads(run_t360("config", "show", "--json", env={"T360_MODEL": "recall"}).out)
    assert shown["model"] == {"value": "recall", "source": "env"}
    assert shown["timeout"] == {"value": 30.0, "source": "file"}
    assert shown["retries"] == {"value": 2, "source": "default"}
    assert run_t360("config", "unset", "timeout").code == 0
    assert paths().config_file.read_text() == 'model = "echo"\n'
    # the file's model is used by chat
    result = run_t360("chat", "hello file", env=chat_env(server))
    assert result.out == "hello file\n" and server.calls[-1].body["model"] == "echo"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["config", "set", "nope", "1"], "unknown setting 'nope'"),
        (["config", "set", "base_url", "ftp://x"], "must start with http:// or https://"),
        (["config", "set", "timeout", "--", "-3"], "must be a positive number"),
        (["config", "set", "retries", "many"], "invalid value for retries"),
        (["config", "set", "model"], "needs a value"),
        (["config", "get", "nope"], "unknown setting"),
    ],
)
def test_bad_keys_and_values_are_refused(args: list[str], message: str) -> None:
    result = run_t360(*args)
    assert result.code == 2 and message in result.err
    assert not paths().config_file.exists()


def test_file_and_directory_are_private_from_the_start() -> None:
    assert run_t360("config", "set", "api_key", KEY).code == 0
    assert stat.S_IMODE(paths().config_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths().config_file.parent.stat().st_mode) == 0o700


def test_a_failing_write_leaves_the_old_file_intact(
    monkeypatch: pytest.MonkeyPatch, isolated: Path
) -> None:
    path = paths().config_file
    write_file(path, b'model = "old"\n')

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(config_module.os, "fsync", broken_fsync)
    with pytest.raises(ConfigError, match="No space left on device"):
        write_file(path, b'model = "new"\n')
    assert path.read_text() == 'model = "old"\n'
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_broken_toml_is_exit_3_naming_file_and_line(server: MockServer) -> None:
    path = paths().config_file
    path.parent.mkdir(parents=True)
    path.write_text('model = "echo"\ntimeout = = 3\n')
    for args in (["chat", "hi"], ["config", "show"], ["models"]):
        result = run_t360(*args, env=chat_env(server))
        assert result.code == 3, args
        assert str(path) in result.err and "line 2" in result.err
        assert "Traceback" not in result.err


def test_missing_key_names_both_ways_to_set_one(server: MockServer) -> None:
    result = run_t360("models", env={"T360_BASE_URL": server.url})
    assert result.code == 3
    assert "T360_API_KEY" in result.err and "t360 config set api_key" in result.err


def test_hidden_prompt_for_the_api_key() -> None:
    child = spawn_t360("config", "set", "api_key")
    child.expect(b"API key: ")
    child.sendline(KEY.encode())
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert KEY.encode() not in child.before  # not echoed, not printed
    assert f'api_key = "{KEY}"' in paths().config_file.read_text()


def test_the_key_is_redacted_everywhere(server: MockServer) -> None:
    env = chat_env(server)
    outputs = [
        run_t360("config", "show", env=env),
        run_t360("config", "show", "--json", env=env),
        run_t360("config", "get", "api_key", env=env),
        run_t360("chat", "--debug", "-m", "echo", "hi", env=env),
        run_t360("chat", "--json", "-m", "status:401", "hi", env=env),
        run_t360("models", "--debug", env={**env, "T360_DEBUG": "1"}),
    ]
    for result in outputs:
        assert KEY not in result.out + result.err
    assert "…5f60" in outputs[0].out and "sk-te" not in outputs[0].out
    debug = outputs[3].err
    assert "> POST http://127.0.0.1" in debug and "authorization: Bearer …5f60" in debug
    assert "< HTTP/1.1 200 OK" in debug


def test_models_in_a_pipe_and_as_json(server: MockServer) -> None:
    piped = run_t360("models", env=chat_env(server))
    assert piped.code == 0 and piped.out.splitlines() == list(SCENARIOS)
    raw = json.loads(run_t360("models", "--json", env=chat_env(server)).out)
    assert [m["id"] for m in raw["data"]] == list(SCENARIOS)
    assert raw["data"][0]["pricing"] == {"prompt": "0.000001", "completion": "0.000002"}


def test_models_on_a_terminal_is_a_table(server: MockServer) -> None:
    run = run_tty("models", env=chat_env(server), columns=100)
    assert run.code == 0
    lines = run.screen(columns=100)
    assert lines[0].split() == ["model", "owner", "context", "$/M", "in", "$/M", "out"]
    assert lines[1].split() == ["echo", "mock", "131,072", "1", "2"]


def test_models_errors_like_chat(server: MockServer) -> None:
    bad = run_t360("models", env=chat_env(server, T360_API_KEY="sk-invalid"))
    assert bad.code == 3 and "HTTP 401" in bad.err
    with refused_port() as port:
        url = f"http://127.0.0.1:{port}/v1"
        down = run_t360("models", env={"T360_API_KEY": KEY, "T360_BASE_URL": url})
    assert down.code == 5 and "cannot connect" in down.err


def test_config_edit_checks_the_result(tmp_path: Path) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "model = \\"edited\\"\\n" > "$1"\n')
    editor.chmod(0o755)
    assert run_t360("config", "edit", env={"EDITOR": str(editor)}).code == 0
    assert run_t360("config", "get", "model").out == "edited\n"
    breaker = tmp_path / "breaker.sh"
    breaker.write_text('#!/bin/sh\nprintf "model = \\n" > "$1"\n')
    breaker.chmod(0o755)
    broken = run_t360("config", "edit", env={"VISUAL": str(breaker)})
    assert broken.code == 3 and "line 1" in broken.err
    assert "saved as you left it: t360 config edit" in broken.err  # no terminal: no question
    assert len(broken.err.splitlines()) == 1
    assert os.access(paths().config_file, os.R_OK)


def editor_breaking_then_fixing(tmp_path: Path) -> Path:
    """$EDITOR that leaves the file broken the first time, and fixes it the next."""
    editor = tmp_path / "editor.sh"
    editor.write_text(
        "#!/bin/sh\n"
        'if [ -e "$0.ran" ]; then printf \'model = "fixed"\\n\' > "$1"\n'
        'else : > "$0.ran"; printf \'model = \\n\' > "$1"; fi\n'
    )
    editor.chmod(0o755)
    return editor


@pytest.mark.parametrize(
    ("keys", "code", "left"),
    [
        ("xe", 0, 'model = "fixed"\n'),  # x is no choice; e opens the editor again
        ("k", 3, "model = \n"),
        ("r", 0, 'model = "mine"  # my own\n'),
    ],
)
def test_config_edit_offers_to_reopen_a_broken_file(
    tmp_path: Path, keys: str, code: int, left: str
) -> None:
    path = paths().config_file
    path.parent.mkdir(parents=True, mode=0o700)
    path.write_text('model = "mine"  # my own\n')
    path.chmod(0o600)
    child = spawn_t360("config", "edit", env={"EDITOR": str(editor_breaking_then_fixing(tmp_path))})
    child.expect(rb"is not valid TOML: .*\(at line 1, column 9\)")
    for key in keys:
        child.expect_exact(b"[e]dit again, [k]eep it broken, [r]evert? ")
        child.send(key.encode())
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == code
    assert path.read_text() == left
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    if keys == "k":
        assert b"saved as you left it" in child.before
    if keys == "r":
        assert f"{path} is back as it was before this edit".encode() in child.before


#: A config file as a user keeps it: copied from the README, commented, laid out by hand.
COMMENTED = """\
# t360, copied from the README
model = "glm-5.1"
timeout = 120             # seconds of silence tolerated

retries = 2               # 0 to 10

# the company gateway
[profiles.work]
base_url = "https://llm.example.com/v1"
api_key_cmd = "pass show llm/work"    # run when a key is needed
model = "gpt-5"

[aliases]
fast = "glm-5.1-air"      # t360 chat -m fast
# roles below

[roles.reviewer]           # -r reviewer
system = "You are a strict code reviewer."
options = { top_p = 0.9 }

[mcp_servers.time]
command = "mcp-server-time"
env = { TZ = "Europe/Paris" }
"""


def test_set_and_unset_change_one_line_and_keep_every_other_byte() -> None:
    path = paths().config_file
    path.parent.mkdir(parents=True, mode=0o700)
    path.write_text(COMMENTED)
    path.chmod(0o644)  # made private again by the first write
    expected = COMMENTED
    steps = [
        (["set", "-p", "work", "model", "fast"], 'model = "gpt-5"\n', 'model = "fast"\n'),
        (["set", "timeout", "30"], "timeout = 120 ", "timeout = 30.0 "),  # the comment stays
        # new keys: after the table's last value, above the comments about what follows
        (["set", "system", "Be brief."], "# 0 to 10\n", '# 0 to 10\nsystem = "Be brief."\n'),
        (["set", "aliases.quick", "lorem:3"], "-m fast\n", '-m fast\nquick = "lorem:3"\n'),
        (["unset", "retries"], "retries = 2               # 0 to 10\n", ""),
        (
            ["unset", "-p", "work", "api_key_cmd"],
            'api_key_cmd = "pass show llm/work"    # run when a key is needed\n',
            "",
        ),
    ]
    for args, old, new in steps:
        result = invoke("config", *args)
        assert result.code == 0, result.err
        assert expected.count(old) == 1
        expected = expected.replace(old, new)
        assert path.read_text() == expected, args
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


@pytest.mark.parametrize(
    ("text", "args", "written"),
    [
        # dotted keys: the new key is written as tomlkit writes it, meaning the same
        ('aliases.fast = "x"\n', ["aliases.quick", "y"], 'aliases.quick = "y"\n'),
        (
            'timeout = 1.0\nprofiles.work.model = "x"\n',
            ["-p", "work", "timeout", "2"],
            "profiles.work.timeout = 2.0\n",
        ),
        # a new profile: its own [profiles.NAME] header
        ('model = "x"  # mine\n', ["-p", "home", "model", "y"], '\n[profiles.home]\nmodel = "y"\n'),
    ],
)
def test_a_new_key_means_what_was_asked(text: str, args: list[str], written: str) -> None:
    path = paths().config_file
    path.parent.mkdir(parents=True, mode=0o700)
    path.write_text(text)
    assert invoke("config", "set", *args).code == 0
    assert path.read_text() == text + written


def test_a_table_that_cannot_take_the_setting_is_named() -> None:
    path = paths().config_file
    path.parent.mkdir(parents=True, mode=0o700)
    path.write_text('profiles = { work = { model = "x" } }\n')
    result = invoke("config", "set", "-p", "home", "model", "y")
    assert result.code == 3 and f"cannot change config file {path}" in result.err
    assert len(result.err.splitlines()) == 1
    assert path.read_text() == 'profiles = { work = { model = "x" } }\n'


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["timeout", "-5"], "invalid value for timeout: '-5' must be a positive number of seconds"),
        (["-p", "work", "retries", "-1"], "invalid value for retries: '-1' must be from 0 to 10"),
        (
            ["budget_daily", "-0.5", "-p", "work"],
            "invalid value for budget_daily: '-0.5' must be an amount in USD, 0 or more",
        ),
    ],
)
def test_a_negative_number_is_a_value_refused_with_its_range(args: list[str], message: str) -> None:
    result = invoke("config", "set", *args)
    assert result.code == 2 and result.err == f"t360: error: {message}\n"
    assert not paths().config_file.exists()


def test_profile_option_works_before_and_after_a_dashed_value() -> None:
    assert invoke("config", "set", "-p", "work", "system", "--", "-x").code == 0
    assert invoke("config", "set", "system", "-y", "-p", "work").code == 0
    assert paths().config_file.read_text() == '[profiles.work]\nsystem = "-y"\n'
