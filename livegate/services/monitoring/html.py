"""The report as one self-contained HTML file: inline CSS, charts as inline SVG computed here,
no script and no fetch (the page's Content-Security-Policy forbids both). Every value is
redacted and HTML-escaped on its way in."""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from livegate.core.formats import fixed, number, pct
from livegate.core.redact import redact_text

MAX_POINTS = 1500  # a chart keeps at most about this many points (min and max of each bucket)
HTML_TRADES = 50

CSS = """
:root { --ink:#1d2430; --muted:#5d6778; --line:#dfe3ea; --bg:#f6f7f9; --card:#fff;
        --green:#1a7f37; --yellow:#9a6700; --red:#cf222e; --blue:#0b5cad; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink); font:14px/1.45 -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width:1120px; margin:0 auto; padding:24px 20px 48px; }
h1 { font-size:24px; margin:0 0 4px; } h2 { font-size:18px; margin:32px 0 10px; border-bottom:1px solid var(--line); padding-bottom:6px; }
h3 { font-size:15px; margin:20px 0 6px; }
.muted { color:var(--muted); } .small { font-size:12px; }
.cards { display:grid; grid-template-columns:repeat(auto-fill, minmax(160px, 1fr)); gap:10px; margin-top:16px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 12px; }
.card .label { color:var(--muted); font-size:12px; } .card .value { font-size:18px; font-weight:600; margin-top:2px; }
table { width:100%; border-collapse:collapse; background:var(--card); border:1px solid var(--line); border-radius:8px; overflow:hidden; }
th, td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
th { background:#eef1f5; font-weight:600; font-size:12px; color:var(--muted); }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
tr:last-child td { border-bottom:0; }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; color:#fff; background:var(--muted); }
.badge.green, .badge.pass, .badge.passed { background:var(--green); } .badge.yellow, .badge.warn { background:var(--yellow); }
.badge.red, .badge.fail, .badge.failed, .badge.error { background:var(--red); } .badge.skip, .badge.na { background:#8c959f; }
.tag { display:inline-block; padding:0 6px; border-radius:4px; font-size:11px; background:#fff1cc; color:var(--yellow); border:1px solid #f2d589; }
.chart { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:8px; }
.chart svg { width:100%; height:auto; display:block; }
.pos { color:var(--green); } .neg { color:var(--red); }
header .overall { float:right; font-size:16px; }
.pair { display:grid; grid-template-columns:1fr 1fr; gap:10px; } .pair h3 { margin-top:6px; }
.legend { font-size:12px; color:var(--muted); margin:4px 0; } .swatch { display:inline-block; width:10px; height:10px; border-radius:2px; margin:0 4px 0 10px; }
details summary { cursor:pointer; color:var(--muted); margin:6px 0; }
section.phase { page-break-before:always; break-before:page; margin-top:28px; }
.badge.signed.off { background:var(--blue); } .badge.waiting { background:#8c959f; }
"""


def e(value: Any) -> str:
    """Redacted and HTML-escaped text of any value."""
    return html.escape(redact_text("" if value is None else str(value)), quote=True)


def num(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return e(fixed(value, digits))
    if isinstance(value, list):
        return "[" + ", ".join(num(v, digits) for v in value) + "]"
    return e(value)


def sig(value: Any) -> str:
    """A measurement or threshold: 4 significant digits, yes/no, — for none."""
    if isinstance(value, float | list):
        return e(number(value))
    return num(value)


def signed(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "—"
    return f'<span class="{"pos" if value > 0 else "neg" if value < 0 else ""}">{num(value, digits)}</span>'


def badge(word: Any) -> str:
    word = "n/a" if word is None else str(word)
    return f'<span class="badge {e(word.replace("/", ""))}">{e(word.upper())}</span>'


def table(columns: list[tuple[str, str]], rows: list[dict], cells: dict[str, Callable[[Any], str]] | None = None, empty: str = "none") -> str:
    """`columns`: (key, heading); a heading ending in '#' is right-aligned (numbers). `cells`
    renders a key's value as HTML (default: escaped text)."""
    cells = cells or {}
    head = "".join(f'<th class="num">{e(h[:-1])}</th>' if h.endswith("#") else f"<th>{e(h)}</th>" for _, h in columns)
    body = []
    for row in rows:
        tds = []
        for key, heading in columns:
            render = cells.get(key, num if heading.endswith("#") else e)
            tds.append(f'<td class="num">{render(row.get(key))}</td>' if heading.endswith("#") else f"<td>{render(row.get(key))}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    if not rows:
        body.append(f'<tr><td colspan="{len(columns)}" class="muted">{e(empty)}</td></tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


# -- charts ----------------------------------------------------------------------------------------

def decimate(points: list[tuple[float, float]], limit: int = MAX_POINTS) -> list[tuple[float, float]]:
    """At most about `limit` points: each bucket keeps its lowest and highest point, in order,
    so peaks and troughs (the drawdown) survive."""
    if len(points) <= limit:
        return points
    size = math.ceil(len(points) / (limit // 2))
    out = []
    for start in range(0, len(points), size):
        bucket = points[start:start + size]
        lo, hi = min(bucket, key=lambda p: p[1]), max(bucket, key=lambda p: p[1])
        out += sorted({lo, hi}, key=bucket.index)
    if out[-1] != points[-1]:
        out.append(points[-1])
    return out


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(lo / step) * step
    return [first + i * step for i in range(int(math.ceil((hi - first) / step)) + 1)]


def _time_label(ms: float, span_ms: float) -> str:
    when = datetime.fromtimestamp(ms / 1000, UTC)
    if span_ms <= 2 * 3_600_000:
        return when.strftime("%H:%M:%S")
    return when.strftime("%m-%d %H:%M" if span_ms <= 3 * 86_400_000 else "%Y-%m-%d")


def line_chart(points: list[tuple[float, float]], *, label: str, color: str, unit: str = "", reference: float | None = None,
               area: bool = False, width: int = 960, height: int = 260) -> str:
    """An SVG line chart of (epoch ms, value) points; `reference` draws a dashed level (the
    starting capital), `area` fills between the line and zero (drawdown)."""
    if len(points) < 2:
        return f'<p class="muted">{e(label)}: not enough closed trades to draw.</p>'
    points = decimate(points)
    left, right, top, bottom = 78, 16, 14, 30
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    values = ys + ([reference] if reference is not None else []) + ([0.0] if area else [])
    ticks = nice_ticks(min(values), max(values))
    y0, y1 = ticks[0], ticks[-1]

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * (width - left - right)

    def py(y: float) -> float:
        return top + (y1 - y) / (y1 - y0) * (height - top - bottom)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" aria-label="{e(label)}">',
             f"<title>{e(label)}</title>"]
    for t in ticks:
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#e6e9ef"/>')
        parts.append(f'<text x="{left - 6}" y="{py(t) + 4:.1f}" text-anchor="end" font-size="11" fill="#5d6778">{e(_tick(t, ticks))}{e(unit)}</text>')
    labels = 5 if width >= 600 else 3
    for i in range(labels):
        x = x0 + (x1 - x0) * i / (labels - 1)
        anchor = "start" if i == 0 else "end" if i == labels - 1 else "middle"
        parts.append(f'<text x="{px(x):.1f}" y="{height - 10}" text-anchor="{anchor}" font-size="11" fill="#5d6778">{e(_time_label(x, x1 - x0))}</text>')
    line = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
    if area:
        parts.append(f'<polygon points="{px(xs[0]):.1f},{py(0):.1f} {line} {px(xs[-1]):.1f},{py(0):.1f}" fill="{color}" fill-opacity="0.18"/>')
    if reference is not None:
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{py(reference):.1f}" y2="{py(reference):.1f}" stroke="#8c959f" stroke-dasharray="4 4"/>')
    parts.append(f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="1.6" stroke-linejoin="round"/>')
    parts.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{height - bottom}" stroke="#c5cbd5"/>')
    parts.append("</svg>")
    return f'<div class="chart">{"".join(parts)}</div>'


def _tick(value: float, ticks: list[float]) -> str:
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    digits = max(0, -math.floor(math.log10(step)) + (1 if step / 10 ** math.floor(math.log10(step)) == 2.5 else 0))
    return f"{value:,.{digits}f}"


PAPER_COLOR, LIVE_COLOR = "#0b5cad", "#bc4c00"
LANES = (("runs", "Runs", "#0b5cad"), ("results", "Results", "#1a7f37"), ("sign-offs", "Sign-offs", "#6639ba"),
         ("mode", "Mode and halts", "#9a6700"), ("breakers", "Breaker trips", "#cf222e"))


def bar_chart(categories: list[str], series: list[tuple[str, str, list[float | None]]], *, label: str, unit: str = "",
              width: int = 960, height: int = 240) -> str:
    """An SVG bar chart: one group per category, one bar per series (name, colour, values);
    bars grow up from zero, or down for negative values."""
    values = [v for _, _, vs in series for v in vs if v is not None]
    if not categories or not values:
        return f'<p class="muted">{e(label)}: nothing to draw yet.</p>'
    left, right, top, bottom = 78, 16, 14, 34
    ticks = nice_ticks(min(values + [0.0]), max(values + [0.0]))
    y0, y1 = ticks[0], ticks[-1]

    def py(y: float) -> float:
        return top + (y1 - y) / (y1 - y0) * (height - top - bottom)

    group = (width - left - right) / len(categories)
    bar = group * 0.8 / len(series)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" aria-label="{e(label)}">',
             f"<title>{e(label)}</title>"]
    for t in ticks:
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#e6e9ef"/>')
        parts.append(f'<text x="{left - 6}" y="{py(t) + 4:.1f}" text-anchor="end" font-size="11" fill="#5d6778">{e(_tick(t, ticks))}{e(unit)}</text>')
    for i, category in enumerate(categories):
        x = left + i * group + group * 0.1
        parts.append(f'<text x="{left + (i + 0.5) * group:.1f}" y="{height - 12}" text-anchor="middle" font-size="11" fill="#5d6778">{e(category)}</text>')
        for j, (name, color, vs) in enumerate(series):
            v = vs[i]
            if v is None:
                continue
            y_top, y_bottom = sorted((py(v), py(0.0)))
            parts.append(f'<rect class="bar" x="{x + j * bar:.1f}" y="{y_top:.1f}" width="{max(bar - 2, 1):.1f}" height="{max(y_bottom - y_top, 0.5):.1f}" '
                         f'fill="{color}"><title>{e(name)} · {e(category)}: {e(number(v))}{e(unit)}</title></rect>')
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{py(0.0):.1f}" y2="{py(0.0):.1f}" stroke="#8c959f"/>')
    parts.append("</svg>")
    return f'<div class="chart">{"".join(parts)}</div>'


def timeline_chart(rows: list[dict], width: int = 960) -> str:
    """One lane per kind of event (runs, results, sign-offs, mode and halts, breaker trips), each
    event a dot at its ledger time, named in its tooltip."""
    if not rows:
        return '<p class="muted">Nothing in the ledger yet.</p>'
    left, right, top, lane_h = 120, 16, 10, 26
    height = top + lane_h * len(LANES) + 26
    xs = [float(r["at_ms"]) for r in rows]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * (width - left - right)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" aria-label="Timeline">',
             "<title>Timeline of runs, results, sign-offs, mode changes, halts and breaker trips</title>"]
    lane_of = {key: (i, color) for i, (key, _, color) in enumerate(LANES)}
    for i, (_, name, _) in enumerate(LANES):
        y = top + lane_h * i + lane_h / 2
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e6e9ef"/>')
        parts.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#5d6778">{e(name)}</text>')
    for r in rows:
        i, color = lane_of.get(r["lane"], (len(LANES) - 1, "#5d6778"))
        y = top + lane_h * i + lane_h / 2
        parts.append(f'<circle class="event" cx="{px(float(r["at_ms"])):.1f}" cy="{y:.1f}" r="5" fill="{color}" fill-opacity="0.85">'
                     f'<title>{e(r["at"])} · {e(r["what"])} {e(r.get("step") or "")} {e(r.get("detail"))}</title></circle>')
    for i in range(5):
        x = x0 + (x1 - x0) * i / 4
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        parts.append(f'<text x="{px(x):.1f}" y="{height - 8}" text-anchor="{anchor}" font-size="11" fill="#5d6778">{e(_time_label(x, x1 - x0))}</text>')
    parts.append("</svg>")
    return f'<div class="chart">{"".join(parts)}</div>'


# -- the page -------------------------------------------------------------------------------------

def _cards(items: list[tuple[str, str]]) -> str:
    return '<div class="cards">' + "".join(f'<div class="card"><div class="label">{e(k)}</div><div class="value">{v}</div></div>'
                                           for k, v in items) + "</div>"


def _criteria(results: list[dict], criteria: list[dict]) -> str:
    if not results:
        return '<p class="muted">No phase result recorded yet.</p>'
    out = []
    for r in results:
        rows = [c for c in criteria if c["event"] == r["event"]]
        looser = f'<p class="small"><span class="tag">looser than default</span> {e(r["looser_thresholds"])}</p>' if r["looser_thresholds"] else ""
        out.append(f'<h3>{e(r["step"])} <span class="muted">· {e(r["kind"])}</span> {badge(r["verdict"])}</h3>'
                   f'<p class="muted small">event #{e(r["event"])} at {e(r["at"])} — {e(r["passed"])} of {e(r["criteria"])} criteria passed</p>{looser}')
        out.append(table([("criterion", "Criterion"), ("verdict", "Verdict"), ("measured", "Measured#"), ("rule", "Threshold"),
                          ("message", "Note")],
                         [{**c, "rule": c} for c in rows],
                         {"verdict": badge, "rule": _threshold, "measured": sig}))
    return "".join(out)


def _threshold(c: dict) -> str:
    text = f"{e(c.get('op'))} {sig(c.get('threshold'))}"
    return text + (' <span class="tag">looser</span>' if c.get("looser") else "")


def _of_run(report: dict[str, Any], section: str, run: str | None) -> list[dict]:
    return [r for r in report.get(section, []) if run is not None and r.get("run") == run]


def _curve(report: dict[str, Any], run: str | None, key: str = "equity") -> list[tuple[float, float]]:
    return [(p["at_ms"], p[key]) for p in _of_run(report, "curves", run)]


def _compared(report: dict[str, Any]) -> tuple[dict, dict]:
    """The runs rows of the paper run and the live stage compared (empty when there is none)."""
    by_role = {r["role"]: r for r in report.get("runs", []) if r["role"] in ("paper", "live")}
    return by_role.get("paper", {}), by_role.get("live", {})


def _run_title(row: dict, role: str) -> str:
    if not row:
        return f"{role}: none yet"
    return f"{role}: {row['label']} (run {row['run']}, started {row['started_at'][:16]}Z, capital {fixed(row['capital'], 2)})"


def _legend(paper: dict, live: dict) -> str:
    return ('<p class="legend">' + "".join(f'<span class="swatch" style="background:{c}"></span>{e(_run_title(r, role))}'
                                           for r, role, c in ((paper, "Paper", PAPER_COLOR), (live, "Live", LIVE_COLOR)) if r) + "</p>")


def _bin_label(low: float | None, high: float | None, fmt: Callable[[float], str]) -> str:
    if low is None:
        return f"< {fmt(high or 0.0)}"
    if high is None:
        return f"≥ {fmt(low)}"
    return f"{fmt(low)} to {fmt(high)}"


def _minutes(m: float) -> str:
    return f"{m:g} min" if m < 60 else f"{m / 60:g} h" if m < 1440 else f"{m / 1440:g} d"


def _binned(report: dict[str, Any], section: str, low: str, high: str, count: str, fmt: Callable[[float], str], label: str, unit: str) -> str:
    paper, live = _compared(report)
    series, categories = [], []
    for row, name, color in ((paper, "Paper", PAPER_COLOR), (live, "Live", LIVE_COLOR)):
        bins = _of_run(report, section, row.get("run"))
        if bins:
            categories = [_bin_label(b[low], b[high], fmt) for b in bins]
            series.append((name, color, [float(b[count]) for b in bins]))
    return bar_chart(categories, series, label=label, unit=unit)


def _monthly(report: dict[str, Any]) -> str:
    paper, live = _compared(report)
    rows = {name: {m["month"]: m["return_pct"] for m in _of_run(report, "monthly", r.get("run"))} for name, r in (("Paper", paper), ("Live", live))}
    months = sorted(set(rows["Paper"]) | set(rows["Live"]))
    series = [(name, color, [rows[name].get(m) for m in months]) for name, color in (("Paper", PAPER_COLOR), ("Live", LIVE_COLOR)) if rows[name]]
    return bar_chart(months, series, label="Monthly return on the equity the month opened with, %", unit=" %")


def _side_by_side(report: dict[str, Any]) -> str:
    paper, live = _compared(report)
    cells = {"paper": sig, "live": sig, "measured": sig, "threshold": sig, "verdict": lambda v: badge(v) if v else ""}
    charts = "".join(f'<div><h3>{e(role)} equity</h3>'
                     + line_chart(_curve(report, row.get("run")), label=f"{role} equity", color=color, reference=row.get("capital"), width=470, height=220)
                     + "</div>" for role, row, color in (("Paper", paper, PAPER_COLOR), ("Live", live, LIVE_COLOR)))
    return ("<h2>Paper and live side by side</h2>" + _legend(paper, live)
            + '<p class="muted small">Paper is the run of the signed-off paper result (else the latest paper run); live is the latest '
            "micro-live stage. The kill criteria below are the ones go-live checks while a stage runs, measured the same way.</p>"
            + f'<div class="pair">{charts}</div>'
            + table([("measure", "Measure"), ("paper", "Paper#"), ("live", "Live#"), ("measured", "Measured#"), ("op", "Rule"),
                     ("threshold", "Threshold#"), ("verdict", "Verdict"), ("note", "Note")], report.get("comparison", []), cells))


def _distributions(report: dict[str, Any]) -> str:
    paper, live = _compared(report)
    exposure = "".join(f'<div><h3>{e(role)}</h3>'
                       + line_chart([(p["at_ms"], p["exposure"]) for p in _of_run(report, "exposure", row.get("run"))], label=f"{role} exposure",
                                    color=color, area=True, width=470, height=200)
                       + "</div>" for role, row, color in (("Paper", paper, PAPER_COLOR), ("Live", live, LIVE_COLOR)))
    return ("<h2>Slippage distribution</h2>" + _legend(paper, live)
            + '<p class="muted small">Fills per band of slippage against the price the decision saw, in basis points (positive = worse).</p>'
            + _binned(report, "slippage_bins", "low_bps", "high_bps", "fills", lambda v: f"{v:g}", "Fills per slippage band (bps)", "")
            + "<h2>Holding times</h2>"
            + '<p class="muted small">Closed trades per band of time from the opening fill to the close.</p>'
            + _binned(report, "holding_bins", "low_minutes", "high_minutes", "trades", _minutes, "Closed trades per holding time", "")
            + "<h2>Monthly returns</h2>" + _monthly(report)
            + "<h2>Exposure over time</h2>"
            + '<p class="muted small">Value held (amount × entry price) of the closed trades open at each moment.</p>'
            + f'<div class="pair">{exposure}</div>')


def _timeline(report: dict[str, Any]) -> str:
    rows = report.get("timeline", [])
    return ("<h2>Timeline</h2>" + timeline_chart(rows)
            + f'<details><summary class="small">Every event of the timeline ({len(rows)})</summary>'
            + table([("at", "At (UTC)"), ("what", "What"), ("step", "Step"), ("by", "By"), ("detail", "Detail")], rows, empty="nothing yet")
            + "</details>")


def rehearsal_tag(result: dict) -> str:
    """The label of a result obtained on the local sandbox, a test network or synthetic data:
    never to be read as a result on the real venue."""
    if not result.get("rehearsal"):
        return ""
    return f' <span class="tag" title="{e(result.get("rehearsal_reasons"))}">rehearsal — not the real venue</span>'


def _phase_pages(report: dict[str, Any]) -> str:
    if not report["results"]:
        return '<h2>Phases</h2><p class="muted">No phase result recorded yet.</p>'
    runs = {r["run"]: r for r in report.get("runs", [])}
    out = []
    for r in report["results"]:
        mark = (f' {badge("signed off")} <span class="muted small">signed off by {e(r.get("signed_by"))} at {e(r.get("signed_at"))}</span>'
                  if r.get("signed_off") else ' <span class="muted small">not signed off</span>')
        page = [f'<section class="phase" id="phase-{e(r["step"])}-{e(r["kind"])}"><h2>Phase {e(r["step"])} '
                f'<span class="muted">· {e(r["kind"])}</span> {badge(r["verdict"])}{mark}{rehearsal_tag(r)}</h2>']
        row = runs.get(r.get("run"))
        if row:
            page.append(_cards([("Run", e(row["run"])), ("Trades", num(row["trades"])), ("Net P&L", signed(row["net_pnl"])),
                                ("Win rate", e(pct(row["win_rate_pct"], 1))), ("Max drawdown", e(pct(row["max_drawdown_pct"], 3))),
                                ("Mean slippage", e(f"{number(row['mean_slippage_bps'])} bps" if row["mean_slippage_bps"] is not None else "—"))]))
            equity = line_chart(_curve(report, row["run"]), label=f"Equity of run {row['run']}", color=PAPER_COLOR, reference=row["capital"],
                                width=470, height=200)
            drawdown = line_chart(_curve(report, row["run"], "drawdown_pct"), label=f"Drawdown of run {row['run']}, %", color="#cf222e",
                                  unit=" %", area=True, width=470, height=200)
            page.append(f'<div class="pair"><div><h3>Equity</h3>{equity}</div><div><h3>Drawdown</h3>{drawdown}</div></div>')
        page.append(_criteria([r], report["criteria"]))
        out.append("".join(page) + "</section>")
    return "".join(out)


def render_html(report: dict[str, Any]) -> str:
    meta, run, summary = report["meta"], report["run"], report["summary"]
    overall = report["flags"][0]["overall"] if report["flags"] else "n/a"
    ledger = ("verified" if meta["ledger_verified"] else "DOES NOT VERIFY: " + str(meta["ledger_problems"]))
    ks = report["kill_switch"]
    halt_by = f' — {e(ks.get("reason"))} (by {e(ks.get("by"))}, {e(ks.get("at"))})' if ks.get("by") else ""
    run_line = (f"Run {e(run.get('id'))} — {e(run.get('source'))} {e(run.get('kind'))}, {e(run.get('status'))} "
                f"({e(run.get('why'))}); capital {num(run.get('capital'))}; symbols {e(run.get('symbols'))}"
                + (f"; strategy {e(run.get('strategy'))}" if run.get("strategy") else "")) if run else "No run in the ledger yet."
    equity = [(p["at_ms"], p["equity"]) for p in report["equity"]]
    drawdown = [(p["at_ms"], p["drawdown_pct"]) for p in report["equity"]]
    trades = report["trades"][-HTML_TRADES:][::-1]
    money = {k: signed for k in ("gross", "net", "avg_net", "best", "worst")}
    sections = [
        f'<header><span class="overall">Flags {badge(overall)}</span><h1>{e(meta["title"])}</h1>'
        f'<div class="muted">Workspace {e(meta["workspace"])} · generated {e(meta["generated_at"])} · ledger {e(meta["ledger_events"])} events, '
        f'{e(ledger)} ({e(meta["signatures_checked"])} signatures checked) · mode {e(meta["mode"])}'
        f'{" · <strong>HALTED</strong>" if meta["halted"] else ""}</div><p>{run_line}</p>'
        + (f'<p><span class="tag">rehearsal</span> Results of {e(meta["rehearsal_steps"])} were obtained on the local sandbox, a test '
           'network or synthetic data — not on the real venue.</p>' if meta.get("rehearsal_steps") else "") + '</header>',
        _cards([("Trades", num(summary.get("total_trades"))), ("Net P&L", signed(summary.get("net_pnl"))),
                ("Return", e(pct(summary.get("total_return_pct"), 3))), ("Win rate", e(pct(summary.get("win_rate_pct"), 1))),
                ("Profit factor", num(summary.get("profit_factor"))), ("Max drawdown", e(pct(summary.get("max_drawdown_pct"), 3))),
                ("Sharpe", num(summary.get("sharpe"))), ("Fees", num(summary.get("fees"))), ("Final equity", num(summary.get("final_equity")))]),
        f'<p class="muted small">{e(summary.get("reasons"))}</p>' if summary.get("reasons") else "",
        _timeline(report),
        _side_by_side(report),
        _distributions(report),
        "<h2>Flags</h2>",
        table([("rule", "Rule"), ("level", "Flag"), ("detail", "Detail")], report["flags"], {"level": badge}, "no run yet"),
        "<h2>Equity curve</h2>",
        line_chart(equity, label="Equity (capital + cumulative net P&L)", color="#0b5cad",
                   reference=report["equity"][0]["equity"] if report["equity"] else None),
        "<h2>Drawdown</h2>",
        line_chart(drawdown, label="Drawdown from peak equity, %", color="#cf222e", unit=" %", area=True),
        "<h2>Per symbol</h2>",
        table([("symbol", "Symbol"), ("trades", "Trades#"), ("win_rate_pct", "Win rate %#"), ("gross", "Gross#"), ("fees", "Fees#"),
               ("net", "Net#"), ("avg_net", "Avg net#"), ("best", "Best#"), ("worst", "Worst#")], report["symbols"], money, "no closed trade"),
        "<h2>Circuit breakers</h2>",
        table([("breaker", "Breaker"), ("trips", "Trips#"), ("first_trip_at", "First trip (UTC)"), ("last_trip_at", "Last trip (UTC)"),
               ("state", "State"), ("value", "Last value#"), ("threshold", "Threshold#"), ("message", "Last message")],
              report["breaker_summary"], {"value": sig, "threshold": sig}, "no trip recorded"),
        "<h2>Mode history</h2>",
        f'<p class="muted small">Kill switch: {"halted" if ks.get("halted") else "off"}{halt_by}</p>',
        table([("at", "At (UTC)"), ("by", "By"), ("from", "From"), ("to", "To"), ("level", "Level"), ("reason", "Reason")], report["modes"],
              empty="the mode was never changed (PAPER)"),
        "<h2>Sign-offs</h2>",
        table([("at", "At (UTC)"), ("step", "Step"), ("by", "By"), ("result_event", "Result event"), ("config_fingerprint", "Config fingerprint")],
              report["signoffs"], empty="nothing signed off yet"),
        f"<h2>Recent trades</h2><p class=\"muted small\">The last {len(trades)} of {len(report['trades'])}, newest first; "
        "every trade is in <code>--format json</code> and <code>--format csv</code>.</p>",
        table([("closed_at", "Closed (UTC)"), ("symbol", "Symbol"), ("side", "Side"), ("amount", "Amount#"), ("entry_price", "Entry#"),
               ("exit_price", "Exit#"), ("fee", "Fee#"), ("net", "Net#")], trades,
              {**money, "amount": lambda v: num(v, 6)}, "no closed trade"),
        _phase_pages(report),
    ]
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{e(meta['title'])} — {e(meta['workspace'])}</title><style>{CSS}</style></head>"
            f"<body><main>{''.join(sections)}<p class=\"muted small\">Generated by livegate from the ledger; numbers as defined in "
            "the README (How the numbers are defined).</p></main></body></html>\n")
