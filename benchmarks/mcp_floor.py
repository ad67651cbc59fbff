"""The floor for MCP start-up: the least a client can do before offering a server's tools.

    python mcp_floor.py SERVER [ARGS...]

Start the server, initialize, send initialized, list the tools, close its stdin and wait
for it to exit: raw JSON-RPC over stdio and nothing else.
"""

import json
import subprocess
import sys

server = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
assert server.stdin is not None and server.stdout is not None


def send(message: dict[str, object]) -> None:
    server.stdin.write(json.dumps(message).encode() + b"\n")
    server.stdin.flush()


hello = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "floor"}}
send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": hello})
while json.loads(server.stdout.readline()).get("id") != 1:
    pass
send({"jsonrpc": "2.0", "method": "notifications/initialized"})
send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
while json.loads(server.stdout.readline()).get("id") != 2:
    pass
sys.stdout.write("listed\n")
sys.stdout.flush()
server.stdin.close()
server.wait()
