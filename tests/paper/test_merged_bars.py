"""The replay's bars are made a chunk at a time (memory flat in the number of bars): across chunk
boundaries they are exactly the bars of the data, in time order (ties in symbol order), from any
starting bar — checked against the rows written by hand."""

from __future__ import annotations

import numpy as np
import pytest

from livegate.adapters.marketdata.candles import Candles
from livegate.phases.paper import feeds

TF = 60_000


def candles(symbol: str, first_minute: int, closes: list[float]) -> Candles:
    ts = (np.arange(len(closes), dtype=np.int64) + first_minute) * TF
    close = np.array(closes)
    return Candles(symbol, TF, ts, close - 0.5, close + 1.0, close - 1.0, close, close / 10, source="test")


@pytest.mark.parametrize("chunk", [1, 3, 7, 1000])
@pytest.mark.parametrize("start", [0, 4])
def test_one_symbol_across_chunks(monkeypatch, chunk, start):
    monkeypatch.setattr(feeds, "BAR_CHUNK", chunk)
    closes = [100.0 + 0.25 * i for i in range(17)]
    total, bars = feeds.merged_bars([candles("BTC/USDT", 0, closes)], start)
    expected = [("BTC/USDT", i * TF, c - 0.5, c + 1.0, c - 1.0, c, c / 10) for i, c in enumerate(closes)][start:]
    assert total == 17 and [tuple(b) for b in bars] == expected


@pytest.mark.parametrize("chunk", [1, 2, 5, 1000])
def test_two_symbols_interleave_by_time_then_symbol_order(monkeypatch, chunk):
    monkeypatch.setattr(feeds, "BAR_CHUNK", chunk)
    btc = candles("BTC/USDT", 0, [10.0, 11.0, 12.0, 13.0, 14.0])  # minutes 0..4
    eth = candles("ETH/USDT", 2, [1.0, 2.0, 3.0, 4.0])  # minutes 2..5
    total, bars = feeds.merged_bars([btc, eth], 1)
    got = [(b.symbol, b.ts // TF, b.close) for b in bars]
    assert total == 9
    assert got == [("BTC/USDT", 1, 11.0), ("BTC/USDT", 2, 12.0), ("ETH/USDT", 2, 1.0), ("BTC/USDT", 3, 13.0),
                   ("ETH/USDT", 3, 2.0), ("BTC/USDT", 4, 14.0), ("ETH/USDT", 4, 3.0), ("ETH/USDT", 5, 4.0)]
