"""A micro-live stage's measurements count closed trades (the trade unit), not the orders or
the fills behind them: the issue's stage of 21 orders, 63 fills and 30 "trades" counted 30 where
there were 10 round trips. Figures worked out by hand from the events below."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from livegate.phases.microlive.stage import Baseline, StageSpec, kill_breaches, measure

SPEC = StageSpec("4.1a", cap=10.0, min_hours=24.0, min_trades=3)
LIMITS = SimpleNamespace(max_single_trade_loss=30.0, max_daily_loss=100.0)
T0 = 1_704_067_200_000


def order(cid, side):
    return ("order_sending", {"client_id": cid, "side": side, "amount": 0.0002, "price": None, "reference": 40_000.0})


def venue_fills(cid, side, n):
    return [("venue_fill", {"order_id": cid, "side": side, "amount": 0.0002 / n, "price": 40_000.0}) for _ in range(n)]


def trade(cid, net, fills=3):
    # 0.0002 at 40,000: worth 8
    return ("trade", {"order_id": cid, "amount": 0.0002, "entry_price": 40_000.0, "exit_price": 40_000.0 + net / 0.0002,
                      "gross": net + 0.016, "fee": 0.016, "net": net, "fills": fills, "closed_ms": T0})


def stage_events():
    """Two round trips: four orders, each filled in three pieces (12 fills), two trades."""
    events = []
    for i, net in ((1, 0.4), (2, -0.2)):
        events += [order(f"b{i}", "buy"), *venue_fills(f"b{i}", "buy", 3), order(f"s{i}", "sell"), *venue_fills(f"s{i}", "sell", 3),
                   trade(f"s{i}", net)]
    return events


def test_the_stage_minimum_counts_closed_trades_not_orders_or_fills():
    m = measure(stage_events(), SPEC, T0, T0 + 25 * 3_600_000, Baseline(50.0, 0.01, "paper"), LIMITS, 10.0)
    assert (m["min_successful_trades"], m["closed_trades"], m["orders"], m["orders_filled"], m["fills"]) == (2, 2, 4, 4, 12)
    assert m["min_successful_trades"] < SPEC.min_trades  # 4 filled orders would have passed a minimum of 3
    assert m["win_rate_pct"] == 50.0  # one winner of two trades
    assert m["net_pnl"] == pytest.approx(0.2)
    # return per trade: 0.4 / 8 = 0.05 and −0.2 / 8 = −0.025 → mean 0.0125; paper's 0.01 → live is not worse
    assert m["live_mean_trade_return"] == pytest.approx(0.0125) and m["live_vs_paper_worse_pct"] == 0.0
    assert m["max_trade_value"] == pytest.approx(8.0) and m["limits_enforced"] and m["dust"] == []


def test_kill_comparisons_with_paper_wait_for_closed_trades():
    thresholds = {"unexpected_loss_usd": 0.0, "live_vs_paper_worse_pct": 50.0, "win_rate_gap_points": 5.0}
    m = measure(stage_events(), SPEC, T0, T0, Baseline(80.0, 0.01, "paper"), LIMITS, 10.0)
    assert m["win_rate_gap_points"] == 30.0
    assert kill_breaches(m, thresholds, min_trades=3) == []  # two closed trades: too few to compare
    assert kill_breaches(m, thresholds, min_trades=2) == ["win rate 50 % is 30 points from paper's"]


def test_dust_set_aside_during_the_stage_is_in_its_measurements():
    events = stage_events() + [("dust", {"symbol": "BTC/USDT", "amount": 0.0001, "value": 4.0, "at": T0 + 5}),
                               ("dust", {"symbol": "BTC/USDT", "amount": 0.00009, "value": 3.6, "at": T0 + 9})]
    m = measure(events, SPEC, T0, T0, Baseline(None, None, "paper"), LIMITS, 10.0)
    assert m["dust"] == [{"symbol": "BTC/USDT", "amount": 0.00009, "value": 3.6, "at": T0 + 9}]  # the latest per symbol
    assert m["min_successful_trades"] == 2  # dust never blocks the stage's count
