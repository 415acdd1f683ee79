"""Known-answer synthetic trade logs, generated here with exact expected values (issue
"Phase 2b"): the numbers follow from the pattern by arithmetic, not from the code."""

from __future__ import annotations

import math

import pytest

from livegate.core.metrics import compute_metrics
from livegate.core.statistics import ruin_probabilities
from livegate.core.trades import TradeLog

DAY = 86_400_000
T0 = 1_704_067_200_000 + DAY // 2  # noon UTC, 2024-01-01
C = 10_000.0


def alternating(n_pairs: int, win: float, loss: float, fee: float) -> TradeLog:
    """One trade a day: +win, -loss, +win, -loss ... (gross), each paying `fee`."""
    pnl = [win if i % 2 == 0 else -loss for i in range(2 * n_pairs)]
    return TradeLog.from_arrays([T0 + i * DAY for i in range(2 * n_pairs)], pnl, [fee] * (2 * n_pairs), C)


def test_alternating_log_metrics_are_exact():
    m = compute_metrics(alternating(500, 30.0, 10.0, 1.0))
    # net: +29 / -11, 500 of each
    assert m["total_trades"] == 1000
    assert m["win_rate"] == 0.5
    assert m["profit_factor"] == pytest.approx(29 / 11)  # 500*29 / 500*11
    assert m["expectancy"] == pytest.approx(9.0)  # (29 - 11) / 2
    assert m["total_return_pct"] == pytest.approx(90.0)  # 100 * 500*18 / 10000
    assert m["fee_drag_pct"] == pytest.approx(10.0)  # 100 * 1000 fees / (500*30 - 500*10) gross
    assert m["worst_trade_pct"] == pytest.approx(-0.11)  # 100 * -11 / 10000
    assert m["max_consecutive_losses"] == 1
    assert m["max_drawdown_pct"] == pytest.approx(100 * 11 / 10_029)  # first peak C+29, then -11: the deepest dip
    assert m["trading_days"] == 1000
    assert m["final_equity"] == pytest.approx(19_000.0)


def test_daily_ratios_of_a_two_value_return_series():
    # Daily P&L d alternates +29, -11; the returns divide by the previous day's equity.
    log = alternating(50, 30.0, 10.0, 1.0)
    m = compute_metrics(log)
    eq, r = C, []
    for i in range(100):
        d = 29.0 if i % 2 == 0 else -11.0
        r.append(d / eq)
        eq += d
    mean = sum(r) / len(r)
    sd = math.sqrt(sum((x - mean) ** 2 for x in r) / (len(r) - 1))
    downside = math.sqrt(sum(min(x, 0.0) ** 2 for x in r) / len(r))
    assert m["sharpe"] == pytest.approx(mean / sd * math.sqrt(365), rel=1e-12)
    assert m["sortino"] == pytest.approx(mean / downside * math.sqrt(365), rel=1e-12)
    d_mean = (50 * 29 - 50 * 11) / 100
    assert m["daily_pnl_variance"] == pytest.approx(sum(((29 if i % 2 == 0 else -11) - d_mean) ** 2 for i in range(100)) / 99)


def test_all_losses_reach_zero_equity_and_say_so():
    # 10 losses of 1,000 (no fees): equity 10,000 -> 0 after the tenth trade.
    log = TradeLog.from_arrays([T0 + i * DAY for i in range(10)], [-1000.0] * 10, [0.0] * 10, C)
    m = compute_metrics(log)
    assert m["ruined"] is True
    assert m["final_equity"] == 0.0
    assert m["max_drawdown_pct"] == pytest.approx(100.0)
    assert m["win_rate"] == 0.0 and m["profit_factor"] == 0.0
    ruin = ruin_probabilities(log, n=200)
    assert ruin["100"] == 1.0 and ruin["ruin_prob_50_pct"] == 100.0


def test_ruin_falls_back_to_whole_days_for_huge_logs():
    # 20 days, 50 trades a day: each day nets exactly -100 (49 x +10 and one -590).
    days, per_day = 20, 50
    ts, pnl = [], []
    for d in range(days):
        for k in range(per_day):
            ts.append(T0 + d * DAY + k * 1000)
            pnl.append(-590.0 if k == 0 else 10.0)
    log = TradeLog.from_arrays(ts, pnl, [0.0] * len(ts), C)
    out = ruin_probabilities(log, n=100, max_cells=1000)
    assert out["unit"] == "day" and out["steps_per_path"] == days
    # Every resampled day is -100, so every path ends 20 days later at 8,000: exactly a 20 % loss.
    assert out["20"] == 1.0 and out["30"] == 0.0
    # Trade by trade the same log dips deeper inside a day (one -590 first): ruin at 20 % is certain there too.
    assert ruin_probabilities(log, n=20)["unit"] == "trade"


def test_expectancy_bootstrap_resamples_days_for_huge_logs():
    from livegate.core.statistics import bootstrap_ci

    # 30 days x 10 trades; day d nets 10*d over its 10 trades (1*d each), so the mean trade is
    # the mean of d over the drawn days: the point estimate is mean(0..29) = 14.5.
    ts, pnl = [], []
    for d in range(30):
        for k in range(10):
            ts.append(T0 + d * DAY + k * 1000)
            pnl.append(float(d))
    log = TradeLog.from_arrays(ts, pnl, [0.0] * len(ts), C)
    a = bootstrap_ci(log, "expectancy", n=500, max_cells=1000, seed=3)
    b = bootstrap_ci(log, "expectancy", n=500, max_cells=1000, seed=3)
    assert a == b and a["unit"] == "day"
    assert a["point"] == pytest.approx(14.5)
    assert 0 <= a["low"] < 14.5 < a["high"] <= 29
    assert bootstrap_ci(log, "expectancy", n=50)["unit"] == "trade"
