"""`livegate report`: one self-contained HTML file (charts inline, everything escaped, secrets
masked) and the same data as JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from tests.monitoring.conftest import expected_from_trades, ledger_events

HOSTILE = "<script>alert('pwned')</script>"
SECRET = "s3cr3t-Value-Zq9"  # pragma: allowlist secret


def test_the_html_is_self_contained_with_charts_and_escapes_everything(backtest_ws, run_cli, monkeypatch):
    monkeypatch.setenv("EXCHANGE_API_SECRET", SECRET)
    result = run_cli("-w", backtest_ws, "mode", "set", "EMERGENCY_STOP", "--reason", f"{HOSTILE} {SECRET}", "--by", "<b>mallory</b>", "--yes")
    assert result.exit_code == 0, result.output
    out = backtest_ws / "report.html"
    result = run_cli("-w", backtest_ws, "report", "--html", out)
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>")
    run = f"r{ledger_events(backtest_ws, 'paper_run_started')[0][0]}"
    charts = re.findall(r'<svg [^>]*aria-label="([^"]+)"', page)
    assert sorted(charts) == sorted(["Timeline", "Paper equity", "Fills per slippage band (bps)", "Closed trades per holding time",
                                     "Monthly return on the equity the month opened with, %", "Paper exposure",
                                     "Equity (capital + cumulative net P&amp;L)", "Drawdown from peak equity, %", f"Equity of run {run}",
                                     f"Drawdown of run {run}, %"]), charts
    assert "Live equity: not enough closed trades to draw" in page  # no micro-live stage: the paper side is drawn alone
    for heading in ("Timeline", "Paper and live side by side", "Slippage distribution", "Holding times", "Monthly returns",
                    "Exposure over time", "Equity curve", "Drawdown", "Per symbol", "Circuit breakers", "Mode history", "Sign-offs", "Flags"):
        assert f"<h2>{heading}</h2>" in page, heading
    assert '<section class="phase" id="phase-paper-backtest"><h2>Phase paper' in page
    assert "<script" not in page.lower() and "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in page
    assert "&lt;b&gt;mallory&lt;/b&gt;" in page and "<b>" not in page
    assert SECRET not in page and "***" in page
    assert "default-src 'none'" in page  # no script, no fetch, even if something slipped through
    assert not re.search(r"""(src|href)\s*=|<link|@import|url\(""", page, re.I)
    (_, result_event), = ledger_events(backtest_ws, "phase_result")
    for check in result_event["checks"]:
        assert f"<td>{check['criterion']}</td>" in page


def test_the_polyline_follows_the_equity_of_the_trades(backtest_ws, run_cli):
    out = backtest_ws / "r.html"
    assert run_cli("-w", backtest_ws, "report", "--html", out).exit_code == 0
    page = out.read_text(encoding="utf-8")
    trades = ledger_events(backtest_ws, "trade")
    chart = page.split('aria-label="Equity (capital + cumulative net P&amp;L)"', 1)[1]
    points = re.search(r'<polyline points="([^"]+)"', chart).group(1).split()
    assert len(points) == len(trades) + 1  # E_0 and one point per trade (no thinning below 1,500 points)
    ys = [float(p.split(",")[1]) for p in points]
    (_, start), = ledger_events(backtest_ws, "paper_run_started")
    want = expected_from_trades([p for _, p in trades], start["capital"])
    # SVG y grows downwards: the lowest point is the lowest equity
    equity = [start["capital"]]
    for _, t in sorted(trades, key=lambda item: item[1]["closed_ms"]):
        equity.append(equity[-1] + t["net"])
    assert ys.index(max(ys)) == equity.index(min(equity)) and equity[-1] == pytest.approx(want["final_equity"])


def test_json_and_csv_hold_the_same_data(backtest_ws, run_cli):
    assert run_cli("-w", backtest_ws, "report", "--format", "json", "--output", backtest_ws / "r.json").exit_code == 0
    assert run_cli("-w", backtest_ws, "report", "--format", "csv", "--output", backtest_ws / "r.csv").exit_code == 0
    data = json.loads((backtest_ws / "r.json").read_text(encoding="utf-8"))
    rows = list(csv.DictReader(io.StringIO((backtest_ws / "r.csv").read_text(encoding="utf-8"))))
    fields = 0
    for content in data.values():
        for row in (content if isinstance(content, list) else [content]):
            fields += len(row)
    assert len(rows) == fields
    for r in rows:
        content = data[r["section"]]
        value = (content if isinstance(content, dict) else content[int(r["row"])])[r["field"]]
        if r["section"] == "meta" and r["field"] == "generated_at":
            continue  # two invocations, two times
        if value is None:
            assert r["value"] == ""
        elif isinstance(value, bool):
            assert r["value"] == str(value).lower()
        elif isinstance(value, (int, float)):
            assert float(r["value"]) == value, r  # exact: Python's repr round-trips
        elif isinstance(value, (list, dict)):
            assert json.loads(r["value"]) == value
        else:
            assert r["value"] == value, r

    (_, start), = ledger_events(backtest_ws, "paper_run_started")
    trades = [p for _, p in ledger_events(backtest_ws, "trade")]
    want = expected_from_trades(trades, start["capital"])
    assert data["summary"]["total_trades"] == len(trades) == len(data["trades"]) == len(data["equity"]) - 1
    assert data["summary"]["net_pnl"] == pytest.approx(want["realized"])
    assert data["summary"]["max_drawdown_pct"] == pytest.approx(want["max_drawdown_pct"])
    assert data["equity"][-1]["equity"] == pytest.approx(want["final_equity"])
    assert min(p["drawdown_pct"] for p in data["equity"]) == pytest.approx(-want["max_drawdown_pct"])
    (symbol,) = data["symbols"]
    assert symbol["trades"] == len(trades) and symbol["net"] == pytest.approx(want["realized"])
    assert symbol["fees"] == pytest.approx(sum(t["fee"] for t in trades))
    (_, result), = ledger_events(backtest_ws, "phase_result")
    assert [r["step"] for r in data["results"]] == ["paper"] and data["results"][0]["kind"] == "backtest"
    assert [c["criterion"] for c in data["criteria"]] == [c["criterion"] for c in result["checks"]]
    assert [c["verdict"] for c in data["criteria"]] == [c["verdict"] for c in result["checks"]]
    trips = ledger_events(backtest_ws, "breaker_trip")
    assert [b["event"] for b in data["breakers"] if b["what"] == "trip"] == [i for i, _ in trips]
    assert data["meta"]["ledger_verified"] is True


def test_stdout_and_the_json_shortcut(backtest_ws, run_cli):
    result = run_cli("-w", backtest_ws, "report", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["run"]["source"] == "paper"
    result = run_cli("-w", backtest_ws, "report", "--format", "csv")
    assert result.exit_code == 0 and result.stdout.startswith("section,row,field,value\n")


@pytest.mark.parametrize("args, message", [
    ([], "give one of --html FILE or --format"),
    (["--format", "xml"], "--format must be json or csv"),
    (["--html", "a.html", "--format", "json"], "give one of"),
    (["--html", "a.html", "--output", "b"], "--output goes with --format"),
])
def test_usage_errors(backtest_ws, run_cli, args, message):
    result = run_cli("-w", backtest_ws, "report", *args)
    assert result.exit_code == 2 and message in result.output


def test_a_live_workspace_reports_its_sign_offs_and_mode_history(make_live_ws, run_cli):
    root = make_live_ws()
    data = json.loads(run_cli("-w", root, "report", "--json").stdout)
    assert [s["step"] for s in data["signoffs"]] == ["env", "paper", "testnet"]
    assert all(s["by"] == "Test Operator" for s in data["signoffs"])
    assert [m["to"] for m in data["modes"]] == ["LIVE_MINIMAL"]
    assert [r["step"] for r in data["results"]] == ["env", "paper", "testnet"]
    assert data["run"] == {} and data["trades"] == [] and data["summary"]["reasons"]
    out = root / "r.html"
    assert run_cli("-w", root, "report", "--html", out).exit_code == 0
    page = out.read_text(encoding="utf-8")
    assert "not enough closed trades to draw" in page and "Test Operator" in page


def test_long_curves_are_thinned_but_keep_their_extremes():
    from livegate.services.monitoring.html import MAX_POINTS, decimate

    points = [(i, float((i * 7919) % 1000) - (5000 if i == 4321 else 0)) for i in range(100_000)]
    thin = decimate(points)
    assert len(thin) <= MAX_POINTS + 1 and thin[0] == points[0] and thin[-1] == points[-1]
    assert min(thin, key=lambda p: p[1]) == (4321, points[4321][1]) and max(p[1] for p in thin) == max(p[1] for p in points)
    assert [x for x, _ in thin] == sorted(x for x, _ in thin)


def test_the_timeline_shows_each_breaker_once_per_run_with_its_trips(backtest_ws, run_cli):
    data = json.loads(run_cli("-w", backtest_ws, "report", "--json").stdout)
    trips: dict[tuple[str, str], list[int]] = {}
    for event, p in ledger_events(backtest_ws, "breaker_trip"):
        trips.setdefault((p["run"], p["breaker"]), []).append(event)
    assert trips, "the backtest trips a breaker"
    rows = [r for r in data["timeline"] if r["lane"] == "breakers"]
    assert [r["event"] for r in rows] == sorted(ids[0] for ids in trips.values())  # the first trip of each
    for r in rows:
        (run, breaker), = [key for key, ids in trips.items() if ids[0] == r["event"]]
        n = len(trips[(run, breaker)])
        assert r["what"] == f"breaker {breaker} tripped" and f"tripped {n} time{'s' if n != 1 else ''}" in r["detail"]
    (start_id, _), = ledger_events(backtest_ws, "paper_run_started")
    (result_id, _), = ledger_events(backtest_ws, "phase_result")
    assert {start_id, result_id} <= {r["event"] for r in data["timeline"]}
    kill = [r for r in data["comparison"] if r["key"] in ("win_rate_gap_points", "live_vs_paper_worse_pct")]
    assert [r["verdict"] for r in kill] == ["n/a", "n/a"] and all(r["note"] == "no micro-live stage yet" for r in kill)
