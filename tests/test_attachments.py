"""Attachments and richer inputs (issue 16): real files of each type made here, refusals,
stdin, storage in the history, the REPL's /attach, -f folders and web pages."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import threading
import wave
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pexpect
import pytest

from t360cli.mockserver import MockServer
from tests.helpers import chat_env, invoke, paths, peak_memory_kib, spawn_t360


def png(width: int = 2, height: int = 2) -> bytes:
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def jpeg() -> bytes:
    """A minimal JFIF header and end marker: what a type sniffer reads."""
    return (
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        + b"\x00" * 64
        + b"\xff\xd9"
    )


def pdf() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
        b"trailer << /Root 1 0 R >>\n%%EOF\n"
    )


def wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x01" * 800)
    return buffer.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    made = {
        "red.png": png(),
        "photo.jpg": jpeg(),
        "doc.pdf": pdf(),
        "voice.wav": wav(),
        "mislabelled.png": jpeg(),
        "notes.txt": b"plain text\n",
        "archive.zip": b"PK\x03\x04" + b"\x00" * 40,
        "noise.bin": bytes(range(256)) * 4,
    }
    for name, data in made.items():
        (tmp_path / name).write_bytes(data)
    return {name: tmp_path / name for name in made}


# -- each type, sent as its part --------------------------------------------------------


def test_every_type_goes_as_its_content_part(server: MockServer, files: dict[str, Path]) -> None:
    args = ["-a", str(files["red.png"]), "-a", str(files["photo.jpg"]), "-a", str(files["doc.pdf"])]
    args += ["-a", str(files["voice.wav"]), "-a", "https://example.com/cat.png"]
    result = invoke("chat", "-m", "parts", *args, "look", env=chat_env(server))
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == "text 4 chars"  # the prompt is the first part
    assert lines[1] == f"image_url image/png {len(png())} bytes sha256 {sha(png())}"
    assert lines[2] == f"image_url image/jpeg {len(jpeg())} bytes sha256 {sha(jpeg())}"
    assert lines[3] == f"file doc.pdf application/pdf {len(pdf())} bytes sha256 {sha(pdf())}"
    assert lines[4] == f"input_audio wav - {len(wav())} bytes sha256 {sha(wav())}"
    assert lines[5] == "image_url url https://example.com/cat.png"
    sent = server.calls[-1].body["messages"][-1]["content"]
    assert sent[1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_the_type_comes_from_the_bytes_not_the_name(
    server: MockServer, files: dict[str, Path]
) -> None:
    result = invoke(
        "chat", "-m", "parts", "-a", str(files["mislabelled.png"]), "x", env=chat_env(server)
    )
    assert "image_url image/jpeg" in result.out


def test_an_attachment_from_stdin(server: MockServer) -> None:
    result = invoke(
        "chat", "-m", "parts", "-a", "-", "describe it", input=png(), env=chat_env(server)
    )
    assert result.code == 0, result.err
    assert result.out.splitlines()[:2] == [
        "text 11 chars",
        f"image_url image/png {len(png())} bytes sha256 {sha(png())}",
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("notes.txt", "is a text file"),
        ("archive.zip", "application/zip (zip)"),
        ("noise.bin", "an unknown binary type"),
        ("missing.png", "cannot read attachment"),
    ],
)
def test_refusals_are_one_line_and_send_nothing(
    server: MockServer, files: dict[str, Path], tmp_path: Path, name: str, message: str
) -> None:
    result = invoke("chat", "-m", "parts", "-a", str(tmp_path / name), "x", env=chat_env(server))
    assert result.code == 2 and message in result.err
    assert len(result.err.strip().splitlines()) == 1
    if name == "notes.txt":
        assert "-f" in result.err
    assert server.calls == []


def test_dev_zero_and_a_directory_are_refused_without_eating_memory(
    server: MockServer, tmp_path: Path
) -> None:
    code, peak = peak_memory_kib("chat", "-a", "/dev/zero", "x", env=chat_env(server))
    assert code == 2 and peak < 100 * 1024
    big = tmp_path / "big.png"
    big.write_bytes(png() + b"\x00" * 20_000_000)
    too_big = invoke("chat", "-a", str(big), "x", env=chat_env(server))
    assert too_big.code == 2 and "is over 20 MB; attach a smaller file" in too_big.err
    folder = invoke("chat", "-a", str(tmp_path), "x", env=chat_env(server))
    assert folder.code == 2 and "directory" in folder.err


# -- the history --------------------------------------------------------------------------


def test_attachments_are_stored_once_resent_by_continue_and_removed_with_the_conversation(
    server: MockServer, files: dict[str, Path]
) -> None:
    first = invoke(
        "chat", "--json", "-m", "parts", "-a", str(files["red.png"]), "a", env=chat_env(server)
    )
    conversation = json.loads(first.out)["conversation_id"]
    again = invoke("chat", "-m", "parts", "-c", "b", env=chat_env(server))
    assert "(1 user messages with parts)" in again.out  # the image went again with -c
    resent = server.calls[-1].body["messages"][0]["content"]
    assert resent[1]["image_url"]["url"].startswith("data:image/png;base64,")
    # the same picture in another conversation is stored once
    other = invoke(
        "chat", "--json", "-m", "parts", "-a", str(files["red.png"]), "c", env=chat_env(server)
    )
    store = paths().data_dir / "attachments"
    assert [p.name for p in store.iterdir()] == [hashlib.sha256(png()).hexdigest()]
    shown = invoke("history", "show", conversation).out
    assert f"[image red.png {len(png())} B]" in shown
    exported = json.loads(invoke("history", "export", conversation, "--format", "json").out)
    assert exported["messages"][0]["attachments"][0]["sha256"] == hashlib.sha256(png()).hexdigest()
    assert invoke("history", "delete", conversation, "--yes").code == 0
    assert len(list(store.iterdir())) == 1  # still used by the other conversation
    other_id = json.loads(other.out)["conversation_id"]
    assert invoke("history", "delete", other_id, "--yes").code == 0
    assert list(store.iterdir()) == []


def test_attach_in_the_repl(server: MockServer, files: dict[str, Path]) -> None:
    env = chat_env(server, PROMPT_TOOLKIT_NO_CPR="1")
    child = spawn_t360("chat", "-m", "parts", env=env, encoding="utf-8")
    child.expect("\u203a")
    child.sendline(f"/attach {files['red.png']}")
    child.expect_exact("attached [image red.png")
    child.expect("\u203a")
    child.sendline("/attach")
    child.expect_exact("attached to the next message: [image red.png")
    child.expect("\u203a")
    child.sendline("what is it")
    child.expect_exact(f"image_url image/png {len(png())} bytes")
    child.expect("\u203a")
    child.sendline("/retry")
    child.expect_exact(f"image_url image/png {len(png())} bytes")  # sent again
    child.expect("\u203a")
    child.sendline(f"/attach {files['notes.txt']}")
    child.expect_exact("is a text file")
    child.expect("\u203a")
    child.sendline(f"/attach {files['doc.pdf']}")
    child.expect("\u203a")
    child.sendline("/detach")
    child.expect_exact("detached 1")
    child.expect("\u203a")
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


# -- -f grows -----------------------------------------------------------------------------


def test_f_on_a_folder_adds_its_text_files(server: MockServer, tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n")
    (root / "build").mkdir()
    (root / "build" / "out.txt").write_text("generated\n")
    (root / ".gitignore").write_text("build/\n*.log\n")
    (root / "src" / "main.py").write_text("print('hi')\n")
    (root / "README.md").write_text("# project\n")
    (root / "debug.log").write_text("noise\n")
    (root / "logo.png").write_bytes(png())
    (root / ".env").write_text("SECRET=1\n")
    result = invoke("chat", "-m", "echo", "-f", str(root), "review", env=chat_env(server))
    assert result.code == 0, result.err
    sent = server.calls[-1].body["messages"][-1]["content"]
    assert f"{root}/README.md:\n```\n# project\n```" in sent
    assert f"{root}/src/main.py:" in sent
    for left_out in ("config", "generated", "noise", "SECRET", "PNG"):
        assert left_out not in sent
    assert "2 text files" in result.err and "1 binary or unreadable skipped" in result.err


def test_f_on_a_folder_over_2_mb_is_refused_naming_the_largest(
    server: MockServer, tmp_path: Path
) -> None:
    (tmp_path / "big.txt").write_text("x" * 1_500_000)
    (tmp_path / "bigger.txt").write_text("y" * 1_600_000)
    result = invoke("chat", "-m", "echo", "-f", str(tmp_path), "x", env=chat_env(server))
    assert result.code == 2 and "bigger.txt (1.6 MB), big.txt (1.5 MB)" in result.err
    assert server.calls == []


class _Pages(BaseHTTPRequestHandler):
    authorizations: list[str | None] = []  # noqa: RUF012 - the tests read what came

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.authorizations.append(self.headers.get("Authorization"))
        pages = {
            "/page": (
                "text/html; charset=utf-8",
                b"<html><head><style>p{}</style></head><body>"
                b"<h1>Title</h1><script>alert('x')</script><p>Some <b>bold</b> text.</p>"
                b"</body></html>",
            ),
            "/plain": ("text/plain", b"just text\n"),
            "/image": ("image/png", png()),
        }
        if self.path not in pages:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        kind, body = pages[self.path]
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def pages() -> Iterator[str]:
    site = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{site.server_address[1]}"
    site.shutdown()
    site.server_close()


def test_f_on_a_web_page_sends_readable_text(server: MockServer, pages: str) -> None:
    result = invoke("chat", "-m", "echo", "-f", f"{pages}/page", "summarise", env=chat_env(server))
    assert result.code == 0, result.err
    sent = server.calls[-1].body["messages"][-1]["content"]
    assert "# Title" in sent and "Some **bold** text." in sent
    assert "alert" not in sent and "p{}" not in sent
    assert _Pages.authorizations[-1] is None  # the API key goes to the gateway only
    plain = invoke("chat", "-m", "echo", "-f", f"{pages}/plain", "x", env=chat_env(server))
    assert "just text" in server.calls[-1].body["messages"][-1]["content"] and plain.code == 0
    image = invoke("chat", "-m", "echo", "-f", f"{pages}/image", "x", env=chat_env(server))
    assert image.code == 2 and "-a" in image.err
    missing = invoke("chat", "-m", "echo", "-f", f"{pages}/nope", "x", env=chat_env(server))
    assert missing.code == 5 and "HTTP 404" in missing.err


def test_a_large_attachment_is_streamed_into_the_body_unchanged() -> None:
    from t360cli.request import encode

    payload = {
        "model": "m",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": 'say "hi" \\ é'},
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:image/png;base64," + "QUJD" * 600_000},
                    },
                ],
            }
        ],
    }
    length, pieces = encode(payload)
    body = b"".join(pieces)
    assert length == len(body) and json.loads(body) == payload
    assert len(list(encode({"small": "x"})[1])) == 1
