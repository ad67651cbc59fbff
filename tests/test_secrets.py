"""The secrets guard (issue 31): what it finds, what it must let pass, and how it redacts."""

from __future__ import annotations

import pytest

from t360cli.secrets_guard import redact, scan

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
