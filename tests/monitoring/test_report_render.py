"""The HTML report rendered by a real browser: headless Chromium (Debian: `apt-get install
chromium`) screenshots the page (the charts are found in the pixels) and dumps the DOM it built
(every section and chart is there, and nothing was logged to the console). Skipped when no
Chromium binary is installed, except under LIVEGATE_REQUIRE_CHROMIUM=1 (CI), where that fails.
To look at a screenshot yourself: scripts/render_report.sh; the README's: scripts/report_screenshot."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from livegate.services.monitoring.html import line_chart

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM = next((path for path in map(shutil.which, BROWSERS) if path), None)
REQUIRED = os.environ.get("LIVEGATE_REQUIRE_CHROMIUM") == "1"  # CI (.ci/run) installs Chromium and sets this: no silent skip there
pytestmark = pytest.mark.skipif(CHROMIUM is None and not REQUIRED, reason="no Chromium binary (apt-get install chromium) to render the report with")


def browser() -> str:
    assert CHROMIUM is not None, "LIVEGATE_REQUIRE_CHROMIUM=1 but no Chromium binary is installed (apt-get install chromium)"
    return CHROMIUM


def screenshot(page: Path, png: Path, width: int, height: int) -> bytes:
    cmd = [browser(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           f"--user-data-dir={png.parent / 'chromium-profile'}", f"--window-size={width},{height}", f"--screenshot={png}",
           page.as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    assert png.is_file(), done.stderr[-2000:]
    return png.read_bytes()


def dump_dom(page: Path, profile: Path) -> tuple[str, str]:
    """(the DOM Chromium built from `page`, what it logged): console messages, a blocked script or
    fetch included, appear in the log as `:CONSOLE` lines."""
    cmd = [browser(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={profile}",
           "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    assert "</html>" in done.stdout, done.stderr[-2000:]
    return done.stdout, done.stderr


def console_messages(log: str) -> list[str]:
    return [line for line in log.splitlines() if ":CONSOLE" in line]


def chart_labels(dom: str) -> list[str]:
    return re.findall(r'<svg [^>]*aria-label="([^"]+)"', dom)


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB bytes) of an 8-bit RGB or RGBA, non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            assert depth == 8 and color in (2, 6) and interlace == 0
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
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
        rows.append(bytes(line))
        prev = line
    return width, height, rows if bpp == 3 else [bytes(v for i, v in enumerate(r) if i % 4 != 3) for r in rows]


def pixels_near(rows: list[bytes], rgb: tuple[int, int, int], within: int = 60) -> int:
    return sum(1 for row in rows for i in range(0, len(row), 3)
               if abs(row[i] - rgb[0]) + abs(row[i + 1] - rgb[1]) + abs(row[i + 2] - rgb[2]) <= within)


def test_chromium_renders_the_report(backtest_ws, run_cli, tmp_path):
    page = tmp_path / "report.html"
    assert run_cli("-w", backtest_ws, "report", "--html", page).exit_code == 0
    png = screenshot(page, tmp_path / "report.png", 1200, 1800)
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (1200, 1800)
    assert len(png) > 40_000  # a blank page of that size is a few kilobytes
    dom, log = dump_dom(page, tmp_path / "profile")
    assert console_messages(log) == []
    for heading in ("Timeline", "Paper and live side by side", "Slippage distribution", "Holding times", "Monthly returns",
                    "Exposure over time", "Equity curve", "Drawdown", "Circuit breakers", "Sign-offs"):
        assert f"<h2>{heading}</h2>" in dom, heading
    assert "Paper equity" in chart_labels(dom) and dom.count("<polyline") >= 4


def test_chromium_shows_every_phase_and_paper_beside_live(demo_ws, run_cli, tmp_path):
    page = tmp_path / "demo.html"
    assert run_cli("-w", demo_ws, "report", "--html", page).exit_code == 0
    data = json.loads(run_cli("-w", demo_ws, "report", "--json").stdout)
    dom, log = dump_dom(page, tmp_path / "profile")
    assert console_messages(log) == []
    labels = chart_labels(dom)
    for label in ("Timeline", "Paper equity", "Live equity", "Fills per slippage band (bps)", "Closed trades per holding time",
                  "Monthly return on the equity the month opened with, %", "Paper exposure", "Live exposure"):
        assert label in labels, label
    for role in ("Paper", "Live"):  # both sides drawn: a line, not "not enough closed trades"
        chart = dom.split(f'aria-label="{role} equity"', 1)[1].split("</svg>", 1)[0]
        assert "<polyline" in chart, role
    timeline = dom.split('aria-label="Timeline"', 1)[1].split("</svg>", 1)[0]
    assert timeline.count('<circle class="event"') == len(data["timeline"])
    for r in data["results"]:
        section = dom.split(f'<section class="phase" id="phase-{r["step"]}-{r["kind"]}">', 1)[1].split("</section>", 1)[0]
        assert ("SIGNED OFF" in section) == r["signed_off"], r["step"]
        assert (f'aria-label="Equity of run {r["run"]}"' in section) == (r["run"] is not None), r["step"]
        assert all(f"<td>{c['criterion']}</td>" in section for c in data["criteria"] if c["event"] == r["event"])
    slippage = dom.split('aria-label="Fills per slippage band (bps)"', 1)[1].split("</svg>", 1)[0]
    assert slippage.count('<rect class="bar"') == sum(1 for b in data["slippage_bins"] if b["run"] in {x["run"] for x in data["runs"]
                                                                                                       if x["role"] in ("paper", "live")})


def test_the_charts_are_drawn_in_their_colours(tmp_path):
    points = [(1_700_000_000_000 + i * 60_000, 100 + (i % 7) - i / 10) for i in range(200)]
    drawdown = [(x, -abs(y - 100)) for x, y in points]
    page = tmp_path / "chart.html"
    page.write_text("<!doctype html><html><body style='margin:0;background:#fff'>"
                    + line_chart(points, label="equity", color="#0b5cad", width=600, height=150)
                    + line_chart(drawdown, label="drawdown", color="#cf222e", area=True, width=600, height=150)
                    + "</body></html>", encoding="utf-8")
    width, height, rows = decode_png(screenshot(page, tmp_path / "chart.png", 640, 360))
    assert (width, height) == (640, 360)
    assert pixels_near(rows, (0x0B, 0x5C, 0xAD)) > 800  # the equity line
    assert pixels_near(rows, (0xCF, 0x22, 0x2E)) > 800  # the drawdown line
    assert pixels_near(rows, (0xF5, 0xD3, 0xD5), within=30) > 10_000  # the drawdown area (red at 18 % on white)
