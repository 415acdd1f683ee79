"""The report's trader sections on a demo workspace (a signed-off paper forward run, micro-live
stages on the local exchange, a halt drill): every number recomputed here from the ledger's own
rows, read with sqlite3 — never with the report's code."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pytest

from tests.monitoring.conftest import ledger_events

SLIPPAGE_EDGES = [-math.inf, -20, -10, -5, -2, -0.5, 0.5, 2, 5, 10, 20, math.inf]
HOLDING_EDGES_MIN = [0, 1, 5, 15, 60, 240, 1440, 10080, math.inf]


def of_run(root, kind: str, run: str) -> list[dict]:
    return [p for _, p in ledger_events(root, kind) if p.get("run") == run]


def counts(values: list[float], edges: list[float]) -> list[int]:
    return [sum(1 for v in values if lo <= v < hi) for lo, hi in zip(edges, edges[1:], strict=False)]


def trade_return(t: dict) -> float:
    return t["net"] / (t["amount"] * t["entry_price"])


@pytest.fixture
def demo_report(demo_ws, run_cli):
    result = run_cli("-w", demo_ws, "report", "--json")
    assert result.exit_code == 0, result.output
    return demo_ws, json.loads(result.stdout)


def test_paper_and_live_runs_side_by_side_match_the_ledger(demo_report):
    root, data = demo_report
    signoffs = ledger_events(root, "signoff")
    paper_result = dict(ledger_events(root, "phase_result"))[[p for _, p in signoffs if p["step"] == "paper"][-1]["result_event"]]
    paper_run = paper_result["summary"]["run"]
    live_run = f"lgl{ledger_events(root, 'stage_started')[-1][0]}"
    runs = {r["role"]: r for r in data["runs"]}
    assert runs["paper"]["run"] == paper_run and runs["live"]["run"] == live_run
    for role, run, fill_kind in (("paper", paper_run, "fill"), ("live", live_run, "venue_fill")):
        trades = of_run(root, "trade", run)
        slips = [f["slippage_bps"] for f in of_run(root, fill_kind, run)]
        row = runs[role]
        assert row["trades"] == len(trades) > 0
        assert row["net_pnl"] == pytest.approx(sum(t["net"] for t in trades))
        assert row["win_rate_pct"] == pytest.approx(100 * sum(t["net"] > 0 for t in trades) / len(trades))
        assert row["mean_slippage_bps"] == pytest.approx(sum(slips) / len(slips)) and row["worst_slippage_bps"] == pytest.approx(max(slips))
        bins = [b for b in data["slippage_bins"] if b["run"] == run]
        assert [b["fills"] for b in bins] == counts(slips, SLIPPAGE_EDGES) and sum(b["fills"] for b in bins) == len(slips)
        held = [(t["closed_ms"] - t["opened_ms"]) / 60_000 for t in trades]
        assert [b["trades"] for b in data["holding_bins"] if b["run"] == run] == counts(held, HOLDING_EDGES_MIN)
        curve = [c for c in data["curves"] if c["run"] == run]
        assert curve[-1]["equity"] == pytest.approx(row["capital"] + sum(t["net"] for t in trades)) and len(curve) == len(trades) + 1

        by_month: dict[str, list[float]] = {}
        for t in sorted(trades, key=lambda t: t["closed_ms"]):
            by_month.setdefault(datetime.fromtimestamp(t["closed_ms"] / 1000, UTC).strftime("%Y-%m"), []).append(t["net"])
        months = [m for m in data["monthly"] if m["run"] == run]
        assert [m["month"] for m in months] == list(by_month)
        opening = row["capital"]
        for m, nets in zip(months, by_month.values(), strict=True):
            assert m["net"] == pytest.approx(sum(nets)) and m["return_pct"] == pytest.approx(100 * sum(nets) / opening)
            opening += sum(nets)

        exposure = [x for x in data["exposure"] if x["run"] == run]
        assert exposure
        for point in exposure:  # the entry value of every trade open at that moment
            want = sum(t["amount"] * t["entry_price"] for t in trades if t["opened_ms"] <= point["at_ms"] < t["closed_ms"])
            assert point["exposure"] == pytest.approx(want, abs=1e-9), point


def test_the_kill_criteria_compare_live_with_the_signed_off_paper_run(demo_report):
    root, data = demo_report
    runs = {r["role"]: r["run"] for r in data["runs"]}
    paper, live = of_run(root, "trade", runs["paper"]), of_run(root, "trade", runs["live"])
    rows = {r["key"]: r for r in data["comparison"]}
    paper_rate, live_rate = (100 * sum(t["net"] > 0 for t in ts) / len(ts) for ts in (paper, live))
    paper_mean, live_mean = (sum(map(trade_return, ts)) / len(ts) for ts in (paper, live))
    gap, worse = rows["win_rate_gap_points"], rows["live_vs_paper_worse_pct"]
    assert (gap["paper"], gap["live"]) == (pytest.approx(paper_rate), pytest.approx(live_rate))
    assert gap["measured"] == pytest.approx(abs(live_rate - paper_rate))
    assert (worse["paper"], worse["live"]) == (pytest.approx(100 * paper_mean), pytest.approx(100 * live_mean))
    assert worse["measured"] == pytest.approx(max(0.0, 100 * (paper_mean - live_mean) / abs(paper_mean)))
    # the demo's thresholds (looser than the defaults, and said so) are the ones the stage ran under
    (stage_result,) = [p for _, p in ledger_events(root, "phase_result") if p["step"] == "4.1d" and p["kind"] == "phase"]
    checks = {c["criterion"]: c for c in stage_result["checks"]}
    for key in ("win_rate_gap_points", "live_vs_paper_worse_pct", "unexpected_loss_usd", "limits_enforced"):
        assert rows[key]["threshold"] == checks[key]["threshold"] and rows[key]["op"] == checks[key]["op"]
        assert rows[key]["measured"] == pytest.approx(checks[key]["measured"]), key  # what go-live measured at the stage's end
        assert rows[key]["verdict"] == checks[key]["verdict"] == "pass"
    assert rows["kill_breaches"]["live"] == "none"
    assert rows["trades"]["paper"] == len(paper) and rows["trades"]["live"] == len(live)


def test_phases_are_marked_signed_off_and_the_timeline_holds_every_decision(demo_report):
    root, data = demo_report
    signed = {}
    for event, p in ledger_events(root, "signoff"):
        signed[p["step"]] = (event, p["result_event"])
    for r in data["results"]:
        assert r["signed_off"] == (signed.get(r["step"], (None, None))[1] == r["event"]), r
    assert {r["step"] for r in data["results"] if r["signed_off"]} == set(signed)
    timeline = {r["event"]: r for r in data["timeline"]}
    for kind in ("signoff", "paper_run_started", "stage_started", "phase_result", "mode_changed", "trading_halted", "trading_resumed"):
        ids = [i for i, _ in ledger_events(root, kind)]
        assert ids and all(i in timeline for i in ids), kind
    assert [r["event"] for r in data["timeline"]] == sorted(timeline)
    assert all(timeline[i]["by"] == p["by"] for i, p in ledger_events(root, "signoff"))  # the signing name, not the OS user
