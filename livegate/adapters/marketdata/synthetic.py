"""Synthetic markets: seeded, BTC- or ETH-like OHLCV paths and stress scenarios.

A path is built from per-bar ingredients: a Markov chain of regimes (calm, trending up,
trending down, turbulent) with persistent durations sets drift and a volatility level; two
AR(1) log-volatility components (half-lives of a day and of half an hour) add volatility
clustering; an intraday cycle peaks at 15:00 UTC; shocks are Student-t (4 degrees of freedom)
for fat tails. Each bar opens at the previous close, its high and low are drawn from the
Brownian bridge between open and close, and volume is lognormal and rises with volatility and
with the size of the move. Prices are rounded to about seven significant digits.

The same arguments give the same candles on every run and every machine: every random stream
is numpy's `default_rng` seeded with a SHA-256 digest of the symbol (and the seed, if given).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial

import numpy as np

from livegate.adapters.marketdata.candles import Candles, timeframe_to_ms
from livegate.core.errors import UsageError

START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
BUILTIN = {"btc-1m": ("BTC/USDT", "1m"), "eth-1m": ("ETH/USDT", "1m")}

_MINUTE_MS, _HOUR_MS, _DAY_MS = 60_000, 3_600_000, 86_400_000
_YEAR_MS = 365 * _DAY_MS
_DF = 4.0  # degrees of freedom of the Student-t shocks
_LOG_VOL = ((_DAY_MS, 0.35), (_HOUR_MS // 2, 0.30))  # (half-life, stationary std) of each component
_MIN_STRESS_BARS = 120


@dataclass(frozen=True)
class _Asset:
    price: float  # default start price, in the quote currency
    annual_vol: float  # annualized volatility of log returns
    volume_per_minute: float  # typical traded volume, in the base currency


@dataclass(frozen=True)
class _Regime:
    vol: float  # volatility multiplier
    drift_per_hour: float  # log drift
    hours: float  # mean duration


_ASSETS = {"BTC": _Asset(42_000.0, 0.60, 12.0), "ETH": _Asset(2_300.0, 0.70, 150.0)}
_ALIASES = {"XBT": "BTC", "WBTC": "BTC", "WETH": "ETH"}
_OTHER = _Asset(100.0, 0.80, 2_000.0)

_REGIMES = (  # calm, trending up, trending down, turbulent
    _Regime(0.7, 0.0, 36.0), _Regime(1.0, 0.0025, 12.0), _Regime(1.2, -0.0025, 12.0), _Regime(2.0, 0.0, 4.0),
)
_NEXT = np.array([  # where a regime goes when it ends; symmetric in up/down, so no net drift
    [0.00, 0.35, 0.35, 0.30],
    [0.60, 0.00, 0.10, 0.30],
    [0.60, 0.10, 0.00, 0.30],
    [0.50, 0.25, 0.25, 0.00],
])


def _stationary() -> np.ndarray:
    """Long-run share of time in each regime: the jump chain's stationary law times durations."""
    visits = np.full(len(_REGIMES), 1 / len(_REGIMES))
    for _ in range(500):
        visits = visits @ _NEXT
    share = visits * np.array([r.hours for r in _REGIMES])
    return share / share.sum()


_SHARE = _stationary()
# E[(regime multiplier * exp(log-vol))^2], so that the mean variance matches the asset's vol
_VOL_NORM = math.sqrt(float(_SHARE @ (np.array([r.vol for r in _REGIMES]) ** 2))
                      * math.exp(2 * sum(std**2 for _, std in _LOG_VOL)))


@dataclass
class _Path:
    """Per-bar ingredients of a market before it becomes candles. The log return of a bar
    (open to close) is `drift + sigma * shock`; it opens `jump` (log) away from the previous close."""

    ts: np.ndarray
    drift: np.ndarray
    sigma: np.ndarray
    shock: np.ndarray  # unit variance, fat-tailed
    jump: np.ndarray
    spread: np.ndarray  # multiplier of the intrabar excursion beyond open and close
    volume: np.ndarray
    noise: np.random.Generator  # for the intrabar extremes, drawn when candles are made


def generate(symbol: str = "BTC/USDT", bars: int = 43200, timeframe: str = "1m", seed: int | None = None,
             start_ms: int | None = None, start_price: float | None = None) -> Candles:
    """A synthetic market of `bars` candles. Without a seed the path depends only on the symbol;
    a seed gives another path of the same symbol. Starts 2024-01-01T00:00Z at the asset's
    typical price (BTC 42,000, ETH 2,300, anything else 100) unless told otherwise. The source
    is `builtin:<base>-<timeframe>` (e.g. `builtin:btc-1m`), with `?seed=<n>` if seeded."""
    tf_ms = timeframe_to_ms(timeframe)
    _check_bars(bars, 1)
    price = _asset(symbol).price if start_price is None else float(start_price)
    if not (math.isfinite(price) and price > 0):
        raise UsageError(f"the start price must be a positive number, not {start_price!r}")
    path = _market(symbol, bars, tf_ms, START_MS if start_ms is None else start_ms, seed)
    name = next((k for k, v in BUILTIN.items() if v == (symbol, timeframe)), f"{_base(symbol).lower()}-{timeframe}")
    source = f"builtin:{name}" + ("" if seed is None else f"?seed={seed}")
    return _candles(path, price, symbol, tf_ms, source)


def load_builtin(name: str, bars: int) -> Candles:
    """The built-in market `name` (`builtin:btc-1m` or `btc-1m`), `bars` candles long."""
    key = name.removeprefix("builtin:")
    if key not in BUILTIN:
        known = ", ".join(f"builtin:{k}" for k in BUILTIN)
        raise UsageError(f"unknown built-in market {name!r} (known: {known})")
    symbol, timeframe = BUILTIN[key]
    return generate(symbol, bars, timeframe)


def _flash_crash(path: _Path, rng: np.random.Generator) -> None:
    """flash_crash: at a bar in the second quarter of the run the price falls 12–30 % within
    2–8 one-minute bars (volume 10–30×, ranges 4× wider), then recovers 40–80 % of the fall over
    the next 30–120 bars, fastest at first, with volatility and volume fading back to normal."""
    bars = len(path.ts)
    start, length = int(rng.integers(bars // 4, bars // 2 + 1)), int(rng.integers(2, 9))
    fall = math.log1p(-rng.uniform(0.12, 0.30))
    crash = slice(start, start + length)
    path.drift[crash] = fall * rng.dirichlet(np.full(length, 2.0))
    path.shock[crash] = 0.0
    path.spread[crash] *= 4.0
    path.volume[crash] *= rng.uniform(10, 30)
    span = min(int(rng.integers(30, 121)), bars - start - length)
    if span > 0:
        weight = np.exp(-np.arange(span) / (span / 3))
        after = slice(start + length, start + length + span)
        path.drift[after] -= fall * rng.uniform(0.4, 0.8) * weight / weight.sum()
        path.sigma[after] *= 1 + 2 * weight
        path.volume[after] *= 1 + 5 * weight


def _gap(path: _Path, rng: np.random.Generator) -> None:
    """gap: one bar in the second quarter of the run opens 5–15 % above or below the previous
    close (as after an exchange outage or a weekend); for the next hour volatility and volume
    start 3× higher and fade back to normal."""
    bars = len(path.ts)
    at = int(rng.integers(bars // 4, bars // 2 + 1))
    path.jump[at] = math.log1p(rng.choice((-1.0, 1.0)) * rng.uniform(0.05, 0.15))
    after = slice(at, min(bars, at + 60))
    fade = np.linspace(3.0, 1.0, after.stop - at)
    path.sigma[after] *= fade
    path.volume[after] *= fade


def _volatility_spike(path: _Path, rng: np.random.Generator) -> None:
    """volatility_spike: for 60–240 bars (at most a quarter of the run) volatility is 5–10×
    its median level; ranges follow, volume rises with the square root of the multiplier."""
    window = _window(path, rng, 60, 240)
    mult = rng.uniform(5, 10)
    path.sigma[window] = mult * np.median(path.sigma)
    path.volume[window] *= math.sqrt(mult)


def _liquidity_drought(path: _Path, rng: np.random.Generator) -> None:
    """liquidity_drought: for 120–480 bars (at most a quarter of the run) volume falls to
    1–5 % of its median level and the thin book makes bars choppier: volatility 1.5× and
    intrabar excursions 2–4× wider."""
    window = _window(path, rng, 120, 480)
    size = window.stop - window.start
    path.volume[window] = np.median(path.volume) * rng.uniform(0.01, 0.05) * rng.lognormal(0.0, 0.3, size)
    path.sigma[window] *= 1.5
    path.spread[window] *= rng.uniform(2, 4)


def _trend(direction: int, path: _Path, rng: np.random.Generator) -> None:
    """trending_up / trending_down: the regimes' drift is replaced by a steady one that takes the
    last close exactly 6–15 % above (below) the first open; the shocks still move the path."""
    target = math.log1p(direction * rng.uniform(0.06, 0.15))
    path.drift[:] = (target - float(np.sum(path.sigma * path.shock))) / len(path.ts)


def _ranging(path: _Path, rng: np.random.Generator) -> None:
    """ranging: the drift pulls the price back to its starting level (mean reversion with a
    half-life of 10–30 bars), so it oscillates within a few percent and ends near its start."""
    phi = 0.5 ** (1 / rng.uniform(10, 30))
    deviation = _ar1(path.sigma * path.shock, phi)
    path.drift[0] = 0.0
    path.drift[1:] = (phi - 1) * deviation[:-1]


_STRESS: dict[str, Callable[[_Path, np.random.Generator], None]] = {
    "flash_crash": _flash_crash,
    "gap": _gap,
    "volatility_spike": _volatility_spike,
    "liquidity_drought": _liquidity_drought,
    "trending_up": partial(_trend, 1),
    "trending_down": partial(_trend, -1),
    "ranging": _ranging,
}
STRESS_KINDS = tuple(_STRESS)


def stress_scenario(kind: str, seed: int, bars: int = 1440, symbol: str = "BTC/USDT") -> Candles:
    """One-minute candles of `symbol` with a stress event injected into the path that
    `generate(symbol, bars, "1m", seed)` would give. Kinds:

    - flash_crash: −12…−30 % within 2–8 minutes, then a 40–80 % recovery over 30–120 bars.
    - gap: one bar opens ±5–15 % away from the previous close.
    - volatility_spike: 5–10× the median volatility for 60–240 bars.
    - liquidity_drought: volume at 1–5 % of its median, 2–4× wider ranges, for 120–480 bars.
    - trending_up / trending_down: a steady drift ends the run 6–15 % up (down).
    - ranging: mean reversion to the start price (half-life 10–30 bars) dominates.

    Events start in the second quarter of the run and fit in it; the same kind, seed, bars and
    symbol always give the same candles."""
    inject = _STRESS.get(kind)
    if inject is None:
        raise UsageError(f"unknown stress scenario {kind!r} (known: {', '.join(STRESS_KINDS)})")
    _check_bars(bars, _MIN_STRESS_BARS)
    path = _stress_market(symbol, bars, seed)
    inject(path, np.random.default_rng(_seed_key("stress", kind, symbol, seed)))
    return _candles(path, _asset(symbol).price, symbol, _MINUTE_MS, f"builtin:stress-{kind}?seed={seed}")


def _market(symbol: str, bars: int, tf_ms: int, start_ms: int, seed: int | None) -> _Path:
    """The ingredients of an ordinary market (no stress event)."""
    rng = np.random.default_rng(_seed_key("market", symbol) if seed is None else _seed_key("market", symbol, seed))
    asset = _asset(symbol)
    ts = start_ms + tf_ms * np.arange(bars, dtype=np.int64)
    regime = _regime_path(bars, tf_ms, rng)
    vol = np.array([r.vol for r in _REGIMES])[regime]
    hour = (ts % _DAY_MS) / _HOUR_MS
    season = 1 + 0.25 * np.cos(2 * np.pi * (hour - 15) / 24)
    season /= math.sqrt(float(np.mean(season**2)))
    log_vol = sum(_ar1_stationary(bars, 0.5 ** (tf_ms / half_life), std, rng) for half_life, std in _LOG_VOL)
    base_sigma = asset.annual_vol * math.sqrt(tf_ms / _YEAR_MS)
    activity = vol * season * np.exp(log_vol) / _VOL_NORM
    drift = np.array([r.drift_per_hour * tf_ms / _HOUR_MS for r in _REGIMES])[regime]
    shock = rng.standard_t(_DF, bars) / math.sqrt(_DF / (_DF - 2))
    volume = (asset.volume_per_minute * tf_ms / _MINUTE_MS * activity**0.8
              * np.exp(0.35 * np.abs(shock) + 0.5 * rng.standard_normal(bars) - 0.4))
    return _Path(ts=ts, drift=np.clip(drift, -0.5 * base_sigma, 0.5 * base_sigma), sigma=base_sigma * activity,
                 shock=shock, jump=np.zeros(bars), spread=np.ones(bars), volume=volume, noise=rng)


def _stress_market(symbol: str, bars: int, seed: int) -> _Path:
    """A fresh copy of `_market(symbol, bars, 1m, START_MS, seed)`: every kind of stress event
    is injected into the same market for one seed, made once (the stress test asks for each
    seed once per kind), then copied, arrays and noise generator state alike."""
    base, noise_state = _stress_base(symbol, int(bars), seed)
    noise = np.random.Generator(type(base.noise.bit_generator)())
    noise.bit_generator.state = noise_state
    return _Path(ts=base.ts.copy(), drift=base.drift.copy(), sigma=base.sigma.copy(), shock=base.shock.copy(),
                 jump=base.jump.copy(), spread=base.spread.copy(), volume=base.volume.copy(), noise=noise)


@lru_cache(maxsize=64)
def _stress_base(symbol: str, bars: int, seed: int) -> tuple[_Path, dict]:
    path = _market(symbol, bars, _MINUTE_MS, START_MS, seed)
    return path, path.noise.bit_generator.state


def _candles(path: _Path, start_price: float, symbol: str, tf_ms: int, source: str) -> Candles:
    """Candles from a path: each bar opens at the previous close (unless it jumps); high and low
    come from the Brownian bridge between open and close, so they always enclose both."""
    digits = 6 - math.floor(math.log10(start_price))
    ret = path.drift + path.sigma * path.shock
    close = np.round(start_price * np.exp(np.cumsum(path.jump + ret)), digits)
    previous = np.concatenate(([round(start_price, digits)], close[:-1]))
    opens = np.where(path.jump == 0, previous, np.round(previous * np.exp(path.jump), digits))
    a, b = np.log(opens), np.log(close)
    reach = 2 * (path.sigma * path.spread) ** 2
    high = np.exp((a + b + np.sqrt((b - a) ** 2 + reach * path.noise.standard_exponential(len(a)))) / 2)
    low = np.exp((a + b - np.sqrt((b - a) ** 2 + reach * path.noise.standard_exponential(len(a)))) / 2)
    high = np.maximum(np.round(high, digits), np.maximum(opens, close))
    low = np.minimum(np.round(low, digits), np.minimum(opens, close))
    return Candles(symbol, tf_ms, path.ts, opens, high, low, close, np.round(path.volume, 4),
                   source=source, synthetic=True)


def _regime_path(bars: int, tf_ms: int, rng: np.random.Generator) -> np.ndarray:
    """The regime of each bar: geometric durations (mean `hours`, at least one bar) chained by `_NEXT`."""
    mean_bars = [max(1.0, r.hours * _HOUR_MS / tf_ms) for r in _REGIMES]
    out = np.empty(bars, dtype=np.intp)
    state, filled = int(rng.choice(len(_REGIMES), p=_SHARE)), 0
    while filled < bars:
        length = int(rng.geometric(1 / mean_bars[state]))
        out[filled:filled + length] = state
        filled += length
        state = int(rng.choice(len(_REGIMES), p=_NEXT[state]))
    return out


def _ar1_stationary(n: int, phi: float, std: float, rng: np.random.Generator) -> np.ndarray:
    """A zero-mean AR(1) path with coefficient `phi` and stationary standard deviation `std`."""
    innovations = rng.standard_normal(n) * (std * math.sqrt(1 - phi**2))
    if n:
        innovations[0] = std * rng.standard_normal()
    return _ar1(innovations, phi)


def _ar1(x: np.ndarray, phi: float) -> np.ndarray:
    """y[t] = phi * y[t-1] + x[t] from y[-1] = 0, without a Python loop per element: within
    blocks short enough that phi**-block stays finite it is a scaled cumsum, and only the
    carry from block to block is a loop."""
    n = len(x)
    if n == 0 or phi < 1e-12:
        return np.array(x, dtype=float)
    block = int(min(n, max(1.0, 300 / -math.log(phi))))
    blocks = -(-n // block)
    grid = np.zeros(blocks * block)
    grid[:n] = x
    steps = np.arange(block)
    local = np.cumsum(grid.reshape(blocks, block) * phi ** -steps, axis=1) * phi**steps
    carry = np.empty(blocks)
    end, decay = 0.0, phi**block
    for i, last in enumerate(local[:, -1].tolist()):
        carry[i] = end
        end = last + decay * end
    return (local + np.outer(carry, phi ** (steps + 1))).ravel()[:n]


def _window(path: _Path, rng: np.random.Generator, shortest: int, longest: int) -> slice:
    """A window of shortest..longest bars (at most a quarter of the run) starting in its second quarter."""
    bars = len(path.ts)
    length = min(int(rng.integers(shortest, longest + 1)), bars // 4)
    start = int(rng.integers(bars // 4, bars // 2 + 1))
    return slice(start, start + length)


def _check_bars(bars: int, least: int) -> None:
    if not isinstance(bars, int | np.integer) or isinstance(bars, bool) or bars < least:
        raise UsageError(f"the number of bars must be a whole number of at least {least}, not {bars!r}")


def _base(symbol: str) -> str:
    return symbol.split("/")[0].split(":")[0].strip().upper()


def _asset(symbol: str) -> _Asset:
    base = _base(symbol)
    return _ASSETS.get(_ALIASES.get(base, base), _OTHER)


def _seed_key(*parts: str | int) -> int:
    """A 64-bit seed from text and numbers, the same on every machine (unlike `hash()` of a str)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big")
