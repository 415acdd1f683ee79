"""Seed 002's flag rules, each band checked on hand-made snapshots under the default limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from livegate.config.loader import load_risk_limits
from livegate.services.monitoring import flags

RISK = load_risk_limits(Path(__file__).resolve().parents[2] / "risk_limits.yaml", "risk_limits.yaml")
LIMITS = {"breaker_drawdown_pct": 15.0, "guardian_drawdown_pct": 10.0, "breaker_daily_loss_pct": 5.0, "guardian_daily_loss_pct": 5.0,
          "consecutive_losses_halt": 5}


def snap(trades=20, win_rate=55.0, max_dd=1.0, marked_dd=None, worst_day=1.0, streak=0, realized=10.0, placed=20, failures=0,
         fills=20, slippage_bps=5.0, tripped=(), trips=0, alerts=0, critical=0, p50=None, p95=None, venue=None) -> dict:
    ack = {"measured": p50 is not None, "p50_s": p50, "p95_s": p95, "reason": "paper fills are simulated"}
    return {
        "run": {"id": "r1"},
        "performance": {"trades": trades, "win_rate_pct": win_rate, "current_losing_streak": streak, "worst_day_loss_pct": worst_day},
        "drawdown": {"max_pct": max_dd, "marked_max_pct": marked_dd, "limits": LIMITS},
        "pnl": {"realized": realized},
        "orders": {"placed": placed, "failures": failures, "failure_rate_pct": 100.0 * failures / placed if placed else None},
        "slippage": {"fills": fills, "mean_bps": slippage_bps},
        "latency": {"order_ack": ack, "venue_calls": venue or {"measured": False}},
        "breakers": [{"breaker": "total_drawdown", "state": "tripped" if "total_drawdown" in tripped else "armed", "trips": trips}],
        "alerts": {"count": alerts, "critical": critical},
    }


CASES = [
    ("win_rate", snap(win_rate=50.0), "green"),
    ("win_rate", snap(win_rate=49.9), "yellow"),
    ("win_rate", snap(win_rate=40.0), "yellow"),
    ("win_rate", snap(win_rate=39.9), "red"),
    ("win_rate", snap(trades=9, win_rate=0.0), "n/a"),
    ("drawdown", snap(max_dd=2.99), "green"),
    ("drawdown", snap(max_dd=3.0), "yellow"),
    ("drawdown", snap(max_dd=1.0, marked_dd=4.0), "yellow"),  # marked to market counts too
    ("drawdown", snap(max_dd=5.0), "red"),
    ("daily_loss", snap(worst_day=2.0), "green"),
    ("daily_loss", snap(worst_day=3.5), "yellow"),
    ("daily_loss", snap(worst_day=5.0), "red"),
    ("losing_streak", snap(streak=2), "green"),
    ("losing_streak", snap(streak=3), "yellow"),
    ("losing_streak", snap(streak=5), "red"),
    ("pnl", snap(realized=0.01), "green"),
    ("pnl", snap(realized=0.0), "yellow"),
    ("failures", snap(failures=0), "green"),
    ("failures", snap(failures=1), "yellow"),  # 5 %: not above 5 %
    ("failures", snap(failures=2), "red"),
    ("failures", snap(venue={"measured": True, "count": 50, "errors": 10, "error_rate_pct": 20.0, "median_s": 0.1, "max_s": 0.3}), "red"),
    ("failures", snap(placed=0), "n/a"),
    ("slippage", snap(slippage_bps=50.0), "green"),
    ("slippage", snap(slippage_bps=50.1), "yellow"),
    ("slippage", snap(slippage_bps=100.1), "red"),
    ("slippage", snap(fills=0), "n/a"),
    ("latency", snap(), "n/a"),
    ("latency", snap(p50=0.2, p95=0.5), "green"),
    ("latency", snap(p50=0.2, p95=2.5), "yellow"),
    ("latency", snap(p50=2.0, p95=2.5), "red"),
    ("latency", snap(venue={"measured": True, "count": 50, "errors": 0, "error_rate_pct": 0.0, "median_s": 2.1, "max_s": 3.0}), "red"),
    ("breakers", snap(), "green"),
    ("breakers", snap(trips=2), "yellow"),
    ("breakers", snap(tripped=("total_drawdown",), trips=1), "red"),
    ("alerts", snap(alerts=2), "yellow"),
    ("alerts", snap(alerts=2, critical=1), "red"),
]


@pytest.mark.parametrize("rule, snapshot, level", CASES, ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(CASES)])
def test_rule_bands(rule, snapshot, level):
    found = {f["rule"]: f for f in flags.evaluate_flags(snapshot, RISK)["rules"]}
    assert found[rule]["level"] == level, found[rule]


def test_overall_is_the_worst_known_flag():
    assert flags.evaluate_flags(snap(), RISK)["overall"] == "green"
    assert flags.evaluate_flags(snap(streak=3), RISK)["overall"] == "yellow"
    assert flags.evaluate_flags(snap(streak=3, win_rate=10.0), RISK)["overall"] == "red"
