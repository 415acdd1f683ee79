"""Paper-run fixtures: workspaces with the env phase signed off, a clock-driven fake
exchange (a duck-typed stand-in for a ccxt client, for freezegun-driven forward runs)."""

from __future__ import annotations

import math
import random
import time
from pathlib import Path

import pytest

from tests.protocol_helpers import sign_off


def sign_off_env(ws_root: Path, key) -> None:
    """Record a passing env phase and sign it off, so a forward paper run may start."""
    sign_off(ws_root, key, "env")


class ClockExchange:
    """Serves 1-minute-aligned candles of a seeded random walk up to `time.time()`, so the
    forward feed sees exactly what has closed when the (frozen) clock says so."""

    id = "fakex"

    def __init__(self, symbols=("BTC/USDT",), timeframe_ms=900_000, seed=3, start_price=40_000.0):
        self.symbols = symbols
        self.tf = timeframe_ms
        self.seed = seed
        self.start_price = start_price
        self.calls = 0
        self.fail_next = 0

    def _bar(self, symbol: str, ts: int):
        rng = random.Random(f"{self.seed}-{symbol}-{ts}")
        base = self.start_price * math.exp(0.02 * math.sin(ts / 3.6e7) + 0.01 * math.sin(ts / 1.1e6))
        o = base * (1 + rng.gauss(0, 0.001))
        c = base * (1 + rng.gauss(0, 0.001))
        h = max(o, c) * (1 + abs(rng.gauss(0, 0.0005)))
        lo = min(o, c) * (1 - abs(rng.gauss(0, 0.0005)))
        return [ts, round(o, 2), round(h, 2), round(lo, 2), round(c, 2), round(5 + rng.random() * 20, 4)]

    def _tick(self):
        self.calls += 1
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("simulated outage")

    def load_markets(self):
        self._tick()
        return {s: {"precision": {"amount": 1e-5, "price": 0.01}, "limits": {"amount": {"min": 1e-5}, "cost": {"min": 5}}, "maker": 0.001, "taker": 0.001}
                for s in self.symbols}

    def fetch_time(self):
        self._tick()
        return int(time.time() * 1000)

    def fetch_ticker(self, symbol):
        self._tick()
        now = int(time.time() * 1000)
        return {"last": self._bar(symbol, now // self.tf * self.tf)[4]}

    def fetch_ohlcv(self, symbol, timeframe, since=None, limit=1000):
        self._tick()
        now = int(time.time() * 1000)
        start = (since // self.tf) * self.tf
        out = []
        ts = start
        while ts <= now and len(out) < limit:
            out.append(self._bar(symbol, ts))
            ts += self.tf
        return out

    def fetch_order_book(self, symbol, limit=20):
        self._tick()
        now = int(time.time() * 1000)
        mid = self._bar(symbol, now // self.tf * self.tf)[4]
        return {"bids": [[round(mid * (1 - 0.0001 * (i + 1)), 2), 0.05 * (i + 1)] for i in range(limit)],
                "asks": [[round(mid * (1 + 0.0001 * (i + 1)), 2), 0.05 * (i + 1)] for i in range(limit)]}


@pytest.fixture
def clock_exchange():
    return ClockExchange()


@pytest.fixture
def forward_workspace(workspace, operator_key):
    """A workspace on 15-minute bars with the env phase signed off."""
    cfg = workspace / "livegate.yaml"
    cfg.write_text(cfg.read_text().replace("timeframe: 1m", "timeframe: 15m"))
    sign_off_env(workspace, operator_key)
    return workspace
