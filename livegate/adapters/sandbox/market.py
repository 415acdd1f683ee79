"""The emulated venue's markets: clocks, a moving price path built from candles, the order
book around it and Binance's symbol filters."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from livegate.adapters.marketdata.candles import Candles
from livegate.adapters.sandbox.errors import filter_failure

DAY_MS = 86_400_000
INTERVALS_MS = {
    "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000, "1h": 3_600_000,
    "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "8h": 28_800_000, "12h": 43_200_000,
    "1d": DAY_MS, "3d": 3 * DAY_MS,
}


def fmt(x: float) -> str:
    """A number as Binance writes it: a string with eight decimals."""
    return f"{x:.8f}"


def dec(x: Decimal) -> str:
    return f"{x:.8f}"


HISTORY_BARS = 1000  # bars of a market's candles that lie before its clock starts, unless told otherwise

WALL, STEP = "wall", "step"
CLOCKS = (WALL, STEP)


class Clock:
    """The market's clock, in one of two modes.

    `wall` (the default): `wall × speed` since start, plus whatever `advance()` added. With
    `speed=600` a one-minute bar lasts 0.1 s of wall time; a busy machine makes its client miss
    market time.

    `step`: market time stands still until `advance()` moves it — a rehearsal's trading loop
    moves it one bar at a time when it is done with the last one, so a rehearsal gives the same
    results on a busy machine as on an idle one. It starts at the last UTC midnight, so every
    candle interval up to a day begins on a bar boundary, whatever the time of day.

    Market time never goes back. The server's own clock (for timestamps and recvWindow) is the
    wall clock plus the configured skew, not this one."""

    def __init__(self, speed: float = 1.0, mode: str = WALL):
        if mode not in CLOCKS:
            raise ValueError(f"clock must be one of {', '.join(CLOCKS)} (got {mode!r})")
        self.mode = mode
        self.speed = float(speed) if mode == WALL else 0.0
        now = time.time() * 1000.0
        self.start_ms = now // DAY_MS * DAY_MS if mode == STEP else now
        self.offset_ms = 0.0

    @property
    def step(self) -> bool:
        return self.mode == STEP

    def market_ms(self) -> int:
        if self.mode == STEP:
            return int(self.start_ms + self.offset_ms)
        return int(self.start_ms + (time.time() * 1000.0 - self.start_ms) * self.speed + self.offset_ms)

    def advance(self, ms: float) -> None:
        """Move market time forward by `ms` milliseconds."""
        ms = float(ms)
        if not math.isfinite(ms) or ms < 0:
            raise ValueError(f"market time only moves forward: ms must be a finite number >= 0 (got {ms:g})")
        self.offset_ms += ms

    def advance_to(self, market_ms: float) -> None:
        """Move market time forward to `market_ms`; nothing when it is there or past already
        (so a repeated request never moves it twice)."""
        target = float(market_ms)
        if not math.isfinite(target):
            raise ValueError(f"market time must be a finite number of milliseconds (got {market_ms!r})")
        now = self.market_ms()
        if target > now:
            self.offset_ms += target - now

    def set_speed(self, speed: float) -> None:
        """Run at `speed` from now on, without a jump in market time (a wall clock only)."""
        if self.mode == STEP:
            raise ValueError("a step clock has no speed: market time moves only when it is advanced")
        now = time.time() * 1000.0
        self.offset_ms += (now - self.start_ms) * (self.speed - float(speed))
        self.speed = float(speed)


def _step_of(price: float) -> float:
    return 10.0 ** -(math.floor(math.log10(price)) + 1)


@dataclass
class MarketSpec:
    """One spot symbol: `symbol` is ccxt-style (`BTC/USDT`), `candles` its price path; the rest
    are Binance's exchangeInfo filters. `for_candles` derives sensible filters from the price."""

    symbol: str
    candles: Candles
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_price: Decimal
    max_price: Decimal
    min_notional: Decimal = Decimal("5")
    max_notional: Decimal = Decimal("9000000")

    @property
    def base(self) -> str:
        return self.symbol.split("/")[0]

    @property
    def quote(self) -> str:
        return self.symbol.split("/")[1]

    @property
    def id(self) -> str:
        return self.base + self.quote

    @classmethod
    def for_candles(cls, symbol: str, candles: Candles, **overrides) -> MarketSpec:
        price = float(np.median(np.asarray(candles.close, dtype=float)))
        step = Decimal(repr(_step_of(price))).normalize()
        tick = min(Decimal("0.01"), Decimal(repr(10.0 ** (math.floor(math.log10(price)) - 5))).normalize())
        values = dict(tick_size=tick, step_size=step, min_qty=step, max_qty=step * 10**9,
                      min_price=tick, max_price=tick * 10**8)
        values.update(overrides)
        return cls(symbol, candles, **values)

    def exchange_filters(self) -> list[dict]:
        return [
            {"filterType": "PRICE_FILTER", "minPrice": dec(self.min_price), "maxPrice": dec(self.max_price),
             "tickSize": dec(self.tick_size)},
            {"filterType": "LOT_SIZE", "minQty": dec(self.min_qty), "maxQty": dec(self.max_qty),
             "stepSize": dec(self.step_size)},
            {"filterType": "MIN_NOTIONAL", "minNotional": dec(self.min_notional), "applyToMarket": True,
             "avgPriceMins": 5},
            {"filterType": "NOTIONAL", "minNotional": dec(self.min_notional), "applyMinToMarket": True,
             "maxNotional": dec(self.max_notional), "applyMaxToMarket": False, "avgPriceMins": 5},
        ]

    def check_filters(self, price: Decimal | None, qty: Decimal | None, notional: Decimal, is_market: bool) -> None:
        """Raise -1013 "Filter failure: X" as Binance does, checking filters in exchangeInfo order."""
        if price is not None and (price < self.min_price or price > self.max_price
                                  or (price - self.min_price) % self.tick_size):
            raise filter_failure("PRICE_FILTER")
        if qty is not None and (qty < self.min_qty or qty > self.max_qty or (qty - self.min_qty) % self.step_size):
            raise filter_failure("LOT_SIZE")
        if notional < self.min_notional:
            raise filter_failure("MIN_NOTIONAL")
        if not is_market and notional > self.max_notional:
            raise filter_failure("NOTIONAL")


@dataclass
class BookShape:
    """How the synthetic book looks: spread and level spacing in basis points, and the size of
    the best level as a share of the current bar's volume, at least `min_level_steps` lots
    (deeper levels grow)."""

    spread_bps: float = 2.0
    level_bps: float = 1.0
    depth_ratio: float = 0.02
    min_level_steps: int = 100  # the smallest best level, in lot steps


class PricePath:
    """Candles laid on the market clock: bar `history_bars` opens at `start_ms`, earlier bars are
    history. Inside a bar the price moves open → low → high → close (open → high → low → close
    on a down bar), so the in-progress bar's close is the current price, as on Binance."""

    def __init__(self, candles: Candles, start_ms: float, history_bars: int):
        self.tf = int(candles.timeframe_ms)
        self.n = len(candles)
        history = max(0, min(history_bars, self.n - 1))
        self.t0 = (int(start_ms) // self.tf - history) * self.tf
        self.o, self.h, self.l, self.c, self.v = (
            np.asarray(a, dtype=float) for a in (candles.open, candles.high, candles.low, candles.close, candles.volume)
        )
        self._lists = [a.tolist() for a in (self.o, self.h, self.l, self.c, self.v)]

    def locate(self, t: int) -> tuple[int, float]:
        """The bar index at market time `t` and how far into it (0..1); the path stops at its end."""
        i = (t - self.t0) // self.tf
        if i >= self.n:
            return self.n - 1, 1.0
        if i < 0:
            return 0, 0.0
        return i, (t - self.t0 - i * self.tf) / self.tf

    def points(self, i: int) -> tuple[float, float, float, float]:
        o, h, l, c, _ = (a[i] for a in self._lists)
        return (o, l, h, c) if c >= o else (o, h, l, c)

    def _at(self, i: int, f: float) -> float:
        p = self.points(i)
        seg = min(int(f * 3), 2)
        return p[seg] + (p[seg + 1] - p[seg]) * (f * 3 - seg)

    def price(self, t: int) -> float:
        return self._at(*self.locate(t))

    def volume(self, i: int) -> float:
        return self._lists[4][i]

    def bar(self, i: int, f: float) -> tuple[float, float, float, float, float]:
        """(open, high, low, close, volume) of bar `i` seen at fraction `f` of it."""
        p = self.points(i)
        close = self._at(i, f)
        seen = [p[k] for k in range(4) if k / 3 <= f] + [close]
        return p[0], max(seen), min(seen), close, self._lists[4][i] * f

    def range(self, a: int, b: int) -> tuple[float, float]:
        """Lowest and highest price the path visits in market time (a, b]."""
        ia, fa = self.locate(a)
        ib, fb = self.locate(b)
        seen = [self._at(ia, fa), self._at(ib, fb)]
        if ia == ib:
            seen += [p for k, p in enumerate(self.points(ia)) if fa < k / 3 < fb]
        else:
            seen += [p for k, p in enumerate(self.points(ia)) if k / 3 > fa]
            seen += [p for k, p in enumerate(self.points(ib)) if k / 3 < fb]
            if ib > ia + 1:
                seen += [float(self.l[ia + 1:ib].min()), float(self.h[ia + 1:ib].max())]
        return min(seen), max(seen)

    def window(self, now: int, span_ms: int) -> tuple[float, float, float, float]:
        """(open, high, low, volume) over the `span_ms` before `now` (the 24 h ticker)."""
        start = max(self.t0, now - span_ms)
        lo, hi = self.range(start, now) if now > start else (self.price(now),) * 2
        ia, fa = self.locate(start)
        ib, fb = self.locate(now)
        vol = float(self.v[ia:ib].sum()) + self._lists[4][ib] * fb - self._lists[4][ia] * fa
        return self.price(start), hi, lo, max(vol, 0.0)

    def klines(self, interval: int, now: int, start: int | None, end: int | None, limit: int) -> list[tuple]:
        """Bars of `interval` ms (a multiple of the path's) whose open time is in [start, end] and
        not after `now`; Binance's rules: startTime counts forward, otherwise the latest `limit`."""
        i_now, f_now = self.locate(now)
        lo, hi = self.t0 // interval, (self.t0 + i_now * self.tf) // interval
        if start is not None:
            lo = max(lo, -(-start // interval))
        if end is not None:
            hi = min(hi, end // interval)
        if lo > hi:
            return []
        if start is not None:
            hi = min(hi, lo + limit - 1)
        else:
            lo = max(lo, hi - limit + 1)
        ia = max(0, -(-(lo * interval - self.t0) // self.tf))
        ib = min(i_now, ((hi + 1) * interval - self.t0) // self.tf - 1)
        o, h, l, c, v = (a[ia:ib + 1].copy() for a in (self.o, self.h, self.l, self.c, self.v))
        if ib == i_now:
            o[-1], h[-1], l[-1], c[-1], v[-1] = self.bar(i_now, f_now)
        groups = (self.t0 + self.tf * np.arange(ia, ib + 1)) // interval
        first = np.flatnonzero(np.r_[True, np.diff(groups) != 0])
        last = np.r_[first[1:] - 1, len(groups) - 1]
        cols = (groups[first] * interval, o[first], np.maximum.reduceat(h, first), np.minimum.reduceat(l, first),
                c[last], np.add.reduceat(v, first), np.add.reduceat(v * c, first))
        return list(zip(*(col.tolist() for col in cols)))


@dataclass
class Market:
    """A symbol as traded: its spec, its price path and the shape of its book."""

    spec: MarketSpec
    path: PricePath
    shape: BookShape = field(default_factory=BookShape)

    def __post_init__(self):
        self.tick = float(self.spec.tick_size)
        self.step = float(self.spec.step_size)
        self.price_decimals = max(0, -self.spec.tick_size.normalize().as_tuple().exponent)

    def round_price(self, x: float) -> float:
        return round(round(x / self.tick) * self.tick, self.price_decimals)

    def floor_qty(self, x: float) -> float:
        return round(math.floor(x / self.step + 1e-9) * self.step, 8)

    def best(self, now: int) -> tuple[float, float]:
        """Best bid and ask around the current price."""
        p = self.path.price(now)
        half = self.shape.spread_bps / 2e4
        bid = math.floor(p * (1 - half) / self.tick) * self.tick
        ask = max(math.ceil(p * (1 + half) / self.tick) * self.tick, bid + self.tick)
        return round(bid, self.price_decimals), round(ask, self.price_decimals)

    def levels(self, side: str, now: int, count: int):
        """Yield up to `count` (price, qty) levels of the bids (`side="bids"`) or asks, best first."""
        i, _ = self.path.locate(now)
        bid, ask = self.best(now)
        gap = max(1, round(self.path.price(now) * self.shape.level_bps / 1e4 / self.tick)) * self.tick
        top = max(self.path.volume(i) * self.shape.depth_ratio, self.step * self.shape.min_level_steps)
        sign, first = (-1, bid) if side == "bids" else (1, ask)
        for k in range(count):
            price = round(first + sign * k * gap, self.price_decimals)
            if price <= 0:
                return
            jitter = 0.75 + 0.5 * (((i * 7919 + k * 104729) % 1000) / 1000.0)
            yield price, max(self.step, self.floor_qty(top * (1 + 0.25 * k) * jitter))
