"""Binance's websocket streams and user data stream on the sandbox's port, with real clients:
ccxt pro (watch_ohlcv, watch_trades: Freqtrade's `enable_ws`), binance-connector (listen keys
and its websocket stream client) and aiohttp's websocket client for the raw protocol."""

from __future__ import annotations

import asyncio
import json
import queue

import aiohttp
import ccxt
import ccxt.pro
import pytest
from binance.error import ClientError
from binance.spot import Spot
from binance.websocket.spot.websocket_stream import SpotWebsocketStreamClient

from livegate.adapters.exchange.client import point_at

BTC = "BTC/USDT"


def _ws(sandbox) -> str:
    return sandbox.url.replace("http", "ws", 1)


def _pro(sandbox):
    client = ccxt.pro.binance({"enableRateLimit": False})
    point_at(client, sandbox.url)  # rewrites urls['api']['ws'] too
    assert client.urls["api"]["ws"]["spot"] == _ws(sandbox) + "/ws"
    return client


# -- market streams --------------------------------------------------------------------------------

def test_ccxt_pro_watches_ohlcv_and_trades(sandbox):
    async def scenario():
        client = _pro(sandbox)
        try:
            seen = []
            while len({c[0] for c in seen}) < 3:  # a 1m bar lasts 0.1 s at 600x
                seen = await asyncio.wait_for(client.watch_ohlcv(BTC, "1m"), 5)
            rest = await asyncio.to_thread(sandbox.client().fetch_ohlcv, BTC, "1m", seen[-3][0], 1)
            assert seen[-3] == rest[0]  # a closed bar as the REST API shows it
            trades = await asyncio.wait_for(client.watch_trades(BTC), 5)
            assert trades[-1]["symbol"] == BTC and trades[-1]["amount"] > 0
            assert abs(trades[-1]["price"] - sandbox.price(BTC)) / trades[-1]["price"] < 0.01
            both = {}
            while len(both) < 2:
                result = await asyncio.wait_for(client.watch_ohlcv_for_symbols([[BTC, "1m"], ["ETH/USDT", "5m"]]), 5)
                both.update({s: list(tf) for s, tf in result.items()})
            assert both == {BTC: ["1m"], "ETH/USDT": ["5m"]}
        finally:
            await client.close()

    asyncio.run(scenario())


def test_raw_combined_streams_and_live_subscription_messages(sandbox):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(_ws(sandbox) + "/stream?streams=btcusdt@kline_5m/ethusdt@trade") as ws:
                names = set()
                while names != {"btcusdt@kline_5m", "ethusdt@trade"}:
                    message = json.loads((await ws.receive(timeout=5)).data)
                    names.add(message["stream"])
                    if message["stream"] == "btcusdt@kline_5m":
                        kline = message["data"]
                        assert (kline["e"], kline["s"]) == ("kline", "BTCUSDT")
                        assert set(kline["k"]) >= set("tTsioclhvnxqVQB") and kline["k"]["i"] == "5m"
                        assert kline["k"]["T"] == kline["k"]["t"] + 300_000 - 1
                    else:
                        trade = message["data"]
                        assert trade["e"] == "trade" and set(trade) >= {"E", "s", "t", "p", "q", "T", "m"}
            async with session.ws_connect(_ws(sandbox) + "/ws") as ws:
                async def ask(request):
                    await ws.send_str(json.dumps(request))
                    while True:
                        answer = json.loads((await ws.receive(timeout=5)).data)
                        if "e" not in answer and "stream" not in answer:
                            return answer

                assert await ask({"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m", "btcusdt@trade"], "id": 1}) \
                    == {"result": None, "id": 1}
                assert await ask({"method": "LIST_SUBSCRIPTIONS", "id": "two"}) == {
                    "result": ["btcusdt@kline_1m", "btcusdt@trade"], "id": "two"}
                assert await ask({"method": "UNSUBSCRIBE", "params": ["btcusdt@trade"], "id": 3}) == {"result": None, "id": 3}
                assert await ask({"method": "GET_PROPERTY", "params": ["combined"], "id": 4}) == {"result": False, "id": 4}
                assert await ask({"method": "SET_PROPERTY", "params": ["combined", True], "id": 5}) == {"result": None, "id": 5}
                event = json.loads((await ws.receive(timeout=5)).data)
                assert event["stream"] == "btcusdt@kline_1m" and event["data"]["e"] == "kline"
                assert (await ask({"method": "PUBLISH", "id": 6}))["error"]["code"] == 2
                assert (await ask({"method": "GET_PROPERTY", "params": ["nope"], "id": 7}))["error"]["code"] == 0
                await ws.send_str("{not json")
                while "error" not in (answer := json.loads((await ws.receive(timeout=5)).data)):
                    pass
                assert answer["error"]["code"] == 3

    asyncio.run(scenario())


def test_binance_connector_websocket_client_gets_klines(sandbox):
    received: queue.Queue = queue.Queue()
    client = SpotWebsocketStreamClient(stream_url=_ws(sandbox), on_message=lambda _, m: received.put(json.loads(m)))
    try:
        client.kline(symbol="btcusdt", interval="1m")
        messages = [received.get(timeout=5) for _ in range(3)]
    finally:
        client.stop()
    assert messages[0] == {"result": None, "id": messages[0]["id"]}
    assert all(m["e"] == "kline" and m["k"]["s"] == "BTCUSDT" for m in messages[1:])


# -- the user data stream ---------------------------------------------------------------------------

def test_listen_keys_with_binance_connector_and_ccxt(sandbox, new_key, raw):
    key = new_key()
    spot = Spot(api_key=key.api_key, api_secret=key.secret, base_url=sandbox.url)
    listen_key = spot.new_listen_key()["listenKey"]
    assert len(listen_key) == 60 and listen_key.isalnum()
    assert spot.new_listen_key()["listenKey"] == listen_key  # the account's active key, kept alive
    assert spot.renew_listen_key(listen_key) == {}
    assert spot.close_listen_key(listen_key) == {}
    with pytest.raises(ClientError) as closed:
        spot.renew_listen_key(listen_key)
    assert (closed.value.status_code, closed.value.error_code, closed.value.error_message) == (
        400, -1125, "This listenKey does not exist.")
    assert spot.new_listen_key()["listenKey"] != listen_key

    client = sandbox.client(key)
    other = client.publicPostUserDataStream()["listenKey"]
    assert client.publicPutUserDataStream({"listenKey": other}) == {}
    assert client.publicDeleteUserDataStream({"listenKey": other}) == {}
    with pytest.raises(ccxt.AuthenticationError, match="-1125"):
        client.publicDeleteUserDataStream({"listenKey": other})

    # USER_STREAM: the key header alone, no signature; without it Binance's key errors
    status, _, body = raw("POST", "/api/v3/userDataStream", header_key=key.api_key)
    assert status == 200 and len(body["listenKey"]) == 60
    assert raw("POST", "/api/v3/userDataStream")[2]["code"] == -2014
    assert raw("POST", "/api/v3/userDataStream", header_key="nobody")[2]["code"] == -2015
    assert raw("PUT", "/api/v3/userDataStream", header_key=key.api_key)[2]["code"] == -1102


def test_the_user_data_stream_reports_order_updates(sandbox, new_key):
    key = new_key({"USDT": 1000, "BTC": 1})
    listen_key = Spot(api_key=key.api_key, base_url=sandbox.url).new_listen_key()["listenKey"]
    client = sandbox.client(key)

    async def scenario():
        async with aiohttp.ClientSession() as session, session.ws_connect(_ws(sandbox) + "/ws/" + listen_key) as ws:
            async def events(kind: str, count: int) -> list[dict]:
                out = []
                while len(out) < count:
                    event = json.loads((await ws.receive(timeout=5)).data)
                    if event["e"] == kind:
                        out.append(event)
                return out

            far = round(sandbox.price(BTC) * 0.5, 2)
            order = await asyncio.to_thread(client.create_order, BTC, "limit", "buy", 0.001, far)
            new = (await events("executionReport", 1))[0]
            assert (new["i"], new["x"], new["X"], new["o"], new["S"], new["w"]) == (
                int(order["id"]), "NEW", "NEW", "LIMIT", "BUY", True)
            await asyncio.to_thread(client.cancel_order, order["id"], BTC)
            canceled = (await events("executionReport", 1))[0]
            assert (canceled["x"], canceled["X"], canceled["w"]) == ("CANCELED", "CANCELED", False)
            bought = await asyncio.to_thread(client.create_order, BTC, "market", "buy", 0.001)
            reports = await events("executionReport", 2)
            assert [(r["x"], r["X"]) for r in reports] == [("NEW", "FILLED"), ("TRADE", "FILLED")]
            assert float(reports[1]["l"]) == 0.001 and float(reports[1]["L"]) == bought["trades"][0]["price"]
            assert reports[1]["t"] > 0 and reports[1]["N"] == "USDT"
            position = (await events("outboundAccountPosition", 1))[0]
            assert {b["a"] for b in position["B"]} == {"BTC", "USDT"}

    asyncio.run(scenario())
