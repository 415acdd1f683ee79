"""`livegate demo --yes` end to end in a temporary directory, with every core of the machine kept
busy meanwhile: every phase passed and signed off in the ledger, the chain of events verifies,
the report exists — nothing touches the internet. Its market time moves bar by bar with the
rehearsal (the sandbox's step clock), so a busy machine makes it slower, never different: each
micro-live stage ends with the very trades and hours of an idle run.

The demo is honest: its paper and micro-live results pass the default criteria of the shipped
`phases/*.yaml` (read here, not through livegate), the paper Sharpe ratio and fee drag follow
from the recorded trades by the published formulas, and the gateway's refusals are in the
ledger."""

from __future__ import annotations

import json
import math
import operator
import sqlite3
import statistics
from pathlib import Path

import pytest
import yaml

from tests.sandbox.load import busy_cores, still_busy

BAR_MS = 3_600_000  # the demo's one-hour candles
REQUEST_MS = 100  # the market time a signed request takes on the sandbox's step clock

# What every run of the demo gives, idle or loaded (a deterministic rehearsal): per stage, the
# successful trades and the market hours it took. If you change the demo's market, strategy or
# thresholds (livegate/demo.py), how a stage is measured or how many requests an order makes
# (each takes market time on the step clock), run `livegate demo --json` once and update these
# from its ledger (`phase_result` of each stage).
EXPECTED_STAGES = {
    "4.1a": {"min_successful_trades": 6, "min_duration_hours": 24.0003},
    "4.1b": {"min_successful_trades": 6, "min_duration_hours": 24.0003},
    "4.1c": {"min_successful_trades": 12, "min_duration_hours": 48.0007},
    "4.1d": {"min_successful_trades": 20, "min_duration_hours": 78.0011},
}
PHASES = Path(__file__).resolve().parents[2] / "phases"  # the shipped defaults
OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq,
       "between": lambda value, bounds: bounds[0] <= value <= bounds[1]}


def test_the_demo_walks_the_whole_protocol_the_same_on_a_busy_machine(run_cli, tmp_path):
    root = tmp_path / "demo"
    with busy_cores() as procs:
        result = run_cli("demo", str(root), "--yes", "--json")
        assert still_busy(procs)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ledger_ok"] and report["alerts_received"] >= 1
    assert report["looser_thresholds"] == []  # the demo says which thresholds differ from the defaults: none
    refused = [s for s in report["steps"] if s["verdict"] == "refused"]  # shown to the watcher
    assert len(refused) == 2 and "MAX_TRADE_AMOUNT" in refused[0]["detail"] and "halted" in refused[1]["detail"], refused
    assert (root / "demo-report.html").stat().st_size > 10_000
    conn = sqlite3.connect(root / ".livegate" / "ledger.db")
    try:
        def rows(kind: str) -> list[dict]:
            return [json.loads(p) for (p,) in conn.execute("SELECT payload FROM events WHERE kind = ? ORDER BY id", (kind,))]

        results, signed = rows("phase_result"), [p["step"] for p in rows("signoff")]
        trades, blocked, placed, started = rows("trade"), rows("order_blocked"), rows("order_placed"), rows("paper_run_started")
    finally:
        conn.close()
    ladder = ["env", "paper", "testnet", "4.1a", "4.1b", "4.1c", "4.1d", "production"]
    assert signed == ladder
    counted = [r for r in results if r.get("kind", "phase") == "phase"]
    assert [r["verdict"] for r in counted if r["step"] == "env"] == ["fail", "pass"]  # the deliberate failure, then fixed
    assert all(any(r["step"] == step and r["verdict"] == "pass" for r in counted) for step in ladder)

    stages = {r["step"]: {c["criterion"]: c["measured"] for c in r["checks"]} for r in counted if r["step"].startswith("4.1")}
    for stage, measured in stages.items():
        # on the step clock a stage lasts whole bars plus its requests' round trips — never wall time
        ms = round(measured["min_duration_hours"] * 3_600_000)
        assert ms % BAR_MS % REQUEST_MS == 0 and ms % BAR_MS < BAR_MS // 10, (stage, ms)
    got = {stage: {"min_successful_trades": m["min_successful_trades"], "min_duration_hours": round(m["min_duration_hours"], 4)}
           for stage, m in stages.items()}
    assert got == EXPECTED_STAGES, "the demo is deterministic: an idle run gives EXPECTED_STAGES (see its comment)"

    status = run_cli("-w", root, "status", "--json")
    ladder_report = json.loads(status.stdout)
    assert [s["status"] for s in ladder_report["steps"]] == ["signed"] * len(ladder)
    assert ladder_report["looser_thresholds"] == []  # no threshold loosened
    verify = run_cli("-w", root, "ledger", "verify")
    assert verify.exit_code == 0, verify.output

    paper = next(r for r in counted if r["step"] == "paper" and r["verdict"] == "pass")
    assert_default_criteria(paper, default_criteria("paper.yaml"))
    for stage in ("4.1a", "4.1b", "4.1c", "4.1d"):
        result = next(r for r in counted if r["step"] == stage and r["verdict"] == "pass")
        assert_default_criteria(result, default_criteria("micro-live.yaml", stage))
    run = paper["summary"]["run"]
    assert len(started) == 1  # the demo's one paper run
    capital = started[0]["capital"]
    assert_paper_figures(paper, [t for t in trades if t["run"] == run], capital)
    assert_refusals(blocked, placed)


def default_criteria(name: str, stage: str | None = None) -> dict[str, dict]:
    """The criteria of a shipped phase file (and of one of its stages), by id."""
    spec = yaml.safe_load((PHASES / name).read_text(encoding="utf-8"))
    criteria = list(spec["criteria"])
    if stage is not None:
        criteria += next(s for s in spec["stages"] if s["id"] == stage)["criteria"]
    return {c["id"]: c for c in criteria}


def assert_default_criteria(result: dict, defaults: dict[str, dict]) -> None:
    """Every default criterion was checked against its default threshold, and its measured value
    passes that threshold by the criterion's own comparison."""
    checks = {c["criterion"]: c for c in result["checks"]}
    assert set(checks) == set(defaults), (result["step"], set(checks) ^ set(defaults))
    assert result.get("looser_thresholds", []) == []
    for cid, default in defaults.items():
        check = checks[cid]
        assert (check["op"], check["threshold"]) == (default["op"], default["threshold"]), (result["step"], cid)
        assert check["verdict"] == "pass" and OPS[default["op"]](check["measured"], default["threshold"]), (result["step"], check)


def assert_paper_figures(paper: dict, trades: list[dict], capital: float) -> None:
    """SPEC's definitions from the paper run's `trade` events: fee drag = 100·Σfee / Σgross;
    Sharpe = mean(r) / stdev(r) · √365 of the daily returns r_t = d_t / equity at the end of the
    day before (d_t the net closed on UTC day t, every calendar day from the first trade day)."""
    measured = {c["criterion"]: c["measured"] for c in paper["checks"]}
    assert len(trades) == measured["min_trades"]
    assert measured["fee_drag_pct"] == pytest.approx(100 * sum(t["fee"] for t in trades) / sum(t["gross"] for t in trades))
    by_day: dict[int, float] = {}
    for t in trades:
        by_day[t["closed_ms"] // 86_400_000] = by_day.get(t["closed_ms"] // 86_400_000, 0.0) + t["net"]
    equity, returns = capital, []
    for day in range(min(by_day), max(by_day) + 1):
        returns.append(by_day.get(day, 0.0) / equity)
        equity += by_day.get(day, 0.0)
    sharpe = statistics.mean(returns) / statistics.stdev(returns) * math.sqrt(365)
    assert measured["sharpe"] == pytest.approx(sharpe)
    assert measured["total_return_pct"] == pytest.approx(100 * sum(t["net"] for t in trades) / capital)


def assert_refusals(blocked: list[dict], placed: list[dict]) -> None:
    """The demo's two refused buys: one above MAX_TRADE_AMOUNT and stage 4.1a's cap, one while
    trading was halted — refused by the gateway, nothing of them placed."""
    demo = [b for b in blocked if b["run"] == "demo-refusals"]
    rules = [{rule for rule, _message in b["blocks"]} for b in demo]
    assert rules == [{"max_trade_amount", "stage_cap"}, {"halted"}], demo
    assert demo[0]["intent"]["quote_amount"] == 20.0
    assert not [p for p in placed if p["run"] == "demo-refusals"]
