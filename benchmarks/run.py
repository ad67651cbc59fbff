"""Measure t360 against the issue #7 targets, side by side with the floor client.

    .venv/bin/python benchmarks/run.py            # the full run (a few minutes)
    .venv/bin/python benchmarks/run.py --quick    # a smoke run (seconds)

Every figure is a median of several runs, and every ratio compares runs made in the same
session, interleaved, against the same local server (benchmarks/server.py). t360 runs
with its defaults (history on) in a throw-away home, so nothing is left behind.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pty
import re
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
T360 = str(BIN / "t360")
FLOOR = [sys.executable, str(HERE / "floor.py")]


@dataclass
class Run:
    wall: float  # seconds from spawn to exit
    first_byte: float | None  # seconds from spawn to the first stdout byte
    cpu: float  # user + system seconds of the child
    max_rss_kib: int
    out: bytes
    arrivals: list[tuple[float, int]]  # (monotonic time, bytes so far) per read


def run(argv: list[str], env: dict[str, str]) -> Run:
    """Run ``argv`` with stdout on a pipe, timing the first byte and every read."""
    start = time.monotonic()
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
    )
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    out = bytearray()
    arrivals: list[tuple[float, int]] = []
    first = None
    while True:
        data = os.read(fd, 1 << 16)
        if not data:
            break
        now = time.monotonic()
        if first is None:
            first = now - start
        out += data
        arrivals.append((now, len(out)))
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} exited {proc.returncode}")
    return Run(
        time.monotonic() - start,
        first,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss,
        bytes(out),
        arrivals,
    )


def tab(line: str) -> dict[str, str]:
    """The variables bash's completion script sets for a TAB at the end of ``line``."""
    words = line.split(" ")
    return {
        "_T360_COMPLETE": "complete_bash",
        "COMP_WORDS": line,
        "COMP_CWORD": str(len(words) - 1),
    }


def med(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


class Bench:
    def __init__(self, repeats: int, quick: bool) -> None:
        self.repeats = repeats
        self.quick = quick
        # An installed wheel comes with its bytecode compiled (pip does it), like the
        # floor's httpx; a checkout with PYTHONDONTWRITEBYTECODE set would compile t360's
        # own modules at every start. Measure what users run.
        import compileall

        import t360cli

        compileall.compile_dir(str(Path(t360cli.__file__).parent), quiet=1)
        self.home = tempfile.TemporaryDirectory(prefix="t360-bench-")
        self.timeline = Path(self.home.name) / "timeline.jsonl"
        self.server = subprocess.Popen(
            [sys.executable, str(HERE / "server.py"), "--timeline", str(self.timeline)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.server.stdout is not None
        self.url = self.server.stdout.readline().strip()
        home = Path(self.home.name)
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
            "T360_API_KEY": "sk-bench-0000000000",
            "T360_BASE_URL": self.url,
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_STATE_HOME": str(home / "state"),
            "XDG_CACHE_HOME": str(home / "cache"),
        }
        self.rows: list[tuple[str, str, str, str]] = []
        self.extra: list[subprocess.Popen[str]] = []  # servers started by a measure

    def close(self) -> None:
        for process in [self.server, *self.extra]:
            process.terminate()
            process.wait()
        self.home.cleanup()

    def t360(self, model: str, *extra: str) -> list[str]:
        return [T360, "chat", "-q", "-m", model, *extra, "hi"]

    def floor(self, model: str) -> list[str]:
        return [*FLOOR, self.url, model]

    def row(self, what: str, measured: str, target: str, ok: bool) -> None:
        self.rows.append((what, measured, target, "yes" if ok else "**no**"))
        print(f"  {what}: {measured} (target {target}) {'ok' if ok else 'MISSED'}", flush=True)

    def interleaved(self, runners: dict[str, Callable[[], Run]], n: int) -> dict[str, list[Run]]:
        results: dict[str, list[Run]] = {name: [] for name in runners}
        for _ in range(n):
            for name, runner in runners.items():
                results[name].append(runner())
        return results

    # -- the measurements ---------------------------------------------------------------

    def startup(self) -> None:
        print("start-up", flush=True)
        runs = self.interleaved(
            {
                "pass": lambda: run([sys.executable, "-c", "pass"], self.env),
                "re": lambda: run([sys.executable, "-c", "import re"], self.env),
                "version": lambda: run([T360, "--version"], self.env),
                "tab": lambda: run([T360], {**self.env, **tab("t360 ch")}),
                "tab model": lambda: run([T360], {**self.env, **tab("t360 chat -m ")}),
            },
            self.repeats * 2,
        )
        base = med([r.wall for r in runs["pass"]])
        version = med([r.wall for r in runs["version"]])
        wrapper = med([r.wall for r in runs["re"]]) / base  # what pip < 25's script adds
        self.row(
            "`t360 --version` vs `python -c pass`",
            f"{version * 1000:.0f} ms vs {base * 1000:.0f} ms = {version / base:.2f}x"
            f" (`python -c 'import re'`, which a script from pip < 25 runs first: {wrapper:.2f}x)",
            "≤ 1.5x",
            version / base <= 1.5,
        )
        for name, what in (("tab", "a command"), ("tab model", "a model id")):
            took = med([r.wall for r in runs[name]])
            self.row(
                f"TAB completing {what} vs `python -c pass`",
                f"{took * 1000:.0f} ms vs {base * 1000:.0f} ms = {took / base:.2f}x",
                "≤ 2x",
                took / base <= 2,
            )

    def first_byte(self) -> None:
        print("time to first byte, piped", flush=True)
        model = "bench:chunks=100,size=5"
        runs = self.interleaved(
            {
                "t360": lambda: run(self.t360(model), self.env),
                "floor": lambda: run(self.floor(model), self.env),
                "help": lambda: run([T360, "--help"], self.env),
                "chat help": lambda: run([T360, "chat", "--help"], self.env),
            },
            self.repeats * 2,
        )
        ours = med([r.first_byte or 0 for r in runs["t360"]])
        floor = med([r.first_byte or 0 for r in runs["floor"]])
        self.row(
            "first answer byte on stdout, from process start",
            f"{ours * 1000:.0f} ms vs floor {floor * 1000:.0f} ms = {ours / floor:.2f}x",
            "≤ 1.05x",
            ours / floor <= 1.05,
        )
        for name in ("help", "chat help"):
            took = med([r.wall for r in runs[name]])
            self.row(
                f"`t360 {name.replace('help', '--help')}` vs the floor's first byte",
                f"{took * 1000:.0f} ms vs {floor * 1000:.0f} ms = {took / floor:.2f}x",
                "≤ 0.6x",
                took / floor <= 0.6,
            )

    def https(self) -> None:
        """HTTPS across a 50 ms round trip: a local TLS server behind a relay that delays
        every byte 25 ms each way; the CA is trusted through SSL_CERT_FILE by both."""
        print("HTTPS with a 50 ms round trip", flush=True)
        url = self.tls_gateway(rtt_ms=50)
        env = {**self.env, "T360_BASE_URL": url, "SSL_CERT_FILE": str(self.ca_file)}
        # as a user runs it: the URL on the command line, nothing in the environment
        flag_env = {k: v for k, v in env.items() if k != "T360_BASE_URL"}
        model = "bench:chunks=20,size=5"
        runs = self.interleaved(
            {
                "t360": lambda: run(self.t360(model), env),
                "t360 --base-url": lambda: run(self.t360(model, "--base-url", url), flag_env),
                "floor": lambda: run([*FLOOR, url, model], env),
            },
            self.repeats * 2,
        )
        floor = med([r.first_byte or 0 for r in runs["floor"]])
        for name, how in (("t360", "T360_BASE_URL"), ("t360 --base-url", "--base-url")):
            ours = med([r.first_byte or 0 for r in runs[name]])
            self.row(
                f"HTTPS, 50 ms RTT: first answer byte from process start (URL by `{how}`)",
                f"{ours * 1000:.0f} ms vs floor {floor * 1000:.0f} ms = {ours / floor:.2f}x",
                "≤ 0.85x",
                ours / floor <= 0.85,
            )
        first, later = self.repl_ttfts(env, model, turns=6)
        self.row(
            "HTTPS, 50 ms RTT: REPL TTFT of turns 2+ (turn 1)",
            f"{later * 1000:.0f} ms ({first * 1000:.0f} ms)",
            "≤ 70 ms (1.4x RTT)",
            later <= 0.070,
        )

    def attachment(self) -> None:
        """A 20 MB image attached: what it adds to peak memory and to the first byte."""
        print("a 20 MB attachment", flush=True)
        image = Path(self.home.name) / "big.png"
        # Written a MiB at a time: a child's peak memory counts its parent's at fork
        # (Linux keeps the larger), so this process must not grow by 20 MB itself.
        with image.open("wb") as out:
            out.write(b"\x89PNG\r\n\x1a\n")
            for _ in range(19):
                out.write(os.urandom(1 << 20))
            out.write(os.urandom(20_000_000 - 8 - 19 * (1 << 20)))
        model = "bench:chunks=1,size=5"
        runs = self.interleaved(
            {
                "plain": lambda: run(self.t360(model), self.env),
                "attached": lambda: run(self.t360(model, "-a", str(image), "--no-save"), self.env),
            },
            max(3, self.repeats // 2),
        )
        extra = (
            (
                med([r.max_rss_kib for r in runs["attached"]])
                - med([r.max_rss_kib for r in runs["plain"]])
            )
            * 1024
            / 20_000_000
        )
        self.row(
            "20 MB attachment: added peak memory / its size",
            f"{extra:.2f}x",
            "≤ 4x",
            extra <= 4,
        )
        later = med([r.first_byte or 0 for r in runs["attached"]]) - med(
            [r.first_byte or 0 for r in runs["plain"]]
        )
        self.row(
            "20 MB attachment: added time to the first byte (read, encode, send)",
            f"{later * 1000:.0f} ms",
            "≤ 300 ms",
            later <= 0.3,
        )

    def tls_gateway(self, rtt_ms: float) -> str:
        """Start an HTTPS bench server (a trustme CA) behind a delaying relay; its URL."""
        import trustme

        home = Path(self.home.name)
        ca = trustme.CA()
        cert = ca.issue_cert("localhost")
        self.ca_file = home / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        cert.private_key_and_cert_chain_pem.write_to_path(str(home / "server.pem"))
        server = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "server.py"),
                "--cert",
                str(home / "server.pem"),
                "--name",
                "localhost",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdout is not None
        port = int(server.stdout.readline().strip().rsplit(":", 1)[1].split("/")[0])
        relay = subprocess.Popen(
            [sys.executable, str(HERE / "delay.py"), str(port), "--delay-ms", str(rtt_ms / 2)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert relay.stdout is not None
        self.extra.extend([server, relay])
        return f"https://localhost:{relay.stdout.readline().strip()}/v1"

    def repl_ttfts(self, env: dict[str, str], model: str, turns: int) -> tuple[float, float]:
        """TTFT of the first turn of a REPL session, and the median of the later ones, as
        t360 measured and saved them."""
        import pexpect

        child = pexpect.spawn(
            T360,
            ["chat", "-m", model],
            env={**env, "TERM": "xterm-256color", "PROMPT_TOOLKIT_NO_CPR": "1"},
            timeout=60,
            encoding="utf-8",
        )
        child.expect("\u203a")
        for turn in range(turns):
            child.sendline(f"turn {turn}")
            child.expect("TTFT")
            child.expect("\u203a")
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
        import sqlite3

        db = sqlite3.connect(Path(env["XDG_DATA_HOME"]) / "t360" / "history.db")
        rows = db.execute(
            "SELECT ttft_ms FROM responses WHERE conversation_id ="
            " (SELECT id FROM conversations ORDER BY created DESC LIMIT 1) ORDER BY message_id"
        ).fetchall()
        db.close()
        ttfts = [row[0] / 1000 for row in rows]
        return ttfts[0], med(ttfts[1:])

    def throughput(self) -> None:
        big = 5_000 if self.quick else 50_000
        print(f"throughput, piped, {big:,} chunks", flush=True)
        small_model, big_model = "bench:chunks=1,size=5", f"bench:chunks={big},size=5"
        mid_model = f"bench:chunks={big // 10},size=5"
        runs = self.interleaved(
            {
                "t360-small": lambda: run(self.t360(small_model), self.env),
                "t360-mid": lambda: run(self.t360(mid_model), self.env),
                "t360-big": lambda: run(self.t360(big_model), self.env),
                "floor-small": lambda: run(self.floor(small_model), self.env),
                "floor-big": lambda: run(self.floor(big_model), self.env),
            },
            max(3, self.repeats // 2),
        )

        def per_chunk(name: str) -> float:
            cpu_big = med([r.cpu for r in runs[f"{name}-big"]])
            cpu_small = med([r.cpu for r in runs[f"{name}-small"]])
            return (cpu_big - cpu_small) / (big - 1)

        ours, floor = per_chunk("t360"), per_chunk("floor")
        self.row(
            "CPU per chunk, piped",
            f"{ours * 1e6:.1f} µs vs floor {floor * 1e6:.1f} µs = {ours / floor:.2f}x",
            "≤ 1.5x",
            ours / floor <= 1.5,
        )
        mid = med([r.max_rss_kib for r in runs["t360-mid"]]) / 1024
        top = med([r.max_rss_kib for r in runs["t360-big"]]) / 1024
        answer = len(runs["t360-big"][0].out) / 2**20
        self.row(
            f"peak memory at {big // 10:,} and {big:,} chunks",
            f"{mid:.1f} MB and {top:.1f} MB ({answer:.2f} MB of answer)",
            "flat",
            top - mid < 2 + 3 * answer,
        )

    def display_latency(self) -> None:
        count = 100 if self.quick else 400
        model = f"bench:chunks={count},size=8,delay=5"
        print(f"display latency, piped, {count} chunks 5 ms apart", flush=True)
        latencies: dict[str, list[float]] = {"t360": [], "floor": []}
        for _ in range(max(2, self.repeats // 3)):
            for name, argv in (("t360", self.t360(model)), ("floor", self.floor(model))):
                self.timeline.write_text("")
                result = run(argv, self.env)
                record = json.loads(self.timeline.read_text().splitlines()[-1])
                latencies[name] += _latencies(record, result)
        ours, floor = p95(latencies["t360"]), p95(latencies["floor"])
        self.row(
            "chunk arrival to stdout, p95",
            f"{ours * 1000:.2f} ms (p50 {med(latencies['t360']) * 1000:.2f}) vs floor "
            f"{floor * 1000:.2f} ms",
            "≤ 2 ms",
            ours <= 0.002,
        )

    def terminal(self) -> None:
        print("terminal rendering, markdown-heavy", flush=True)
        small, big = 500, 5_000
        cpu: dict[int, list[float]] = {small: [], big: []}
        written: dict[int, int] = {}
        for _ in range(max(2, self.repeats // 3)):
            for chunks in (small, big):
                model = f"bench:chunks={chunks},size=6,md=1"
                # not quiet: the footer (and a spinner, were there a wait) count too
                seconds, data = run_in_pty([T360, "chat", "-m", model, "hi"], self.env)
                cpu[chunks].append(seconds)
                written[chunks] = len(data)
        ratio = med(cpu[big]) / med(cpu[small])
        self.row(
            f"CPU at {big:,} vs {small:,} chunks",
            f"{med(cpu[big]):.2f} s vs {med(cpu[small]):.2f} s = {ratio:.1f}x",
            "≤ 12x",
            ratio <= 12,
        )
        sys.path.insert(0, str(HERE))
        from server import text_pieces

        answer = len("".join(text_pieces(big, 6, True)).encode())
        bytes_ratio = written[big] / answer
        self.row(
            "bytes written to the terminal (all of it) vs the answer's markdown text",
            f"{written[big] / 1024:.0f} KiB vs {answer / 1024:.0f} KiB = {bytes_ratio:.2f}x",
            "≤ 3x",
            bytes_ratio <= 3,
        )
        lat = token_latencies(2000 if not self.quick else 400)
        self.row(
            "token to screen, live markdown, p95",
            f"{p95(lat) * 1000:.1f} ms (p50 {med(lat) * 1000:.1f})",
            "≤ 50 ms",
            p95(lat) <= 0.05,
        )

    def secrets(self) -> None:
        """What the secrets guard adds to a run: the CPU its module takes to load, plus
        that of the same one-shot with the guard on and off, interleaved, for a short
        prompt and for 2 MB of source code given with -f (t360's own)."""
        print("secrets guard", flush=True)
        source = "".join(p.read_text() for p in sorted((HERE.parent / "t360cli").rglob("*.py")))
        big = Path(self.home.name) / "two-megabytes.py"
        big.write_text((source * (2_000_000 // len(source) + 1))[:2_000_000])
        model = "bench:chunks=1,size=5"
        on = {**self.env, "T360_SECRETS": "refuse"}
        off = {**self.env, "T360_SECRETS": "off"}
        # the 2 MB file holds none of the guard's findings but the test keys' shapes: a
        # refusal would end the run early, so it is scanned in warn mode (same scan)
        warn = {**self.env, "T360_SECRETS": "warn"}
        runs = self.interleaved(
            {
                "short on": lambda: run(self.t360(model), on),
                "short off": lambda: run(self.t360(model), off),
                "big on": lambda: run(self.t360(model, "-f", str(big)), warn),
                "big off": lambda: run(self.t360(model, "-f", str(big)), off),
                # the module loads in both modes: its import is measured on its own
                "import": lambda: run([sys.executable, "-c", "import t360cli.secrets_guard"], off),
                "import base": lambda: run([sys.executable, "-c", "import t360cli.errors"], off),
            },
            self.repeats * 2,
        )
        loading = med([r.cpu for r in runs["import"]]) - med([r.cpu for r in runs["import base"]])
        for size, target in (("short", 0.015), ("big", 0.150)):
            added = (
                loading
                + med([r.cpu for r in runs[f"{size} on"]])
                - med([r.cpu for r in runs[f"{size} off"]])
            )
            what = "a short prompt" if size == "short" else "2 MB of source (-f)"
            self.row(
                f"secrets guard: CPU it adds to a one-shot, {what}",
                f"{added * 1000:.1f} ms",
                f"≤ {target * 1000:.0f} ms",
                added <= target,
            )

    def compare(self) -> None:
        """t360 compare's live columns: CPU per chunk with three answers streaming at once
        (side by side, markdown-heavy) against one answer in t360 chat; each figure is
        the CPU of a run of 5,000 chunks an answer less that of a run of 1, so start-up
        and the per-request work are left out."""
        print("terminal rendering, 3 answers side by side", flush=True)
        big = 5_000

        def models(chunks: int) -> list[str]:
            return [f"bench:chunks={chunks},size=6,md=1,n={n}" for n in range(3)]

        def three(chunks: int) -> Run:
            argv = [T360, "compare", "-q", *(f"-m{m}" for m in models(chunks)), "hi"]
            return self.cpu_in_pty(argv, (150, 40))

        def one(chunks: int) -> Run:
            return self.cpu_in_pty(self.t360(models(chunks)[0]), (150, 40))

        runs = self.interleaved(
            {
                "three-small": lambda: three(1),
                "three-big": lambda: three(big),
                "one-small": lambda: one(1),
                "one-big": lambda: one(big),
            },
            max(3, self.repeats // 3),
        )

        def per_chunk(name: str, streams: int) -> float:
            cpu_big = med([r.cpu for r in runs[f"{name}-big"]])
            cpu_small = med([r.cpu for r in runs[f"{name}-small"]])
            return (cpu_big - cpu_small) / (streams * (big - 1))

        ours, alone = per_chunk("three", 3), per_chunk("one", 1)
        self.row(
            f"compare, 3 x {big:,} chunks side by side: CPU per chunk vs one answer in chat",
            f"{ours * 1e6:.0f} µs vs {alone * 1e6:.0f} µs = {ours / alone:.2f}x",
            "≤ 1.5x",
            ours / alone <= 1.5,
        )

    def cpu_in_pty(self, argv: list[str], size: tuple[int, int]) -> Run:
        seconds, data = run_in_pty(argv, self.env, size)
        return Run(0.0, None, seconds, 0, data, [])

    def stats(self) -> None:
        rows = 10_000 if self.quick else 100_000
        print(f"t360 stats over {rows:,} saved answers", flush=True)
        fill_history(Path(self.env["XDG_DATA_HOME"]) / "t360" / "history.db", rows)
        runs = [run([T360, "stats", "--json"], self.env) for _ in range(max(3, self.repeats // 2))]
        seconds = med([r.wall for r in runs])
        self.row(
            f"`t360 stats` over {rows:,} answers",
            f"{seconds * 1000:.0f} ms",
            "fast (SQL)",
            seconds < 1.0,
        )

    def table(self) -> str:
        lines = ["| measure | result | target | met |", "|---|---|---|---|"]
        lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in self.rows]
        return "\n".join(lines)


def _latencies(record: dict[str, list], result: Run) -> list[float]:
    """For each chunk the server sent: when the reader first saw its bytes, minus when it
    was sent."""
    offsets = [m.end() for m in re.finditer(rb"w\d{6} x*", result.out)]
    found: list[float] = []
    reads = iter(result.arrivals)
    when, size = next(reads)
    for sent, end in zip(record["sent"], offsets, strict=False):
        while size < end:
            when, size = next(reads)
        found.append(when - sent)
    return found


def run_in_pty(
    argv: list[str], env: dict[str, str], size: tuple[int, int] = (100, 40)
) -> tuple[float, bytes]:
    """Run on a pseudo-terminal of ``size`` (columns, rows); CPU seconds of the child and
    every byte it wrote."""
    pid, fd = pty.fork()
    if pid == 0:  # the child
        import fcntl
        import struct
        import termios

        columns, rows = size
        fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        shown = {"COLUMNS": str(columns), "LINES": str(rows)}
        os.execve(argv[0], argv, {**env, "TERM": "xterm-256color", **shown})
    data = bytearray()
    while True:
        try:
            ready, _, _ = select.select([fd], [], [], 60)
            if not ready:
                break
            chunk = os.read(fd, 1 << 16)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    _, _, usage = os.wait4(pid, 0)
    os.close(fd)
    return usage.ru_utime + usage.ru_stime, bytes(data)


def token_latencies(count: int) -> list[float]:
    """Feed a live MarkdownSink tokens 2 ms apart (on a real pty); for each token, the time
    until a redraw that includes it has been written."""
    from server import text_pieces

    from t360cli.environment import Environment, Paths
    from t360cli.render import BlockSplitter, MarkdownSink

    class Probe(BlockSplitter):
        fed = 0
        snapshot = 0

        def feed(self, text: str) -> list[str]:
            self.fed += len(text)
            return super().feed(text)

        @property
        def tail(self) -> str:  # read under the lock when a redraw takes its snapshot
            self.snapshot = self.fed
            return BlockSplitter.tail.fget(self)  # type: ignore[attr-defined,no-any-return]

    master, slave = pty.openpty()
    drain = threading.Thread(target=lambda: _drain(master), daemon=True)
    drain.start()
    out = os.fdopen(slave, "w", encoding="utf-8", closefd=False)
    env = Environment(
        io.StringIO(), out, io.StringIO(), False, True, False, {}, Paths(), set(), size=(80, 24)
    )
    sink = MarkdownSink(env, show_extras=False)
    probe = Probe()
    sink._splitter = probe
    draws: list[tuple[float, int]] = []
    region = sink._region  # a benchmark may look inside: it times the real redraws
    update = region.update

    def recorded(blocks: list[str], tail: str, *, final: bool = False) -> None:
        seen = probe.snapshot
        update(blocks, tail, final=final)
        draws.append((time.perf_counter(), seen))

    region.update = recorded  # type: ignore[method-assign]
    fed: list[tuple[float, int]] = []
    for piece in text_pieces(count, 6, True):
        sink.text(piece)
        fed.append((time.perf_counter(), probe.fed))
        time.sleep(0.002)
    sink.close()
    os.close(slave)
    latencies = []
    for when, total in fed:
        shown = next((t for t, seen in draws if seen >= total and t >= when), None)
        if shown is not None:
            latencies.append(shown - when)
    return latencies


def fill_history(path: Path, rows: int) -> None:
    """A history of ``rows`` answers spread over 30 days, 8 models, 4 providers."""
    import random
    import sqlite3

    from t360cli.history import History

    path.parent.mkdir(parents=True, exist_ok=True)
    with History.open(path) as history:  # creates and migrates the schema
        conversation = history.create("m0", None, "generated")
    now = time.time()
    rng = random.Random(360)
    db = sqlite3.connect(path)
    with db:
        for i in range(rows):
            cursor = db.execute(
                "INSERT INTO messages (conversation_id, role, content, created)"
                " VALUES (?, 'assistant', 'x', ?)",
                (conversation, now),
            )
            ttft = rng.lognormvariate(6, 0.5)
            db.execute(
                "INSERT INTO responses (message_id, conversation_id, model, provider, ttft_ms,"
                " latency_ms, prompt_tokens, completion_tokens, total_tokens, cost, partial,"
                " created) VALUES (?, ?, ?, ?, ?, ?, 10, 100, 110, 0.0001, 0, ?)",
                (
                    cursor.lastrowid,
                    conversation,
                    f"m{i % 8}",
                    f"p{i % 4}",
                    ttft,
                    ttft + rng.uniform(500, 3000),
                    now - rng.uniform(0, 30 * 86400),
                ),
            )
    db.close()


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 1 << 16):
            pass
    except OSError:
        pass


MEASURES = [
    "startup",
    "first_byte",
    "https",
    "attachment",
    "throughput",
    "display_latency",
    "terminal",
    "compare",
    "stats",
    "secrets",
]


def main() -> None:
    parser = argparse.ArgumentParser(description="t360 benchmarks (issue #7 targets)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer, smaller runs")
    parser.add_argument("--repeats", type=int, default=9, help="runs per median (default 9)")
    parser.add_argument(
        "--only", choices=MEASURES, action="append", help="run only these measures (repeatable)"
    )
    args = parser.parse_args()
    bench = Bench(3 if args.quick else args.repeats, args.quick)
    try:
        for name in args.only or MEASURES:
            getattr(bench, name)()
    finally:
        bench.close()
    print()
    print(bench.table())


if __name__ == "__main__":
    main()
