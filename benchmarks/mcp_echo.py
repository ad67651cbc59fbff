"""A minimal MCP server for the tool-round benchmark: one tool, ``echo``, answered at once.

    python mcp_echo.py TIMES_FILE

Each time it writes a tools/call result it appends that moment (time.monotonic, the same
clock in every process on Linux) to TIMES_FILE, so the benchmark can tell how long t360
took from the tool's result to its next request.
"""

import json
import sys
import time
from pathlib import Path

times = Path(sys.argv[1]).open("a")  # noqa: SIM115 - open for the server's life
for line in sys.stdin:
    message = json.loads(line)
    method, number = message.get("method"), message.get("id")
    if number is None:
        continue
    if method == "initialize":
        info = {"name": "bench-echo", "version": "1"}
        result: dict[str, object] = {
            "protocolVersion": "2025-11-25",
            "capabilities": {"tools": {}},
            "serverInfo": info,
        }
    elif method == "tools/list":
        schema = {"type": "object", "properties": {"text": {"type": "string"}}}
        result = {"tools": [{"name": "echo", "description": "echo", "inputSchema": schema}]}
    elif method == "tools/call":
        text = str(message["params"]["arguments"].get("text"))
        result = {"content": [{"type": "text", "text": text}]}
    else:
        result = {}
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": number, "result": result}) + "\n")
    sys.stdout.flush()
    if method == "tools/call":
        times.write(f"{time.monotonic()}\n")
        times.flush()
