"""The floor: a minimal httpx + httpx-sse streaming client that only parses JSON and
writes the text, flushing each chunk. t360 is measured against it.

Usage: python floor.py BASE_URL MODEL

Like t360, it keeps httpx from importing its own command-line tool (click, rich and
pygments, when installed: about 30 ms; encode/httpx#3547), so that the two compare the
same work.
"""

import json
import sys
import types

_cli = types.ModuleType("httpx._main")
_cli.main = lambda: None  # type: ignore[attr-defined]
sys.modules["httpx._main"] = _cli

import httpx  # noqa: E402
import httpx_sse  # noqa: E402


def main() -> None:
    base_url, model = sys.argv[1], sys.argv[2]
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    out = sys.stdout.buffer
    with (
        httpx.Client(timeout=120) as client,
        httpx_sse.connect_sse(
            client,
            "POST",
            f"{base_url}/chat/completions",
            json=body,
            headers={"Authorization": "Bearer sk-bench"},
        ) as source,
    ):
        for sse in source.iter_sse():
            if sse.data == "[DONE]":
                break
            for choice in json.loads(sse.data).get("choices") or []:
                text = (choice.get("delta") or {}).get("content")
                if text:
                    out.write(text.encode())
                    out.flush()
    out.write(b"\n")


if __name__ == "__main__":
    main()
