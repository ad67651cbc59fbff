"""Profiles, model aliases, roles, api_key_cmd and --editor (issue 17)."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from t360cli.config import resolve
from t360cli.errors import UsageError
from t360cli.mockserver import MockServer
from tests.helpers import KEY, chat_env, invoke, paths, run_t360, spawn_t360

PROMPT = "\u203a"


def write_config(text: str) -> Path:
    path = paths().config_file
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(text)
    path.chmod(0o600)
    return path


def write_role(name: str, text: str) -> Path:
    folder = paths().config_dir / "roles"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.md"
    path.write_text(text)
    return path


@pytest.fixture
def second_server() -> Iterator[MockServer]:
    with MockServer() as running:
        yield running


# -- precedence -------------------------------------------------------------------------

LAYERS = ["flag", "role", "profile", "env", "file"]


@pytest.mark.parametrize("present", [LAYERS[i:] for i in range(len(LAYERS))] + [[]])
@pytest.mark.parametrize(("setting", "variable"), [("model", "T360_MODEL"), ("system", None)])
def test_precedence_flag_role_profile_env_file_default(
    present: list[str], setting: str, variable: str | None
) -> None:
    """Each row removes the highest layer left: the next one must win."""
    file: dict[str, object] = {}
    if "file" in present:
        file[setting] = "from-file"
    if "profile" in present:
        file["profiles"] = {"work": {setting: "from-profile"}}
    env = {variable: "from-env"} if variable and "env" in present else {}
    role = {setting: "from-role"} if "role" in present else None
    flags = {setting: "from-flag"} if "flag" in present else {}
    flags["profile"] = "work" if "profile" in present else None
    settings, _ = resolve(flags, env, file, role=role, role_name="r")
    expected = next(
        (layer for layer in present if layer != "env" or variable is not None), "default"
    )
    value = getattr(settings, setting)
    if expected == "default":
        assert settings.sources[setting] == "default"
    else:
        assert (value, settings.sources[setting]) == (f"from-{expected}", expected)


def test_a_profile_beats_the_environment_and_is_chosen_by_variable_too() -> None:
    file = {"profiles": {"work": {"base_url": "https://work.example/v1"}}}
    env = {"T360_BASE_URL": "https://env.example/v1", "T360_PROFILE": "work"}
    settings, _ = resolve({}, env, file)
    assert (settings.base_url, settings.profile) == ("https://work.example/v1", "work")


def test_an_unknown_profile_is_a_usage_error_naming_the_known_ones() -> None:
    with pytest.raises(UsageError, match="unknown profile 'nope'") as caught:
        resolve({"profile": "nope"}, {}, {"profiles": {"work": {}, "home": {}}})
    assert caught.value.hint == "known profiles: home, work"
    result = invoke("chat", "-p", "nope", "hi", env={"T360_API_KEY": KEY})
    assert result.code == 2 and "unknown profile 'nope'" in result.err


def test_aliases_apply_to_the_model_wherever_it_comes_from() -> None:
    file = {"aliases": {"fast": "glm-5.1-air"}, "profiles": {"p": {"model": "fast"}}}
    assert resolve({"model": "fast"}, {}, file)[0].model == "glm-5.1-air"
    assert resolve({"profile": "p"}, {}, file)[0].model == "glm-5.1-air"
    assert resolve({}, {}, file, role={"model": "fast"})[0].model == "glm-5.1-air"
    assert resolve({"model": "other"}, {}, file)[0].model == "other"


# -- profiles end to end ----------------------------------------------------------------


def test_a_profile_routes_to_its_gateway_with_the_key_from_its_command(
    server: MockServer, second_server: MockServer
) -> None:
    write_config(
        f'base_url = "{server.url}"\n'
        f'api_key = "{KEY}"\n'
        "[profiles.work]\n"
        f'base_url = "{second_server.url}"\n'
        "api_key_cmd = \"printf 'sk-from-command-0123456789\\\\n'\"\n"
        'model = "echo"\n'
    )
    home = run_t360("chat", "-m", "echo", "to the default")
    assert home.out == "to the default\n" and len(server.calls) == 1
    work = run_t360("chat", "-p", "work", "to work")
    assert work.out == "to work\n", work.err
    call = second_server.calls[0]
    assert call.headers["authorization"] == "Bearer sk-from-command-0123456789"
    assert len(server.calls) == 1
    by_variable = run_t360("chat", "again", env={"T360_PROFILE": "work"})
    assert by_variable.out == "again\n" and len(second_server.calls) == 2


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("echo sk-leaked-0123456789; exit 7", "failed with exit status 7"),
        ("true", "printed nothing"),
        ("printf 'sk-two words'", "has a space"),
    ],
)
def test_a_failing_api_key_cmd_is_exit_3_without_its_output(
    server: MockServer, command: str, message: str
) -> None:
    write_config(f'base_url = "{server.url}"\napi_key_cmd = {json.dumps(command)}\n')
    result = invoke("chat", "-m", "echo", "hi")
    assert result.code == 3 and "api_key_cmd" in result.err and message in result.err
    assert "leaked" not in result.err and "two words" not in result.err
    assert server.calls == []


def test_config_show_never_runs_api_key_cmd(tmp_path: Path, server: MockServer) -> None:
    marker = tmp_path / "ran"
    command = f"touch {shlex.quote(str(marker))}; echo sk-from-command-0123456789"
    write_config(
        f'base_url = "{server.url}"\n[profiles.work]\napi_key_cmd = {json.dumps(command)}\n'
    )
    for args in (
        ["config", "show"],
        ["config", "show", "-p", "work"],
        ["config", "show", "--json"],
    ):
        result = invoke(*args)
        assert result.code == 0, result.err
        assert not marker.exists()
    shown = invoke("config", "show", "-p", "work").out
    assert f"api_key          (from api_key_cmd: {command})  (profile)" in shown
    assert f"[profiles.work] api_key_cmd = {command}" in shown
    assert invoke("chat", "-p", "work", "-m", "echo", "hi").code == 0
    assert marker.exists()


@pytest.mark.parametrize("profile", [None, "work"])
def test_config_get_api_key_names_its_api_key_cmd_without_running_it(
    tmp_path: Path, profile: str | None
) -> None:
    marker = tmp_path / "ran"
    command = f"touch {shlex.quote(str(marker))}; echo sk-from-command-0123456789"
    header = f"[profiles.{profile}]\n" if profile else ""
    write_config(f"{header}api_key_cmd = {json.dumps(command)}\n")
    result = invoke("config", "get", "api_key", env={"T360_PROFILE": profile or ""})
    assert result.code == 0 and result.out == f"(from api_key_cmd: {command})\n"
    assert not marker.exists()


def test_config_set_and_unset_in_a_profile_and_aliases() -> None:
    assert invoke("config", "set", "-p", "work", "model", "gpt-5").code == 0
    assert invoke("config", "set", "-p", "work", "api_key_cmd", "pass show llm/work").code == 0
    assert invoke("config", "set", "aliases.fast", "glm-5.1-air").code == 0
    text = paths().config_file.read_text()
    assert '[profiles.work]\nmodel = "gpt-5"\napi_key_cmd = "pass show llm/work"' in text
    assert '[aliases]\nfast = "glm-5.1-air"' in text
    shown = json.loads(invoke("config", "show", "--json", "-p", "work").out)
    assert shown["model"] == {"value": "gpt-5", "source": "profile"}
    assert shown["aliases"] == {"fast": "glm-5.1-air"}
    assert invoke("config", "unset", "-p", "work", "model").code == 0
    assert invoke("config", "unset", "aliases.fast").code == 0
    text = paths().config_file.read_text()
    assert "gpt-5" not in text and "glm-5.1-air" not in text
    refused = invoke("config", "unset", "-p", "nope", "model")
    assert refused.code == 2 and "unknown profile" in refused.err
    assert invoke("config", "set", "aliases.", "x").code == 2


# -- aliases end to end -----------------------------------------------------------------


def test_an_alias_sends_its_target(server: MockServer) -> None:
    write_config('[aliases]\nfast = "echo"\nquick = "lorem:3"\n')
    result = invoke("chat", "-m", "fast", "aliased", env=chat_env(server))
    assert result.out == "aliased\n" and server.calls[-1].body["model"] == "echo"
    bench = invoke("bench", "-m", "quick", "-n", "1", "--json", env=chat_env(server))
    assert list(json.loads(bench.out)) == ["lorem:3"]
    table = invoke("models", env=chat_env(server), tty=True, columns=200)
    echo_row = next(line for line in table.out.splitlines() if line.startswith("echo "))
    assert "fast" in echo_row
    piped = invoke("models", env=chat_env(server))
    assert "fast" not in piped.out and "echo\n" in piped.out  # one id per line, as before


# -- roles ------------------------------------------------------------------------------


def test_a_role_from_the_config_with_a_template_and_stdin(server: MockServer) -> None:
    write_config(
        "[roles.reviewer]\n"
        'system = "You are a strict code reviewer."\n'
        'prompt = "Review this:\\n\\n{input}"\n'
        'model = "recall"\n'
        "temperature = 0.2\n"
        "options = { top_p = 0.9, seed = 1 }\n"
    )
    result = invoke(
        "chat",
        "-r",
        "reviewer",
        "-o",
        "seed=7",
        "main.py",
        input="print(1)\n",
        env=chat_env(server),
    )
    assert result.code == 0, result.err
    body = server.calls[-1].body
    assert body["model"] == "recall" and body["temperature"] == 0.2
    assert body["top_p"] == 0.9 and body["seed"] == 7  # -o beats the role's options
    assert body["messages"][0] == {"role": "system", "content": "You are a strict code reviewer."}
    assert body["messages"][1]["content"] == "Review this:\n\nmain.py\n\nprint(1)"
    flag_wins = invoke(
        "chat", "-r", "reviewer", "-m", "echo", "--temperature", "1", "x", env=chat_env(server)
    )
    assert flag_wins.code == 0
    assert (server.calls[-1].body["model"], server.calls[-1].body["temperature"]) == ("echo", 1.0)


def test_a_role_file_with_front_matter(server: MockServer) -> None:
    write_role(
        "poet",
        '+++\nmodel = "recall"\nprompt = "A haiku about {input}"\n+++\n'
        "You write haiku.\nNothing else.\n",
    )
    result = invoke("chat", "-r", "poet", "the sea", env=chat_env(server))
    assert result.code == 0, result.err
    messages = server.calls[-1].body["messages"]
    assert messages[0]["content"] == "You write haiku.\nNothing else."
    assert messages[1]["content"] == "A haiku about the sea"
    listed = invoke("roles")
    assert listed.out == "poet\trecall\tYou write haiku.\n"


def test_role_mistakes_are_clear(server: MockServer) -> None:
    write_config('[roles.tmpl]\nprompt = "Fix: {input}"\n[roles.bad]\nmodle = "x"\n')
    empty = invoke("chat", "-r", "tmpl", "-n", env=chat_env(server))
    assert empty.code == 2 and "needs your text" in empty.err
    unknown = invoke("chat", "-r", "nope", "hi", env=chat_env(server))
    assert unknown.code == 2 and "unknown role 'nope'" in unknown.err
    assert invoke("chat", "-r", "bad", "hi", env=chat_env(server)).code == 3
    write_config('[roles.twice]\nsystem = "a"\n')
    write_role("twice", "b")
    assert invoke("roles").code == 3
    assert server.calls == []


def test_role_in_the_repl(server: MockServer) -> None:
    write_config('[roles.shout]\nsystem = "SHOUT"\nprompt = "loud: {input}"\nmodel = "recall"\n')
    env = chat_env(server, PROMPT_TOOLKIT_NO_CPR="1", T360_MODEL="echo")  # a role beats env
    child = spawn_t360("chat", env=env, encoding="utf-8")
    child.expect(PROMPT)
    child.sendline("/role shout")
    child.expect_exact("role: shout · model: recall")
    child.expect(PROMPT)
    child.sendline("hello")
    child.expect_exact("system: SHOUT; you said: loud: hello")
    child.expect(PROMPT)
    child.sendline("/role")
    child.expect_exact("no role · model: echo")
    child.expect(PROMPT)
    child.sendline("plain")
    child.expect_exact("plain")
    child.expect(PROMPT)
    child.sendline("/role nope")
    child.expect_exact("unknown role 'nope'")
    child.expect(PROMPT)
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert server.calls[-1].body["messages"][-1]["content"] == "plain"


# -- --editor -----------------------------------------------------------------------------


def fake_editor(tmp_path: Path, body: str) -> str:
    """An editor that appends to what it was given (or empties it, for body '')."""
    script = tmp_path / "editor.sh"
    action = f'printf "%s" {shlex.quote(body)} >> "$1"' if body else ': > "$1"'
    script.write_text(f"#!/bin/sh\n{action}\n")
    script.chmod(0o755)
    return str(script)


def test_editor_writes_the_prompt_prefilled_with_the_arguments(
    server: MockServer, tmp_path: Path
) -> None:
    env = chat_env(server, EDITOR=fake_editor(tmp_path, " and more"), VISUAL="")
    result = run_t360("chat", "-m", "echo", "--editor", "start", env=env)
    assert result.out == "start\n and more\n", result.err  # the draft ends its line
    with_stdin = run_t360("chat", "-m", "echo", "--editor", "x", input=b"piped", env=env)
    assert with_stdin.out == "x\n and more\n\npiped\n"


def test_an_emptied_editor_sends_nothing(server: MockServer, tmp_path: Path) -> None:
    env = chat_env(server, VISUAL=fake_editor(tmp_path, ""))
    result = run_t360("chat", "-m", "echo", "--editor", "draft", env=env)
    assert result.code == 2 and "empty prompt" in result.err
    assert server.calls == []


# -- completion -------------------------------------------------------------------------


def test_profiles_roles_and_aliases_complete_in_bash(server: MockServer) -> None:
    from tests.test_completion import bash_complete, shell_env

    write_config(
        '[profiles.work]\nmodel = "echo"\n[profiles.home]\nmodel = "echo"\n'
        '[aliases]\nfast = "echo"\n[roles.reviewer]\nsystem = "Review."\n'
    )
    env = {**shell_env(server), "XDG_CONFIG_HOME": os.environ["XDG_CONFIG_HOME"]}
    assert bash_complete("t360 chat -p w", env) == ["work"]
    assert bash_complete("t360 chat -r rev", env) == ["reviewer"]
    assert bash_complete("t360 chat -m fa", env) == ["fast"]
    assert sorted(bash_complete("t360 config show -p ", env)) == ["home", "work"]
