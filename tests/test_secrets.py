"""The secrets guard (issue 31): what it finds, what it must let pass, and how it redacts."""

from __future__ import annotations

from pathlib import Path

import pytest

from t360cli.mockserver import MockServer
from t360cli.secrets_guard import redact, scan
from tests.helpers import KEY, chat_env, invoke, open_history, paths, repl_run

#: Made-up secrets of every kind the guard knows, each with the kind it reports.
SECRETS = {
    "private key": (
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
        "-----END OPENSSH PRIVATE KEY-----"
    ),
    "AWS access key id": "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
    "AWS secret access key": "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "GCP service-account key": (
        '{"type": "service_account", "project_id": "p", "private_key_id": "abc",'
        ' "private_key": "-----BEGIN PRIVATE KEY-----\\nMIIE\\n-----END PRIVATE KEY-----\\n"}'
    ),
    "GitHub token": "git remote set-url origin https://ghp_" + "a1B2" * 9 + "@github.com/x/y",
    "GitLab token": "CI_TOKEN glpat-" + "xY9_" * 5,
    "Slack token": "SLACK=xoxb-1234567890-abcdefghij",
    "Slack webhook": "curl https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX",
    "Stripe key": "stripe.api_key = 'sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc'",
    "Google API key": "https://maps.googleapis.com/?key=AIzaSyA" + "b1" * 16,
    "sk- API key": "export OPENAI_API_KEY sk-proj-" + "Ab3dEf6hIj9kLm2nOp5q",
    "JWT": (
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
        "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
    ),
    "password": "DB_PASSWORD=Zx8!qR2#mW9$kL4p",
    "secret": "  client_secret: 'f9A3kLq2Zx7Pw1Rt'",
    "token": '{"refresh_token": "1//0gAbCdEfGh12345XyZ"}',
}

#: Text that looks like secrets to a careless eye and must pass.
LOOKALIKES = {
    "a commit hash": "commit 9fceb02d0ae598e95dc970b74767f19372d61af8\nMerge: 1a2b3c4 5d6e7f8",
    "a UUID": "request_id: 123e4567-e89b-12d3-a456-426614174000",
    "a base64 image": (
        "![dot](data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42m"
        "Nk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==)"
    ),
    "a lockfile integrity hash": (
        '"integrity": "sha512-Hy5QB1Dnb3eRVNKtM+LL/n8DfA4iXnmn4Z7BWo1Wd5Q+Kr0UgLx0Vb3yD2yqkq8'
        'tWb8W9Q9xUq9uF+kdGK/UfXQ=="\nchecksum = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e"'
    ),
    "code that names a secret": (
        'password = os.environ["PASSWORD"]\ntoken = get_token(user)\n'
        "api_key = settings.API_KEY\nmax_tokens: MaxTokensOption = None"
    ),
    "placeholders": (
        "API_KEY=${OPENAI_API_KEY}\npassword: <your-password>\nsecret=changeme_later\n"
        "token: xxxxxxxxxxxxxxxx\nAWS_SECRET_ACCESS_KEY=[REDACTED:AWS secret access key]"
    ),
    "prose": "The password must have twelve characters or more; the token expires in an hour.",
    "a sha256 sum": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  file.tgz",
    "counts": "prompt_tokens: 1234567890123\nmax_tokens=4096",
    "words near sk-": "see sk-learn's docs, and ask-me-anything threads",
}


@pytest.mark.parametrize("kind", list(SECRETS))
def test_each_kind_of_secret_is_found_and_never_echoed(kind: str) -> None:
    text = "line one\n" + SECRETS[kind]
    found = scan(text, "stdin")
    assert [f.kind for f in found] == [kind]
    assert found[0].describe() == f"stdin line 2: {kind}"
    shown = redact(text, found)
    assert f"[REDACTED:{kind}]" in shown
    secret = text[found[0].start : found[0].end]
    assert secret not in shown and secret not in found[0].describe()


@pytest.mark.parametrize("what", list(LOOKALIKES))
def test_lookalikes_pass(what: str) -> None:
    assert scan(LOOKALIKES[what], "prompt") == []


def test_the_users_own_key_is_found_whatever_it_looks_like() -> None:
    key = "plainwordkey"  # no rule would call this a secret
    found = scan(f"my key is {key}, twice: {key}", "prompt", known=[key])
    assert [(f.kind, f.line) for f in found] == [("your t360 API key", 1)] * 2


def test_offsets_survive_letters_whose_lower_case_is_longer() -> None:
    text = "\u0130\u0130\u0130 token=Ab12Cd34Ef56Gh78"
    (found,) = scan(text, "prompt")
    assert text[found.start : found.end] == "Ab12Cd34Ef56Gh78"


def test_line_numbers_count_every_finding_in_order() -> None:
    text = "".join(f"line {n}\nDB_PASSWORD=Zx8!qR2#mW9$kL4p{n}\n" for n in range(300))
    assert [f.line for f in scan(text, "f")] == [2 * n + 2 for n in range(300)]


# -- the guard on what is sent, end to end -------------------------------------------------

AWS = "AKIAIOSFODNN7EXAMPLE"
PASSWORD = "DB_PASSWORD=Zx8!qR2#mW9$kL4p"


def test_refused_by_default_nothing_sent_nothing_saved(server: MockServer, tmp_path: Path) -> None:
    env_file = tmp_path / "app.env"
    env_file.write_text(f"DEBUG=1\n{PASSWORD}\n")
    result = invoke(
        "chat", "-m", "echo", "-f", str(env_file), "what is wrong?",
        input=f"log line\naws key {AWS}\n", env=chat_env(server),
    )  # fmt: skip
    assert result.code == 6
    assert "stdin line 2: AWS access key id" in result.err
    assert f"{env_file} line 2: password" in result.err
    assert "--allow-secrets" in result.err and "secrets redact" in result.err
    assert AWS not in result.err and "Zx8!" not in result.err
    assert server.calls == []
    with open_history() as history:
        assert history.latest() is None


def test_redact_sends_and_saves_the_redacted_text(server: MockServer) -> None:
    env = chat_env(server, T360_SECRETS="redact")
    result = invoke("chat", "-m", "echo", f"check {PASSWORD} and {AWS}", env=env)
    assert result.code == 0, result.err
    sent = server.calls[-1].body["messages"][-1]["content"]
    assert sent == "check DB_PASSWORD=[REDACTED:password] and [REDACTED:AWS access key id]"
    assert "2 secrets redacted" in result.err
    with open_history() as history:
        saved = [m.content for m in history.messages(history.latest() or "")]
    assert AWS not in " ".join(saved)


@pytest.mark.parametrize("how", ["warn", "--allow-secrets"])
def test_warn_and_allow_send_as_is_and_say_so(server: MockServer, how: str) -> None:
    extra = {"T360_SECRETS": "warn"} if how == "warn" else {}
    flags = [how] if how.startswith("--") else []
    result = invoke("chat", "-m", "echo", *flags, f"key {AWS}", env=chat_env(server, **extra))
    assert result.code == 0, result.err
    assert AWS in server.calls[-1].body["messages"][-1]["content"]
    assert "prompt line 1: AWS access key id" in result.err and "sent as they are" in result.err


def test_the_users_own_keys_are_never_sent(server: MockServer) -> None:
    config = paths().config_file
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[profiles.work]\napi_key = "plain-work-key-0001"\n')
    result = invoke("chat", "-m", "echo", "is plain-work-key-0001 ok?", env=chat_env(server))
    assert result.code == 6 and "prompt line 1: your t360 API key" in result.err
    own = invoke("chat", "-m", "echo", f"mine: {KEY}", env=chat_env(server))
    assert own.code == 6 and "your t360 API key" in own.err
    assert server.calls == []


def test_t360_cmd_is_guarded_too(server: MockServer) -> None:
    result = invoke("cmd", "-m", "echo", f"upload with key {AWS}", env=chat_env(server))
    assert result.code == 6 and "prompt line 1: AWS access key id" in result.err
    assert server.calls == []


def test_the_repl_refuses_a_secret_and_goes_on(server: MockServer) -> None:
    result = repl_run(f"here is {AWS}", "plain question", args=("-m", "echo"), env=chat_env(server))
    assert result.code == 0
    assert "prompt line 1: AWS access key id" in result.err and "nothing was sent" in result.err
    assert [c.body["messages"][-1]["content"] for c in server.calls] == ["plain question"]
