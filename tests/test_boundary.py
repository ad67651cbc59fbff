"""Regression tests for the adversarial probe of 0.1 (issue 13): a hostile gateway, special
files, odd values, closed pipes and signals. Each one failed before its fix."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pexpect
import pytest

from t360cli.mockserver import MockServer
from tests.helpers import (
    KEY,
    T360,
    chat_env,
    invoke,
    open_history,
    paths,
    peak_memory_kib,
    run_t360,
    spawn_t360,
)

#: What the hostile gateway sends for a terminal to act on: OSC (title, clipboard), clear
#: screen, BEL, a C1 CSI, bidi overrides and isolates. (t360's own styling is allowed.)
UNSAFE = ["\x1b]", "\x1b[2J", "\x07", "\x9b", "\u202e", "\u2066", "\u2069"]


def strict_json(text: str) -> object:
    """JSON that Python's lenient parser would accept but a strict one would not fails."""

    def refuse(name: str) -> object:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def assert_inert(text: str) -> None:
    for char in UNSAFE:
        assert char not in text, f"{char!r} reached the terminal"


# -- 1. escapes from the gateway --------------------------------------------------------


def test_escapes_in_model_provider_and_finish_reason_never_reach_the_terminal(
    server: MockServer,
) -> None:
    env = chat_env(server)
    shown = invoke("chat", "-m", "evil-meta", "hi", env=env, tty=True)
    assert shown.code == 0
    assert "fine text" in shown.out
    assert "pwned title" in shown.err  # shown, as inert text
    assert_inert(shown.out + shown.err)
    as_json = invoke("chat", "--json", "-m", "evil-meta", "hi", env=env, tty=True)
    assert_inert(as_json.out)
    obj = strict_json(as_json.out)
    assert isinstance(obj, dict) and obj["finish_reason"] == "stop\x9b31m"  # data kept exact
    # the saved copies, replayed on a terminal
    for args in (
        ["stats", "--csv"],
        ["stats"],
        ["stats", "--json"],
        ["history", "list"],
        ["history", "show", obj["conversation_id"]],
        ["history", "export", obj["conversation_id"], "--format", "json"],
    ):
        replay = invoke(*args, tty=True, columns=200)
        assert replay.code == 0, (args, replay.err)
        assert_inert(replay.out + replay.err)
    # ...and exact in a pipe, for scripts
    piped = invoke("stats", "--csv")
    assert "\x1b]52;c;" in piped.out or "\x1b]0;pwned" in piped.out


def test_escapes_in_an_error_message_are_made_inert(server: MockServer) -> None:
    result = invoke("chat", "-m", "error-mid", "hi", env=chat_env(server), tty=True)
    assert result.code == 4
    assert_inert(result.err)


# -- 2. special files ---------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["-f", "--system-file"])
def test_dev_zero_is_refused_without_growing_memory(server: MockServer, flag: str) -> None:
    code, peak = peak_memory_kib("chat", flag, "/dev/zero", "hi", env=chat_env(server))
    assert code == 2
    assert peak < 100 * 1024, f"{peak} KiB"
    result = run_t360("chat", flag, "/dev/zero", "hi", env=chat_env(server))
    assert "/dev/zero" in result.err and "not a regular file" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert server.calls == []


def test_a_fifo_is_refused_instead_of_hanging(server: MockServer, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result = run_t360("chat", "-f", str(fifo), "hi", env=chat_env(server))
    assert result.code == 2 and "not a regular file" in result.err
    directory = run_t360("chat", "-a", str(tmp_path), "hi", env=chat_env(server))  # -f reads one
    assert directory.code == 2 and "directory" in directory.err


def test_a_file_over_the_limit_is_refused_whatever_it_claims(
    server: MockServer, tmp_path: Path
) -> None:
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * (4 * 2**20 + 1))
    result = invoke("chat", "-f", str(big), "hi", env=chat_env(server))
    assert result.code == 2 and "is over 4 MB" in result.err


# -- 3. compressed bodies -----------------------------------------------------------------


def test_a_gzip_answer_is_decoded(server: MockServer) -> None:
    result = invoke("chat", "-m", "gzip", "hi", env=chat_env(server))
    assert (result.code, result.out) == (0, "packed\n")


def test_a_gzip_bomb_stops_at_the_line_limit_in_decoded_bytes(server: MockServer) -> None:
    code, peak = peak_memory_kib("chat", "-m", "gzip-bomb", "hi", env=chat_env(server))
    assert code == 4
    assert peak < 150 * 1024, f"{peak} KiB for 200 KB of gzip"


def test_a_body_flagged_gzip_that_is_not_is_an_api_error(server: MockServer) -> None:
    result = invoke("chat", "-m", "bad-gzip", "--retries", "0", "hi", env=chat_env(server))
    assert result.code == 4 and "not valid gzip" in result.err
    assert "internal error" not in result.err


# -- 4. the key echoed by the server ------------------------------------------------------


def test_an_echoed_key_is_never_stored_exported_or_shown(server: MockServer) -> None:
    env = chat_env(server)
    result = invoke("chat", "--json", "-m", "echo-key", "hi", env=env)
    assert result.code == 3
    secret = KEY[3:]  # without the sk- that is public anyway
    encoded = __import__("base64").b64encode(f"Bearer {KEY}".encode()).decode()
    for text in (result.out, result.err):
        assert secret[:8] not in text and encoded[8:24] not in text
    assert "[redacted]" in result.out
    conversation = json.loads(result.out)["conversation_id"]
    stored = paths().history_db.read_bytes()
    for suffix in ("-wal", "-shm"):
        extra = paths().history_db.with_name(paths().history_db.name + suffix)
        stored += extra.read_bytes() if extra.exists() else b""
    assert secret[:8].encode() not in stored and encoded[8:24].encode() not in stored
    exported = invoke("history", "export", conversation, "--format", "json")
    assert secret[:8] not in exported.out and encoded[8:24] not in exported.out


# -- 5. a malformed key -------------------------------------------------------------------


@pytest.mark.parametrize("key", [f"{KEY}\n{KEY}", "sk-ключ-0123456789", f"{KEY} x"])
def test_a_malformed_key_is_exit_3_never_shown_never_sent(server: MockServer, key: str) -> None:
    result = invoke("chat", "--json", "-m", "echo", "hi", env=chat_env(server, T360_API_KEY=key))
    assert result.code == 3
    assert "invalid API key from T360_API_KEY" in result.err
    assert KEY[3:] not in result.out + result.err and "ключ" not in result.out + result.err
    assert strict_json(result.out)  # the one JSON object, even so
    assert server.calls == []  # not sent, not retried


# -- 6. credentials in the base URL -------------------------------------------------------


def test_a_password_in_the_base_url_is_refused_and_never_printed(server: MockServer) -> None:
    url = server.url.replace("http://", "http://user:hunter2@")
    for env in (
        chat_env(server, T360_BASE_URL=url),
        {**chat_env(server), "T360_DEBUG": "1", "T360_BASE_URL": url},
    ):
        result = invoke("chat", "-m", "echo", "hi", env=env)
        assert result.code == 3 and "hunter2" not in result.err
        assert "user:***@" in result.err
    as_flag = invoke("chat", "--base-url", url, "hi", env=chat_env(server))
    assert as_flag.code == 3 and "hunter2" not in as_flag.err
    assert server.calls == []


# -- 7. numbers that are not numbers ------------------------------------------------------


def test_usage_that_cannot_be_true_is_unavailable_and_json_stays_strict(
    server: MockServer,
) -> None:
    result = invoke("chat", "--json", "-m", "bad-usage", "hi", env=chat_env(server))
    assert result.code == 0, result.err
    obj = strict_json(result.out)
    assert isinstance(obj, dict)
    assert obj["usage"] == {
        "prompt_tokens": None,
        "completion_tokens": None,
        "total_tokens": None,
        "cost": None,
    }
    debug = invoke("chat", "--debug", "-m", "bad-usage", "hi", env=chat_env(server))
    assert "usage: prompt_tokens, completion_tokens, total_tokens, cost not a plausible" in (
        debug.err
    )
    stats = invoke("stats", "--json")
    assert stats.code == 0 and strict_json(stats.out)


def test_stats_json_is_strict_even_over_an_old_history_with_infinities(
    server: MockServer,
) -> None:
    assert invoke("chat", "-m", "echo", "hi", env=chat_env(server)).code == 0
    db = sqlite3.connect(paths().history_db)
    with db:
        db.execute("UPDATE responses SET cost = 9e999, ttft_ms = 9e999")
    db.close()
    result = invoke("stats", "--json")
    assert result.code == 0 and strict_json(result.out)


# -- exit codes that were "internal error" --------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--temperature", "nan", "hi"], 2, "--temperature"),
        (["--temperature", "inf", "hi"], 2, "--temperature"),
        (["--temperature", "1e400", "hi"], 2, "--temperature"),
        (["-o", "temperature=NaN", "hi"], 2, "not a finite number"),
        (["-o", "top_p=-Infinity", "hi"], 2, "not a finite number"),
        (["-o", 'stream_options="x"', "hi"], 2, "must be a JSON object"),
        (["   "], 2, "no prompt given"),
        (["\t\n"], 2, "no prompt given"),
        (["--base-url", "http://127.0.0.1:abc", "hi"], 2, "--base-url"),
        (["--base-url", "http://[::1", "hi"], 2, "--base-url"),
        (["--retries", "11", "hi"], 2, "from 0 to 10"),
        (["hi \udcff there"], 2, "not valid UTF-8"),
    ],
)
def test_odd_values_are_usage_errors_not_bugs(
    server: MockServer, args: list[str], code: int, message: str
) -> None:
    result = invoke("chat", "-m", "echo", *args, env=chat_env(server))
    assert result.code == code, result.err
    assert message in result.err and "internal error" not in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert server.calls == []


def test_a_prompt_argument_with_invalid_utf8_bytes_is_exit_2(server: MockServer) -> None:
    proc = subprocess.run(
        [T360, "chat", b"caf\xe9"],
        capture_output=True,
        env={**os.environ, **chat_env(server)},
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2 and b"not valid UTF-8" in proc.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("T360_API_KEY", "sk-ünïcode-0123456789", "invalid API key"),
        ("T360_BASE_URL", "http://127.0.0.1:abc", "T360_BASE_URL"),
        ("T360_BASE_URL", "http://[::1", "T360_BASE_URL"),
    ],
)
def test_bad_values_from_the_environment_are_exit_3(
    server: MockServer, variable: str, value: str, message: str
) -> None:
    result = invoke("chat", "-m", "echo", "hi", env={**chat_env(server), variable: value})
    assert result.code == 3 and message in result.err


def test_a_config_nested_5000_deep_is_exit_3() -> None:
    path = paths().config_file
    path.parent.mkdir(parents=True, mode=0o700)
    path.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    for args in (["chat", "hi"], ["config", "show"]):
        result = invoke(*args, env={"T360_API_KEY": KEY})
        assert result.code == 3 and "too deeply" in result.err


def test_retries_from_the_config_file_are_bounded() -> None:
    path = paths().config_file
    path.parent.mkdir(parents=True, mode=0o700)
    path.write_text("retries = 1000000\n")
    result = invoke("chat", "hi", env={"T360_API_KEY": KEY})
    assert result.code == 3 and "from 0 to 10" in result.err


def damage(database: Path) -> None:
    """Overwrite the first sector of every page but the schema's: what a bad disk does.

    The page's type byte is then no type, which SQLite reports on any read of the page.
    (Garbage past a page's header it may not see: a damaged cell can read as another.)"""
    page = int.from_bytes(database.read_bytes()[16:18], "big")
    with database.open("r+b") as handle:
        for offset in range(page, database.stat().st_size, page):
            handle.seek(offset)
            handle.write(b"\xff" * 512)


def test_a_damaged_history_is_exit_3_on_every_read_path(server: MockServer) -> None:
    for i in range(30):
        assert invoke("chat", "-m", "echo", f"question {i} " * 40, env=chat_env(server)).code == 0
    with open_history() as history:
        history.query("PRAGMA wal_checkpoint(TRUNCATE)")
    damage(paths().history_db)
    for args in (
        ["history", "list"],
        ["stats"],
        ["stats", "--json"],
        ["history", "search", "question"],
        ["chat", "-c", "again"],
    ):
        result = invoke(*args, env=chat_env(server))
        assert result.code == 3, (args, result.code, result.err)
        assert "move the file aside" in result.err and "internal error" not in result.err


def test_failed_turns_are_recorded_as_errors(server: MockServer) -> None:
    failing = ["status:500", "status:404", "error-mid", "truncated", "drop", "html-502", "bad-gzip"]
    for model in failing:
        result = invoke("chat", "-m", model, "--retries", "0", "hi", env=chat_env(server))
        assert result.code in (4, 5), (model, result.err)
    by_model = json.loads(invoke("stats", "--json").out)["by_model"]
    assert sum(summary["errors"] for summary in by_model.values()) == len(failing)


def test_a_nested_error_object_is_shown_as_json(server: MockServer) -> None:
    result = invoke("chat", "-m", "nested-error", "hi", env=chat_env(server))
    assert result.code == 4
    assert '{"detail": "bad field", "field": "messages"}' in result.err
    assert "{'detail'" not in result.err


# -- 8. a served id that differs from the requested one -------------------------------------


def test_bench_and_stats_report_by_the_requested_id(server: MockServer) -> None:
    result = invoke("bench", "-m", "alias:real-model-7", "-n", "2", "--json", env=chat_env(server))
    assert result.code == 0, result.err
    obj = json.loads(result.out)
    assert list(obj) == ["alias:real-model-7"]
    assert obj["alias:real-model-7"]["requests"] == 2
    assert obj["alias:real-model-7"]["served_as"] == ["real-model-7"]
    table = invoke("bench", "-m", "alias", "-n", "1", env=chat_env(server))
    assert "alias (served as echo-2026-01-01)" in table.out
    assert invoke("chat", "-m", "alias", "hi", env=chat_env(server)).code == 0
    stats = json.loads(invoke("stats", "--json").out)
    assert stats["by_model"]["alias"]["served_as"] == ["echo-2026-01-01"]
    assert "alias (served as echo-2026-01-01)" in invoke("stats", columns=200, tty=True).out


# -- 9. closed pipes and full disks -------------------------------------------------------


def into(
    server: MockServer, args: list[str], *, stdout: Any, stderr: Any
) -> subprocess.CompletedProcess[bytes]:
    """The installed t360 with these streams (a pipe, a file, a descriptor), stdin empty."""
    return subprocess.run(
        [T360, *args],
        stdout=stdout,
        stderr=stderr,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **chat_env(server)},
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["chat", "--json", "-m", "echo", "hi"],
        ["chat", "-m", "lorem:2000", "hi"],
        ["models"],
        ["stats"],
        ["stats", "--json"],
        ["history", "list"],
        ["config", "show"],
        ["config", "path"],
        ["bench", "-m", "echo", "-n", "1"],
        ["--help"],
        ["--version"],
        ["chat", "--help"],
    ],
)
def test_a_closed_stdout_pipe_is_exit_0_and_silent(server: MockServer, args: list[str]) -> None:
    invoke("chat", "-m", "echo", "so that history and stats have rows", env=chat_env(server))
    read, write = os.pipe()
    os.close(read)  # the reader is gone before t360 writes a byte
    try:
        proc = into(server, args, stdout=write, stderr=subprocess.PIPE)
    finally:
        os.close(write)
    assert proc.returncode == 0, proc.stderr
    assert b"Traceback" not in proc.stderr and b"Broken pipe" not in proc.stderr
    assert b"error" not in proc.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["chat", "-m", "lorem:2000", "hi"],
        ["chat", "--json", "-m", "echo", "hi"],
        ["models"],
        ["stats"],
        ["history", "list"],
        ["config", "path"],
        ["--help"],
        ["--version"],
        ["chat", "--help"],
    ],
)
def test_output_the_system_will_not_take_is_one_line_and_exit_3(
    server: MockServer, args: list[str]
) -> None:
    invoke("chat", "-m", "echo", "so that history and stats have rows", env=chat_env(server))
    with Path("/dev/full").open("w") as full:  # every write: ENOSPC, as on a full disk
        proc = into(server, args, stdout=full, stderr=subprocess.PIPE)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.decode() == (
        "t360: error: cannot write the output: No space left on device;"
        " check the disk, or where the output goes\n"
    )
    if args[1:3] == ["-m", "lorem:2000"]:  # what was streamed before it failed is kept
        with open_history() as history:
            answer = history.messages(history.latest() or "")[-1]
        assert answer.partial and answer.content.startswith("Lorem")
        assert answer.error == "cannot write the output: No space left on device"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["chat", "-m", "echo", "hi"], 0),
        (["chat", "-m", "status:500", "--retries", "0", "hi"], 4),
        (["chat", "-m", "echo", "--no-such-flag", "hi"], 2),
        (["chat", "-m", "rate-limit:1", "hi"], 0),  # its countdown goes to stderr
    ],
)
def test_a_stderr_that_takes_nothing_never_changes_the_outcome(
    server: MockServer, args: list[str], code: int
) -> None:
    """Diagnostics that cannot be shown (``2> /dev/full``) are dropped: the answer still
    reaches stdout and the exit code is the run's own."""
    with Path("/dev/full").open("w") as full:
        proc = into(server, args, stdout=subprocess.PIPE, stderr=full)
    assert proc.returncode == code
    assert proc.stdout == (b"hi\n" if code == 0 else b"")


# -- 10. SIGHUP (one-shots: test_history, beside SIGINT, SIGTERM and SIGKILL) ---------------


def test_a_hangup_ends_the_repl_after_saving_the_turn(server: MockServer) -> None:
    child = spawn_t360("chat", "-m", "slow:100", env=chat_env(server, PROMPT_TOOLKIT_NO_CPR="1"))
    child.expect("\u203a".encode())
    child.sendline(b"go")
    child.expect(b"Lorem")
    child.kill(signal.SIGHUP)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus is not None  # it left by itself, not killed by the signal
    with open_history() as history:
        answer = history.messages(history.latest() or "")[-1]
    assert answer.partial and answer.error == "interrupted"


# -- 11. the footer -------------------------------------------------------------------------


@pytest.mark.parametrize("columns", [40, 60, 80])
def test_the_footer_fits_the_terminal_width(server: MockServer, columns: int) -> None:
    result = invoke(
        "chat",
        "-m",
        "alias:a-long-served-model-id",
        "hi",
        env=chat_env(server),
        tty=True,
        columns=columns,
    )
    footer = result.err.strip().splitlines()[-1]
    assert len(footer.replace("\x1b[2m", "").replace("\x1b[0m", "")) < columns
    assert "TTFT" in footer


def test_a_failed_turn_shows_one_error_line_and_no_footer(server: MockServer) -> None:
    result = invoke("chat", "-m", "status:404", "hi", env=chat_env(server))
    assert result.code == 4
    assert result.err.strip().splitlines() == [
        "t360: error: HTTP 404 from the gateway: mock error 404; "
        "check --model (t360 models lists them) and --base-url"
    ]


def test_stats_show_tokens_of_answers_without_usage_as_unavailable(server: MockServer) -> None:
    assert invoke("chat", "-m", "no-usage", "hi", env=chat_env(server)).code == 0
    row = invoke("stats", tty=True, columns=200).out.splitlines()[1:3]
    no_usage = next(line for line in row if line.startswith("no-usage"))
    assert no_usage.split()[-3:] == ["n/a", "n/a", "n/a"]
    summary = json.loads(invoke("stats", "--json").out)["by_model"]["no-usage"]
    assert summary["prompt_tokens"] is None and summary["completion_tokens"] is None


def test_an_open_config_directory_is_warned_about_and_tightened_on_write() -> None:
    directory = paths().config_dir
    directory.mkdir(parents=True)
    directory.chmod(0o777)
    shown = invoke("config", "show")
    assert "readable or writable by others" in shown.err and "chmod 700" in shown.err
    assert invoke("config", "set", "model", "echo").code == 0
    assert directory.stat().st_mode & 0o777 == 0o700


def test_a_row_that_reads_back_as_the_wrong_type_is_damage_too(server: MockServer) -> None:
    """A damaged page can read back as bytes or NULL where text is promised: exit 3 like
    any damage, not an internal error (it once failed a CI run, read garbage)."""
    assert invoke("chat", "-m", "echo", "hi", env=chat_env(server)).code == 0
    db = sqlite3.connect(paths().history_db)
    with db:
        db.execute("UPDATE conversations SET model = x'ff00'")
    db.close()
    result = invoke("history", "list", env=chat_env(server))
    assert result.code == 3 and "reads back damaged" in result.err
    assert "internal error" not in result.err
