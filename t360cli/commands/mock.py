"""``t360 mock-server``: the Token360 stand-in as a command."""

from __future__ import annotations

from typing import Annotated

import typer

from t360cli.commands.common import environment
from t360cli.errors import UsageError

#: The highest TCP port number.
MAX_PORT = 65535


def mock_server(
    ctx: typer.Context,
    port: Annotated[
        int, typer.Option("--port", help="Port on 127.0.0.1 (0 picks a free one).")
    ] = 8360,
    verbose: Annotated[bool, typer.Option("--verbose", help="Log every request.")] = False,
) -> None:
    """Run a local Token360 stand-in for trying t360 offline (scenarios by model name)."""
    from t360cli.mockserver import SCENARIOS, MockServer

    if not 0 <= port <= MAX_PORT:
        raise UsageError(f"--port must be from 0 to {MAX_PORT}, got {port}", "0 picks a free one")
    try:
        server = MockServer(port, verbose=verbose)
    except OSError as exc:
        raise UsageError(
            f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}", "try another --port"
        ) from None
    env = environment(ctx)
    env.stderr.write(
        f"t360 mock server on {server.url} ({len(SCENARIOS)} scenarios; "
        "GET /models lists them). Ctrl-C stops it.\n"
        f"Try: T360_API_KEY=sk-mock t360 chat --base-url {server.url} -m echo 'Hello'\n"
    )
    env.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
