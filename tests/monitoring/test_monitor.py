"""`livegate monitor`: the snapshot's numbers against the ledger's trade events, the dashboard,
the refresh loop, and what a fresh workspace shows."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.monitoring.conftest import expected_from_trades, ledger_events

KEYS = {"generated_at", "workspace", "mode", "ledger", "run", "pnl", "drawdown", "performance", "breakers", "positions", "dust",
        "recent_trades", "orders", "latency", "slippage", "alerts", "flags"}
RULES = ["win_rate", "drawdown", "daily_loss", "losing_streak", "pnl", "failures", "slippage", "latency", "breakers", "alerts"]


def test_once_json_equals_what_the_trade_events_say(backtest_ws, run_cli):
    code, snap, output = run_cli.json("-w", backtest_ws, "monitor", "--once", "--json")
    assert code == 0, output
    assert set(snap) == KEYS
    (start_id, start), = ledger_events(backtest_ws, "paper_run_started")
    trades = [p for _, p in ledger_events(backtest_ws, "trade")]
    want = expected_from_trades(trades, start["capital"])
    assert snap["run"]["id"] == f"r{start_id}" and snap["run"]["source"] == "paper" and snap["run"]["kind"] == "backtest"
    assert "latest paper run" in snap["run"]["why"] and snap["run"]["status"] == "completed"
    perf, pnl, dd = snap["performance"], snap["pnl"], snap["drawdown"]
    assert perf["trades"] == want["trades"] > 10 and perf["wins"] == want["wins"]
    assert perf["win_rate_pct"] == pytest.approx(want["win_rate_pct"])
    assert perf["profit_factor"] == pytest.approx(want["profit_factor"])
    assert perf["current_losing_streak"] == want["streak"]
    assert pnl["realized"] == pytest.approx(want["realized"])
    assert dd["max_pct"] == pytest.approx(want["max_drawdown_pct"]) and dd["current_pct"] == pytest.approx(want["current_drawdown_pct"])
    assert dd["limits"]["breaker_drawdown_pct"] == 15 and dd["limits"]["guardian_drawdown_pct"] == 10
    # the run closed flat: its checkpointed equity is the capital plus the realized P&L
    assert snap["positions"] == [] and pnl["unrealized"] == 0
    assert snap["dust"] == {"positions": [], "value": 0.0, "events": 0}
    assert pnl["equity"] == pytest.approx(want["final_equity"])
    newest = sorted(trades, key=lambda t: t["closed_ms"])[::-1][:10]
    assert [t["net"] for t in snap["recent_trades"]] == [t["net"] for t in newest]
    assert snap["orders"]["placed"] == len(ledger_events(backtest_ws, "order_placed"))
    assert snap["orders"]["blocked"] == len(ledger_events(backtest_ws, "order_blocked"))
    trips = [p["breaker"] for _, p in ledger_events(backtest_ws, "breaker_trip")]
    assert {b["breaker"]: b["trips"] for b in snap["breakers"] if b["trips"]} == {name: trips.count(name) for name in set(trips)}
    assert snap["mode"]["mode"] == "PAPER" and snap["mode"]["halted"] is False
    assert not snap["latency"]["order_ack"]["measured"] and "simulated" in snap["latency"]["order_ack"]["reason"]


def test_the_numbers_agree_with_the_recorded_paper_result(backtest_ws, run_cli):
    code, snap, _ = run_cli.json("-w", backtest_ws, "monitor", "--once", "--json")
    (_, result), = ledger_events(backtest_ws, "phase_result")
    metrics = result["summary"]["metrics"]
    assert snap["performance"]["trades"] == metrics["total_trades"]
    assert snap["performance"]["win_rate_pct"] == pytest.approx(metrics["win_rate_pct"])
    assert snap["pnl"]["realized"] == pytest.approx(metrics["net_pnl"])
    assert snap["drawdown"]["max_pct"] == pytest.approx(metrics["max_drawdown_pct"])
    assert snap["performance"]["max_consecutive_losses"] == metrics["max_consecutive_losses"]


def test_flags_follow_seed_002(backtest_ws, run_cli):
    _, snap, _ = run_cli.json("-w", backtest_ws, "monitor", "--once", "--json")
    flags = {f["rule"]: f for f in snap["flags"]["rules"]}
    assert list(flags) == RULES
    rate = snap["performance"]["win_rate_pct"]
    assert flags["win_rate"]["level"] == ("green" if rate >= 50 else "yellow" if rate >= 40 else "red")
    assert flags["latency"]["level"] == "n/a"  # a backtest times nothing
    streak = snap["performance"]["current_losing_streak"]
    assert flags["losing_streak"]["level"] == ("red" if streak >= 5 else "yellow" if streak >= 3 else "green")
    assert flags["breakers"]["level"] == "yellow"  # consecutive-loss trips, re-armed since
    levels = [f["level"] for f in flags.values() if f["level"] != "n/a"]
    worst = "red" if "red" in levels else "yellow" if "yellow" in levels else "green"
    assert snap["flags"]["overall"] == worst


def test_the_dashboard_shows_every_panel(backtest_ws, run_cli):
    result = run_cli("-w", backtest_ws, "monitor", "--once")
    assert result.exit_code == 0, result.output
    for text in ("livegate monitor", "Mode PAPER", "P&L", "Drawdown", "Orders & latency", "Flags", "Circuit breakers",
                 "Open positions", "Recent trades", "consecutive_losses", "win_rate"):
        assert text in result.output, text


def test_the_loop_refreshes_until_its_count(backtest_ws, run_cli):
    result = run_cli("-w", backtest_ws, "monitor", "--json", "--count", "3", "--interval", "0.1")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 3 and len({line["generated_at"] for line in lines}) == 3
    screen = run_cli("-w", backtest_ws, "monitor", "--count", "2", "--interval", "0.1")
    assert screen.exit_code == 0 and "Flags" in screen.output


def test_a_fresh_workspace_has_nothing_to_show_yet(workspace, run_cli):
    code, snap, output = run_cli.json("-w", workspace, "monitor", "--once", "--json")
    assert code == 0, output
    assert snap["run"] is None and snap["flags"]["overall"] == "n/a"
    assert "No run in the ledger yet" in run_cli("-w", workspace, "monitor", "--once").output


@pytest.mark.parametrize("args, message", [
    (["--once", "--serve-metrics", "0"], "cannot be combined with --once"),
    (["--once", "--run", "r999"], "no run 'r999'"),
    (["--once", "--run", "testnet"], "paper runs look like r12"),
])
def test_usage_errors(backtest_ws, run_cli, args, message):
    result = run_cli("-w", backtest_ws, "monitor", *args)
    assert result.exit_code == 2 and message in result.output


def test_a_run_can_be_chosen(backtest_ws, run_cli):
    (start_id, _), = ledger_events(backtest_ws, "paper_run_started")
    code, snap, _ = run_cli.json("-w", backtest_ws, "monitor", "--once", "--json", "--run", f"r{start_id}")
    assert code == 0 and snap["run"]["why"] == "chosen with --run"


def test_light_commands_leave_prometheus_and_numpy_out(workspace):
    probe = ("import sys\nsys.argv = ['livegate'] + sys.argv[1:]\nfrom livegate.cli import app\n"
             "try:\n    app()\nexcept SystemExit:\n    pass\n"
             "print('HEAVY=' + ','.join(m for m in ('prometheus_client', 'numpy', 'ccxt', 'web3') if m in sys.modules))")
    for argv in (["--help"], ["monitor", "--help"], ["report", "--help"], ["-w", str(workspace), "status"]):
        out = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, check=True)
        assert out.stdout.strip().splitlines()[-1] == "HEAVY=", (argv, out.stdout)
