"""On a step clock, stop orders trigger exactly when advancing market time makes the path reach
their stop price, and the kline stream pushes when (and only when) market time is advanced."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

MINUTE = 60_000
BTC = "BTC/USDT"


@pytest.fixture
def sandbox_options():
    """A step clock, default markets, one sandbox for this module."""
    return {"clock": "step", "history_bars": 1500, "seed": 7, "share": "module"}


def _first_reach(path, start: int, stop: float, rises: bool, bars: int = 600) -> int:
    """The first whole-minute market time after `start` by which the path has reached `stop`."""
    t = start
    for _ in range(bars):
        t += MINUTE
        lo, hi = path.range(start, t)
        if (hi >= stop) if rises else (lo <= stop):
            return t
    raise AssertionError("the path never reaches the stop")


@pytest.mark.parametrize(("type_", "side", "rises"), [
    ("STOP_LOSS_LIMIT", "sell", False), ("STOP_LOSS_LIMIT", "buy", True),
    ("TAKE_PROFIT_LIMIT", "sell", True), ("TAKE_PROFIT_LIMIT", "buy", False),
    ("STOP_LOSS", "sell", False), ("TAKE_PROFIT", "sell", True),
])
def test_a_stop_triggers_when_advancing_crosses_it_never_before(sandbox, new_key, raw, type_, side, rises):
    key = new_key()
    client = sandbox.client(key)
    market = sandbox.venue.markets["BTCUSDT"]
    last = sandbox.price(BTC)
    stop = market.round_price(last * (1.002 if rises else 0.998))
    limit = None if type_ in ("STOP_LOSS", "TAKE_PROFIT") else stop
    order = client.create_order(BTC, type_, side, 0.01, limit, {"stopPrice": stop})
    placed = sandbox.venue.clock.market_ms()
    reach = _first_reach(market.path, placed, stop, rises)
    sandbox.venue.request_ms = 0.0  # only advancing moves market time in this test
    try:
        sandbox.advance(reach - MINUTE - placed)  # just before the path reaches the stop
        shown = raw("GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": order["id"]}, key)[2]
        assert (shown["status"], shown["executedQty"], shown["isWorking"]) == ("NEW", "0.00000000", False)
        sandbox.advance(MINUTE)
        shown = raw("GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": order["id"]}, key)[2]
    finally:
        sandbox.venue.request_ms = 100.0
    assert (shown["status"], shown["isWorking"], shown["workingTime"]) == ("FILLED", True, reach)
    assert [(t["price"], t["amount"]) for t in client.fetch_my_trades(BTC)] == [(stop, 0.01)]


def test_a_triggered_stop_whose_limit_does_not_cross_rests_as_a_limit_order(sandbox, new_key, raw):
    key = new_key()
    client = sandbox.client(key)
    market = sandbox.venue.markets["BTCUSDT"]
    stop = market.round_price(sandbox.price(BTC) * 0.998)
    limit = market.round_price(stop * 1.5)  # a sell limit far above: it will not fill
    order = client.create_order(BTC, "STOP_LOSS_LIMIT", "sell", 0.01, limit, {"stopPrice": stop})
    placed = sandbox.venue.clock.market_ms()
    sandbox.advance(_first_reach(market.path, placed, stop, rises=False) - placed)
    shown = raw("GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": order["id"]}, key)[2]
    assert (shown["status"], shown["executedQty"], shown["isWorking"]) == ("NEW", "0.00000000", True)
    assert shown["workingTime"] > placed and float(shown["price"]) == limit
    assert sandbox.balances(key.api_key)["BTC"][1] == pytest.approx(0.01)  # still locked, on the book
    client.cancel_order(order["id"], BTC)
    assert sandbox.balances(key.api_key)["BTC"] == (1.0, 0.0)


def test_the_kline_stream_pushes_when_market_time_is_advanced(sandbox):
    async def scenario():
        async with aiohttp.ClientSession() as session, session.ws_connect(
                sandbox.url.replace("http", "ws", 1) + "/ws/btcusdt@kline_1m") as ws:
            first = json.loads((await ws.receive(timeout=5)).data)  # the current bar, at once
            assert first["e"] == "kline" and first["k"]["x"] is False
            with pytest.raises(asyncio.TimeoutError):
                await ws.receive(timeout=0.6)  # market time stands still: nothing new
            before = sandbox.venue.clock.market_ms()
            sandbox.advance(MINUTE)
            events = [json.loads((await ws.receive(timeout=5)).data) for _ in range(2)]
            closed, current = (e["k"] for e in events)
            assert closed["t"] == first["k"]["t"] and closed["x"] is True
            assert current["t"] == closed["t"] + MINUTE and current["x"] is False
            assert events[1]["E"] == before + MINUTE
            rest = sandbox.client().fetch_ohlcv(BTC, "1m", since=closed["t"], limit=2)
            assert rest[0] == [closed["t"], float(closed["o"]), float(closed["h"]), float(closed["l"]),
                               float(closed["c"]), float(closed["v"])]
            assert rest[1][0] == current["t"] and rest[1][4] == float(current["c"])

    asyncio.run(scenario())
