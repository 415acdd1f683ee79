"""Candles: one symbol's OHLCV as parallel numpy arrays (ccxt's convention: the timestamp is
the bar's open time in epoch milliseconds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from livegate.core.errors import UsageError

TIMEFRAME_MS = {
    "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
    "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "12h": 43_200_000, "1d": 86_400_000,
}


@dataclass
class Candles:
    """OHLCV of one symbol. Arrays are numpy: `ts` int64 (open time, ms), the rest float64.
    `synthetic` says the data was generated, not observed; `source` names where it came from
    (a file path, `builtin:btc-1m`, `binance`); `warnings` holds data-quality notes (gaps)."""

    symbol: str
    timeframe_ms: int
    ts: Any
    open: Any
    high: Any
    low: Any
    close: Any
    volume: Any
    source: str = ""
    synthetic: bool = False
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ts)

    def slice(self, start: int, stop: int | None = None) -> Candles:
        s = slice(start, stop)
        return Candles(self.symbol, self.timeframe_ms, self.ts[s], self.open[s], self.high[s], self.low[s],
                       self.close[s], self.volume[s], self.source, self.synthetic, list(self.warnings))


def timeframe_to_ms(timeframe: str) -> int:
    """Milliseconds of a timeframe name such as `1m` or `4h`; UsageError for an unknown name."""
    try:
        return TIMEFRAME_MS[timeframe]
    except (KeyError, TypeError):
        raise UsageError(f"unknown timeframe {timeframe!r} (known: {', '.join(TIMEFRAME_MS)})") from None


def timeframe_name(ms: int) -> str:
    """The name of a timeframe given in milliseconds (`60000` -> `1m`), or `<n> ms` if it has none."""
    for name, value in TIMEFRAME_MS.items():
        if value == ms:
            return name
    return f"{ms} ms"
