"""Measure what tools over MCP cost t360 (issue #15 targets).

    .venv/bin/python benchmarks/tools.py            # the full run (a minute or two)
    .venv/bin/python benchmarks/tools.py --quick    # a smoke run

1. t360's own overhead per tool round: from the moment the MCP server wrote a tool's
   result to the moment the next request reached the gateway (the mock server, in this
   process). time.monotonic is one clock for every process on Linux.
2. What -T adds to a one-shot beyond the server's own start-up and initialize: t360 with
   and without -T (runs interleaved), against the floor: a 20-line raw JSON-RPC client
   that starts the same server, initializes, lists its tools and stops it
   (benchmarks/mcp_floor.py). Both first byte on stdout and the whole run are compared.

Every figure is a median of several runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tomli_w

from t360cli.mockserver import MockServer

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
T360 = str(BIN / "t360")


def first_byte_and_wall(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds from spawn to the first stdout byte, and to the exit (which must be 0)."""
    start = time.monotonic()
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(1)
    first = time.monotonic() - start
    proc.stdout.read()
    error = proc.stderr.read()
    code = proc.wait()
    wall = time.monotonic() - start
    if code != 0:
        raise SystemExit(f"{argv} failed ({code}): {error.decode(errors='replace')[-500:]}")
    return first, wall


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description="t360 tool benchmarks (issue #15 targets)")
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--repeats", type=int, default=9, help="runs per median (default 9)")
    options = parser.parse_args()
    repeats = 3 if options.quick else options.repeats
    rounds = 5 if options.quick else 20
    time_server = shutil.which("mcp-server-time") or str(BIN / "mcp-server-time")
    if not Path(time_server).exists():
        raise SystemExit("mcp-server-time is not installed: pip install -e '.[test]'")

    import compileall

    import t360cli

    compileall.compile_dir(str(Path(t360cli.__file__).parent), quiet=1)
    with tempfile.TemporaryDirectory(prefix="t360-tools-bench-") as home, MockServer() as gateway:
        times = Path(home) / "tool-results.txt"
        config = Path(home) / "config" / "t360" / "config.toml"
        config.parent.mkdir(parents=True, mode=0o700)
        servers = {
            "time": {"command": time_server},
            "echo": {"command": sys.executable, "args": [str(HERE / "mcp_echo.py"), str(times)]},
        }
        config.write_text(tomli_w.dumps({"mcp_servers": servers}))
        config.chmod(0o600)
        env = {
            **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
            "T360_API_KEY": "sk-bench-0000000000",
            "T360_BASE_URL": gateway.url,
            "XDG_CONFIG_HOME": str(Path(home) / "config"),
            "XDG_DATA_HOME": str(Path(home) / "data"),
            "XDG_STATE_HOME": str(Path(home) / "state"),
            "XDG_CACHE_HOME": str(Path(home) / "cache"),
        }

        # 1. overhead per tool round
        overheads: list[float] = []
        for _ in range(repeats):
            times.write_text("")
            before = len(gateway.calls)
            argv = [T360, "chat", "-q", "-n", "-T", "echo", "-y", "-m", "tool-loop"]
            subprocess.run(
                [*argv, "--max-tool-rounds", str(rounds), "hi"],
                env=env,
                capture_output=True,
                check=False,  # exit 6: the round limit, as intended
            )
            results = [float(line) for line in times.read_text().split()]
            arrivals = [call.at for call in gateway.calls[before + 1 :]]
            overheads += [a - r for r, a in zip(results, arrivals, strict=True)]
        print(
            f"tool round overhead (result written -> next request in): median "
            f"{overheads and statistics.median(overheads) * 1000:.1f} ms, p90 "
            f"{sorted(overheads)[int(len(overheads) * 0.9)] * 1000:.1f} ms over "
            f"{len(overheads)} rounds (target <= 20 ms)"
        )

        # 2. what -T adds beyond the server's own start-up
        plain = [T360, "chat", "-q", "-n", "-m", "echo", "hi"]
        with_tools = [T360, "chat", "-q", "-n", "-T", "time", "-m", "echo", "hi"]
        floor = [sys.executable, str(HERE / "mcp_floor.py"), time_server]
        samples: dict[str, list[tuple[float, float]]] = {"plain": [], "tools": [], "floor": []}
        for argv in (plain, with_tools, floor):  # warm the caches once
            first_byte_and_wall(argv, env)
        for _ in range(repeats):
            for name, argv in (("plain", plain), ("tools", with_tools), ("floor", floor)):
                samples[name].append(first_byte_and_wall(argv, env))
        first = {k: statistics.median(f for f, _ in v) for k, v in samples.items()}
        wall = {k: statistics.median(w for _, w in v) for k, v in samples.items()}
        print(
            f"floor (raw JSON-RPC: start, initialize, list, stop): first line "
            f"{ms(first['floor'])}, whole {ms(wall['floor'])}"
        )
        for label, figures, of_floor in (
            ("first byte", first, "first line"),
            ("whole run", wall, "whole run"),
        ):
            added = figures["tools"] - figures["plain"]
            floor_figure = figures["floor"]
            print(
                f"-T time, {label}: {ms(figures['tools'])} vs {ms(figures['plain'])} without:"
                f" adds {ms(added)}, {ms(added - floor_figure)} beyond the floor's {of_floor}"
                " (target <= 100 ms)"
            )


if __name__ == "__main__":
    main()
