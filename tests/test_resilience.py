"""Fault injection against the stand-in server: retries, timeouts, interruptions, memory."""

from __future__ import annotations

import subprocess
import sys

import pexpect

from t360cli.mockserver import MockServer
from tests.helpers import chat_env, peak_memory_kib, run_t360, spawn_t360


def test_retry_after_is_honoured_between_real_requests(server: MockServer) -> None:
    result = run_t360("chat", "-m", "rate-limit:1", "hi", env=chat_env(server))
    assert (result.code, result.out) == (0, "hi\n")
    first, second = server.calls
    assert second.at - first.at >= 1.0  # Retry-After: 1
    assert "HTTP 429 from the gateway: Rate limit exceeded" in result.err  # the notice line
    assert "retry 1 in 1.0 s" in result.err and "1 retry" in result.err


def test_retry_after_ms_between_real_requests(server: MockServer) -> None:
    result = run_t360("chat", "-m", "rate-limit-ms", "hi", env=chat_env(server))
    assert result.code == 0
    first, second = server.calls
    assert second.at - first.at >= 0.25


def test_retries_are_bounded_and_quiet_hides_the_notices(server: MockServer) -> None:
    result = run_t360("chat", "-q", "-m", "flaky:5", "--retries", "1", "hi", env=chat_env(server))
    assert result.code == 4 and len(server.calls) == 2
    assert result.err.count("\n") == 1 and result.err.startswith("t360: error: HTTP 503")


def test_never_retried_once_text_was_shown(server: MockServer) -> None:
    result = run_t360("chat", "-m", "drop", "hi", env=chat_env(server))
    assert result.code == 5 and len(server.calls) == 1


def test_countdown_on_a_terminal(server: MockServer) -> None:
    child = spawn_t360("chat", "-m", "rate-limit:1", "hi", env=chat_env(server))
    child.expect(rb"retry 1 in 1 s")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_keepalive_comments_reset_the_idle_timeout(server: MockServer) -> None:
    # 2 s before the first token, a comment every 0.1 s, a 1 s idle timeout: a stall of
    # 0.9 s (the server shares this process) still passes
    result = run_t360("chat", "-m", "keepalive:2000", "--timeout", "1", "hi", env=chat_env(server))
    assert (result.code, result.out) == (0, "still here\n")
    silent = run_t360(
        "chat",
        "-m",
        "slow-first:3000",
        "--timeout",
        "1",
        "--retries",
        "0",
        "hi",
        env=chat_env(server),
    )
    assert silent.code == 5 and "no data from 127.0.0.1 for 1 s" in silent.err


def test_a_second_ctrl_c_during_clean_up_exits_at_once(server: MockServer) -> None:
    """Ctrl-C mid-answer starts the clean-up (here a sink whose close is slow); a second
    Ctrl-C during it leaves at once with 130."""
    code = (
        "import os, signal, sys, time\n"
        "from t360cli.client import Gateway\n"
        "from t360cli.config import Settings\n"
        "from t360cli.session import run_turn\n"
        "from tests.helpers import fake_environment\n"
        "class SlowSink:\n"
        "    def started(self, model): pass\n"
        "    def text(self, text): os.kill(os.getpid(), signal.SIGINT)\n"
        "    def reasoning(self, text): pass\n"
        "    def waiting(self, *args): pass\n"
        "    def close(self):\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "        time.sleep(5)\n"
        "        print('clean-up finished')\n"
        f"settings = Settings(api_key='sk-test-0123456789', base_url='{server.url}')\n"
        "payload = {'model': 'slow:200', 'messages': [], 'stream': True}\n"
        "with Gateway(settings) as gateway:\n"
        "    run_turn(fake_environment(stdout=sys.stdout), gateway, payload, SlowSink())\n"
        "print('returned')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=30, check=False
    )
    assert proc.returncode == 130, proc.stderr
    assert b"clean-up finished" not in proc.stdout and b"returned" not in proc.stdout


def test_memory_stays_bounded_for_a_stream_that_never_ends_a_line(server: MockServer) -> None:
    code, peak = peak_memory_kib("chat", "-m", "no-newline:160", "hi", env=chat_env(server))
    assert code == 4
    assert peak < 120 * 1024, f"{peak} KiB for a 160 MiB line"  # it stopped at the 16 MiB cap
