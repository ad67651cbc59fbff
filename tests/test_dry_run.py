"""--dry-run ends as the real run would: a request a guard refuses is exit 6."""

from __future__ import annotations

import json

from t360cli.mockserver import MockServer
from tests.helpers import chat_env, invoke, paths


def test_a_dry_run_a_guard_refuses_exits_6_with_the_guards_line(server: MockServer) -> None:
    path = paths().config_file
    path.parent.mkdir(parents=True, mode=0o700)
    path.write_text('[models."echo"]\ncontext_length = 8000\nprice_in = 1e-3\nprice_out = 1e-3\n')
    path.chmod(0o600)
    args = ["-m", "echo", "--max-cost", "0.000001", "hi"]
    real = invoke("chat", *args, env=chat_env(server))
    dry = invoke("chat", "--dry-run", *args, env=chat_env(server))
    assert real.code == dry.code == 6
    assert dry.err == real.err and real.err.startswith("t360: error: ")
    assert len(dry.err.splitlines()) == 1
    obj = json.loads(dry.out)  # the request is still shown, and why it would be refused
    assert dry.err == f"t360: error: {obj['refused']}\n"
    assert not [call for call in server.calls if call.path.endswith("/chat/completions")]
