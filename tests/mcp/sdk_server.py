"""An MCP server built with the official SDK, the reference t360's client is tested
against: on stdio, or with ``--http`` over the SDK's streamable HTTP transport on
127.0.0.1 (a free port, printed on stdout once it listens; ``--json-response`` answers
with JSON bodies instead of event streams; ``--token T`` answers 401 to a request whose
Authorization is not ``Bearer T``). Its pid goes to the file named by $MCP_TEST_PIDFILE,
and ``slow`` writes $MCP_TEST_STARTED when it starts, if they are set.

Tools: echo, slow (for timeouts and Ctrl-C), fail, big (a result over the cap),
meet (answers "met" only when two calls run at the same time), picture (an image).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import socket
import sys
from pathlib import Path
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ImageContent, TextContent

if os.environ.get("MCP_TEST_PIDFILE"):
    Path(os.environ["MCP_TEST_PIDFILE"]).write_text(str(os.getpid()))

app = MCPServer("t360-test")
waiting: list[asyncio.Event] = []


@app.tool()
def echo(text: str) -> str:
    """Say the text back.

    A second line the listing leaves out."""
    return f"echo: {text}"


@app.tool()
async def slow(seconds: int) -> str:
    """Wait that many seconds, then answer."""
    if os.environ.get("MCP_TEST_STARTED"):  # the tests wait for this before Ctrl-C
        Path(os.environ["MCP_TEST_STARTED"]).write_text("slow")
    await asyncio.sleep(seconds)
    return "slept"


@app.tool()
def fail(reason: str) -> str:
    """Always fails."""
    raise ToolError(f"failed on purpose: {reason}")


@app.tool()
def big(text: str) -> str:
    """An answer of 150 000 characters."""
    return "x" * 150_000


@app.tool()
async def meet(text: str) -> str:
    """Answers "met" when another call of meet runs at the same time, else "alone"."""
    arrived = asyncio.Event()
    for other in waiting:
        other.set()
        return "met"
    waiting.append(arrived)
    try:
        await asyncio.wait_for(arrived.wait(), 10)
    except asyncio.TimeoutError:
        return "alone"
    return "met"


@app.tool()
def picture(text: str) -> list[TextContent | ImageContent]:
    """A caption and a small image."""
    data = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 92).decode()
    return [
        TextContent(type="text", text="a caption"),
        ImageContent(type="image", data=data, mimeType="image/png"),
    ]


def serve_http(json_response: bool, token: str | None) -> None:
    """The SDK's streamable HTTP app under uvicorn, on a socket already listening (so the
    port printed is ready), behind a check of the Authorization header if ``token``."""
    import uvicorn

    inner = app.streamable_http_app(json_response=json_response)

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = dict(scope.get("headers") or [])
        if (
            token
            and scope["type"] == "http"
            and headers.get(b"authorization") != (f"Bearer {token}".encode())
        ):
            await send({"type": "http.response.start", "status": 401, "headers": []})
            await send({"type": "http.response.body", "body": b"no entry"})
            return
        await inner(scope, receive, send)

    listener = socket.create_server(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)
    server = uvicorn.Server(uvicorn.Config(guarded, log_level="warning", lifespan="on"))
    asyncio.run(server.serve(sockets=[listener]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--json-response", action="store_true")
    parser.add_argument("--token")
    options = parser.parse_args()
    if options.http:
        sys.stderr.write("sdk server over http\n")
        serve_http(options.json_response, options.token)
    else:
        app.run("stdio")
