"""Charts in stats and bench (issue 19): widths, empty and large histories, NO_COLOR,
the HTML report, and piped outputs left as they were."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest

from t360cli.charts import bars, distribution, make_axis, trends
from t360cli.mockserver import MockServer
from tests.helpers import chat_env, invoke, open_history, paths, run_tty

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def fill(answers: int) -> None:
    """``answers`` saved answers over three days and two models, TTFT 10..~2000 ms."""
    if not answers:
        return
    with open_history() as history:
        conversation = history.create("m", None, "generated")
    now = time.time()
    db = sqlite3.connect(paths().history_db)
    with db:
        for i in range(answers):
            cursor = db.execute(
                "INSERT INTO messages (conversation_id, role, content, created)"
                " VALUES (?, 'assistant', 'x', ?)",
                (conversation, now),
            )
            ttft = 10.0 * (1 + i % 200)
            db.execute(
                "INSERT INTO responses (message_id, conversation_id, model, provider, ttft_ms,"
                " latency_ms, prompt_tokens, completion_tokens, cost, partial, created, kind)"
                " VALUES (?, ?, ?, 'P', ?, ?, 5, 10, 0.001, 0, ?, 'chat')",
                (
                    cursor.lastrowid,
                    conversation,
                    "alpha-model" if i % 3 else "beta",
                    ttft,
                    ttft + 500,
                    now - (i % 3) * 86400,
                ),
            )
    db.close()


def screen_lines(data: bytes) -> list[str]:
    return [ANSI.sub("", line) for line in data.decode("utf-8", "replace").splitlines()]


# -- the text charts --------------------------------------------------------------------


def test_bars_have_heights_in_eighths() -> None:
    assert bars([0, 1, 4, 8]) == " ▁▄█"
    assert bars([]) == ""


def test_the_axis_turns_logarithmic_past_tenfold() -> None:
    assert not make_axis([100.0, 900.0], 40).log
    assert make_axis([10.0, 2000.0], 40).log


@pytest.mark.parametrize("width", [40, 80, 160])
def test_distribution_and_trends_fit_the_width(width: int) -> None:
    counts = {"a-rather-long-model-name-indeed": [(10, 3), (200, 9), (3000, 1)], "b": [(50, 1)]}
    marks = {"a-rather-long-model-name-indeed": (200.0, 3000.0), "b": (50.0, 50.0)}
    lines = distribution(counts, marks, width)
    assert lines and all(len(line) <= width for line in lines)
    assert "log scale" in lines[0] or width < 50
    assert "a-rather-long-model-name-indeed · 13 answers"[: width - 1] in "\n".join(lines)
    assert any("▲" in line for line in lines) and any("△" in line for line in lines)
    days = [("2026-11-0" + str(d), d * 10, 100.0 * d, 900.0, 0.01 * d) for d in range(1, 8)]
    assert all(len(line) <= width for line in trends(days, width))


def test_the_last_axis_label_stands_under_the_highest_bars() -> None:
    counts = {"a": [(300, 5), (900, 3), (4000, 2), (4100, 1)]}
    for width in (40, 80, 120):
        lines = distribution(counts, {"a": (900.0, 4000.0)}, width)
        bars_line, ticks = lines[2], lines[-1]
        last_bar = len(bars_line.rstrip()) - 1
        last_label = ticks.split()[-1]
        assert ticks.endswith(last_label) and last_label == "4.1s"
        assert len(ticks) - len(last_label) <= last_bar < len(ticks), (bars_line, ticks)
        assert "1s" in ticks.split()  # round values between the ends


def test_per_day_times_are_written_once_in_their_unit() -> None:
    lines = trends(
        [("2026-11-01", 3, 412.0, 1830.0, 0.5), ("2026-11-02", 5, 1500.0, 900.0, 1.0)], 80
    )
    assert "412 ms → 1.50 s" in lines[2] and "1.83 s → 900 ms" in lines[3]
    assert lines[4].split()[0] == "spent"


# -- stats in a real terminal -------------------------------------------------------------


@pytest.mark.parametrize("answers", [0, 1, 1000])
@pytest.mark.parametrize("columns", [40, 80, 160])
def test_stats_in_a_terminal_never_overflows(answers: int, columns: int) -> None:
    fill(answers)
    run = run_tty("stats", columns=columns, rows=60)
    assert run.code == 0
    lines = run.screen(columns=columns, rows=60)
    if not answers:
        assert "nothingtoshowyet" in "".join(lines).replace(" ", "")
        return
    assert all(len(line) <= columns for line in screen_lines(run.data))
    text = "\n".join(lines)
    assert "By model" in text and "TTFT distribution" in text and "Per day" in text
    assert "answer" in text


def test_no_color_means_no_colour_codes(server: MockServer) -> None:
    fill(30)
    coloured = run_tty("stats", columns=100, env={"FORCE_COLOR": "1"})
    plain = run_tty("stats", columns=100, env={"NO_COLOR": "1"})
    assert re.search(rb"\x1b\[3[0-9]", coloured.data) or re.search(rb"\x1b\[38", coloured.data)
    assert not re.search(rb"\x1b\[(3[0-7]|38|9[0-7])[;m]", plain.data)


def test_bench_shows_the_distribution_of_the_models_it_measured(server: MockServer) -> None:
    run = run_tty(
        "bench", "-m", "echo", "-m", "slow-first:30", "-n", "2", env=chat_env(server), columns=80
    )
    assert run.code == 0
    text = "\n".join(run.screen(columns=80, rows=24))
    assert "TTFT distribution" in text and "echo · 2 answers" in text
    assert all(len(line) <= 80 for line in screen_lines(run.data))


# -- HTML -----------------------------------------------------------------------------------


def test_the_html_report_is_well_formed_and_self_contained(tmp_path: Path) -> None:
    fill(300)
    with open_history() as history:  # a hostile model id, to be escaped
        history.query("SELECT 1")
    db = sqlite3.connect(paths().history_db)
    with db:
        db.execute("UPDATE responses SET model = '<script>x</script>&' WHERE rowid % 7 = 0")
    db.close()
    report = tmp_path / "report.html"
    result = invoke("stats", "--html", str(report))
    assert result.code == 0 and "report written" in result.err
    text = report.read_text()
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", text)
    root = ElementTree.fromstring(text.removeprefix("<!DOCTYPE html>\n"))
    svgs = [e for e in root.iter() if e.tag.endswith("svg")]
    assert len(svgs) >= 5  # the distribution and four trends
    assert any(e.tag.endswith("rect") for e in root.iter())


SVG = "{http://www.w3.org/2000/svg}"


def report_svgs(tmp_path: Path) -> list[ElementTree.Element]:
    report = tmp_path / "report.html"
    assert invoke("stats", "--html", str(report)).code == 0
    root = ElementTree.fromstring(report.read_text().removeprefix("<!DOCTYPE html>\n"))
    return list(root.iter(f"{SVG}svg"))


def test_the_html_charts_fill_the_page_label_their_axes_and_explain_every_bar(
    tmp_path: Path,
) -> None:
    fill(300)  # three days
    distribution, *days = report_svgs(tmp_path)
    assert distribution.get("width") == "100%"  # scaled to the page, not 660 px of it
    assert float((distribution.get("viewBox") or "").split()[2]) >= 1000
    texts = [t.text or "" for t in distribution.iter(f"{SVG}text")]
    assert "TTFT, time to first token (ms; log scale)" in texts and "answers" in texts
    assert {"10", "100", "1s"} <= set(texts)  # round values along the axis
    sizes = [float(e.get("font-size", "14")) for e in distribution.iter(f"{SVG}text")]
    assert min(sizes) >= 12
    bars = list(distribution.iter(f"{SVG}rect"))
    assert bars and all(
        re.fullmatch(r"TTFT \S+ m?s to \S+ m?s: [\d,]+ answers?", bar.findtext(f"{SVG}title") or "")
        for bar in bars
    )
    assert sum(int(b.findtext(f"{SVG}title", "").split(": ")[1].split()[0]) for b in bars) == 300
    # per day: a small bar chart per series, a bar a day, each with its date and figure
    assert [d.get("aria-label") for d in days] == [
        "Requests",
        "TTFT p50",
        "Latency p90",
        "Spent (bench runs included)",
    ]
    for chart in days:
        titles = [r.findtext(f"{SVG}title") or "" for r in chart.iter(f"{SVG}rect")]
        assert len(titles) == 3 and all(re.fullmatch(r"\d{4}-\d\d-\d\d: .+", t) for t in titles)


def test_one_day_in_the_html_report_is_a_row_of_figures(tmp_path: Path) -> None:
    fill(1)
    svgs = report_svgs(tmp_path)
    assert len(svgs) == 1  # the distribution; one day makes no trend
    text = (tmp_path / "report.html").read_text()
    assert re.search(r"<h2>Per day, \d{4}-\d\d-\d\d</h2><table>", text)


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB rows of an 8-bit, non-interlaced RGB or RGBA PNG."""
    import struct
    import zlib

    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    position, idat, header = 8, b"", b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind, body = data[position + 4 : position + 8], data[position + 8 : position + 8 + length]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        position += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and not interlace
    size = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * size
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            a = line[i - size] if i >= size else 0
            b, c = previous[i], previous[i - size] if i >= size else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(v for i, v in enumerate(line) if i % size < 3))
        previous = line
    return width, height, rows


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="no /usr/bin/chromium")
def test_the_html_report_in_a_browser_spreads_its_bars_over_the_page(tmp_path: Path) -> None:
    import subprocess

    fill(300)
    report, shot = tmp_path / "report.html", tmp_path / "report.png"
    assert invoke("stats", "--html", str(report)).code == 0
    subprocess.run(
        [
            "/usr/bin/chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1280,1600",
            report.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    width, height, rows = png_pixels(shot.read_bytes())
    assert (width, height) == (1280, 1600)
    bar = bytes.fromhex("4a7fb5")  # the bars' colour
    columns = {x for row in rows for x in range(width) if row[3 * x : 3 * x + 3] == bar}
    assert columns and min(columns) < 400 and max(columns) > 1100, (min(columns), max(columns))
    # the daily charts sit side by side: bars in both halves, below the distribution
    lower = {x for row in rows[1000:] for x in range(width) if row[3 * x : 3 * x + 3] == bar}
    assert any(x < 600 for x in lower) and any(x > 700 for x in lower)


# -- what scripts read stays as it was ----------------------------------------------------


def test_piped_json_and_csv_outputs_are_unchanged(tmp_path: Path) -> None:
    fill(12)
    piped = invoke("stats")
    assert "TTFT distribution" not in piped.out and "Per day" not in piped.out
    assert piped.out.splitlines()[0].startswith("By model")
    assert not ANSI.search(piped.out)
    obj = json.loads(invoke("stats", "--json").out)
    assert set(obj) == {"by_model", "by_provider", "cost_per_day", "timing"}
    header = invoke("stats", "--csv").out.splitlines()[0]
    assert header.startswith('"group","key","requests","errors","error_rate","ttft_p50_ms"')
