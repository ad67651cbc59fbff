"""An MCP server built with the official SDK (stdio), the reference t360's client is
tested against. Its pid goes to the file named by $MCP_TEST_PIDFILE, and ``slow`` writes
$MCP_TEST_STARTED when it starts, if they are set.

Tools: echo, slow (for timeouts and Ctrl-C), fail, big (a result over the cap),
meet (answers "met" only when two calls run at the same time), picture (an image).
"""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path

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


if __name__ == "__main__":
    app.run("stdio")
