"""The price path and the matching engine without HTTP: ranges, klines, fills and balances."""

from __future__ import annotations

import numpy as np
import pytest

from livegate.adapters.marketdata.candles import Candles
from livegate.adapters.sandbox.defaults import random_walk
from livegate.adapters.sandbox.errors import ApiError
from livegate.adapters.sandbox.faults import Faults
from livegate.adapters.sandbox.market import MarketSpec, PricePath
from livegate.adapters.sandbox.venue import Venue

MINUTE = 60_000


@pytest.fixture
def candles():
    return random_walk("BTC/USDT", 400, seed=3, start_price=50_000.0)


def test_path_range_contains_every_sampled_price(candles):
    path = PricePath(candles, start_ms=1_700_000_000_000, history_bars=100)
    start = path.t0 + 100 * MINUTE
    for a, b in [(start, start + 7_000), (start + 5_000, start + 13 * MINUTE + 17), (start, start + 250 * MINUTE)]:
        lo, hi = path.range(a, b)
        samples = [path.price(t) for t in np.linspace(a, b, 4000).astype(int)]
        assert lo <= min(samples) + 1e-9 and hi >= max(samples) - 1e-9
        assert lo >= min(candles.low) - 1e-9 and hi <= max(candles.high) + 1e-9


def test_path_visits_each_bar_open_extremes_close(candles):
    path = PricePath(candles, start_ms=1_700_000_000_000, history_bars=10)
    i = 42
    t = path.t0 + i * MINUTE
    assert path.price(t) == pytest.approx(candles.open[i])
    assert path.range(t, t + MINUTE - 1) == pytest.approx((candles.low[i], candles.high[i]), rel=1e-4)
    assert path.price(t + MINUTE - 1) == pytest.approx(candles.close[i], rel=1e-4)
    assert path.locate(path.t0 + 10_000 * MINUTE) == (len(candles) - 1, 1.0)  # stops at its end


def test_klines_aggregate_to_coarser_intervals(candles):
    path = PricePath(candles, start_ms=1_700_000_000_000, history_bars=300)
    now = path.t0 + 300 * MINUTE + 30_000
    five = path.klines(5 * MINUTE, now, None, None, 1000)
    ones = path.klines(MINUTE, now, None, None, 1000)
    assert len(ones) == 301 and ones[-1][4] == pytest.approx(path.price(now))  # the bar in progress
    first = [k for k in ones if five[1][0] <= k[0] < five[1][0] + 5 * MINUTE]
    assert five[1][1] == first[0][1] and five[1][4] == first[-1][4]
    assert five[1][2] == max(k[2] for k in first) and five[1][3] == min(k[3] for k in first)
    assert five[1][5] == pytest.approx(sum(k[5] for k in first))


def _venue(candles, **kw) -> Venue:
    spec = MarketSpec.for_candles("BTC/USDT", candles)
    venue = Venue([spec], history_bars=200, **kw)
    venue.add_key("k", "s", balances={"USDT": 100_000, "BTC": 2})
    return venue


def _place(venue, side, type_, qty, price=None, tif="GTC", faults=Faults(), client_id="c"):
    account = venue.account_of(venue.keys["k"])
    return venue.engine.place(account, venue.markets["BTCUSDT"], side, type_, tif, price, qty, None, client_id, faults)


def test_market_buy_walks_the_book_and_charges_taker_fees(candles):
    venue = _venue(candles)
    account = venue.account_of(venue.keys["k"])
    order, fills = _place(venue, "BUY", "MARKET", 1.5)
    assert order.status == "FILLED" and len(fills) > 1  # deeper than the best level
    prices = [f.price for f in fills]
    assert prices == sorted(prices)
    cost = sum(f.price * f.qty for f in fills)
    assert account.balances["USDT"][0] == pytest.approx(100_000 - cost * 1.001)
    assert account.balances["BTC"][0] == pytest.approx(3.5)
    assert sum(f.commission for f in fills) == pytest.approx(cost * 0.001)


def test_ioc_fok_and_insufficient_balance(candles):
    venue = _venue(candles)
    now = venue.clock.market_ms()
    bid, ask = venue.markets["BTCUSDT"].best(now)
    ioc, _ = _place(venue, "BUY", "LIMIT", 0.01, price=bid, tif="IOC", client_id="ioc")
    assert ioc.status == "EXPIRED" and ioc.executed == 0
    fok, _ = _place(venue, "BUY", "LIMIT", 1.0, price=ask, tif="FOK", client_id="fok")  # more than the best level
    assert fok.status == "EXPIRED" and fok.executed == 0
    with pytest.raises(ApiError) as caught:
        _place(venue, "BUY", "MARKET", 100.0, client_id="big")
    assert (caught.value.code, caught.value.msg) == (-2010, "Account has insufficient balance for requested action.")
    account = venue.account_of(venue.keys["k"])
    assert account.balances["USDT"] == [100_000.0, 0.0]


def _step_down(bars=400, at=210) -> Candles:
    """A flat path at 100 that steps down to 90 at bar `at` and stays there."""
    level = np.where(np.arange(bars) < at, 100.0, 90.0)
    return Candles("BTC/USDT", MINUTE, np.arange(bars) * MINUTE, level, level, level, level, np.full(bars, 50.0))


def test_resting_order_fills_in_parts_while_the_price_is_through_it():
    venue = _venue(_step_down())
    order, _ = _place(venue, "BUY", "LIMIT", 0.4, price=95.0, faults=Faults(partial_fill=0.25))
    assert order.status == "NEW"
    venue.clock.advance(5 * MINUTE)
    venue.engine.sync()
    assert order.status == "NEW"  # still at 100
    venue.clock.advance(10 * MINUTE)
    venue.engine.sync()
    assert order.status == "PARTIALLY_FILLED" and order.executed == pytest.approx(0.1)
    for _ in range(3):
        venue.clock.advance(1)
        venue.engine.sync()
    assert order.status == "FILLED"
    account = venue.account_of(venue.keys["k"])
    assert account.balances["USDT"][1] == pytest.approx(0.0, abs=1e-9)  # nothing left locked
    assert account.balances["USDT"][0] == pytest.approx(100_000 - 0.4 * 95.0 * 1.001)
    assert [t.is_maker for t in account.trades["BTCUSDT"]] == [True] * 4
