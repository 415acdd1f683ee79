"""`bot: external`: the trader's own bot — real ccxt, sync and async, and raw signed REST —
trades a go-live stage through livegate's Binance-compatible gateway. Its orders take the one
order gateway (caps, halt, exactly-once journaling), its reads and cancels pass through with
livegate's key, and the sandbox exchange's own record is compared with the ledger."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import ccxt
import pytest

from livegate.adapters.exchange.client import build_exchange
from livegate.config.workspace import Workspace
from livegate.phases.microlive.runner import LiveRunner
from livegate.services import controls
from livegate.services.bot_gateway import issue_bot_key
from tests.live.conftest import events, live_options

LONG_STAGE = {"min_duration_hours": 1000, "min_successful_trades": 1000}  # ends only when the test says so
LOOSE = {"consecutive_losses_halt": 1000, "max_trades_per_hour": 100, "max_trades_per_day": 1000, "min_seconds_between_trades": 0}


def venue_orders(sandbox, root):
    """{client id: (side, status, executed qty)} of every order the sandbox holds for the workspace's real key."""
    api_key = next(line.split("=", 1)[1] for line in (root / ".env").read_text().splitlines() if line.startswith("EXCHANGE_API_KEY="))

    def read():
        account = sandbox.venue.account_of(sandbox.venue.keys[api_key])
        return {o.client_id: (o.side, o.status, o.executed) for o in account.orders.values()}

    return sandbox._on_loop(read)


class Stage:
    """go-live of an external-bot workspace in a background thread; `info` is what it printed
    for the bot (URL, key, secret)."""

    def __init__(self, root, sandbox, operator_key, stage="4.1a", **options):
        self.root = root
        infos: queue.Queue = queue.Queue()
        self.stopping = threading.Event()
        opts = live_options(sandbox, max_seconds=options.pop("max_seconds", None), on_gateway=infos.put,
                            stop_requested=self.stopping.is_set, **options)
        self.outcome = None
        self.error: BaseException | None = None

        def run():
            try:
                self.outcome = LiveRunner(Workspace(root), stage, operator_key, opts).run()
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                self.error = exc
                infos.put(None)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        self.info = infos.get(timeout=60)
        assert self.info is not None, self.error

    def bot(self, asynchronous=False):
        """A ccxt client of the gateway (sync unless `asynchronous`), as the trader's bot."""
        return build_exchange("binance", testnet=False, base_url=self.info["gateway_url"], api_key=self.info["api_key"],
                              secret=self.info["secret"], rate_limit_ms=0, asynchronous=asynchronous)

    def small_buy_amount(self, bot) -> float:
        """The BTC amount of a buy worth about 8 USDT at the current price: above the minimum
        notional, inside the stage's cap."""
        return round(8.0 / bot.fetch_ticker("BTC/USDT")["last"], 5)

    def stop(self):
        self.stopping.set()  # as SIGTERM does for `livegate go-live`
        self.thread.join(30)
        assert not self.thread.is_alive() and self.outcome is not None and self.outcome.status == "paused", self.error


@pytest.fixture
def bot_ws(make_live_ws):
    root = make_live_ws(stage=LONG_STAGE, risk=LOOSE, bot="external")
    issue_bot_key(Workspace(root).state_dir)
    return root


def signed(info, method, path, params):
    query = urllib.parse.urlencode({**params, "timestamp": int(time.time() * 1000)})
    query += "&signature=" + hmac.new(info["secret"].encode(), query.encode(), hashlib.sha256).hexdigest()
    request = urllib.request.Request(f"{info['gateway_url']}{path}?{query}", method=method, headers={"X-MBX-APIKEY": info["api_key"]})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}") if err.headers.get("Content-Type", "").startswith("application/json") else {}


def test_a_ccxt_bot_trades_through_the_gateway_and_the_venue_record_matches_the_ledger(bot_ws, sandbox, operator_key):
    stage = Stage(bot_ws, sandbox, operator_key)
    try:
        assert stage.info["step"] == "4.1a" and stage.info["gateway_url"].startswith("http://127.0.0.1:")
        bot = stage.bot()
        bot.load_markets()
        price = bot.fetch_ticker("BTC/USDT")["last"]
        amount = round(8.0 / price, 5)
        bought = bot.create_order("BTC/USDT", "market", "buy", amount, params={"newClientOrderId": "mybot-buy-1"})
        assert bought["clientOrderId"] == "mybot-buy-1" and bought["status"] == "closed" and bought["filled"] == pytest.approx(amount)
        assert bot.fetch_order(bought["id"], "BTC/USDT")["status"] == "closed"  # reads pass through
        assert bot.fetch_balance()["total"]["BTC"] == pytest.approx(amount)
        with pytest.raises(ccxt.InvalidOrder, match=r"livegate: .*stage_cap"):  # $25 > the $10 cap of 4.1a
            bot.create_order("BTC/USDT", "market", "buy", round(25.0 / price, 5))
        with pytest.raises(ccxt.InvalidOrder, match="already_sent"):  # the same client id again: never sent twice
            bot.create_order("BTC/USDT", "market", "buy", amount, params={"newClientOrderId": "mybot-buy-1"})
        sold = bot.create_order("BTC/USDT", "market", "sell", amount, params={"newClientOrderId": "mybot-sell-1"})
        assert sold["status"] == "closed"
        resting = bot.create_order("BTC/USDT", "limit", "buy", amount, round(price * 0.8, 2), params={"newClientOrderId": "mybot-rest-1"})
        assert bot.cancel_order(resting["id"], "BTC/USDT")["status"] == "canceled"
        time.sleep(0.3)
    finally:
        stage.stop()
    venue = venue_orders(sandbox, bot_ws)
    assert set(venue) == {"mybot-buy-1", "mybot-sell-1", "mybot-rest-1"}  # nothing else reached the venue, nothing twice
    sent = [p["client_id"] for p in events(bot_ws, "order_sending")]
    assert sorted(sent) == sorted(venue) and all(p["origin"] == "bot" for p in events(bot_ws, "order_sending"))
    fills = events(bot_ws, "venue_fill")
    assert {f["order_id"] for f in fills} == {"mybot-buy-1", "mybot-sell-1"}
    assert sum(f["amount"] for f in fills if f["order_id"] == "mybot-buy-1") == pytest.approx(venue["mybot-buy-1"][2])
    assert [t["order_id"] for t in events(bot_ws, "trade")] == ["mybot-sell-1"]  # one round trip, in the stage's trades
    blocked = events(bot_ws, "order_blocked")
    assert any(b[0] == "stage_cap" for p in blocked for b in p["blocks"])
    ledger_text = (bot_ws / ".livegate" / "ledger.db").read_bytes()
    assert stage.info["secret"].encode() not in ledger_text and stage.info["api_key"].encode() not in ledger_text


def test_an_orders_fills_are_in_the_ledger_a_moment_after_its_answer_with_no_order_after_it(bot_ws, sandbox, operator_key):
    """The bot gets its answer first; the acknowledgement, fills and trade follow into the ledger
    on their own when no next order comes to write them — while the stage still runs."""
    stage = Stage(bot_ws, sandbox, operator_key)
    try:
        bot = stage.bot()
        bot.load_markets()
        amount = stage.small_buy_amount(bot)
        bot.create_order("BTC/USDT", "market", "buy", amount, params={"newClientOrderId": "lone-buy"})
        bot.create_order("BTC/USDT", "market", "sell", amount, params={"newClientOrderId": "lone-sell"})
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not events(bot_ws, "trade"):
            time.sleep(0.02)
        assert stage.thread.is_alive()  # still serving: nothing was written by stopping
        assert [t["order_id"] for t in events(bot_ws, "trade")] == ["lone-sell"]
        assert {f["order_id"] for f in events(bot_ws, "venue_fill")} == {"lone-buy", "lone-sell"}
        assert {p["client_id"] for p in events(bot_ws, "order_done")} == {"lone-buy", "lone-sell"}
    finally:
        stage.stop()


def test_async_ccxt_and_raw_rest_and_what_is_never_let_through(bot_ws, sandbox, operator_key):
    stage = Stage(bot_ws, sandbox, operator_key)
    try:
        async def trade():
            bot = stage.bot(asynchronous=True)
            try:
                await bot.load_markets()
                price = (await bot.fetch_ticker("BTC/USDT"))["last"]
                order = await bot.create_order("BTC/USDT", "market", "buy", round(8.0 / price, 5))
                return order, await bot.fetch_open_orders("BTC/USDT")
            finally:
                await bot.close()

        order, still_open = asyncio.run(trade())
        assert order["status"] == "closed" and still_open == []
        info = stage.info
        for path in ("/sapi/v1/capital/withdraw/apply", "/sapi/v1/asset/transfer", "/sapi/v1/margin/loan", "/api/v3/order/oco"):
            status, body = signed(info, "POST", path, {"coin": "BTC", "amount": "1"})
            assert status == 403 and body["msg"].startswith("livegate:"), (path, status, body)
        assert signed(info, "GET", "/api/v3/nowhere", {})[0] == 404
        bad = dict(info, secret="0" * 64)
        assert signed(bad, "GET", "/api/v3/account", {}) == (400, {"code": -1022, "msg": "Signature for this request is not valid."})
        assert signed(info, "POST", "/api/v3/order", {"symbol": "NOPEUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"})[1]["code"] == -1121
        for raw in ("NaN", "-1", "1e5", "99999999999999999999999"):
            status, body = signed(info, "POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": raw})
            assert status == 400 and body["code"] in (-1100, -1013), (raw, body)
        status, account = signed(info, "GET", "/api/v3/account", {})
        assert status == 200 and any(b["asset"] == "USDT" for b in account["balances"])
        # halted: a new order is refused at once, a cancel still passes
        price = float(json.loads(urllib.request.urlopen(f"{info['gateway_url']}/api/v3/ticker/price?symbol=BTCUSDT").read())["price"])
        status, resting = signed(info, "POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                                                 "quantity": f"{8.0 / price:.5f}", "price": f"{price * 0.9:.2f}"})
        assert status == 200 and resting["status"] == "NEW", resting
        controls.halt(Workspace(bot_ws), "drill", by="test")
        status, body = signed(info, "POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.0001"})
        assert status == 400 and body["code"] == -2010 and body["msg"].startswith("livegate: halted")
        status, canceled = signed(info, "DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": resting["orderId"]})
        # the cancel reaches the venue (never refused for the halt): it cancels the order, or the
        # venue says it is gone already — the stage cancels its own resting orders when halted
        assert (status == 200 and canceled["status"] == "CANCELED") or (status, canceled.get("code")) == (400, -2011), canceled
        assert signed(info, "GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"}) == (200, [])
    finally:
        stage.stop()
    venue = venue_orders(sandbox, bot_ws)
    assert len(venue) == 2 and sorted(s for s, *_ in venue.values()) == ["BUY", "BUY"]  # the refused ones never reached it
    refused = events(bot_ws, "gateway_refused")  # counted in the ledger by status and code, nothing of the requests
    totals: dict = {}
    for p in refused:
        for code, n in p["counts"].items():
            totals[code] = totals.get(code, 0) + n
    assert totals["403 -2015"] == 4 and totals["404 0"] == 1 and totals["400 -1022"] == 1 and totals["400 -1121"] == 1
    assert sum(totals.values()) >= 12 and set(refused[0]) == {"counts", "total", "run"}
    assert [status for _, status, _ in venue.values()].count("CANCELED") == 1  # nothing left resting


def test_binance_connector_trades_through_the_gateway_by_base_url(bot_ws, sandbox, operator_key):
    from binance.error import ClientError
    from binance.spot import Spot

    stage = Stage(bot_ws, sandbox, operator_key)
    try:
        spot = Spot(api_key=stage.info["api_key"], api_secret=stage.info["secret"], base_url=stage.info["gateway_url"])
        assert spot.time()["serverTime"] > 0 and spot.exchange_info(symbol="BTCUSDT")["symbols"][0]["symbol"] == "BTCUSDT"
        price = float(spot.ticker_price("BTCUSDT")["price"])
        order = spot.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quoteOrderQty=8, newClientOrderId="conn-buy-1")
        assert order["clientOrderId"] == "conn-buy-1" and order["status"] == "FILLED"
        assert spot.get_order("BTCUSDT", origClientOrderId="conn-buy-1")["status"] == "FILLED"
        assert [t["orderId"] for t in spot.my_trades("BTCUSDT")] == [order["orderId"]] * len(spot.my_trades("BTCUSDT"))
        with pytest.raises(ClientError) as refused:  # above the stage's cap
            spot.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=f"{30 / price:.5f}")
        assert refused.value.status_code == 400 and refused.value.error_code == -2010
        assert refused.value.error_message.startswith("livegate: ") and "stage_cap" in refused.value.error_message
    finally:
        stage.stop()
    assert set(venue_orders(sandbox, bot_ws)) == {"conn-buy-1"}


BOT_LOOP = r"""
import sys, time
from livegate.adapters.exchange.client import build_exchange
url, key, secret = sys.argv[1:4]
bot = build_exchange("binance", testnet=False, base_url=url, api_key=key, secret=secret, rate_limit_ms=0)
bot.load_markets()
amount = round(6.0 / bot.fetch_ticker("BTC/USDT")["last"], 5)
n = 0
while True:
    side = "buy" if n % 2 == 0 else "sell"
    try:
        bot.create_order("BTC/USDT", "market", side, amount, params={"newClientOrderId": f"loop-{n}"})
        print("placed", n, flush=True)
    except Exception as exc:
        print("refused", n, str(exc)[:160], flush=True)
    n += 1
    time.sleep(0.02)
"""


def test_a_bot_in_another_process_is_stopped_by_livegate_halt_from_a_third(bot_ws, sandbox, operator_key, tmp_path):
    import subprocess
    import sys

    script = tmp_path / "bot.py"
    script.write_text(BOT_LOOP)
    stage = Stage(bot_ws, sandbox, operator_key)
    bot = subprocess.Popen([sys.executable, str(script), stage.info["gateway_url"], stage.info["api_key"], stage.info["secret"]],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = bot.stdout.readline()
        assert first.startswith("placed"), (first, bot.stderr.read() if bot.poll() is not None else "")
        halt = subprocess.run([sys.executable, "-m", "livegate", "-w", str(bot_ws), "halt", "--reason", "drill", "--by", "ops"],
                              capture_output=True, text=True, timeout=60)
        assert halt.returncode == 0, halt.stdout + halt.stderr
        after_halt = set(venue_orders(sandbox, bot_ws))
        time.sleep(1.5)  # the bot keeps asking
        assert set(venue_orders(sandbox, bot_ws)) == after_halt  # 0 new orders reached the venue after the halt returned
    finally:
        bot.kill()
        out, _ = bot.communicate(timeout=10)
        stage.stop()
    refused = [line for line in out.splitlines() if line.startswith("refused")]
    assert refused and all("livegate: halted" in line for line in refused[-3:])


def test_the_readmes_plain_ccxt_recipe_works_unmodified(bot_ws, sandbox, operator_key):
    """The README's snippet: plain ccxt, its REST URLs rewritten to the gateway, nothing of livegate imported."""
    stage = Stage(bot_ws, sandbox, operator_key)
    try:
        port = stage.info["gateway_url"].rsplit(":", 1)[1]
        bot = ccxt.binance({"apiKey": stage.info["api_key"], "secret": stage.info["secret"],
                            "options": {"fetchCurrencies": False, "fetchMargins": False, "fetchMarkets": {"types": ["spot"]}}})
        for name in list(bot.urls["api"]):
            url = bot.urls["api"][name]
            if isinstance(url, str) and url.startswith("https://api.binance.com"):
                bot.urls["api"][name] = url.replace("https://api.binance.com", f"http://127.0.0.1:{port}")
        order = bot.create_order("BTC/USDT", "market", "buy", 0.0002)
        assert order["status"] == "closed" and bot.fetch_balance()["total"]["BTC"] == pytest.approx(0.0002)
    finally:
        stage.stop()
    assert len(venue_orders(sandbox, bot_ws)) == 1


def test_market_data_is_served_from_the_cache_for_a_moment(bot_ws, sandbox, operator_key):
    stage = Stage(bot_ws, sandbox, operator_key)
    url = f"{stage.info['gateway_url']}/api/v3/depth?symbol=BTCUSDT&limit=5"
    try:
        first = json.loads(urllib.request.urlopen(url, timeout=10).read())
        sandbox.set_fault(error_rate=1.0, error_status=502, routes=("GET /api/v3/depth",))  # the venue's book is down now
        try:
            assert json.loads(urllib.request.urlopen(url, timeout=10).read()) == first  # many bots, one venue request
            time.sleep(1.2)  # past the cache's second: the venue is asked again, and its failure reaches the bot
            with pytest.raises(urllib.error.HTTPError) as down:
                urllib.request.urlopen(url, timeout=10)
            assert down.value.code == 503 and json.loads(down.value.read())["code"] == -1001
        finally:
            sandbox.clear_faults()
    finally:
        stage.stop()


def test_near_the_venues_weight_limit_the_gateway_answers_429_itself_and_cancels_still_pass():
    from livegate.adapters.exchange.venue_calls import VenueCalls
    from livegate.adapters.sandbox.errors import ApiError
    from livegate.services.bot_gateway import BOT_WEIGHT_SHARE, BotDesk

    calls = VenueCalls(weight_limit_1m=1000)
    minute_start = (time.time() // 60) * 60
    calls.record(True, 0.01, used_weight=900)  # the venue said: 900 of 1000 used this minute
    assert calls.busy_for(BOT_WEIGHT_SHARE, now=minute_start + 15.5) == pytest.approx(44.5)
    assert calls.busy_for(BOT_WEIGHT_SHARE, now=minute_start + 75) is None  # a new minute: its weight starts again
    calls.record(True, 0.01, used_weight=100)
    assert calls.busy_for(BOT_WEIGHT_SHARE) is None

    class Gateway:
        executor = type("E", (), {"pending": False})()

    forwarded = []

    class Client:
        def request(self, path, api, method, params):
            forwarded.append((method, path))
            return {}

    desk = BotDesk(Gateway(), Client(), {"BTCUSDT": "BTC/USDT"}, time.time, threading.RLock(), busy_for=lambda: 12.3)
    for call in (lambda: desk.forward("GET", "/api/v3/account", {}, True),
                 lambda: desk.place({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"})):
        with pytest.raises(ApiError) as refused:
            call()
        assert (refused.value.status, refused.value.code, refused.value.headers) == (429, -1003, {"Retry-After": "13"})
    desk.cancel({"symbol": "BTCUSDT", "orderId": "7"})  # a cancel is never held back
    assert forwarded == [("DELETE", "order")]


def test_the_bot_streams_its_own_order_updates_with_a_listen_key_from_the_gateway(bot_ws, sandbox, operator_key):
    import aiohttp
    from binance.error import ClientError
    from binance.spot import Spot

    stage = Stage(bot_ws, sandbox, operator_key)
    try:
        spot = Spot(api_key=stage.info["api_key"], api_secret=stage.info["secret"], base_url=stage.info["gateway_url"])
        listen_key = spot.new_listen_key()["listenKey"]  # the venue's, fetched with livegate's key: read-only
        assert len(listen_key) == 60 and spot.renew_listen_key(listen_key) == {}
        with pytest.raises(ClientError) as stranger:
            Spot(api_key="not-a-gateway-key", base_url=stage.info["gateway_url"]).new_listen_key()
        assert (stranger.value.status_code, stranger.value.error_code) == (401, -2015)

        async def order_and_listen():
            async with aiohttp.ClientSession() as session:
                async with session.ws_connect(f"{sandbox.url.replace('http', 'ws', 1)}/ws/{listen_key}") as ws:
                    await asyncio.to_thread(spot.new_order, symbol="BTCUSDT", side="BUY", type="MARKET", quoteOrderQty=8,
                                            newClientOrderId="streamed-1")
                    seen = []
                    while not any(e.get("e") == "executionReport" and e.get("X") == "FILLED" for e in seen):
                        seen.append(json.loads((await asyncio.wait_for(ws.receive(), 10)).data))
                    return seen

        reports = [e for e in asyncio.run(order_and_listen()) if e.get("e") == "executionReport"]
        assert reports[-1]["c"] == "streamed-1" and reports[-1]["X"] == "FILLED"
        assert spot.close_listen_key(listen_key) == {}
    finally:
        stage.stop()


def test_protective_orders_pass_as_sells_that_reduce_the_position(bot_ws, sandbox, operator_key):
    stage = Stage(bot_ws, sandbox, operator_key)
    try:
        bot = stage.bot()
        bot.load_markets()
        price = bot.fetch_ticker("BTC/USDT")["last"]
        amount = round(8.0 / price, 5)
        bot.create_order("BTC/USDT", "market", "buy", amount, params={"newClientOrderId": "prot-entry"})
        held = bot.fetch_balance()["free"]["BTC"]
        stop = bot.create_order("BTC/USDT", "STOP_LOSS_LIMIT", "sell", held, round(price * 0.90, 2),
                                params={"stopPrice": round(price * 0.92, 2), "newClientOrderId": "prot-stop"})
        assert stop["status"] == "open" and stop["clientOrderId"] == "prot-stop"
        assert float(stop["info"]["stopPrice"]) == pytest.approx(round(price * 0.92, 2))
        assert bot.cancel_order(stop["id"], "BTC/USDT")["status"] == "canceled"
        profit = bot.create_order("BTC/USDT", "TAKE_PROFIT_LIMIT", "sell", held, round(price * 1.10, 2),
                                  params={"stopPrice": round(price * 1.08, 2), "newClientOrderId": "prot-take"})
        assert profit["status"] == "open"
        with pytest.raises(ccxt.InvalidOrder, match="livegate: .*SELL that reduces it"):  # a stop-entry buy is not protection
            bot.create_order("BTC/USDT", "STOP_LOSS_LIMIT", "buy", amount, round(price * 1.10, 2),
                             params={"stopPrice": round(price * 1.08, 2)})
    finally:
        stage.stop()
    sent = {p["client_id"]: p for p in events(bot_ws, "order_sending")}
    assert sent["prot-stop"]["type"] == "stop_loss_limit" and sent["prot-stop"]["stop_price"] == pytest.approx(round(price * 0.92, 2))
    assert sent["prot-take"]["reduce_only"] is True
    venue = venue_orders(sandbox, bot_ws)
    assert venue["prot-stop"][1] == "CANCELED" and venue["prot-take"][1] == "CANCELED"  # the stage's stop left nothing resting


def test_an_order_awaiting_approval_is_held_and_an_expired_one_answers_the_bot(make_live_ws, sandbox, operator_key):
    root = make_live_ws(stage=LONG_STAGE, risk=LOOSE, bot="external", config={"approvals": {"expiry_seconds": 2}})
    issue_bot_key(Workspace(root).state_dir)
    env = root / ".env"
    env.write_text(env.read_text().replace("EXECUTION_APPROVAL_MODE=auto", "EXECUTION_APPROVAL_MODE=approve_each"))
    stage = Stage(root, sandbox, operator_key, ask=lambda approval: None)  # nobody approves here
    try:
        bot = stage.bot()
        bot.load_markets()
        t0 = time.monotonic()
        with pytest.raises(ccxt.InvalidOrder, match="livegate: approval: expired after 2 s"):
            bot.create_order("BTC/USDT", "market", "buy", stage.small_buy_amount(bot),
                             params={"newClientOrderId": "waits-1"})
        assert time.monotonic() - t0 >= 1.9  # the request was held until the approval expired
    finally:
        stage.stop()
    assert "waits-1" not in venue_orders(sandbox, root)
    [requested] = events(root, "approval_requested")
    decided = events(root, "approval_decided")
    assert requested["id"] == decided[-1]["id"] and decided[-1]["decision"] == "expired"


def test_go_live_json_prints_how_to_reach_the_gateway_first(bot_ws, sandbox):
    """The CLI as a trader runs it: the first stdout line tells the bot where to go; the report follows at the end."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "livegate", "-w", str(bot_ws), "go-live", "--stage", "4.1a", "--json", "--yes",
                             "--max-hours", "0.002"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        assert {"gateway_url", "api_key", "secret", "step", "venue"} <= set(info) and info["step"] == "4.1a"
        bot = build_exchange("binance", testnet=False, base_url=info["gateway_url"], api_key=info["api_key"],
                             secret=info["secret"], rate_limit_ms=0)
        price = bot.fetch_ticker("BTC/USDT")["last"]
        assert bot.create_order("BTC/USDT", "market", "buy", round(8.0 / price, 5), params={"newClientOrderId": "cli-1"})["status"] == "closed"
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 7, err[-2000:]  # paused by --max-hours
    report = json.loads(out)
    assert report["status"] == "paused" and report["measures"]["orders"] == 1
    assert info["secret"] not in out and info["secret"] not in err  # shown once, on the line meant for the bot
    assert "cli-1" in venue_orders(sandbox, bot_ws)


def test_while_reducing_a_bots_buy_is_refused_and_its_sell_passes(bot_ws, sandbox, operator_key):
    stage = Stage(bot_ws, sandbox, operator_key)
    try:
        bot = stage.bot()
        bot.load_markets()
        amount = stage.small_buy_amount(bot)
        bot.create_order("BTC/USDT", "market", "buy", amount, params={"newClientOrderId": "rd-buy-1"})
        controls.reduce_only(Workspace(bot_ws), "daily drawdown above 5 %", "trade loop", source="red flag")
        code, body = signed(stage.info, "POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                                   "quantity": f"{amount:.5f}", "newClientOrderId": "rd-buy-2"})
        assert code == 400 and body["code"] == -2010, body
        assert body["msg"].startswith("livegate: reducing: trading is reducing only (since ")
        assert "by trade loop: daily drawdown above 5 %" in body["msg"] and "only orders that reduce an open position pass" in body["msg"]
        code, body = signed(stage.info, "POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET",
                                                                   "quantity": f"{amount * 2:.5f}", "newClientOrderId": "rd-sell-big"})
        assert code == 400 and body["code"] == -2010 and "larger than" in body["msg"], body
        sold = bot.create_order("BTC/USDT", "market", "sell", amount, params={"newClientOrderId": "rd-sell-1"})
        assert sold["status"] == "closed"
    finally:
        stage.stop()
    venue = venue_orders(sandbox, bot_ws)
    assert {k: v[:2] for k, v in venue.items() if k.startswith("rd-")} == {"rd-buy-1": ("BUY", "FILLED"), "rd-sell-1": ("SELL", "FILLED")}


def test_trade_serves_the_bot_under_the_capital_levels_cap(make_live_ws, sandbox, operator_key):
    """`livegate trade` with `bot: external`: the trader's own bot, at the Micro level (500 of
    capital): 10 per order — an 8 buy passes, a 20 buy is refused naming the level."""
    from livegate.phases.microlive.runner import PRODUCTION
    from tests.live.test_trade import LATER
    from tests.protocol_helpers import sign_off

    root = make_live_ws(stage=LONG_STAGE, risk=LOOSE, bot="external", config={"capital": {"starting": 500.0}})
    env = root / ".env"
    env.write_text(env.read_text().replace("MAX_TRADE_AMOUNT=10", "MAX_TRADE_AMOUNT=1000"))
    sign_off(root, operator_key, *LATER)
    issue_bot_key(Workspace(root).state_dir)
    stage = Stage(root, sandbox, operator_key, stage=PRODUCTION)
    try:
        assert stage.info["step"] == "production"
        bot = stage.bot()
        bot.load_markets()
        price = bot.fetch_ticker("BTC/USDT")["last"]
        bought = bot.create_order("BTC/USDT", "market", "buy", round(8.0 / price, 5), params={"newClientOrderId": "prod-buy-1"})
        assert bought["status"] == "closed"
        with pytest.raises(ccxt.InvalidOrder, match=r"livegate: stage_cap: buy worth \d+\.\d\d is above the Micro level's order cap 10\.00"):
            bot.create_order("BTC/USDT", "market", "buy", round(20.0 / price, 5), params={"newClientOrderId": "prod-buy-2"})
        time.sleep(0.3)
    finally:
        stage.stop()
    assert set(venue_orders(sandbox, root)) == {"prod-buy-1"}  # the venue's own record: the refused order never reached it
