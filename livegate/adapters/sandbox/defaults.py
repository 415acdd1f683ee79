"""What a sandbox starts with unless told otherwise: BTC/USDT and ETH/USDT on generated price
paths, and a few test keys (a trader, a withdrawal-enabled key, a read-only key, a key
without IP restriction), each with its own funded account."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from livegate.adapters.marketdata.candles import Candles
from livegate.adapters.marketdata.synthetic import generate
from livegate.adapters.sandbox.market import HISTORY_BARS, STEP, WALL, BookShape, MarketSpec
from livegate.adapters.sandbox.venue import Venue

DEFAULT_SYMBOLS = ("BTC/USDT", "ETH/USDT")  # their prices come from the seeded market model
STEP_DAYS = 30  # a step clock's default markets last this many market days: a paper week and every stage


@dataclass(frozen=True)
class KeyPair:
    """A test API key and its secret (obviously fake; never valid anywhere else)."""

    api_key: str
    secret: str

    def __repr__(self) -> str:
        return f"KeyPair(api_key={self.api_key!r}, secret='***')"


DEFAULT_KEYS: dict[str, KeyPair] = {
    name: KeyPair(f"sandbox-{name}-key", f"sandbox-{name}-secret")
    for name in ("trader", "withdraw", "readonly", "unrestricted")
}
DEFAULT_KEY_FLAGS: dict[str, dict] = {
    "trader": {},
    "withdraw": {"can_withdraw": True, "internal_transfer": True, "universal_transfer": True},
    "readonly": {"can_trade": False},
    "unrestricted": {"ip_restrict": False},
}


def random_walk(symbol: str, bars: int, timeframe_ms: int = 60_000, seed: int = 0, start_price: float = 100.0,
                vol: float = 0.0015) -> Candles:
    """A geometric random walk as candles: the fallback price path, and handy in tests."""
    rng = np.random.default_rng(seed)
    close = start_price * np.exp(np.cumsum(rng.normal(0.0, vol, bars)))
    open_ = np.r_[start_price, close[:-1]]
    wick = np.abs(rng.normal(0.0, vol / 2, (2, bars)))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    volume = rng.gamma(2.0, 50.0 / start_price * 1000, bars)
    ts = np.arange(bars, dtype=np.int64) * timeframe_ms
    return Candles(symbol, timeframe_ms, ts, open_, high, low, close, volume, source="sandbox:random-walk",
                   synthetic=True)


def dip_cycles(symbol: str, bars: int, seed: int = 0, start_price: float = 100.0, *, history_bars: int = HISTORY_BARS,
               dip: float = 0.025, rebound: float = 0.06, extend: float = 0.01, noise: float = 0.0015) -> Candles:
    """One-minute candles of a market with a learnable edge: every four UTC hours (market time,
    with `history_bars` bars before the clock's start at midnight) the first hour falls by
    `dip`; the second hour rebounds by `rebound` and, in the next cycle, extends the fall by
    `extend` instead, in turn; the last two hours only wander. Buying the dip and selling an
    hour later wins half the time and wins more than it loses. `rebound = 2 dip + extend` (log
    returns) keeps the price level over two cycles. Each hour carries seeded noise of `noise`
    (clipped at twice that), each minute a little more."""
    rng = np.random.default_rng(seed)
    hours = np.arange(-history_bars, bars - history_bars) // 60  # the UTC hour of each minute, from the start's midnight
    first, last = int(hours[0]), int(hours[-1])
    hour = np.arange(first, last + 1)
    plan = np.select([hour % 4 == 0, (hour % 4 == 1) & (hour // 4 % 2 == 0), hour % 4 == 1], [-dip, rebound, -extend], 0.0)
    plan = plan + np.clip(rng.normal(0.0, noise, len(hour)), -2 * noise, 2 * noise)
    minute = plan[hours - first] / 60 + rng.normal(0.0, noise / 20, bars)
    close = start_price * np.exp(np.cumsum(minute))
    open_ = np.r_[start_price, close[:-1]]
    wick = np.abs(rng.normal(0.0, noise / 10, (2, bars)))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    volume = rng.gamma(2.0, 50.0 / start_price * 1000, bars)
    ts = np.arange(bars, dtype=np.int64) * 60_000
    return Candles(symbol, 60_000, ts, open_, high, low, close, volume, source="sandbox:dip-cycles", synthetic=True)


def default_markets(bars: int = 20_000, seed: int = 0) -> list[MarketSpec]:
    """BTC/USDT and ETH/USDT, one-minute bars, generated from `seed`."""
    return [MarketSpec.for_candles(sym, generate(sym, bars, timeframe="1m", seed=seed + i))
            for i, sym in enumerate(DEFAULT_SYMBOLS)]


def default_balances(specs: list[MarketSpec]) -> dict[str, float]:
    """10,000 of each quote asset and about 1,000 quote's worth of each base asset."""
    balances: dict[str, float] = {}
    for spec in specs:
        balances[spec.quote] = 10_000.0
        price = float(np.median(np.asarray(spec.candles.close, dtype=float)))
        step = float(spec.step_size)
        balances.setdefault(spec.base, round(round(1000.0 / price / step) * step, 8))
    return balances


def build_venue(markets: list[MarketSpec] | None = None, *, speed: float = 1.0, history_bars: int = HISTORY_BARS,
                seed: int = 0, default_keys: bool = True, book: BookShape | None = None, maker_fee: float = 0.001,
                taker_fee: float = 0.001, clock: str = WALL, **faults) -> Venue:
    """A venue with `markets` (default: `default_markets`) and, unless `default_keys` is false,
    the keys of DEFAULT_KEYS, each funded with `default_balances`. `clock`: `wall` or `step`
    (see `Clock`). Fault knobs as in `Faults`."""
    ahead = STEP_DAYS * 1440 if clock == STEP else 20_000  # one-minute bars after the start
    specs = list(markets) if markets is not None else default_markets(bars=history_bars + ahead, seed=seed)
    venue = Venue(specs, speed=speed, history_bars=history_bars, seed=seed, book=book, maker_fee=maker_fee,
                  taker_fee=taker_fee, clock=clock, **faults)
    if default_keys:
        for name, pair in DEFAULT_KEYS.items():
            venue.add_key(pair.api_key, pair.secret, balances=default_balances(specs), **DEFAULT_KEY_FLAGS[name])
    return venue
