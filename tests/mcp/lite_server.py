"""The SDK test server's stdio twin in the standard library alone: the same tools, with
the same listing and the same results, byte for byte where t360 reads them, but started
in a few ms where the SDK's imports take half a second of CPU. Most tool tests run
against it; ``sdk_server.py`` stays the reference, for the tests that pin the protocol.

Tools: echo, slow (cancellable), fail, big, meet (answers "met" only when two calls run
at the same time), picture. $MCP_TEST_PIDFILE receives the pid, and ``slow`` writes
$MCP_TEST_STARTED when it starts, as with the SDK server. Each call runs on a thread of
its own; ``notifications/cancelled`` ends a ``slow`` call early, without an answer.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

if os.environ.get("MCP_TEST_PIDFILE"):
    Path(os.environ["MCP_TEST_PIDFILE"]).write_text(str(os.getpid()))


def _schema(tool: str, field: str, kind: str) -> dict[str, Any]:
    return {
        "properties": {field: {"title": field.title(), "type": kind}},
        "required": [field],
        "type": "object",
        "title": f"{tool}Arguments",
    }


def _output(tool: str) -> dict[str, Any]:
    return {
        "properties": {"result": {"title": "Result", "type": "string"}},
        "required": ["result"],
        "type": "object",
        "title": f"{tool}Output",
    }


#: name: (description, argument, its JSON type)
TOOLS = {
    "echo": ("Say the text back.\n\n    A second line the listing leaves out.", "text", "string"),
    "slow": ("Wait that many seconds, then answer.", "seconds", "integer"),
    "fail": ("Always fails.", "reason", "string"),
    "big": ("An answer of 150 000 characters.", "text", "string"),
    "meet": (
        'Answers "met" when another call of meet runs at the same time, else "alone".',
        "text",
        "string",
    ),
    "picture": ("A caption and a small image.", "text", "string"),
}
LISTING = [
    {
        "description": description,
        "inputSchema": _schema(name, field, kind),
        "name": name,
        **({} if name == "picture" else {"outputSchema": _output(name)}),
    }
    for name, (description, field, kind) in TOOLS.items()
]

_write = threading.Lock()
_cancelled: dict[object, threading.Event] = {}
_meeting = threading.Condition()
_waiting: list[int] = []  # calls of meet waiting for another


def send(message: dict[str, Any]) -> None:
    with _write:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


def text_result(text: str, *, error: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = {"content": [{"text": text, "type": "text"}], "isError": error}
    if not error:
        result["structuredContent"] = {"result": text}
    return result


def call(name: str, arguments: dict[str, Any], cancel: threading.Event) -> dict[str, Any] | None:
    if name not in TOOLS:
        return text_result(f"Unknown tool: {name}", error=True)
    _, field, kind = TOOLS[name]
    value = arguments.get(field)
    wanted = int if kind == "integer" else str
    if not isinstance(value, wanted) or isinstance(value, bool):
        found = "Field required" if field not in arguments else f"Input should be a valid {kind}"
        return text_result(
            f"Error executing tool {name}: 1 validation error for {name}Arguments\n"
            f"{field}\n  {found}",
            error=True,
        )
    if name == "echo":
        return text_result(f"echo: {value}")
    if name == "slow":
        if os.environ.get("MCP_TEST_STARTED"):  # the tests wait for this before Ctrl-C
            Path(os.environ["MCP_TEST_STARTED"]).write_text("slow")
        return None if cancel.wait(int(value)) else text_result("slept")
    if name == "fail":
        return text_result(f"Error executing tool fail: failed on purpose: {value}", error=True)
    if name == "big":
        return text_result("x" * 150_000)
    if name == "meet":
        return text_result(meet())
    data = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 92).decode()
    return {
        "content": [
            {"text": "a caption", "type": "text"},
            {"data": data, "mimeType": "image/png", "type": "image"},
        ],
        "isError": False,
    }


def meet() -> str:
    with _meeting:
        if _waiting:
            _waiting.pop()
            _meeting.notify_all()
            return "met"
        _waiting.append(1)
        met = _meeting.wait_for(lambda: not _waiting, timeout=10)
        if not met:
            _waiting.clear()
        return "met" if met else "alone"


def run_call(number: object, params: dict[str, Any]) -> None:
    cancel = _cancelled.setdefault(number, threading.Event())
    result = call(str(params.get("name")), params.get("arguments") or {}, cancel)
    if result is not None and not cancel.is_set():
        send({"jsonrpc": "2.0", "id": number, "result": result})


def main() -> None:
    for line in sys.stdin:
        message = json.loads(line)
        method, number = message.get("method"), message.get("id")
        params = message.get("params") or {}
        if method == "initialize":
            send(
                {
                    "jsonrpc": "2.0",
                    "id": number,
                    "result": {
                        "capabilities": {"tools": {"listChanged": False}},
                        "protocolVersion": params.get("protocolVersion", "2025-06-18"),
                        "serverInfo": {"name": "t360-test", "version": ""},
                    },
                }
            )
        elif method == "tools/list":
            send({"jsonrpc": "2.0", "id": number, "result": {"tools": LISTING}})
        elif method == "tools/call":
            threading.Thread(target=run_call, args=(number, params), daemon=True).start()
        elif method == "notifications/cancelled":
            _cancelled.setdefault(params.get("requestId"), threading.Event()).set()
        elif method == "ping":
            send({"jsonrpc": "2.0", "id": number, "result": {}})
        elif number is not None:
            error = {"code": -32601, "message": f"Method not found: {method}"}
            send({"jsonrpc": "2.0", "id": number, "error": error})


if __name__ == "__main__":
    main()
