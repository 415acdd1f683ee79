"""The synthetic market generator: deterministic, internally consistent, and statistically
BTC-like (fat tails, volatility clustering, plausible volatility); each stress scenario
contains its event."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from livegate.adapters.marketdata.candles import TIMEFRAME_MS, Candles
from livegate.adapters.marketdata.synthetic import BUILTIN, STRESS_KINDS, generate, load_builtin, stress_scenario
from livegate.core.errors import UsageError

ARRAYS = ("ts", "open", "high", "low", "close", "volume")
MINUTES_PER_YEAR = 365 * 24 * 60


@pytest.fixture(scope="module")
def btc() -> Candles:
    return generate("BTC/USDT", 100_000)


def log_returns(c: Candles) -> np.ndarray:
    return np.log(c.close / c.open)


def same(a: Candles, b: Candles) -> bool:
    return all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ARRAYS)


def assert_valid(c: Candles) -> None:
    assert c.ts.dtype == np.int64 and all(getattr(c, k).dtype == np.float64 for k in ARRAYS[1:])
    assert np.all(np.diff(c.ts) == c.timeframe_ms)
    for k in ARRAYS[1:]:
        assert np.all(np.isfinite(getattr(c, k))), k
    assert np.all(c.high >= np.maximum(c.open, c.close)) and np.all(c.low <= np.minimum(c.open, c.close))
    assert np.all(c.low > 0) and np.all(c.volume >= 0)


def test_shape_and_consistency(btc):
    assert len(btc) == 100_000 and btc.synthetic and btc.source == "builtin:btc-1m"
    assert (btc.symbol, btc.timeframe_ms, btc.ts[0]) == ("BTC/USDT", 60_000, 1_704_067_200_000)
    assert_valid(btc)
    assert np.array_equal(btc.open[1:], btc.close[:-1])  # no gaps between bars


def test_same_arguments_same_candles():
    assert same(generate("BTC/USDT", 3000), generate("BTC/USDT", 3000))
    assert same(generate("BTC/USDT", 3000, seed=7), generate("BTC/USDT", 3000, seed=7))
    assert not same(generate("BTC/USDT", 3000, seed=7), generate("BTC/USDT", 3000, seed=8))
    assert not same(generate("BTC/USDT", 3000), generate("BTC/USDT", 3000, seed=7))
    assert not np.allclose(log_returns(generate("BTC/USDT", 3000)), log_returns(generate("ETH/USDT", 3000)))


def test_fixed_across_machines_and_versions():
    """The built-in markets are evidence in ledgers: changing them must be deliberate."""
    c = generate("BTC/USDT", 5)
    assert c.close.tolist() == pytest.approx(GOLDEN_BTC_CLOSE, abs=0.0)


GOLDEN_BTC_CLOSE = [42007.99, 42000.7, 41997.56, 41999.1, 41997.59]


def test_price_level_and_volatility(btc):
    assert 30_000 <= btc.open[0] <= 60_000
    r = log_returns(btc)
    assert 0.0005 <= r.std() <= 0.001  # 0.05–0.1 % per minute
    assert 0.5 <= r.std() * np.sqrt(MINUTES_PER_YEAR) <= 0.8
    eth = generate("ETH/USDT", 20_000)
    assert 1_000 <= eth.open[0] <= 5_000 and eth.source == "builtin:eth-1m"


def test_fat_tails(btc):
    r = log_returns(btc)
    z = (r - r.mean()) / r.std()
    assert np.mean(z**4) - 3 > 1


def test_volatility_clusters(btc):
    a = np.abs(log_returns(btc))
    a = a - a.mean()
    assert np.mean(a[1:] * a[:-1]) / np.mean(a * a) > 0.05


def test_volume_follows_the_size_of_moves(btc):
    assert np.corrcoef(np.log(btc.volume + 1e-9), np.abs(log_returns(btc)))[0, 1] > 0.2


@pytest.mark.parametrize("timeframe", ["5m", "1h", "1d"])
def test_other_timeframes(timeframe):
    c = generate("SOL/USDT", 800, timeframe, start_ms=1_600_000_000_000, start_price=25.0)
    assert_valid(c)
    assert (c.timeframe_ms, c.ts[0], c.source) == (TIMEFRAME_MS[timeframe], 1_600_000_000_000, f"builtin:sol-{timeframe}")
    assert abs(c.open[0] - 25.0) < 1e-9
    annual = log_returns(c).std() * np.sqrt(365 * 86_400_000 / c.timeframe_ms)
    assert 0.3 < annual < 1.6


def test_builtin_markets():
    assert set(BUILTIN) == {"btc-1m", "eth-1m"}
    c = load_builtin("builtin:eth-1m", 500)
    assert (c.symbol, len(c), c.source) == ("ETH/USDT", 500, "builtin:eth-1m")
    assert same(load_builtin("btc-1m", 500), generate("BTC/USDT", 500))
    with pytest.raises(UsageError, match=r"unknown built-in market 'builtin:doge-1m' \(known: builtin:btc-1m, builtin:eth-1m\)"):
        load_builtin("builtin:doge-1m", 10)


@pytest.mark.parametrize("call, says", [
    (lambda: generate(bars=0), "at least 1"),
    (lambda: generate(timeframe="7m"), "unknown timeframe '7m'"),
    (lambda: generate(bars=10, start_price=-1), "start price must be a positive number"),
    (lambda: stress_scenario("meteor", 1), "unknown stress scenario 'meteor' (known: flash_crash, gap,"),
    (lambda: stress_scenario("gap", 1, bars=50), "at least 120"),
])
def test_bad_arguments(call, says):
    with pytest.raises(UsageError) as e:
        call()
    assert says in str(e.value)


# --- stress scenarios ---------------------------------------------------------------------------

SEEDS = range(5)


def _event(kind: str, c: Candles) -> None:
    r = log_returns(c)
    move = c.close[-1] / c.open[0] - 1
    if kind == "flash_crash":
        worst = sliding_window_view(c.low[1:], 10).min(axis=1) / c.close[:-10]
        start = int(np.argmin(worst)) + 1
        trough = start + int(np.argmin(c.close[start:start + 10]))
        assert worst.min() < 0.9
        assert c.close[trough:trough + 150].max() > 1.03 * c.close[trough]  # partial recovery
    elif kind == "gap":
        jumps = c.open[1:] / c.close[:-1] - 1
        assert np.count_nonzero(jumps) == 1 and 0.049 < np.abs(jumps).max() < 0.151
    elif kind == "volatility_spike":
        std = sliding_window_view(r, 60).std(axis=1)
        assert std.max() / np.median(std) > 3.5
    elif kind == "liquidity_drought":
        level = sliding_window_view(c.volume, 60)
        assert np.median(level, axis=1).min() < 0.1 * np.median(c.volume)
        quiet = c.volume < 0.1 * np.median(c.volume)
        spread = (c.high - c.low) / c.close
        assert spread[quiet].mean() > 1.5 * spread[~quiet].mean()
    elif kind in ("trending_up", "trending_down"):
        assert 0.059 < (move if kind == "trending_up" else -move) < 0.151
    elif kind == "ranging":
        drift = np.cumsum(r)
        variance_ratio = np.var(drift[120:] - drift[:-120]) / (120 * np.var(r))
        assert abs(move) < 0.03 and c.high.max() / c.low.min() < 1.08 and variance_ratio < 0.6
    else:
        raise AssertionError(f"no test for {kind}")


@pytest.mark.parametrize("kind", STRESS_KINDS)
def test_stress_scenario_has_its_event(kind):
    for seed in SEEDS:
        c = stress_scenario(kind, seed)
        assert_valid(c)
        assert (len(c), c.symbol, c.source) == (1440, "BTC/USDT", f"builtin:stress-{kind}?seed={seed}")
        _event(kind, c)


@pytest.mark.parametrize("kind", STRESS_KINDS)
def test_stress_scenario_is_deterministic_and_builds_on_the_base_path(kind):
    assert same(stress_scenario(kind, 3, bars=600), stress_scenario(kind, 3, bars=600))
    assert not same(stress_scenario(kind, 3, bars=600), stress_scenario(kind, 4, bars=600))
    if kind not in ("trending_up", "trending_down", "ranging"):  # these reshape the whole run
        base, event = generate("BTC/USDT", 600, seed=3), stress_scenario(kind, 3, bars=600)
        assert same(base.slice(0, 150), event.slice(0, 150)) and not same(base, event)


def test_stress_kinds():
    assert STRESS_KINDS == ("flash_crash", "gap", "volatility_spike", "liquidity_drought",
                            "trending_up", "trending_down", "ranging")
    assert len({stress_scenario(k, 1, bars=300).close[-1] for k in STRESS_KINDS}) == len(STRESS_KINDS)
