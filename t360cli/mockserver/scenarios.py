"""The scenarios of the mock server, chosen by model name (``slow-first:400``).

Each takes (model, prompt, argument, server) and returns the Reply; ``GET /v1/models``
lists them with their summaries. A model that names none (``glm-5.1``, the default) gets
``plain``: the prompt back, after a notice naming scenarios to try.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from .wire import (
    MARKDOWN,
    Cut,
    Reply,
    Reset,
    Server,
    Step,
    chunk,
    completion_of,
    error_body,
    lorem,
    sse,
    stream_of,
    usage_for,
    words,
)

Scenario = Callable[[str, str, str, Server], Reply]
SCENARIOS: dict[str, tuple[str, Scenario]] = {}


def scenario(name: str, summary: str) -> Callable[[Scenario], Scenario]:
    def register(function: Scenario) -> Scenario:
        SCENARIOS[name] = (summary, function)
        return function

    return register


def _int(arg: str, default: int) -> int:
    try:
        return int(arg) if arg else default
    except ValueError:
        return default


def _body(server: Server) -> dict[str, Any]:
    """The body of the request being answered."""
    body = server.calls[-1].body if server.calls else {}
    return body if isinstance(body, dict) else {}


def _messages(server: Server) -> list[dict[str, Any]]:
    """The messages of the request being answered (those that are objects)."""
    messages = _body(server).get("messages")
    return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []


#: The scenarios a plain answer suggests (those the README's Quick start names).
SUGGESTED = ("echo", "markdown", "slow-first:400", "error-mid", "drop")


def plain(model: str, prompt: str, arg: str, server: Server) -> Reply:
    """The answer to a model that names no scenario: a notice saying so and naming a few
    scenarios, then the prompt back. A real answer, so that t360's defaults and a
    README's first example work offline; the errors are the scenarios' to give."""
    notice = (
        f"(t360 mock server: no scenario is named {model.partition(':')[0]}, so this plain"
        f" answer repeats your message. Pick a scenario with -m NAME: {', '.join(SUGGESTED)},"
        f" …; t360 models lists all {len(SCENARIOS)}.)"
    )
    return Reply(steps=stream_of(model, prompt, words(f"{notice}\n\n{prompt or '(empty)'}")))


@scenario("echo", "answers with your own message, word by word (echo:N: N characters a chunk)")
def _echo(model: str, prompt: str, arg: str, server: Server) -> Reply:
    text = prompt or "(empty)"
    size = _int(arg, 0)
    pieces = [text[i : i + size] for i in range(0, len(text), size)] if size > 0 else words(text)
    return Reply(steps=stream_of(model, prompt, pieces))


@scenario("recall", "repeats the system prompt and every user message so far (memory tests)")
def _recall(model: str, prompt: str, arg: str, server: Server) -> Reply:
    messages = _messages(server)
    system = next((m.get("content") for m in messages if m.get("role") == "system"), None)
    users = [str(m.get("content")) for m in messages if m.get("role") == "user"]
    text = f"system: {system or '(none)'}; you said: {' | '.join(users)}"
    return Reply(steps=stream_of(model, prompt, words(text)))


@scenario("lorem", "N words of lorem ipsum, one per chunk (lorem:5000)")
def _lorem(model: str, prompt: str, arg: str, server: Server) -> Reply:
    return Reply(steps=stream_of(model, prompt, lorem(_int(arg, 50))))


@scenario("markdown", "a markdown-heavy answer: headings, lists, code, a table")
def _markdown(model: str, prompt: str, arg: str, server: Server) -> Reply:
    return Reply(steps=stream_of(model, prompt, words(MARKDOWN), delay=_int(arg, 0) / 1000))


@scenario("slow-first", "the first token after MS milliseconds (slow-first:400)")
def _slow_first(model: str, prompt: str, arg: str, server: Server) -> Reply:
    steps = stream_of(model, prompt, words(prompt or "slow answer"))
    steps.insert(1, _int(arg, 400) / 1000)
    return Reply(steps=steps)


@scenario("slow", "MS milliseconds between tokens (slow:50)")
def _slow(model: str, prompt: str, arg: str, server: Server) -> Reply:
    return Reply(steps=stream_of(model, prompt, lorem(40), delay=_int(arg, 50) / 1000))


@scenario("keepalive", "keepalive comments for MS milliseconds, then the answer")
def _keepalive(model: str, prompt: str, arg: str, server: Server) -> Reply:
    steps: list[Step] = [b": keepalive\n\n"]
    for _ in range(max(1, _int(arg, 600) // 100)):
        steps += [0.1, b": OPENROUTER PROCESSING\n\n"]
    return Reply(steps=steps + stream_of(model, prompt, words("still here")))


@scenario("reasoning", "reasoning first (reasoning + reasoning_details), then the answer")
def _reasoning(model: str, prompt: str, arg: str, server: Server) -> Reply:
    thoughts = ["Let me ", "think. "]
    steps: list[Step] = [sse(chunk(model, content=None))]
    for thought in thoughts:
        detail = [{"type": "reasoning.text", "text": thought}]
        steps.append(sse(chunk(model, content="", reasoning=thought, reasoning_details=detail)))
    return Reply(steps=steps + stream_of(model, prompt, words("The answer is 42."))[1:])


@scenario("reasoning-content", "reasoning in delta.reasoning_content (DeepSeek style)")
def _reasoning_content(model: str, prompt: str, arg: str, server: Server) -> Reply:
    steps: list[Step] = [sse(chunk(model, reasoning_content="Hmm. "))]
    return Reply(steps=steps + stream_of(model, prompt, words("Done.")))


@scenario("tools", "a tool call streamed in fragments, finish_reason tool_calls")
def _tools(model: str, prompt: str, arg: str, server: Server) -> Reply:
    call = {"index": 0, "id": "call_1", "type": "function"}
    steps: list[Step] = [
        sse(chunk(model, content=None)),
        sse(chunk(model, tool_calls=[{**call, "function": {"name": "get_weather"}}])),
        sse(chunk(model, tool_calls=[{"index": 0, "function": {"arguments": '{"city":'}}])),
        sse(chunk(model, tool_calls=[{"index": 0, "function": {"arguments": ' "Paris"}'}}])),
        sse(chunk(model, finish="tool_calls", usage=usage_for(prompt, ["x"]))),
        sse("[DONE]"),
    ]
    return Reply(steps=steps)


def _offered(server: Server, wanted: str) -> list[tuple[str, object]]:
    """The tools offered, as (name, input schema); the one named ``wanted`` first."""
    found = []
    for tool in _body(server).get("tools") or []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            found.append((function["name"], function.get("parameters")))
    found.sort(key=lambda item: item[0] != wanted)
    return found


def _results(server: Server) -> list[str]:
    """The contents of the tool messages that end the conversation (none: not answered)."""
    found: list[str] = []
    for message in reversed(_messages(server)):
        if message.get("role") != "tool":
            break
        found.insert(0, str(message.get("content")))
    return found


def _calling(model: str, prompt: str, tools: list[tuple[str, object]], turn: int) -> Reply:
    """Some text, then a call of each tool (arguments sampled from its schema, the
    prompt for every string), streamed in fragments, finish_reason tool_calls."""
    steps: list[Step] = [
        sse(chunk(model, content=None)),
        sse(chunk(model, content="Let me check. ")),
    ]
    for index, (name, schema) in enumerate(tools):
        arguments = json.dumps(_sample(schema, prompt or "text") or {})
        head = {"index": index, "id": f"call_{turn}_{index}", "type": "function"}
        steps.append(sse(chunk(model, tool_calls=[{**head, "function": {"name": name}}])))
        for cut in range(0, len(arguments), 7):
            part = {"index": index, "function": {"arguments": arguments[cut : cut + 7]}}
            steps.append(sse(chunk(model, tool_calls=[part])))
    steps.append(sse(chunk(model, finish="tool_calls", usage=usage_for(prompt, ["x"]))))
    return Reply(steps=[*steps, sse("[DONE]")])


def _tool_scenario(model: str, prompt: str, arg: str, server: Server, calls: int) -> Reply:
    results = _results(server)
    offered = _offered(server, arg)
    if results or not offered:
        text = f"The tool said: {' | '.join(results)}" if results else "No tools were offered."
        schema = _wanted_schema(server)
        if schema is not None:  # structured output: the results in the shape asked for
            text = json.dumps(_sample(schema, " | ".join(results)))
        return Reply(steps=stream_of(model, prompt, words(text)))
    one = arg or len(offered) == 1  # tool-pair:NAME calls NAME twice
    chosen = offered[:1] * calls if one else offered[:calls]
    return _calling(model, prompt, chosen, server.count(model))


@scenario(
    "tool-use", "calls the first tool offered (tool-use:NAME: that one), then uses its result"
)
def _tool_use(model: str, prompt: str, arg: str, server: Server) -> Reply:
    return _tool_scenario(model, prompt, arg, server, 1)


@scenario(
    "tool-pair", "two tool calls in one answer: the first two tools (tool-pair:NAME: NAME twice)"
)
def _tool_pair(model: str, prompt: str, arg: str, server: Server) -> Reply:
    return _tool_scenario(model, prompt, arg, server, 2)


@scenario("tool-loop", "calls the first tool offered, again and again, never answering")
def _tool_loop(model: str, prompt: str, arg: str, server: Server) -> Reply:
    offered = _offered(server, arg)
    if not offered:
        return Reply(steps=stream_of(model, prompt, words("No tools were offered.")))
    return _calling(model, prompt, offered[:1], server.count(model))


@scenario("length", "an answer cut by max_tokens (finish_reason length)")
def _length(model: str, prompt: str, arg: str, server: Server) -> Reply:
    return Reply(steps=stream_of(model, prompt, lorem(5), finish="length"))


@scenario("usage-separate", "usage in its own chunk with empty choices, after the finish")
def _usage_separate(model: str, prompt: str, arg: str, server: Server) -> Reply:
    pieces = words("Usage comes last.")
    steps = stream_of(model, prompt, pieces)
    usage = {"id": "c", "object": "chat.completion.chunk", "model": model, "choices": []}
    steps[-2] = sse(chunk(model, finish="stop"))
    steps.insert(-1, sse({**usage, "usage": usage_for(prompt, pieces)}))
    return Reply(steps=steps)


@scenario("no-usage", "a stream without usage or provider")
def _no_usage(model: str, prompt: str, arg: str, server: Server) -> Reply:
    steps: list[Step] = []
    for piece in words("No usage here."):
        obj = chunk(model, content=piece)
        del obj["provider"]
        steps.append(sse(obj))
    final = chunk(model, finish="stop")
    del final["provider"]
    return Reply(steps=[*steps, sse(final), sse("[DONE]")])


@scenario("odd-shapes", "choices null or missing, content null or absent, no finish before [DONE]")
def _odd_shapes(model: str, prompt: str, arg: str, server: Server) -> Reply:
    base = {"id": "c", "object": "chat.completion.chunk", "model": model}
    steps: list[Step] = [
        sse({**base, "choices": None}),
        sse(base),
        sse({**base, "choices": [{"index": 0, "delta": {"role": "assistant"}}]}),
        sse({**base, "choices": [{"index": 0, "delta": {"content": None}}]}),
        sse({**base, "choices": [{"index": 0, "delta": {"content": "odd "}}]}),
        sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": None}]}),
        sse({**base, "choices": [{"index": 0, "delta": {"content": "shapes"}}]}),
        b"event: ping\n\n",
        sse("[DONE]"),
    ]
    return Reply(steps=steps)


@scenario("bom", "a byte order mark before the first event")
def _bom(model: str, prompt: str, arg: str, server: Server) -> Reply:
    steps = stream_of(model, prompt, words("BOM handled."))
    return Reply(steps=[b"\xef\xbb", b"\xbf", *steps])


@scenario("split", "CRLF line ends, bytes split inside UTF-8 characters and between CR and LF")
def _split(model: str, prompt: str, arg: str, server: Server) -> Reply:
    body = b"".join(
        s for s in stream_of(model, prompt, words("héllo wörld ✓ 🎉 done")) if isinstance(s, bytes)
    ).replace(b"\n", b"\r\n")
    steps: list[Step] = []
    position = 0
    sizes = [1, 2, 3, 5, 7]
    while position < len(body):
        size = sizes[len(steps) % len(sizes)]
        steps.append(body[position : position + size])
        position += size
    return Reply(steps=steps)


@scenario("escape", "an answer full of terminal escape sequences (they must be neutralised)")
def _escape(model: str, prompt: str, arg: str, server: Server) -> Reply:
    evil = [
        "safe ",
        "\x1b[2J\x1b[H",
        "cleared? ",
        "\x1b]0;pwned title\x07",
        "\x1b]52;c;cHduZWQ=\x07",
        "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\",
        " bell\x07 c1\x9b31m end\n",
    ]
    return Reply(steps=stream_of(model, prompt, evil))


@scenario("huge-token", "one 1 MiB token")
def _huge(model: str, prompt: str, arg: str, server: Server) -> Reply:
    return Reply(steps=stream_of(model, prompt, ["x" * (1 << 20)]))


@scenario("error-mid", "text, then an error event (Token360 shape), then [DONE]")
def _error_mid(model: str, prompt: str, arg: str, server: Server) -> Reply:
    steps = stream_of(model, prompt, words("Partial answer "))[:-2]
    error = {
        "error": {
            "message": "Rate limit exceeded",
            "type": "rate_limit_error",
            "code": "rate_limit",
        }
    }
    return Reply(steps=[*steps, sse(error), sse("[DONE]")])


@scenario("error-openrouter", "text, then finish_reason error with an error object")
def _error_openrouter(model: str, prompt: str, arg: str, server: Server) -> Reply:
    steps = stream_of(model, prompt, words("Partial answer "))[:-2]
    final = chunk(model, content="", finish="error")
    final["error"] = {"code": 502, "message": "Provider returned error"}
    return Reply(steps=[*steps, sse(final), sse("[DONE]")])


@scenario("invalid-json", "text, then a data line that is not JSON")
def _invalid_json(model: str, prompt: str, arg: str, server: Server) -> Reply:
    steps = stream_of(model, prompt, words("Before garbage "))[:-2]
    return Reply(steps=[*steps, b'data: {"choices": [ this is not json\n\n', sse("[DONE]")])


@scenario("non-object", "a data line whose JSON is not an object")
def _non_object(model: str, prompt: str, arg: str, server: Server) -> Reply:
    return Reply(steps=[sse(chunk(model, content="x")), b"data: [1, 2, 3]\n\n", sse("[DONE]")])


@scenario("truncated", "text, then the body ends cleanly without finish or [DONE]")
def _truncated(model: str, prompt: str, arg: str, server: Server) -> Reply:
    return Reply(steps=stream_of(model, prompt, words("This answer is cut "))[:-2])


@scenario("drop", "text, then the connection closes in the middle of the body")
def _drop(model: str, prompt: str, arg: str, server: Server) -> Reply:
    return Reply(steps=[*stream_of(model, prompt, words("Dropped after this "))[:-2], Cut])


@scenario("reset", "text, then a TCP reset")
def _reset(model: str, prompt: str, arg: str, server: Server) -> Reply:
    return Reply(steps=[*stream_of(model, prompt, words("Reset after this "))[:-2], Reset])


@scenario("stall", "text, then silence for MS milliseconds (default 30000), then the rest")
def _stall(model: str, prompt: str, arg: str, server: Server) -> Reply:
    steps = stream_of(model, prompt, words("Stalling now "))
    steps.insert(-2, _int(arg, 30000) / 1000)
    return Reply(steps=steps)


@scenario("no-newline", "a body that never sends a line break (MiB, default 20)")
def _no_newline(model: str, prompt: str, arg: str, server: Server) -> Reply:
    block = b"data: " + b"z" * (1 << 20)
    return Reply(steps=[block] * _int(arg, 20))


@scenario("json", "a non-streamed application/json completion, even when asked to stream")
def _json(model: str, prompt: str, arg: str, server: Server) -> Reply:
    body = completion_of(model, prompt, prompt or "whole answer", reasoning="quick thought")
    return Reply(steps=[body], content_type="application/json")


@scenario("html-502", "HTTP 502 with an HTML page from a proxy")
def _html(model: str, prompt: str, arg: str, server: Server) -> Reply:
    page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    return Reply(status=502, steps=[page], content_type="text/html")


@scenario("empty-503", "HTTP 503 with an empty body")
def _empty(model: str, prompt: str, arg: str, server: Server) -> Reply:
    return Reply(status=503, steps=[], content_type="text/plain")


@scenario("status", "HTTP CODE with a JSON error body (status:404)")
def _status(model: str, prompt: str, arg: str, server: Server) -> Reply:
    code = _int(arg, 500)
    body = error_body(f"mock error {code}", "mock_error", code)
    return Reply(status=code, steps=[body], content_type="application/json")


@scenario("rate-limit", "HTTP 429 with Retry-After: 1 for the first N calls, then echo")
def _rate_limit(model: str, prompt: str, arg: str, server: Server) -> Reply:
    if server.count(model) <= _int(arg, 1):
        body = error_body("Rate limit exceeded", "rate_limit_error", "rate_limit")
        return Reply(429, {"Retry-After": "1"}, [body], "application/json")
    return _echo(model, prompt, arg, server)


@scenario("rate-limit-ms", "HTTP 429 with retry-after-ms: 250 once, then echo")
def _rate_limit_ms(model: str, prompt: str, arg: str, server: Server) -> Reply:
    if server.count(model) <= 1:
        body = error_body("Slow down", "rate_limit_error", "rate_limit")
        return Reply(429, {"retry-after-ms": "250"}, [body], "application/json")
    return _echo(model, prompt, arg, server)


@scenario("rate-limit-long", "HTTP 429 asking to wait 120 s (too long to sleep)")
def _rate_limit_long(model: str, prompt: str, arg: str, server: Server) -> Reply:
    body = error_body("Daily limit", "rate_limit_error", "rate_limit")
    return Reply(429, {"Retry-After": "120"}, [body], "application/json")


@scenario("flaky", "HTTP 503 for the first N calls (default 1), then echo")
def _flaky(model: str, prompt: str, arg: str, server: Server) -> Reply:
    if server.count(model) <= _int(arg, 1):
        return Reply(
            503, {}, [error_body("upstream busy", "server_error", 503)], "application/json"
        )
    return _echo(model, prompt, arg, server)


@scenario("alias", "answers like echo, but reports another model id (alias:NAME)")
def _alias(model: str, prompt: str, arg: str, server: Server) -> Reply:
    served = arg or "echo-2026-01-01"
    return Reply(steps=stream_of(served, prompt, words(prompt or "(empty)")))


@scenario("evil-meta", "escapes and bidi controls in the model id, provider and finish reason")
def _evil_meta(model: str, prompt: str, arg: str, server: Server) -> Reply:
    evil_model = "m\x1b]0;pwned title\x07\x1b[2J"
    steps = stream_of(evil_model, prompt, words("fine text"))
    return Reply(
        steps=[
            step.replace(
                b'"MockProvider"', b'"P\\u001b]52;c;cHduZWQ=\\u0007\\u202eredivorp"'
            ).replace(b'"finish_reason": "stop"', b'"finish_reason": "stop\\u009b31m"')
            if isinstance(step, bytes)
            else step
            for step in steps
        ]
    )


@scenario("echo-key", "HTTP 401 whose error text echoes the key: whole, cut and base64")
def _echo_key(model: str, prompt: str, arg: str, server: Server) -> Reply:
    import base64

    auth = server.calls[-1].headers.get("authorization", "") if server.calls else ""
    key = auth.partition(" ")[2]
    encoded = base64.b64encode(auth.encode()).decode()
    message = f"Invalid key {key}; you sent {key[: len(key) * 2 // 3]}… (header {encoded})"
    return Reply(401, {}, [error_body(message, "authentication_error", 401)], "application/json")


@scenario("bad-usage", "usage with NaN, Infinity, a 40-digit count and a negative total")
def _bad_usage(model: str, prompt: str, arg: str, server: Server) -> Reply:
    steps = stream_of(model, prompt, words("odd numbers"))[:-2]
    final = (
        b'data: {"model": "' + model.encode() + b'", "choices": [{"index": 0, "delta": {},'
        b' "finish_reason": "stop"}], "usage": {"prompt_tokens": NaN, "completion_tokens": '
        + b"9" * 40
        + b', "total_tokens": -3, "cost": Infinity}}\n\n'
    )
    return Reply(steps=[*steps, final, sse("[DONE]")])


@scenario("nested-error", "HTTP 400 whose error message is itself an object")
def _nested_error(model: str, prompt: str, arg: str, server: Server) -> Reply:
    body = json.dumps({"error": {"message": {"detail": "bad field", "field": "messages"}}})
    return Reply(400, {}, [body.encode()], "application/json")


def _gzip(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data, compresslevel=9)


@scenario("gzip", "an answer sent gzip-encoded, whatever the request accepts")
def _gzipped(model: str, prompt: str, arg: str, server: Server) -> Reply:
    body = b"".join(s for s in stream_of(model, prompt, words("packed")) if isinstance(s, bytes))
    return Reply(headers={"Content-Encoding": "gzip"}, steps=[_gzip(body)])


@functools.cache
def _bomb(mebibytes: int = 200) -> bytes:
    """gzip of ``data: zzz…`` without a line break, compressed a MiB at a time."""
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [packer.compress(b"data: ")]
    block = b"z" * 2**20
    parts += [packer.compress(block) for _ in range(mebibytes)]
    return b"".join([*parts, packer.flush()])


@scenario("gzip-bomb", "200 KB of gzip that decodes to 200 MB without a line break")
def _gzip_bomb(model: str, prompt: str, arg: str, server: Server) -> Reply:
    return Reply(headers={"Content-Encoding": "gzip"}, steps=[_bomb()])


@scenario("bad-gzip", "a body flagged gzip that is not gzip")
def _bad_gzip(model: str, prompt: str, arg: str, server: Server) -> Reply:
    return Reply(headers={"Content-Encoding": "gzip"}, steps=[b"data: not gzip at all\n\n"])


def _sample(schema: object, text: str = "text") -> object:
    """A value that matches a (simple) JSON Schema, ``text`` for its strings."""
    if not isinstance(schema, dict):
        return None
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties") or {}
        return {name: _sample(sub, text) for name, sub in properties.items()}
    if kind == "array":
        return [_sample(schema.get("items"), text)]
    return {"string": text, "integer": 42, "number": 1.5, "boolean": True}.get(str(kind))


def _wanted_schema(server: Server) -> object:
    """The JSON Schema of the request's response_format, if it has one."""
    wanted = _body(server).get("response_format")
    return (wanted or {}).get("json_schema", {}).get("schema") if isinstance(wanted, dict) else None


@scenario("json-answer", "answers JSON matching response_format's schema, in small fragments")
def _json_answer(model: str, prompt: str, arg: str, server: Server) -> Reply:
    schema = _wanted_schema(server)
    text = json.dumps(_sample(schema) if schema else {"answer": prompt})
    return Reply(steps=stream_of(model, prompt, [text[i : i + 3] for i in range(0, len(text), 3)]))


@scenario("json-wrong", "answers JSON that does not match the schema asked for")
def _json_wrong(model: str, prompt: str, arg: str, server: Server) -> Reply:
    return Reply(steps=stream_of(model, prompt, words('{"name": 7, "extra": true}')))


@scenario("parts", "describes the content parts of your message: type, MIME, size, sha256")
def _parts(model: str, prompt: str, arg: str, server: Server) -> Reply:
    import base64
    import hashlib

    users = [m for m in _messages(server) if m.get("role") == "user"]
    content = users[-1].get("content") if users else None
    parts = content if isinstance(content, list) else [{"type": "text", "text": content or ""}]
    lines = []
    for part in parts:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            lines.append(f"text {len(part.get('text') or '')} chars")
            continue
        inner = part.get(kind) if isinstance(part, dict) and isinstance(kind, str) else None
        inner = inner if isinstance(inner, dict) else {}
        url = inner.get("url") or inner.get("file_data") or ""
        mime, data = "", inner.get("data") or ""
        if url.startswith("data:"):
            mime, _, data = url[5:].partition(";base64,")
        elif url:
            lines.append(f"{kind} url {url}")
            continue
        raw = base64.b64decode(data) if data else b""
        name = f" {inner['filename']}" if inner.get("filename") else ""
        audio = f" {inner['format']}" if inner.get("format") else ""
        digest = hashlib.sha256(raw).hexdigest()[:12]
        lines.append(f"{kind}{name}{audio} {mime or '-'} {len(raw)} bytes sha256 {digest}")
    turns = sum(1 for m in users if isinstance(m.get("content"), list))
    lines.append(f"({turns} user messages with parts)")
    return Reply(steps=stream_of(model, prompt, words("\n".join(lines))))
