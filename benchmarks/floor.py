"""The floor: a minimal httpx + httpx-sse streaming client that only parses JSON and
writes the text, flushing each chunk. t360 is measured against it.

Usage: python floor.py BASE_URL MODEL
"""

import json
import sys

import httpx
import httpx_sse


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
