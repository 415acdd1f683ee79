"""The correlation breaker in a real backtest: two symbols whose prices move together, both
held; the breaker trips on the first full window, the trip is in the ledger (read with
sqlite3) with the pair and the correlation numpy computes from the CSVs, a later buy is
refused, and `status` and `monitor` show the trip."""

from __future__ import annotations

import json
import sqlite3

import numpy as np

BTC, ETH = "BTC/USDT", "ETH/USDT"
T0 = 1_704_067_200_000
TF = 60_000
BARS, WINDOW = 90, 20

STRATEGY = '''from livegate.strategy import OrderIntent


class BuyBoth:
    """Buys BTC at its bar 2 and ETH at its bar 4 (a minute apart: the spacing rule), holds
    both, and asks for more BTC at its bar 60."""

    def __init__(self):
        self.seen = {}

    def on_bar(self, bar, ctx):
        n = self.seen[bar.symbol] = self.seen.get(bar.symbol, 0) + 1
        if (bar.symbol, n) in (("BTC/USDT", 2), ("ETH/USDT", 4), ("BTC/USDT", 60)):
            return [OrderIntent(bar.symbol, "buy", quote_amount=20.0, reason=f"bar {n}")]
        return None
'''


def write_csv(path, closes) -> None:
    rows = ["timestamp,open,high,low,close,volume"]
    for i, c in enumerate(closes):
        o = closes[i - 1] if i else c
        rows.append(f"{T0 + i * TF},{o:.6f},{max(o, c) * 1.0005:.6f},{min(o, c) * 0.9995:.6f},{c:.6f},100")
    path.write_text("\n".join(rows) + "\n")


def events(ws, kind) -> list[dict]:
    conn = sqlite3.connect(f"file:{ws / '.livegate' / 'ledger.db'}?mode=ro", uri=True)
    try:
        return [json.loads(p) for (p,) in conn.execute("SELECT payload FROM events WHERE kind = ? ORDER BY id", (kind,))]
    finally:
        conn.close()


def test_correlated_positions_trip_the_breaker_in_a_backtest(workspace, run_cli, tmp_path):
    rng = np.random.default_rng(11)
    x = rng.normal(0.0, 0.002, BARS - 1)
    y = 1.5 * x + rng.normal(0.0, 0.001, BARS - 1)  # ETH follows BTC
    btc = [40_000.0, *(40_000.0 * np.cumprod(1 + x)).tolist()]
    eth = [2_000.0, *(2_000.0 * np.cumprod(1 + y)).tolist()]
    write_csv(tmp_path / "btc.csv", btc)
    write_csv(tmp_path / "eth.csv", eth)
    (workspace / "strategies" / "both.py").write_text(STRATEGY)
    cfg = workspace / "livegate.yaml"
    cfg.write_text(cfg.read_text().replace("strategies/ema_cross.py:EmaCross", "strategies/both.py:BuyBoth"))
    risk = workspace / "risk_limits.yaml"
    text = risk.read_text()
    assert "correlation_window: 60" in text and "correlation_cooldown_minutes: 60" in text  # the scaffold has the keys
    risk.write_text(text.replace("correlation_window: 60", f"correlation_window: {WINDOW}")
                    .replace("correlation_cooldown_minutes: 60", "correlation_cooldown_minutes: 600"))

    result = run_cli("-w", workspace, "paper-run", "--replay", tmp_path / "btc.csv", "--symbol", BTC,
                     "--replay", tmp_path / "eth.csv", "--symbol", ETH, "--json")
    assert result.exit_code in (0, 1), result.output

    # both bought, then the trip: on the bar that completes the first full window of shared returns
    placed = events(workspace, "order_placed")
    assert [p["symbol"] for p in placed] == [BTC, ETH]
    (trip,) = events(workspace, "breaker_trip")
    assert trip["breaker"] == "correlation" and trip["threshold"] == 0.7
    assert trip["evidence"]["pair"] == [BTC, ETH] and trip["evidence"]["window"] == WINDOW
    j = (trip["at_ms"] - T0) // TF - 1  # the bar whose arrival looked: returns of bars j-20 .. j-1
    r_btc, r_eth = np.diff(btc) / np.array(btc[:-1]), np.diff(eth) / np.array(eth[:-1])  # r[k-1]: bar k-1 to k
    expected = np.corrcoef(r_btc[j - 1 - WINDOW:j - 1], r_eth[j - 1 - WINDOW:j - 1])[0, 1]
    assert j == WINDOW + 1 and expected > 0.7
    assert abs(trip["evidence"]["correlation"] - expected) < 1e-6  # the CSV keeps 6 decimals of each price
    assert abs(trip["value"] - expected) < 1e-6 and trip["until_ms"] == trip["at_ms"] + 600 * 60_000

    # the buy asked later is refused by the breaker
    blocked = events(workspace, "order_blocked")
    assert [b["blocks"][0][0] for b in blocked if b["intent"].get("reason") == "bar 60"] == ["breaker:correlation"]

    status = json.loads(run_cli("-w", workspace, "status", "--json").stdout)
    (row,) = status["tripped_breakers"]
    assert row["breaker"] == "correlation" and row["trips"] == 1 and "moved together" in row["message"]
    monitor = json.loads(run_cli("-w", workspace, "monitor", "--once", "--json").stdout)
    (shown,) = [b for b in monitor["breakers"] if b["breaker"] == "correlation"]
    assert shown["state"] == "tripped" and shown["trips"] == 1 and abs(shown["value"] - expected) < 1e-6
