"""Where bars come from: a replay of candles (file, built-in synthetic data, or history
fetched with ccxt) at full speed, or closed candles polled live from the exchange."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from itertools import repeat
from typing import Any

from livegate.adapters.exchange.retry import Retry
from livegate.adapters.marketdata.candles import TIMEFRAME_MS, Candles
from livegate.core.errors import UsageError
from livegate.core.orders import Bar
from livegate.core.timeparse import ms_to_iso as _iso

DAY_MS = 86_400_000


BAR_CHUNK = 8_192  # bars turned into Python objects at a time: memory stays flat in the number of bars
_COLUMNS = ("ts", "open", "high", "low", "close", "volume")


def merged_bars(series: list[Candles], start: int = 0) -> tuple[int, Iterator[Bar]]:
    """All bars of all symbols in time order (ties in the configured symbol order), from the
    `start`-th merged bar. Returns (total bars, iterator). The bars are made BAR_CHUNK at a time
    from the numpy columns, never all at once."""
    import numpy as np

    if len(series) == 1:
        c = series[0]
        return len(c), _bars(lambda low, high: repeat(c.symbol), [getattr(c, f) for f in _COLUMNS], start, len(c))
    ts = np.concatenate([c.ts for c in series])
    which = np.concatenate([np.full(len(c), i) for i, c in enumerate(series)])
    order = np.lexsort((which, ts))[start:]
    cols = [np.concatenate([getattr(c, f) for c in series])[order] for f in _COLUMNS]
    names, owner = [c.symbol for c in series], which[order]
    return len(ts), _bars(lambda low, high: [names[i] for i in owner[low:high].tolist()], cols, 0, len(order))


def _bars(symbols: Callable[[int, int], Iterable[str]], cols: list[Any], start: int, stop: int) -> Iterator[Bar]:
    """Bars `start`..`stop` of the columns `cols`; `symbols(low, high)` names those of low..high."""
    make = partial(tuple.__new__, Bar)  # a Bar straight from a row tuple: the fastest way in CPython
    for low in range(start, stop, BAR_CHUNK):
        high = min(low + BAR_CHUNK, stop)
        yield from map(make, zip(symbols(low, high), *(col[low:high].tolist() for col in cols)))


def first_days(c: Candles, days: float | None) -> Candles:
    if days is None or len(c) == 0:
        return c
    import numpy as np

    end = int(np.searchsorted(c.ts, c.ts[0] + int(days * DAY_MS), side="left"))
    return c.slice(0, end)


def fetch_history(client: Any, symbol: str, timeframe: str, since_ms: int, until_ms: int,
                  on_page: Callable[[int], None] | None = None, retries: Callable | None = None) -> Candles:
    """Closed candles from `since_ms` to `until_ms`, paginated 1000 at a time through ccxt."""
    import numpy as np

    tf = TIMEFRAME_MS[timeframe]
    rows: list[list[float]] = []
    cursor = since_ms
    while cursor < until_ms:
        page = (retries or _once)(partial(client.fetch_ohlcv, symbol, timeframe, since=cursor, limit=1000))
        page = [r for r in page if r[0] >= cursor and r[0] + tf <= until_ms]
        if not page:
            break
        rows += page
        cursor = int(page[-1][0]) + tf
        if on_page:
            on_page(len(rows))
    if not rows:
        raise UsageError(f"{client.id} returned no {timeframe} candles for {symbol} since {_iso(since_ms)}")
    arr = np.array(rows, dtype=float)
    return Candles(symbol, tf, arr[:, 0].astype("int64"), arr[:, 1], arr[:, 2], arr[:, 3], arr[:, 4], arr[:, 5],
                   source=f"{client.id} {timeframe} since {_iso(since_ms)}")


def _once(fn):
    return fn()


class LiveFeed:
    """Closed candles of every symbol, polled from the exchange as they close. The candle
    in progress is never used: a bar counts once the exchange's clock is past its close."""

    def __init__(self, client: Any, symbols: list[str], timeframe: str, retry: Retry, clock: Callable[[], float] = lambda: time.time(),
                 sleep: Callable[[float], None] = time.sleep, settle_seconds: float = 2.0, market_clock: Callable[[], int] | None = None):
        self.client, self.symbols, self.timeframe = client, symbols, timeframe
        self.tf = TIMEFRAME_MS[timeframe]
        self.retry, self.clock, self.sleep = retry, clock, sleep
        self.settle = settle_seconds
        self.market_clock = market_clock
        self.last: dict[str, int] = {}

    def server_now_ms(self) -> int:
        """The exchange's clock (a skewed local clock must not decide which bar has closed);
        `market_clock` replaces it for an accelerated local sandbox."""
        if self.market_clock is not None:
            return int(self.market_clock())
        return int(self.retry(lambda: self.client.fetch_time()))

    def history(self, symbol: str, bars: int, until_ms: int) -> list[Bar]:
        """The `bars` closed bars before `until_ms` (warm-up after a resume)."""
        since = until_ms - bars * self.tf
        rows = self.retry(lambda: self.client.fetch_ohlcv(symbol, self.timeframe, since=since, limit=min(bars, 1000)))
        return [Bar(symbol, int(r[0]), *map(float, r[1:6])) for r in rows if since <= r[0] and r[0] + self.tf <= until_ms]

    def poll(self) -> list[Bar]:
        """Bars that closed since the last poll, in time order."""
        now = self.server_now_ms()
        out: list[Bar] = []
        for symbol in self.symbols:
            since = self.last.get(symbol, (now // self.tf - 1) * self.tf)  # first poll: the bar that just closed
            rows = self.retry(partial(self.client.fetch_ohlcv, symbol, self.timeframe, since=since, limit=1000))
            for r in rows:
                ts = int(r[0])
                if ts >= since and ts + self.tf <= now and ts > self.last.get(symbol, -1):
                    out.append(Bar(symbol, ts, float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5])))
                    self.last[symbol] = ts
        out.sort(key=lambda b: b.ts)
        return out

    def wait_next(self) -> None:
        """Sleep until just after the next bar closes (by the local clock)."""
        now_ms = self.clock() * 1000
        next_close = (now_ms // self.tf + 1) * self.tf
        self.sleep(max(0.0, (next_close - now_ms) / 1000 + self.settle))

    def order_book(self, symbol: str) -> dict[str, list[tuple[float, float]]] | None:
        book = self.retry(lambda: self.client.fetch_order_book(symbol, limit=20))
        return {"bids": [(float(p), float(s)) for p, s, *_ in book.get("bids", [])],
                "asks": [(float(p), float(s)) for p, s, *_ in book.get("asks", [])]}
