"""Trade log and SPEC §10 metrics, checked against hand-computed values and a plain-Python
re-implementation (no numpy) of every definition."""

from __future__ import annotations

import math
import random
import subprocess
import sys

import pytest

from livegate.core.metrics import METRIC_KEYS, compute_metrics, daily_returns
from livegate.core.trades import TradeLog

DAY = 86_400_000
HOUR = 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z


def at(day: int, hour: float = 12) -> int:
    return T0 + day * DAY + int(hour * HOUR)


def row(day: int, pnl: float, fee: float = 0.0, hour: float = 12, symbol: str = "BTC/USDT", side: str = "long"):
    return {"closed_at_ms": at(day, hour), "symbol": symbol, "side": side, "pnl": pnl, "fee": fee}


def log_of(rows, capital=100.0, pnl_is_net=False) -> TradeLog:
    return TradeLog.from_rows(rows, capital, pnl_is_net=pnl_is_net)


# Case A, C = 100. Nets in close order 10, -11, 5, 14.8 on days 0, 1, 3, 3 (day 2 empty;
# the last two close at the same instant). Daily d = [10, -11, 0, 19.8],
# Eod = [110, 99, 99, 118.8], r = [10/100, -11/110, 0/99, 19.8/99] = [0.1, -0.1, 0, 0.2].
CASE_A = [
    row(0, 12, 2, hour=10),  # net 10
    row(1, -10, 1, hour=9),  # net -11
    row(3, 5, 0, hour=12),  # net 5
    row(3, 15, 0.2, hour=12),  # net 14.8, same close time as the previous row
]


def test_case_a_by_hand():
    m = compute_metrics(log_of(CASE_A))
    assert set(m) == set(METRIC_KEYS) | {"reasons"}
    assert m["reasons"] == {}
    assert m["total_trades"] == 4
    assert m["win_rate"] == 0.75  # 3 of 4 nets > 0
    assert m["win_rate_pct"] == 75.0
    assert m["profit_factor"] == pytest.approx(2.709090909090909)  # (10 + 5 + 14.8) / 11
    assert m["expectancy"] == pytest.approx(4.7)  # 18.8 / 4
    assert m["total_return_pct"] == pytest.approx(18.8)  # 100 * 18.8 / 100
    assert m["gross_pnl"] == pytest.approx(22.0)  # 12 - 10 + 5 + 15
    assert m["fees"] == pytest.approx(3.2)  # 2 + 1 + 0 + 0.2
    assert m["net_pnl"] == pytest.approx(18.8)
    assert m["fee_drag_pct"] == pytest.approx(14.545454545454545)  # 100 * 3.2 / 22
    assert m["worst_trade_pct"] == pytest.approx(-11.0)  # 100 * -11 / 100
    assert m["max_consecutive_losses"] == 1
    # E = 100, 110, 99, 104, 118.8; peak 110 when E = 99: 99/110 - 1 = -0.1
    assert m["max_drawdown_pct"] == pytest.approx(10.0)
    # mean r = 0.05; deviations ±0.05, ±0.15: Σ² = 0.05, var = 0.05/3; SR = 0.05/√(0.05/3) = √0.15
    assert m["sharpe"] == pytest.approx(7.399324293474371)  # √0.15 · √365 = √54.75
    # min(r,0)² = [0, 0.01, 0, 0], mean over ALL 4 days = 0.0025, √ = 0.05: 0.05/0.05·√365
    assert m["sortino"] == pytest.approx(19.1049731745428)  # √365; losing days only would give √365/2
    # d = [10, -11, 0, 19.8], mean 4.7; deviations 5.3, -15.7, -4.7, 15.1; Σ² = 524.68; / 3
    assert m["daily_pnl_variance"] == pytest.approx(174.89333333333332)
    assert m["trading_days"] == 4
    assert m["final_equity"] == pytest.approx(118.8)
    assert m["ruined"] is False


def test_daily_series_counts_empty_days_as_zero():
    days, d, eod, r = daily_returns(log_of(CASE_A))
    assert [str(x) for x in days] == ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]
    assert d.tolist() == pytest.approx([10, -11, 0, 19.8])
    assert eod.tolist() == pytest.approx([110, 99, 99, 118.8])
    assert r.tolist() == pytest.approx([0.1, -0.1, 0.0, 0.2])


def test_daily_series_uses_utc_calendar_days():
    # 23:59:59.999 and 00:00 of the next day are different days; a week gap gives 6 empty days.
    log = log_of([row(0, 1, hour=23.9999997), row(1, 2, hour=0), row(8, 3, hour=0)])
    days, d, _, _ = daily_returns(log)
    assert len(days) == 9
    assert d.tolist() == [1, 2, 0, 0, 0, 0, 0, 0, 3]


def test_ties_keep_input_order():
    # Same close instant: the input order decides, so the drawdown differs.
    down_first = log_of([row(0, -5, symbol="A"), row(0, 5, symbol="B")])
    up_first = log_of([row(0, 5, symbol="B"), row(0, -5, symbol="A")])
    assert down_first.net.tolist() == [-5, 5] and down_first.symbol.tolist() == ["A", "B"]
    assert up_first.net.tolist() == [5, -5]
    assert compute_metrics(down_first)["max_drawdown_pct"] == pytest.approx(5.0)  # 95/100 - 1
    assert compute_metrics(up_first)["max_drawdown_pct"] == pytest.approx(4.761904761904762)  # 100/105 - 1


def test_rows_are_sorted_by_close_time_stably():
    rows = [row(2, 3, symbol="c"), row(0, 1, symbol="a1"), row(1, 2, symbol="b"), row(0, 9, symbol="a2")]
    log = log_of(rows)
    assert log.symbol.tolist() == ["a1", "a2", "b", "c"]
    assert log.net.tolist() == [1, 9, 2, 3]
    assert log.closed_at_ms.dtype.name == "int64"
    assert log.side.tolist() == ["long"] * 4


@pytest.mark.parametrize(
    "nets, wins, win_rate, streak",
    [
        ([-1, -2, 0, -3, -4, -5, 2], 1, 1 / 7, 3),  # the zero trade breaks the first run
        ([0, 0, 0], 0, 0.0, 0),  # zero trades are not wins and not losses
        ([-1, 0, -1, 0, -1], 0, 0.0, 1),
        ([1, -1, -1, 1, -1, -1, -1, -1], 2, 2 / 8, 4),
        ([5], 1, 1.0, 0),
    ],
)
def test_zero_trades_are_not_wins_and_break_loss_streaks(nets, wins, win_rate, streak):
    m = compute_metrics(log_of([row(i, x) for i, x in enumerate(nets)]))
    assert m["total_trades"] == len(nets)
    assert m["win_rate"] == pytest.approx(win_rate)
    assert m["win_rate_pct"] == pytest.approx(100 * wins / len(nets))
    assert m["max_consecutive_losses"] == streak


def test_all_wins_profit_factor_is_none_with_reason():
    m = compute_metrics(log_of([row(0, 1), row(1, 2)]))
    assert m["profit_factor"] is None
    assert "+inf" in m["reasons"]["profit_factor"]
    assert m["max_drawdown_pct"] == 0.0
    assert m["max_consecutive_losses"] == 0
    # r = [1/100, 2/101] and no negative day: Sortino would be +inf
    assert m["sortino"] is None and "no negative" in m["reasons"]["sortino"]
    assert m["sharpe"] is not None


def test_only_zero_trades_profit_factor_is_none():
    m = compute_metrics(log_of([row(0, 0), row(1, 0)]))
    assert m["profit_factor"] is None and "0/0" in m["reasons"]["profit_factor"]
    assert m["sharpe"] is None and "zero standard deviation" in m["reasons"]["sharpe"]
    assert m["daily_pnl_variance"] == 0.0


def test_all_losses_profit_factor_is_zero():
    assert compute_metrics(log_of([row(0, -1), row(1, -2)]))["profit_factor"] == 0.0


def test_no_trades():
    m = compute_metrics(log_of([], capital=500.0))
    assert m["total_trades"] == 0
    assert m["total_return_pct"] == 0.0
    assert m["max_drawdown_pct"] == 0.0
    assert m["max_consecutive_losses"] == 0
    assert m["trading_days"] == 0
    assert m["final_equity"] == 500.0
    assert m["ruined"] is False
    assert (m["gross_pnl"], m["net_pnl"], m["fees"]) == (0.0, 0.0, 0.0)
    for key in ("win_rate", "win_rate_pct", "profit_factor", "expectancy", "fee_drag_pct", "worst_trade_pct",
                "sharpe", "sortino", "daily_pnl_variance"):
        assert m[key] is None
        assert m["reasons"][key] == "no trades"
    days, d, eod, r = daily_returns(log_of([]))
    assert len(days) == len(d) == len(eod) == len(r) == 0


@pytest.mark.parametrize("grosses", [[-1, 1], [-2, 1], [-1, -1]])
def test_fee_drag_undefined_when_gross_not_positive(grosses):
    m = compute_metrics(log_of([row(i, g, 0.1) for i, g in enumerate(grosses)]))
    assert m["fee_drag_pct"] is None
    assert "gross PnL <= 0" in m["reasons"]["fee_drag_pct"]


def test_single_day_has_no_sharpe():
    m = compute_metrics(log_of([row(0, 1, hour=1), row(0, -0.5, hour=2)]))
    assert m["trading_days"] == 1
    for key in ("sharpe", "sortino", "daily_pnl_variance"):
        assert m[key] is None and "fewer than 2" in m["reasons"][key]


def test_ruined_account_is_reported():
    # C = 100, nets -60, -50, +30 on days 0..2: E = 100, 40, -10, 20.
    m = compute_metrics(log_of([row(0, -60), row(1, -50), row(2, 30)]))
    assert m["ruined"] is True
    assert m["final_equity"] == pytest.approx(20.0)
    assert m["max_drawdown_pct"] == pytest.approx(110.0)  # -10/100 - 1 = -1.1, not capped
    assert m["worst_trade_pct"] == pytest.approx(-60.0)
    # Eod = 40, -10, 20: r_3 = 30 / -10 is undefined after ruin
    _, _, _, r = daily_returns(log_of([row(0, -60), row(1, -50), row(2, 30)]))
    assert r[:2].tolist() == pytest.approx([-0.6, -1.25]) and math.isnan(r[2])
    assert m["sharpe"] is None and "ruin" in m["reasons"]["sharpe"]
    assert m["sortino"] is None and "ruin" in m["reasons"]["sortino"]
    # d = [-60, -50, 30]: ×3 = -180, -150, 90, mean -80, Σdev² = 100² + 70² + 170² = 43800 → /9 /2
    assert m["daily_pnl_variance"] == pytest.approx(2433.3333333333335)


def test_intraday_ruin_is_reported_even_when_the_day_ends_positive():
    m = compute_metrics(log_of([row(0, -150, hour=1), row(0, 200, hour=2)]))
    assert m["ruined"] is True
    assert m["final_equity"] == pytest.approx(150.0)
    assert m["max_drawdown_pct"] == pytest.approx(150.0)  # E = -50 after the first trade


@pytest.mark.parametrize(
    "pnl_is_net, gross, net",
    [(False, 10.0, 8.0), (True, 12.0, 10.0)],
)
def test_pnl_is_net(pnl_is_net, gross, net):
    log = log_of([row(0, 10, 2)], pnl_is_net=pnl_is_net)
    assert log.gross.tolist() == [gross]
    assert log.net.tolist() == [net]
    assert log.fee.tolist() == [2.0]
    m = compute_metrics(log)
    assert m["fee_drag_pct"] == pytest.approx(100 * 2 / gross)
    assert m["total_return_pct"] == pytest.approx(net)  # capital 100


@pytest.mark.parametrize(
    "rows, capital, message",
    [
        ([row(0, 1)], 0, "capital"),
        ([row(0, 1)], -5, "capital"),
        ([row(0, 1)], float("nan"), "capital"),
        ([row(0, 1)], float("inf"), "capital"),
        ([row(0, 1)], True, "capital"),
        ([row(0, 1), row(1, 1), row(2, 1, -0.5)], 100, "row 2: fee must be >= 0"),
        ([row(0, 1), row(1, float("nan"))], 100, "row 1: pnl must be finite"),
        ([row(0, float("inf"))], 100, "row 0: pnl must be finite"),
        ([row(0, 1, float("inf"))], 100, "row 0: fee must be finite"),
        ([row(0, 1), {"closed_at_ms": at(1), "symbol": "X", "pnl": 1}], 100, "row 1: missing fee"),
        ([{"closed_at_ms": 1.5, "symbol": "X", "pnl": 1, "fee": 0}], 100, "row 0: closed_at_ms"),
        ([{"closed_at_ms": at(0), "symbol": "X", "pnl": "1", "fee": 0}], 100, "row 0: pnl must be a number"),
        ([{**row(0, 1), "opened_at_ms": at(1)}], 100, "row 0: opened_at_ms"),
        ([{**row(0, 1), "opened_at_ms": at(0, 1)}, row(1, 1)], 100, "row 1: missing opened_at_ms"),
    ],
)
def test_from_rows_validation(rows, capital, message):
    with pytest.raises(ValueError, match=message):
        TradeLog.from_rows(rows, capital)


def test_log_is_immutable_and_keeps_opened_at():
    log = log_of([{**row(1, 1), "opened_at_ms": at(0)}, {**row(0, 2), "opened_at_ms": at(0, 1)}])
    assert log.opened_at_ms.tolist() == [at(0, 1), at(0)]
    with pytest.raises(ValueError):
        log.net[0] = 5.0
    with pytest.raises(AttributeError):
        log.capital = 1.0  # type: ignore[misc]


def test_direct_construction_must_be_sorted():
    import numpy as np

    with pytest.raises(ValueError, match="sorted"):
        TradeLog(np.array([2, 1]), np.zeros(2), np.zeros(2), np.zeros(2), np.array(["a", "b"], dtype=object), 1.0)


# --------------------------------------------------------------------------- reference implementation


def reference_metrics(rows, capital, pnl_is_net=False):
    """Every SPEC §10 definition with plain loops (no numpy)."""
    trades = sorted(rows, key=lambda r: r["closed_at_ms"])  # list.sort is stable
    nets, grosses, fees = [], [], []
    for t in trades:
        if pnl_is_net:
            nets.append(t["pnl"])
            grosses.append(t["pnl"] + t["fee"])
        else:
            grosses.append(t["pnl"])
            nets.append(t["pnl"] - t["fee"])
        fees.append(t["fee"])
    n = len(nets)
    out = {"total_trades": n, "net_pnl": sum(nets), "gross_pnl": sum(grosses), "fees": sum(fees)}
    wins = sum(1 for x in nets if x > 0)
    out["win_rate"] = wins / n
    pos = sum(x for x in nets if x > 0)
    neg = -sum(x for x in nets if x < 0)
    out["profit_factor"] = pos / neg if neg > 0 else None
    out["expectancy"] = sum(nets) / n
    out["total_return_pct"] = 100 * sum(nets) / capital
    out["fee_drag_pct"] = 100 * sum(fees) / sum(grosses) if sum(grosses) > 0 else None
    out["worst_trade_pct"] = 100 * min(nets) / capital
    run = best = 0
    for x in nets:
        run = run + 1 if x < 0 else 0
        best = max(best, run)
    out["max_consecutive_losses"] = best
    equity = peak = capital
    worst_dd = 0.0
    ruined = False
    for x in nets:
        equity += x
        peak = max(peak, equity)
        worst_dd = min(worst_dd, equity / peak - 1)
        ruined = ruined or equity <= 0
    out["max_drawdown_pct"] = -100 * worst_dd
    out["ruined"] = ruined
    out["final_equity"] = capital + sum(nets)

    first = trades[0]["closed_at_ms"] // DAY
    last = trades[-1]["closed_at_ms"] // DAY
    d = [0.0] * (last - first + 1)
    for t, x in zip(trades, nets):
        d[t["closed_at_ms"] // DAY - first] += x
    out["trading_days"] = len(d)
    r = []
    prev = capital
    for x in d:
        r.append(x / prev)
        prev += x
    m = len(r)
    if m >= 2:
        mean = sum(r) / m
        sd = math.sqrt(sum((x - mean) ** 2 for x in r) / (m - 1))
        out["sharpe"] = mean / sd * math.sqrt(365)
        down = math.sqrt(sum(min(x, 0.0) ** 2 for x in r) / m)
        out["sortino"] = mean / down * math.sqrt(365) if down > 0 else None
        dm = sum(d) / m
        out["daily_pnl_variance"] = sum((x - dm) ** 2 for x in d) / (m - 1)
    else:
        out["sharpe"] = out["sortino"] = out["daily_pnl_variance"] = None
    return out, d, r


def random_rows(seed: int):
    rnd = random.Random(seed)
    rows = []
    for _ in range(rnd.randint(1, 80)):
        day = rnd.randint(0, 12)
        hour = rnd.choice([0, 6, 12, 18, 23.5])  # few distinct instants: many ties
        pnl = 0.0 if rnd.random() < 0.1 else round(rnd.gauss(0.4, 4.0), 4)
        fee = 0.0 if rnd.random() < 0.2 else round(rnd.uniform(0, 0.3), 4)
        rows.append(row(day, pnl, fee, hour=hour, symbol=rnd.choice(["BTC/USDT", "ETH/USDT"])))
    return rows


@pytest.mark.parametrize("seed", range(30))
@pytest.mark.parametrize("pnl_is_net", [False, True])
def test_against_reference_implementation(seed, pnl_is_net):
    rows = random_rows(seed)
    capital = 250.0
    expected, d, r = reference_metrics(rows, capital, pnl_is_net)
    log = TradeLog.from_rows(rows, capital, pnl_is_net=pnl_is_net)
    got = compute_metrics(log)
    for key, value in expected.items():
        if value is None:
            assert got[key] is None and key in got["reasons"], key
        elif isinstance(value, bool):
            assert got[key] is value, key
        else:
            assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key
    _, gd, _, gr = daily_returns(log)
    assert gd.tolist() == pytest.approx(d, rel=1e-12, abs=1e-12)
    assert gr.tolist() == pytest.approx(r, rel=1e-12, abs=1e-12)


def test_output_has_no_nan_and_plain_python_types():
    for seed in range(10):
        m = compute_metrics(TradeLog.from_rows(random_rows(seed), 50.0))
        for key in METRIC_KEYS:
            v = m[key]
            assert v is None or type(v) in (int, float, bool), (key, type(v))
            if isinstance(v, float):
                assert math.isfinite(v), key


def test_large_log_is_fast():
    import time

    import numpy as np

    rng = np.random.default_rng(3)
    n = 100_000
    log = TradeLog.from_arrays(
        np.sort(rng.integers(T0, T0 + 365 * DAY, n)), rng.normal(0.5, 10, n), rng.uniform(0, 0.2, n), 10_000.0
    )
    compute_metrics(log)
    start = time.perf_counter()
    m = compute_metrics(log)
    elapsed = time.perf_counter() - start
    assert m["total_trades"] == n
    assert elapsed < 0.5  # measured ~4 ms; generous for loaded CI machines


def test_core_modules_import_no_numpy():
    code = (
        "import sys, livegate.core.trades, livegate.core.metrics, livegate.core.statistics\n"
        "print('numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
