"""Unmodified ccxt (sync and async) against the local Binance emulator, through build_exchange."""

from __future__ import annotations

import asyncio
import time

import ccxt
import pytest

from livegate.adapters.exchange.client import translate_error
from livegate.core import errors

BTC = "BTC/USDT"


def _market_now(sandbox) -> int:
    return sandbox.venue.clock.market_ms()


# -- market data ---------------------------------------------------------------------------------

def test_load_markets_maps_exchange_filters(sandbox):
    client = sandbox.client()
    market = client.load_markets()[BTC]
    spec = sandbox.venue.markets["BTCUSDT"].spec
    assert market["spot"] and market["active"] and market["id"] == "BTCUSDT"
    assert market["precision"]["amount"] == float(spec.step_size)
    assert market["precision"]["price"] == float(spec.tick_size)
    assert market["limits"]["amount"] == {"min": float(spec.min_qty), "max": float(spec.max_qty)}
    assert market["limits"]["price"] == {"min": float(spec.min_price), "max": float(spec.max_price)}
    assert market["limits"]["cost"]["min"] == 5.0
    assert set(client.markets) == {"BTC/USDT", "ETH/USDT"}


def test_time_ticker_and_book(sandbox):
    client = sandbox.client()
    assert abs(client.fetch_time() - time.time() * 1000) < 2000
    ticker = client.fetch_ticker(BTC)
    assert ticker["bid"] < ticker["ask"] and ticker["low"] <= ticker["last"] <= ticker["high"]
    assert abs(ticker["last"] - sandbox.price(BTC)) / ticker["last"] < 0.01
    book = client.fetch_order_book(BTC, 5)
    bids, asks = [p for p, _ in book["bids"]], [p for p, _ in book["asks"]]
    assert len(bids) == len(asks) == 5
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks) and bids[0] < asks[0]
    assert set(client.fetch_tickers()) == {"BTC/USDT", "ETH/USDT"}
    assert client.fetch_bids_asks([BTC])[BTC]["bid"] > 0


def test_fetch_ohlcv_paginates_with_since_over_more_than_1000_bars(sandbox):
    client = sandbox.client()
    now = _market_now(sandbox)
    since = (now // 60_000 - 1200) * 60_000
    bars, cursor = [], since
    while True:
        page = client.fetch_ohlcv(BTC, "1m", since=cursor, limit=1000)
        if not page:
            break
        bars += page
        cursor = page[-1][0] + 60_000
        if len(page) < 1000:
            break
    stamps = [b[0] for b in bars]
    assert len(bars) > 1000 and stamps[0] == since
    assert all(b - a == 60_000 for a, b in zip(stamps, stamps[1:]))
    assert stamps[-1] <= _market_now(sandbox)
    assert all(low <= min(o, c) and high >= max(o, c) for _, o, high, low, c, _ in bars)
    hourly = client.fetch_ohlcv(BTC, "1h", limit=3)
    assert len(hourly) == 3 and hourly[1][0] - hourly[0][0] == 3_600_000


# -- orders ----------------------------------------------------------------------------------------

def test_market_order_fills_and_moves_balances(sandbox, new_key):
    client = sandbox.client(new_key())
    order = client.create_order(BTC, "market", "buy", 0.01)
    assert order["status"] == "closed" and order["filled"] == 0.01
    assert order["fee"]["currency"] == "USDT" and order["fee"]["cost"] == pytest.approx(order["cost"] * 0.001)
    balance = client.fetch_balance()
    assert balance["BTC"]["free"] == pytest.approx(1.01)
    assert balance["USDT"]["free"] == pytest.approx(10_000 - order["cost"] * 1.001, abs=1e-6)
    trades = client.fetch_my_trades(BTC)
    assert sum(t["amount"] for t in trades) == pytest.approx(0.01)
    assert all(t["fee"]["currency"] == "USDT" and t["takerOrMaker"] == "taker" for t in trades)
    sell = client.create_order(BTC, "market", "sell", 0.01)
    assert sell["status"] == "closed" and client.fetch_balance()["BTC"]["free"] == pytest.approx(1.0)


def test_limit_order_rests_then_fills_when_the_path_crosses(sandbox, new_key):
    client = sandbox.client(new_key())
    market = sandbox.venue.markets["BTCUSDT"]
    now = _market_now(sandbox)
    low, _ = market.path.range(now, now + 300 * 60_000)
    bid, _ = market.best(now)
    price = round((low + bid * 0.998) / 2, 2)
    assert price < bid
    order = client.create_order(BTC, "limit", "buy", 0.01, price)
    assert order["status"] == "open" and order["filled"] == 0
    assert client.fetch_balance()["USDT"]["used"] == pytest.approx(0.01 * price * 1.001)
    sandbox.advance(300 * 60_000)
    done = client.fetch_order(order["id"], BTC)
    assert done["status"] == "closed" and done["average"] == price
    trade = client.fetch_my_trades(BTC)[-1]
    assert trade["takerOrMaker"] == "maker" and trade["price"] == price
    balance = client.fetch_balance()
    assert balance["USDT"]["used"] == 0 and balance["BTC"]["total"] == pytest.approx(1.01)


def test_open_orders_cancel_and_cancel_all(sandbox, new_key):
    client = sandbox.client(new_key())
    far = round(sandbox.price(BTC) * 0.8, 2)
    ids = [client.create_order(BTC, "limit", "buy", 0.001, far)["id"] for _ in range(3)]
    assert sorted(o["id"] for o in client.fetch_open_orders(BTC)) == sorted(ids)
    assert client.cancel_order(ids[0], BTC)["status"] == "canceled"
    with pytest.raises(ccxt.OrderNotFound):
        client.cancel_order(ids[0], BTC)
    cancelled = client.cancel_all_orders(BTC)
    assert sorted(o["id"] for o in cancelled) == sorted(ids[1:])
    assert client.fetch_open_orders(BTC) == []
    assert client.fetch_balance()["USDT"] == {"free": 10_000.0, "used": 0.0, "total": 10_000.0}
    with pytest.raises(ccxt.OrderNotFound):  # Binance: -2011 when nothing is open
        client.cancel_all_orders(BTC)
    with pytest.raises(ccxt.OrderNotFound):
        client.fetch_order("999999999", BTC)


def test_duplicate_client_order_id_is_refused_and_the_order_exists_once(sandbox, new_key):
    client = sandbox.client(new_key())
    far = round(sandbox.price(BTC) * 0.8, 2)
    params = {"newClientOrderId": "lg-dup-0001"}
    first = client.create_order(BTC, "limit", "buy", 0.001, far, params)
    with pytest.raises(ccxt.InvalidOrder, match="Duplicate order sent"):
        client.create_order(BTC, "limit", "buy", 0.001, far, params)
    assert [o["clientOrderId"] for o in client.fetch_open_orders(BTC)] == ["lg-dup-0001"]
    assert client.fetch_order(None, BTC, {"clientOrderId": "lg-dup-0001"})["id"] == first["id"]


def test_client_order_id_of_a_filled_order_may_be_reused_as_on_binance(sandbox, new_key):
    """Binance only refuses a client order id while an order with it is open: a retry of a
    filled market order must look the id up (origClientOrderId) instead of resending."""
    client = sandbox.client(new_key())
    params = {"newClientOrderId": "lg-mkt-0001"}
    client.create_order(BTC, "market", "buy", 0.001, None, params)
    again = client.create_order(BTC, "market", "buy", 0.001, None, params)
    assert again["status"] == "closed" and len(client.fetch_my_trades(BTC)) >= 2


def test_filters_and_balance_refusals(sandbox, new_key):
    client = sandbox.client(new_key(balances={"USDT": 100}))
    price = sandbox.price(BTC)
    with pytest.raises(ccxt.InvalidOrder, match="LOT_SIZE") as lot:
        client.create_order(BTC, "limit", "buy", 20_000, round(price * 0.5, 2))
    with pytest.raises(ccxt.BadRequest, match="MIN_NOTIONAL") as notional:
        client.create_order(BTC, "limit", "buy", 0.00002, round(price * 0.9, 2))
    with pytest.raises(ccxt.InvalidOrder, match="PRICE_FILTER") as price_filter:
        client.create_order(BTC, "limit", "sell", 0.001, 2_000_000)
    with pytest.raises(ccxt.InsufficientFunds) as funds:
        client.create_order(BTC, "market", "buy", 0.01)
    for caught in (lot, notional, price_filter):
        assert isinstance(translate_error(caught.value, exchange=client), errors.OrderRejected)
    translated = translate_error(funds.value, exchange=client)
    assert isinstance(translated, errors.InsufficientFundsError) and translated.code == -2010


def test_partial_fills_and_rejections(sandbox, new_key):
    pair = new_key()
    client = sandbox.client(pair)
    sandbox.set_fault(pair.api_key, partial_fill=0.5)
    order = client.create_order(BTC, "market", "buy", 0.01)
    assert order["status"] == "expired" and order["filled"] == pytest.approx(0.005)
    sandbox.set_fault(pair.api_key, partial_fill=None, reject_orders=True)
    with pytest.raises(ccxt.InvalidOrder):
        client.create_order(BTC, "market", "buy", 0.01)


# -- auth and permissions ---------------------------------------------------------------------------

def test_wrong_secret_is_a_clear_auth_error_without_the_secret(sandbox):
    from livegate.adapters.sandbox.defaults import KeyPair

    wrong = KeyPair(sandbox.keys["trader"].api_key, "not-the-right-secret")
    client = sandbox.client(wrong)
    with pytest.raises(ccxt.AuthenticationError) as caught:
        client.fetch_balance()
    translated = translate_error(caught.value, exchange=client)
    assert isinstance(translated, errors.ExchangeAuthError) and translated.code == -1022
    text = str(translated)
    assert "Signature for this request is not valid" in text and "API key" in text
    assert "not-the-right-secret" not in text and wrong.api_key not in text and "timestamp=" not in text


def test_unknown_key_and_key_without_trade_permission(sandbox):
    from livegate.adapters.sandbox.defaults import KeyPair

    with pytest.raises(ccxt.AuthenticationError, match="-2015"):
        sandbox.client(KeyPair("no-such-key", "whatever")).fetch_balance()
    readonly = sandbox.client("readonly")
    assert readonly.fetch_balance()["USDT"]["free"] > 0  # reading is allowed
    # ccxt maps -2015 to DDoSProtection once the key has worked; translate_error still says auth
    with pytest.raises((ccxt.AuthenticationError, ccxt.DDoSProtection)) as caught:
        readonly.create_order(BTC, "market", "buy", 0.001)
    assert isinstance(translate_error(caught.value, exchange=readonly), errors.ExchangeAuthError)


def test_key_restrictions_are_visible(sandbox):
    restrictions = {name: sandbox.client(name).sapiGetAccountApiRestrictions() for name in ("trader", "withdraw", "unrestricted")}
    assert restrictions["trader"]["enableWithdrawals"] is False and restrictions["trader"]["ipRestrict"] is True
    assert restrictions["trader"]["enableSpotAndMarginTrading"] is True
    assert restrictions["withdraw"]["enableWithdrawals"] is True
    assert restrictions["withdraw"]["enableInternalTransfer"] is True and restrictions["withdraw"]["permitsUniversalTransfer"] is True
    assert restrictions["unrestricted"]["ipRestrict"] is False
    assert sandbox.client("withdraw").privateGetAccount()["canWithdraw"] is True


def test_key_permissions_change_at_runtime(sandbox, new_key):
    pair = new_key()
    client = sandbox.client(pair)
    assert client.sapiGetAccountApiRestrictions()["enableWithdrawals"] is False
    sandbox.set_key(pair.api_key, can_withdraw=True, can_trade=False)
    assert client.sapiGetAccountApiRestrictions()["enableWithdrawals"] is True
    with pytest.raises((ccxt.AuthenticationError, ccxt.DDoSProtection)):
        client.create_order(BTC, "market", "buy", 0.001)


def test_ip_restriction_refuses_other_addresses(sandbox, new_key):
    client = sandbox.client(new_key(ip_restrict=True, allowed_ips=("203.0.113.7",)))
    with pytest.raises(ccxt.AuthenticationError, match="-2015"):
        client.fetch_balance()


# -- faults ----------------------------------------------------------------------------------------

def test_clock_skew_is_caught_as_invalid_nonce(sandbox, new_key):
    pair = new_key()
    client = sandbox.client(pair)
    sandbox.set_fault(pair.api_key, clock_skew_ms=20_000)  # server 20 s ahead; ccxt sends recvWindow=10000
    with pytest.raises(ccxt.InvalidNonce, match="outside of the recvWindow") as behind:
        client.fetch_balance()
    sandbox.set_fault(pair.api_key, clock_skew_ms=-3_000)  # client 3 s ahead of the server
    with pytest.raises(ccxt.InvalidNonce, match="ahead of the server") as ahead:
        client.fetch_balance()
    for caught in (behind, ahead):
        translated = translate_error(caught.value, exchange=client)
        assert isinstance(translated, errors.ClockSkewError) and "clock" in str(translated)


def test_rate_limit_storm_answers_429_with_retry_after(sandbox):
    client = sandbox.client()
    sandbox.set_fault(rate_limit_rate=1.0, retry_after_s=7)
    with pytest.raises((ccxt.DDoSProtection, ccxt.RateLimitExceeded)) as caught:
        client.fetch_ticker(BTC)
    assert client.last_http_response and "-1003" in client.last_http_response
    assert client.last_response_headers["Retry-After"] == "7"
    translated = translate_error(caught.value, exchange=client)
    assert isinstance(translated, errors.RateLimited) and translated.retry_after == 7.0


def test_weight_limit_counts_request_weight(sandbox, raw):
    sandbox.set_fault(weight_limit=10**9)
    status, headers, _ = raw("GET", "/api/v3/exchangeInfo")
    used = int(headers["X-MBX-USED-WEIGHT-1M"])
    sandbox.set_fault(weight_limit=used + 20)
    assert raw("GET", "/api/v3/exchangeInfo")[0] == 200
    status, headers, body = raw("GET", "/api/v3/exchangeInfo")
    assert status == 429 and body["code"] == -1003 and headers["Retry-After"]


def test_server_errors_are_exchange_not_available(sandbox):
    client = sandbox.client()
    client.load_markets()
    sandbox.set_fault(error_rate=1.0)
    with pytest.raises(ccxt.ExchangeNotAvailable) as caught:
        client.fetch_balance()
    translated = translate_error(caught.value, exchange=client)
    assert type(translated) is errors.VenueUnreachable
    assert "503" in str(translated) and "signature" not in str(translated) and "<html>" not in str(translated)


def test_timeout_raises_request_timeout_and_the_order_still_exists(sandbox, new_key):
    pair = new_key()
    client = sandbox.client(pair, timeout_ms=300)
    client.load_markets()
    sandbox.set_fault(pair.api_key, timeout_rate=1.0, hang_s=3)
    with pytest.raises(ccxt.RequestTimeout) as caught:
        client.create_order(BTC, "limit", "buy", 0.001, round(sandbox.price(BTC) * 0.8, 2), {"newClientOrderId": "lg-timeout-1"})
    assert isinstance(translate_error(caught.value, exchange=client), errors.VenueTimeout)
    sandbox.clear_faults(pair.api_key)
    assert client.fetch_order(None, BTC, {"clientOrderId": "lg-timeout-1"})["status"] == "open"


def test_latency_is_added(sandbox):
    client = sandbox.client()
    sandbox.set_fault(latency_ms=150)
    start = time.perf_counter()
    client.fetch_time()
    assert time.perf_counter() - start >= 0.15


def test_testnet_flavour_has_no_sapi(sandbox):
    from livegate.adapters.exchange.client import build_exchange

    sandbox.set_fault(testnet=True)
    with pytest.raises(ccxt.ExchangeNotAvailable, match="404"):
        sandbox.client("withdraw").sapiGetAccountApiRestrictions()
    pair = sandbox.keys["trader"]
    testnet = build_exchange("binance", testnet=True, base_url=sandbox.url, api_key=pair.api_key, secret=pair.secret,
                             rate_limit_ms=0)
    assert BTC in testnet.load_markets()
    assert testnet.fetch_balance()["USDT"]["total"] > 0
    with pytest.raises(ccxt.NotSupported):  # ccxt's testnet URLs have no sapi either
        testnet.sapiGetAccountApiRestrictions()


# -- async -----------------------------------------------------------------------------------------

def test_async_client_end_to_end(sandbox, new_key):
    pair = new_key()

    async def scenario():
        client = sandbox.client(pair, asynchronous=True)
        try:
            await client.load_markets()
            ticker, book, balance = await asyncio.gather(
                client.fetch_ticker(BTC), client.fetch_order_book(BTC), client.fetch_balance())
            assert ticker["last"] > 0 and book["bids"] and balance["USDT"]["free"] == 10_000
            far = round(ticker["last"] * 0.8, 2)
            orders = await asyncio.gather(*(client.create_order(BTC, "limit", "buy", 0.001, far) for _ in range(5)))
            assert len({o["id"] for o in orders}) == 5
            assert len(await client.fetch_open_orders(BTC)) == 5
            assert (await client.cancel_order(orders[0]["id"], BTC))["status"] == "canceled"
            assert len(await client.cancel_all_orders(BTC)) == 4
            filled = await client.create_order(BTC, "market", "sell", 0.01)
            assert filled["status"] == "closed"
            sandbox.set_fault(pair.api_key, rate_limit_rate=1.0)
            with pytest.raises((ccxt.DDoSProtection, ccxt.RateLimitExceeded)):
                await client.fetch_balance()
        finally:
            await client.close()

    asyncio.run(scenario())
