"""Statistical validation (seed 001 §1.2, SPEC §10): PSR/DSR against hand-computed and
published values, bootstrap and Monte Carlo ruin against plain-Python re-implementations and
exact probabilities, out-of-sample split, regime breakdown and the overfitting check."""

from __future__ import annotations

import bisect
import math
import random
import time
from statistics import NormalDist

import pytest

from livegate.core import statistics as st
from livegate.core.metrics import compute_metrics, daily_returns
from livegate.core.statistics import (
    bootstrap_ci,
    compare_with_baseline,
    deflated_sharpe,
    out_of_sample,
    probabilistic_sharpe,
    psr,
    regime_breakdown,
    ruin_probabilities,
    sharpe_moments,
)
from livegate.core.trades import TradeLog

DAY = 86_400_000
HOUR = 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z


def row(day: int, pnl: float, fee: float = 0.0, hour: float = 12):
    return {"closed_at_ms": T0 + day * DAY + int(hour * HOUR), "symbol": "BTC/USDT", "side": "long", "pnl": pnl, "fee": fee}


def log_of(rows, capital=100.0) -> TradeLog:
    return TradeLog.from_rows(rows, capital)


def Phi(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def random_log(seed: int, days: int = 60, per_day: int = 3, mu: float = 0.4, sigma: float = 3.0, capital=1000.0):
    rnd = random.Random(seed)
    rows = [row(d, round(rnd.gauss(mu, sigma), 4), 0.05, hour=rnd.uniform(0, 23)) for d in range(days) for _ in range(per_day)]
    return log_of(rows, capital)


# --------------------------------------------------------------------------- plain-Python references


def ref_moments(r):
    """SR, adjusted Fisher–Pearson skewness G1 and raw kurtosis G2 + 3, with loops."""
    n = len(r)
    mean = sum(r) / n
    m2 = sum((x - mean) ** 2 for x in r) / n
    m3 = sum((x - mean) ** 3 for x in r) / n
    m4 = sum((x - mean) ** 4 for x in r) / n
    g1 = m3 / m2**1.5
    G1 = math.sqrt(n * (n - 1)) / (n - 2) * g1
    g2 = m4 / m2**2 - 3
    G2 = ((n + 1) * g2 + 6) * (n - 1) / ((n - 2) * (n - 3))
    sd = math.sqrt(sum((x - mean) ** 2 for x in r) / (n - 1))
    return mean / sd, G1, G2 + 3


def ref_psr(r, sr_star=0.0):
    sr, skew, kurt = ref_moments(r)
    n = len(r)
    return Phi((sr - sr_star) * math.sqrt(n - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr * sr))


def ref_sharpe(r):
    n = len(r)
    mean = sum(r) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in r) / (n - 1))
    return mean / sd * math.sqrt(365)


def ref_quantile(values, p):
    """Linear interpolation between order statistics (numpy's default method)."""
    s = sorted(values)
    h = (len(s) - 1) * p
    lo = math.floor(h)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (h - lo) * (s[hi] - s[lo])


# --------------------------------------------------------------------------- PSR / DSR

R_HAND = [0.1, -0.1, 0.0, 0.2]


def test_psr_by_hand():
    # mean 0.05, deviations ±0.05, ±0.15: m2 = 0.05/4 = 0.0125, m3 = 0 (symmetric) → γ3 = 0;
    # m4 = (2·0.05⁴ + 2·0.15⁴)/4 = 2.5625e-4, g2 = 2.5625e-4/0.0125² - 3 = 1.64 - 3 = -1.36,
    # G2 = ((5)(-1.36) + 6)(3)/((2)(1)) = -1.2 → γ4 = 1.8.
    # SR = 0.05/√(0.05/3), SR² = 0.15. Radicand = 1 - 0 + (1.8-1)/4·0.15 = 1.03.
    # z = √0.15·√3/√1.03 = √(0.45/1.03) = 0.6609789738588476; Φ(z) = 0.7456871010973499
    m = sharpe_moments(R_HAND)
    assert m["n"] == 4
    assert m["sr"] == pytest.approx(math.sqrt(0.15))
    assert m["skewness"] == pytest.approx(0.0, abs=1e-12)
    assert m["kurtosis"] == pytest.approx(1.8)
    p = psr(R_HAND)
    assert p["psr"] == pytest.approx(0.7456871010973499)
    assert p["reason"] is None


def test_psr_of_a_trade_log_uses_its_daily_returns():
    # The same r = [0.1, -0.1, 0, 0.2] as the metrics test's case A (C = 100, day 2 empty).
    log = log_of([row(0, 12, 2), row(1, -10, 1), row(3, 5), row(3, 15, 0.2)])
    assert psr(log)["psr"] == pytest.approx(0.7456871010973499)


def test_skewness_and_kurtosis_match_published_spreadsheet_values():
    # Microsoft's documented examples for SKEW and KURT (the bias-corrected G1 and G2):
    # data 3,4,5,2,3,4,5,6,4,7 → SKEW 0.359543, KURT -0.151799637.
    m = sharpe_moments([3, 4, 5, 2, 3, 4, 5, 6, 4, 7])
    assert m["skewness"] == pytest.approx(0.359543, abs=1e-6)
    assert m["kurtosis"] == pytest.approx(3 - 0.151799637, abs=1e-9)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("sr_star", [0.0, 0.05, -0.1])
def test_psr_against_reference(seed, sr_star):
    rnd = random.Random(seed)
    # skewed returns: a lognormal part makes γ3 ≠ 0
    r = [rnd.gauss(0.001, 0.01) + 0.004 * (rnd.lognormvariate(0, 1) - 1.6) for _ in range(rnd.randint(10, 200))]
    got = psr(r, sr_star=sr_star)
    sr, skew, kurt = ref_moments(r)
    assert got["sr"] == pytest.approx(sr, rel=1e-9)
    assert got["skewness"] == pytest.approx(skew, rel=1e-9)
    assert got["kurtosis"] == pytest.approx(kurt, rel=1e-9)
    assert got["psr"] == pytest.approx(ref_psr(r, sr_star), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(
    "returns, reason",
    [
        ([0.1, 0.2, 0.3], "fewer than 4"),
        ([], "fewer than 4"),
        ([0.01] * 10, "zero standard deviation"),
        ([0.1, float("nan"), 0.1, 0.2], "ruin"),
    ],
)
def test_psr_undefined(returns, reason):
    got = psr(returns)
    assert got["psr"] is None and reason in got["reason"]


def test_psr_radicand_not_positive():
    value, reason = probabilistic_sharpe(sr=1.0, n=50, skewness=3.0, kurtosis=3.0)  # 1 - 3 + 2/4 = -1.5
    assert value is None and "<= 0" in reason


def test_psr_after_ruin_is_none():
    log = log_of([row(0, -60), row(1, -50), row(2, 30), row(3, 1), row(4, 2)])
    assert psr(log)["psr"] is None and "ruin" in psr(log)["reason"]


def test_dsr_with_ten_trials():
    rnd = random.Random(11)
    r = [rnd.gauss(0.004, 0.01) for _ in range(120)]
    V = 0.04
    # SR0 = √V·((1-γ)·Φ⁻¹(1 - 1/10) + γ·Φ⁻¹(1 - 1/(10e))), Φ⁻¹(0.9) = 1.2815515655446004,
    # 1 - 1/(10e) = 0.9632120558828558, Φ⁻¹ of it ≈ 1.7894
    inv = NormalDist().inv_cdf
    assert inv(0.9) == pytest.approx(1.2815515655446004)
    g = 0.5772156649
    sr0 = 0.2 * ((1 - g) * 1.2815515655446004 + g * inv(1 - 1 / (10 * math.e)))
    assert sr0 == pytest.approx(0.2 * (0.4227843351 * 1.28155 + 0.5772156649 * 1.78943), rel=1e-4)
    got = deflated_sharpe(r, n_trials=10, sharpe_variance=V)
    assert got["sr0"] == pytest.approx(sr0, rel=1e-12)
    assert got["dsr"] == pytest.approx(ref_psr(r, sr0), rel=1e-9)
    assert got["dsr"] < psr(r)["psr"]  # deflating by 10 trials lowers it
    assert got["n_trials"] == 10 and got["reason"] is None


def test_dsr_with_one_trial_is_psr_zero():
    rnd = random.Random(5)
    r = [rnd.gauss(0.003, 0.01) for _ in range(50)]
    got = deflated_sharpe(r, n_trials=1, sharpe_variance=0.5)
    assert got["sr0"] == 0.0
    assert got["dsr"] == pytest.approx(psr(r)["psr"])
    assert "N = 1" in got["reason"]


@pytest.mark.parametrize("n_trials, variance", [(0, 0.1), (2.5, 0.1), (3, -0.1), (3, float("nan"))])
def test_dsr_rejects_bad_inputs(n_trials, variance):
    with pytest.raises(ValueError):
        deflated_sharpe([0.1, 0.2, 0.0, -0.1], n_trials, variance)


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_sharpe_matches_plain_python_on_the_same_draws():
    import numpy as np

    log = random_log(1, days=30)
    r = daily_returns(log)[3].tolist()
    n, seed = 200, 13
    idx = np.random.default_rng(seed).integers(0, len(r), size=(n, len(r))).tolist()
    sharpes = [ref_sharpe([r[i] for i in row_]) for row_ in idx]
    got = bootstrap_ci(log, "sharpe", n=n, seed=seed)
    assert got["n"] == n
    assert got["point"] == pytest.approx(ref_sharpe(r))
    assert got["low"] == pytest.approx(ref_quantile(sharpes, 0.025), rel=1e-9)
    assert got["high"] == pytest.approx(ref_quantile(sharpes, 0.975), rel=1e-9)


def test_bootstrap_expectancy_matches_plain_python_on_the_same_draws():
    import numpy as np

    log = random_log(2, days=20)
    nets = log.net.tolist()
    n, seed = 300, 21
    idx = np.random.default_rng(seed).integers(0, len(nets), size=(n, len(nets))).tolist()
    means = [sum(nets[i] for i in row_) / len(row_) for row_ in idx]
    got = bootstrap_ci(log, "expectancy", n=n, level=0.9, seed=seed)
    assert got["point"] == pytest.approx(sum(nets) / len(nets))
    assert got["low"] == pytest.approx(ref_quantile(means, 0.05), rel=1e-9)
    assert got["high"] == pytest.approx(ref_quantile(means, 0.95), rel=1e-9)


@pytest.mark.parametrize("stat", ["sharpe", "expectancy"])
@pytest.mark.parametrize("seed", [0, 7, 99])
def test_bootstrap_contains_point_and_is_deterministic(stat, seed):
    log = random_log(seed, days=90)
    a = bootstrap_ci(log, stat, n=2000, seed=seed)
    b = bootstrap_ci(log, stat, n=2000, seed=seed)
    assert a == b
    assert a["low"] < a["point"] < a["high"]
    assert a["n"] == 2000
    assert bootstrap_ci(log, stat, n=2000, seed=seed + 1)["low"] != a["low"]


def test_bootstrap_does_not_depend_on_chunk_size(monkeypatch):
    log = random_log(4, days=40)
    whole = bootstrap_ci(log, "sharpe", n=500)
    monkeypatch.setattr(st, "_CHUNK_ELEMENTS", 7 * 41)  # 7 resamples per chunk
    assert bootstrap_ci(log, "sharpe", n=500) == whole


def test_bootstrap_drops_resamples_without_a_sharpe():
    # 2 days, one of them 0: a resample picking the same day twice has zero variance.
    log = log_of([row(0, 1), row(1, -1), row(2, 0), row(3, 0)])
    got = bootstrap_ci(log, "sharpe", n=1000, seed=1)
    assert 0 < got["n"] < 1000 and got["n_requested"] == 1000


@pytest.mark.parametrize(
    "rows, stat, reason",
    [
        ([], "sharpe", "no trades"),
        ([row(0, 1)], "sharpe", "fewer than 2"),
        ([row(0, 1)], "expectancy", "fewer than 2 trades"),
        ([row(0, -60), row(1, -50), row(2, 30)], "sharpe", "ruin"),
    ],
)
def test_bootstrap_undefined(rows, stat, reason):
    got = bootstrap_ci(log_of(rows), stat)
    assert got["low"] is None and got["high"] is None and reason in got["reason"]


def test_bootstrap_rejects_unknown_stat():
    with pytest.raises(ValueError):
        bootstrap_ci(log_of([row(0, 1)]), "median")


# --------------------------------------------------------------------------- ruin


def test_ruin_matches_exact_probabilities():
    # C = 100, nets {-30, +10}, 2 trades per path, 4 equally likely paths:
    # (-30,-30): low 40 → 20%, 30%, 50% ruined; (-30,+10): low 70 → 20%, 30% (70 ≤ 70);
    # (+10,-30): low 80 → 20% (80 ≤ 80); (+10,+10): none. P = 3/4, 2/4, 1/4, 0.
    log = log_of([row(0, -30), row(1, 10)])
    got = ruin_probabilities(log, n=20_000, seed=3)
    assert got["20"] == pytest.approx(0.75, abs=0.015)
    assert got["30"] == pytest.approx(0.50, abs=0.015)
    assert got["50"] == pytest.approx(0.25, abs=0.015)
    assert got["100"] == 0.0
    assert got["ruin_prob_50_pct"] == pytest.approx(100 * got["50"])
    assert got["trades_per_path"] == 2 and got["n"] == 20_000


@pytest.mark.parametrize("seed", range(5))
def test_ruin_is_monotone_in_fraction(seed):
    log = random_log(seed, days=30, mu=-0.5, sigma=20, capital=300)
    got = ruin_probabilities(log, n=2000, seed=seed)
    ps = [got[k] for k in ("20", "30", "50", "100")]
    assert ps == sorted(ps, reverse=True)
    assert 0 < ps[0] <= 1


def test_ruin_certain_for_big_losses_and_impossible_for_wins():
    losses = log_of([row(i, -60) for i in range(3)])  # one trade: 40 ≤ 50; two: -20 ≤ 0
    assert {k: ruin_probabilities(losses, n=500)[k] for k in ("20", "30", "50", "100")} == dict.fromkeys(
        ("20", "30", "50", "100"), 1.0
    )
    wins = log_of([row(i, 5) for i in range(3)])
    assert {k: ruin_probabilities(wins, n=500)[k] for k in ("20", "30", "50", "100")} == dict.fromkeys(
        ("20", "30", "50", "100"), 0.0
    )


def test_ruin_deterministic_custom_fractions_and_no_trades():
    log = random_log(8, days=20, mu=-0.2, sigma=15, capital=200)
    assert ruin_probabilities(log, seed=4) == ruin_probabilities(log, seed=4)
    got = ruin_probabilities(log, fractions=(0.1, 0.25), n=100)
    assert set(got) >= {"10", "25"} and "ruin_prob_50_pct" not in got
    empty = ruin_probabilities(log_of([]))
    assert empty["50"] is None and empty["reason"] == "no trades"
    for bad in (0, -0.1, 1.5):
        with pytest.raises(ValueError):
            ruin_probabilities(log, fractions=(bad,))


# --------------------------------------------------------------------------- out of sample


@pytest.mark.parametrize("n, k", [(0, 0), (1, 0), (3, 2), (10, 7), (20, 14), (33, 23), (100, 70)])
def test_out_of_sample_split_sizes(n, k):
    rows = [row(i // 3, (-1) ** i * (i + 1)) for i in range(n)]
    got = out_of_sample(log_of(rows), split=0.7)
    assert (got["in_sample_trades"], got["out_of_sample_trades"]) == (k, n - k)
    assert got["in_sample"]["total_trades"] == k
    assert got["out_of_sample"]["total_trades"] == n - k


def test_out_of_sample_metrics_are_those_of_each_part():
    log = random_log(6, days=30)
    got = out_of_sample(log)
    n = len(log)
    k = n * 7 // 10
    rows = [
        {"closed_at_ms": int(t), "symbol": "X", "pnl": float(g), "fee": float(f)}
        for t, g, f in zip(log.closed_at_ms, log.gross, log.fee)
    ]
    first = compute_metrics(TradeLog.from_rows(rows[:k], log.capital))
    last = compute_metrics(TradeLog.from_rows(rows[k:], log.capital))
    assert got["in_sample"] == first
    assert got["out_of_sample"] == last
    assert got["oos_sharpe"] == last["sharpe"] and got["oos_expectancy"] == last["expectancy"]


def test_out_of_sample_reasons_and_bad_split():
    got = out_of_sample(log_of([row(0, 1), row(0, 2), row(0, 3)]))
    assert got["oos_sharpe"] is None and "oos_sharpe" in got["reasons"]
    for bad in (0, 1, 1.2):
        with pytest.raises(ValueError):
            out_of_sample(log_of([]), split=bad)


# --------------------------------------------------------------------------- regimes


def test_regimes_from_daily_pnl_by_hand():
    # d = [+1, -2, +3] → |d| = 1, 2, 3; terciles at 1 + 2·(1/3) = 1.667 and 2.333:
    # day 0 low (1 trade, +1), day 1 mid (2 trades, -1 each), day 2 high (1 trade, +3).
    log = log_of([row(0, 1), row(1, -1, hour=1), row(1, -1, hour=2), row(2, 3)])
    got = regime_breakdown(log)
    assert got["source"] == "daily_pnl" and "daily P&L" in got["note"]
    assert got["thresholds"] == pytest.approx([5 / 3, 7 / 3])
    v = got["volatility"]
    assert (v["low"]["trades"], v["mid"]["trades"], v["high"]["trades"]) == (1, 2, 1)
    assert (v["low"]["expectancy"], v["mid"]["expectancy"], v["high"]["expectancy"]) == (1.0, -1.0, 3.0)
    assert v["mid"]["win_rate"] == 0.0 and v["mid"]["net"] == -2.0
    assert got["trend"] is None
    assert got["positive_regimes"] == 2


def test_regimes_with_no_trades():
    got = regime_breakdown(log_of([]))
    assert sum(b["trades"] for b in got["volatility"].values()) == 0
    assert got["positive_regimes"] == 0


def ref_regimes(closes, ts, trades, window, trend_window):
    """Labels per trade with plain loops: (vol tercile 0..2 or -1, trend 0 up / 1 down or -1)."""
    lr = [math.log(closes[i] / closes[i - 1]) for i in range(1, len(closes))]
    vol = [None] * len(closes)
    for i in range(window, len(closes)):
        w = lr[i - window:i]
        mean = sum(w) / window
        vol[i] = math.sqrt(sum((x - mean) ** 2 for x in w) / (window - 1))
    defined = [v for v in vol if v is not None]
    q1, q2 = ref_quantile(defined, 1 / 3), ref_quantile(defined, 2 / 3)
    spacing = sorted(b - a for a, b in zip(ts, ts[1:]))[(len(ts) - 2) // 2 : len(ts) // 2]
    spacing = int(sum(spacing) / len(spacing))
    labels = []
    for t in trades:
        i = bisect.bisect_right(ts, t) - 1
        if i < 0 or t > ts[-1] + spacing:
            labels.append((-1, -1))
            continue
        v = vol[i]
        vl = -1 if v is None else (0 if v <= q1 else 1 if v <= q2 else 2)
        tl = -1 if i < trend_window else (0 if closes[i] / closes[i - trend_window] - 1 > 0 else 1)
        labels.append((vl, tl))
    return labels


@pytest.mark.parametrize("seed", range(4))
def test_regimes_from_bars_against_reference(seed):
    import numpy as np

    rnd = random.Random(seed)
    bars = 400
    ts = [T0 + i * HOUR for i in range(bars)]
    closes = [100.0]
    for i in range(1, bars):
        sigma = 0.002 if i < 150 else 0.02 if i < 280 else 0.008
        closes.append(closes[-1] * math.exp(rnd.gauss(0.0005 if i % 100 < 50 else -0.0005, sigma)))
    # trades from before the first bar to after the last one
    trade_ts = sorted(rnd.randint(T0 - 5 * HOUR, T0 + (bars + 5) * HOUR) for _ in range(300))
    pnls = [round(rnd.gauss(0.1, 1), 3) for _ in trade_ts]
    log = TradeLog.from_rows(
        [{"closed_at_ms": t, "symbol": "X", "pnl": p, "fee": 0.0} for t, p in zip(trade_ts, pnls)], 1000.0
    )
    window, trend_window = 12, 24
    got = regime_breakdown(log, np.array(closes), np.array(ts), window=window, trend_window=trend_window)
    labels = ref_regimes(closes, ts, trade_ts, window, trend_window)
    assert got["source"] == "bars"
    for i, name in enumerate(("low", "mid", "high")):
        mine = [p for p, (vl, _) in zip(pnls, labels) if vl == i]
        bucket = got["volatility"][name]
        assert bucket["trades"] == len(mine)
        assert bucket["wins"] == sum(1 for p in mine if p > 0)
        assert bucket["net"] == pytest.approx(sum(mine))
    for i, name in enumerate(("up", "down")):
        assert got["trend"][name]["trades"] == sum(1 for _, tl in labels if tl == i)
    # every trade is counted once in each dimension
    assert sum(b["trades"] for b in got["volatility"].values()) + got["unclassified"]["volatility"]["trades"] == 300
    assert sum(b["trades"] for b in got["trend"].values()) + got["unclassified"]["trend"]["trades"] == 300
    assert got["unclassified"]["volatility"]["trades"] > 0  # trades before bar `window` and after the end
    expected_positive = sum(1 for b in got["volatility"].values() if b["trades"] and b["expectancy"] > 0)
    assert got["positive_regimes"] == expected_positive


@pytest.mark.parametrize(
    "closes, ts, message",
    [
        ([1.0, 2.0], [1, 2, 3], "bars_close has 2"),
        ([1.0, -2.0], [1, 2], "finite and > 0"),
        ([1.0, 2.0], [2, 1], "strictly increasing"),
    ],
)
def test_regimes_reject_bad_bars(closes, ts, message):
    with pytest.raises(ValueError, match=message):
        regime_breakdown(log_of([row(0, 1)]), closes, ts)


# --------------------------------------------------------------------------- overfitting


@pytest.mark.parametrize(
    "forward, baseline, suspected",
    [
        ({"sharpe": 0.9, "expectancy": 1.0}, {"sharpe": 2.0, "expectancy": 1.2}, True),  # 0.9 < 2.0/2
        ({"sharpe": 1.1, "expectancy": 1.0}, {"sharpe": 2.0, "expectancy": 1.2}, False),
        ({"sharpe": 1.0, "expectancy": 1.0}, {"sharpe": 2.0, "expectancy": 1.2}, False),  # exactly half
        ({"sharpe": 3.0, "expectancy": -0.1}, {"sharpe": 2.0, "expectancy": 1.2}, True),  # sign flip
        ({"sharpe": 3.0, "expectancy": 0.0}, {"sharpe": 2.0, "expectancy": 1.2}, True),  # edge vanished
        ({"sharpe": None, "expectancy": 1.0}, {"sharpe": 2.0, "expectancy": 1.2}, True),  # undefined forward
        ({"sharpe": -1.0, "expectancy": 0.5}, {"sharpe": -2.0, "expectancy": -0.5}, False),  # baseline had no edge
    ],
)
def test_overfit_flag(forward, baseline, suspected):
    got = compare_with_baseline(forward, baseline)
    assert got["overfit_suspected"] is suspected
    assert bool(got["why"]) is suspected


def test_comparison_values_and_degradation():
    forward = {"sharpe": 0.9, "win_rate": 0.5, "expectancy": 1.5, "profit_factor": None}
    baseline = {"sharpe": 2.0, "win_rate": 0.6, "expectancy": -1.0, "profit_factor": 1.8}
    got = compare_with_baseline(forward, baseline)["metrics"]
    assert got["sharpe"] == {"forward": 0.9, "baseline": 2.0, "change": pytest.approx(-1.1),
                             "degradation": pytest.approx(0.55)}  # (2.0 - 0.9) / 2.0
    assert got["win_rate"]["degradation"] == pytest.approx(1 / 6)  # (0.6 - 0.5) / 0.6
    assert got["expectancy"]["degradation"] == pytest.approx(-2.5)  # (-1 - 1.5) / |-1|: forward better
    assert got["profit_factor"]["degradation"] is None
    reasons = compare_with_baseline(forward, baseline)["reasons"]
    assert "forward profit_factor not available" in reasons["profit_factor"]


def test_comparison_of_real_metric_dicts():
    base = compute_metrics(random_log(1, days=40, mu=1.0))
    fwd = compute_metrics(random_log(2, days=40, mu=-1.0))
    got = compare_with_baseline(fwd, base)
    assert got["overfit_suspected"] is True


# --------------------------------------------------------------------------- speed


def test_resampling_is_fast():
    import numpy as np

    rng = np.random.default_rng(0)
    days = TradeLog.from_arrays(T0 + np.arange(365) * DAY, rng.normal(1, 20, 365), np.zeros(365), 10_000.0)
    trades = TradeLog.from_arrays(T0 + np.arange(1000) * HOUR, rng.normal(1, 20, 1000), np.zeros(1000), 10_000.0)
    start = time.perf_counter()
    bootstrap_ci(days, "sharpe", n=2000)
    boot = time.perf_counter() - start
    start = time.perf_counter()
    ruin_probabilities(trades, n=5000)
    ruin = time.perf_counter() - start
    assert boot < 1.0 and ruin < 1.0, (boot, ruin)
