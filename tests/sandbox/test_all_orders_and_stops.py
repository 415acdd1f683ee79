"""GET /api/v3/allOrders and the protective order types (STOP_LOSS_LIMIT, TAKE_PROFIT_LIMIT,
STOP_LOSS, TAKE_PROFIT) as unmodified ccxt (sync and async) uses them, on the wall clock at 600x."""

from __future__ import annotations

import asyncio
import time

import ccxt
import pytest

BTC = "BTC/USDT"
BINANCE_ORDER_TYPES = ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT",
                       "TAKE_PROFIT_LIMIT"]


def _signed(raw, key, path, params):
    status, headers, body = raw("GET", path, params, key)
    return status, int(headers["X-MBX-USED-WEIGHT-1M"]), body


# -- allOrders -----------------------------------------------------------------------------------

def test_fetch_orders_and_closed_orders_come_from_all_orders(sandbox, new_key, raw):
    key = new_key()
    client = sandbox.client(key)
    price = sandbox.price(BTC)
    resting = [client.create_order(BTC, "limit", "buy", 0.001, round(price * 0.5, 2)) for _ in range(2)]
    filled = client.create_order(BTC, "market", "buy", 0.001)
    canceled = client.create_order(BTC, "limit", "sell", 0.001, round(price * 2, 2))
    client.cancel_order(canceled["id"], BTC)
    client.create_order("ETH/USDT", "market", "buy", 0.01)  # another symbol: not in BTC's history

    orders = client.fetch_orders(BTC)
    assert [o["id"] for o in orders] == [o["id"] for o in (*resting, filled, canceled)]
    assert [o["status"] for o in orders] == ["open", "open", "closed", "canceled"]
    assert [o["id"] for o in client.fetch_closed_orders(BTC)] == [filled["id"]]
    # ccxt puts the canceled ones first and sorts by time: two orders of the same millisecond keep that order
    assert sorted(o["id"] for o in client.fetch_canceled_and_closed_orders(BTC)) == sorted([filled["id"], canceled["id"]])
    assert [o["id"] for o in client.fetch_orders(BTC, limit=2)] == [filled["id"], canceled["id"]]  # the latest
    assert client.fetch_orders(BTC, since=orders[-1]["timestamp"] + 1) == []

    # the same JSON as GET /api/v3/order, ascending by orderId
    status, weight, listed = _signed(raw, key, "/api/v3/allOrders", {"symbol": "BTCUSDT"})
    assert status == 200 and [o["orderId"] for o in listed] == sorted(o["orderId"] for o in listed)
    one = raw("GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": filled["id"]}, key)[2]
    assert next(o for o in listed if o["orderId"] == int(filled["id"])) == one
    assert set(one) >= {"stopPrice", "icebergQty", "time", "updateTime", "isWorking", "workingTime"}


def test_all_orders_parameters_as_binance(sandbox, new_key, raw):
    key = new_key()
    client = sandbox.client(key)
    far = round(sandbox.price(BTC) * 0.5, 2)
    ids = [int(client.create_order(BTC, "limit", "buy", 0.001, far)["id"]) for _ in range(4)]
    path, btc = "/api/v3/allOrders", {"symbol": "BTCUSDT"}
    assert [o["orderId"] for o in _signed(raw, key, path, {**btc, "orderId": ids[1], "limit": 2})[2]] == ids[1:3]
    assert [o["orderId"] for o in _signed(raw, key, path, {**btc, "orderId": ids[-1] + 1000})[2]] == []
    first = _signed(raw, key, path, btc)[2][0]
    by_time = _signed(raw, key, path, {**btc, "startTime": first["time"], "limit": 1})[2]
    assert [o["orderId"] for o in by_time] == ids[:1]  # startTime counts forward
    assert _signed(raw, key, path, {**btc, "endTime": first["time"] - 1})[2] == []
    status, _, body = _signed(raw, key, path, {**btc, "startTime": 0, "endTime": 86_400_001})
    assert (status, body["code"]) == (400, -1127)
    status, _, body = _signed(raw, key, path, {})
    assert (status, body["code"], body["msg"]) == (
        400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
    assert len(_signed(raw, key, path, {**btc, "limit": 5000})[2]) == 4  # the limit is capped, not refused
    _, before, _ = _signed(raw, key, path, btc)
    _, after, _ = _signed(raw, key, path, btc)
    assert after - before == 20  # weight 20
    assert raw("GET", path, btc)[2]["code"] == -2014  # USER_DATA: a key is needed


# -- protective orders -----------------------------------------------------------------------------

def test_exchange_info_lists_binance_spot_order_types(sandbox):
    client = sandbox.client()
    for market in client.load_markets().values():
        assert market["info"]["orderTypes"] == BINANCE_ORDER_TYPES


def _protective_sell(sandbox, window_ms: int = 3_000_000):
    """A sell stop the path will reach within `window_ms` of market time: a stop loss below the
    price when the path falls further than it rises, else a take profit above it."""
    market = sandbox.venue.markets["BTCUSDT"]
    now = sandbox.venue.clock.market_ms()
    last = sandbox.price(BTC)
    lo, hi = market.path.range(now + 60_000, now + window_ms)
    if last - lo > hi - last:
        return "STOP_LOSS_LIMIT", market.round_price(last - (last - lo) * 0.6)
    return "TAKE_PROFIT_LIMIT", market.round_price(last + (hi - last) * 0.6)


def test_a_stop_limit_placed_with_ccxt_waits_locked_then_triggers_and_fills(sandbox, new_key, raw):
    key = new_key({"USDT": 1000, "BTC": 1})
    client = sandbox.client(key)
    type_, stop = _protective_sell(sandbox)
    limit = stop if type_ == "TAKE_PROFIT_LIMIT" else round(stop * 0.995, 2)  # a limit that takes at once
    order = client.create_order(BTC, type_, "sell", 0.01, limit, {"stopPrice": stop})
    assert order["status"] == "open" and order["triggerPrice"] == stop
    shown = raw("GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": order["id"]}, key)[2]
    assert (shown["type"], shown["status"], shown["executedQty"]) == (type_, "NEW", "0.00000000")
    assert (float(shown["stopPrice"]), shown["isWorking"], shown["workingTime"]) == (stop, False, -1)
    assert sandbox.balances(key.api_key)["BTC"] == (pytest.approx(0.99), pytest.approx(0.01))  # locked
    assert [o["id"] for o in client.fetch_open_orders(BTC)] == [order["id"]]

    deadline = time.time() + 15
    while client.fetch_order(order["id"], BTC)["status"] == "open" and time.time() < deadline:
        time.sleep(0.1)
    done = raw("GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": order["id"]}, key)[2]
    assert (done["type"], done["status"], done["isWorking"], float(done["stopPrice"])) == (type_, "FILLED", True, stop)
    assert done["workingTime"] >= shown["time"]
    fills = client.fetch_my_trades(BTC)
    assert [(t["order"], t["price"], t["amount"], t["takerOrMaker"]) for t in fills] == [(order["id"], stop, 0.01, "taker")]
    assert sandbox.balances(key.api_key)["BTC"] == (pytest.approx(0.99), 0.0)


@pytest.mark.parametrize(("type_", "side", "above"), [
    ("STOP_LOSS_LIMIT", "sell", True), ("STOP_LOSS_LIMIT", "buy", False),
    ("TAKE_PROFIT_LIMIT", "sell", False), ("TAKE_PROFIT_LIMIT", "buy", True),
    ("STOP_LOSS", "sell", True), ("TAKE_PROFIT", "buy", True),
])
def test_a_stop_that_would_trigger_immediately_is_refused(sandbox, new_key, raw, type_, side, above):
    key = new_key()
    client = sandbox.client(key)
    last = sandbox.price(BTC)
    stop = round(last * (1.05 if above else 0.95), 2)
    price = None if type_ in ("STOP_LOSS", "TAKE_PROFIT") else stop
    with pytest.raises(ccxt.OrderImmediatelyFillable, match="Stop price would trigger immediately"):
        client.create_order(BTC, type_, side, 0.001, price, {"stopPrice": stop})
    params = {"symbol": "BTCUSDT", "side": side.upper(), "type": type_, "quantity": "0.001", "stopPrice": f"{stop:.2f}"}
    if price is not None:
        params.update(price=f"{price:.2f}", timeInForce="GTC")
    status, _, body = raw("POST", "/api/v3/order", params, key)
    assert (status, body) == (400, {"code": -2010, "msg": "Stop price would trigger immediately."})
    assert client.fetch_open_orders(BTC) == []


def test_async_ccxt_places_lists_and_cancels_protective_orders(sandbox, new_key):
    key = new_key({"USDT": 1000, "BTC": 1})

    async def scenario():
        client = sandbox.client(key, asynchronous=True)
        try:
            last = sandbox.price(BTC)
            take = await client.create_order(BTC, "TAKE_PROFIT_LIMIT", "sell", 0.01, round(last * 1.5, 2),
                                             {"stopPrice": round(last * 1.5, 2)})
            stop = await client.create_order(BTC, "STOP_LOSS_LIMIT", "buy", 0.01, round(last * 1.41, 2),
                                             {"stopPrice": round(last * 1.4, 2)})
            market_stop = await client.create_order(BTC, "STOP_LOSS", "sell", 0.01, None,
                                                    {"stopPrice": round(last * 0.5, 2)})
            assert {o["id"] for o in await client.fetch_open_orders(BTC)} == {take["id"], stop["id"], market_stop["id"]}
            locked = sandbox.balances(key.api_key)
            assert locked["BTC"][1] == pytest.approx(0.02)
            assert locked["USDT"][1] == pytest.approx(0.01 * round(last * 1.41, 2) * 1.001)
            await asyncio.gather(*(client.cancel_order(o["id"], BTC) for o in (take, stop, market_stop)))
            statuses = {o["id"]: o["status"] for o in await client.fetch_orders(BTC)}
            assert statuses == {take["id"]: "canceled", stop["id"]: "canceled", market_stop["id"]: "canceled"}
        finally:
            await client.close()

    asyncio.run(scenario())
    assert sandbox.balances(key.api_key)["BTC"] == (1.0, 0.0)
    assert sandbox.balances(key.api_key)["USDT"] == (1000.0, 0.0)
