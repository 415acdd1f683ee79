"""Binance's SIGNED-request rules, over plain HTTP (urllib): key header, HMAC-SHA256 of query
string + body, timestamp within recvWindow, and the error codes and statuses Binance answers."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

ACCOUNT = "/api/v3/account"


@pytest.fixture
def trader(sandbox):
    return sandbox.keys["trader"]


def test_a_correctly_signed_request_is_served_with_its_weight(raw, trader):
    status, headers, body = raw("GET", ACCOUNT, {"recvWindow": 5000}, trader)
    assert status == 200 and body["accountType"] == "SPOT" and body["canTrade"] is True
    assert int(headers["X-MBX-USED-WEIGHT-1M"]) >= 20
    assert body["commissionRates"]["maker"] == "0.00100000"


def test_signature_covers_query_string_then_body(raw, trader, sandbox):
    price = f"{sandbox.price('BTC/USDT') * 0.8:.2f}"
    query = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT"}
    body = {"timeInForce": "GTC", "quantity": "0.001", "price": price, "timestamp": int(time.time() * 1000)}
    status, _, order = raw("POST", "/api/v3/order", query, trader, body_params=body)
    assert status == 200 and order["status"] == "NEW", order
    status, _, cancelled = raw("DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": order["orderId"]}, trader)
    assert status == 200 and cancelled["status"] == "CANCELED"


def test_signature_in_the_body_and_uppercase_hex_are_accepted(raw, trader, sandbox):
    import hashlib
    import hmac
    from urllib.parse import urlencode

    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001", "timestamp": int(time.time() * 1000)}
    assert raw("POST", "/api/v3/order/test", params, trader, in_body=True)[:3:2] == (200, {})
    signature = hmac.new(trader.secret.encode(), urlencode(params).encode(), hashlib.sha256).hexdigest().upper()
    assert raw("POST", "/api/v3/order/test", params, trader, signature=signature)[0] == 200


@pytest.mark.parametrize(
    "case, status, code",
    [
        ("tampered", 400, -1022),
        ("wrong_secret", 400, -1022),
        ("no_signature", 400, -1102),
        ("no_timestamp", 400, -1102),
        ("old_timestamp", 400, -1021),
        ("ahead_1500ms", 400, -1021),
        ("recv_window_too_large", 400, -1131),
        ("no_key_header", 401, -2014),
        ("unknown_key", 401, -2015),
        ("duplicate_param", 400, -1101),
    ],
)
def test_refusals(raw, trader, sandbox, case, status, code):
    now = int(time.time() * 1000)
    if case == "tampered":
        import hashlib
        import hmac

        good = hmac.new(trader.secret.encode(), f"timestamp={now}".encode(), hashlib.sha256).hexdigest()
        answer = raw("GET", ACCOUNT, {"omitZeroBalances": "true", "timestamp": now}, trader, signature=good)
    elif case == "wrong_secret":
        answer = raw("GET", ACCOUNT, {}, trader, secret="nope")
    elif case == "no_signature":
        answer = raw("GET", ACCOUNT + f"?timestamp={now}", None, None, header_key=trader.api_key)
    elif case == "no_timestamp":
        answer = raw("GET", ACCOUNT + "?recvWindow=5000&signature=00", None, None, header_key=trader.api_key)
    elif case == "old_timestamp":
        answer = raw("GET", ACCOUNT, {"recvWindow": 5000}, trader, timestamp=now - 6000)
    elif case == "ahead_1500ms":
        answer = raw("GET", ACCOUNT, {}, trader, timestamp=now + 1500)
    elif case == "recv_window_too_large":
        answer = raw("GET", ACCOUNT, {"recvWindow": 60_001}, trader)
    elif case == "no_key_header":
        answer = raw("GET", ACCOUNT + f"?timestamp={now}&signature=00", None, None)
    elif case == "unknown_key":
        answer = raw("GET", ACCOUNT, {}, type(trader)("nobody", "nothing"))
    else:
        answer = raw("GET", ACCOUNT + f"?timestamp={now}&timestamp={now}&signature=00", None, None, header_key=trader.api_key)
    got_status, headers, body = answer
    assert (got_status, body["code"]) == (status, code), body
    assert set(body) == {"code", "msg"} and body["msg"]


def test_recv_window_boundaries(raw, trader):
    now = int(time.time() * 1000)
    assert raw("GET", ACCOUNT, {"recvWindow": 60_000}, trader, timestamp=now - 50_000)[0] == 200
    assert raw("GET", ACCOUNT, {}, trader, timestamp=now + 500)[0] == 200
    assert raw("GET", ACCOUNT, {}, trader, timestamp=now - 4_000)[0] == 200  # default recvWindow 5000
    assert raw("GET", ACCOUNT, {}, trader, timestamp=now - 5_500)[2]["code"] == -1021


def test_public_endpoints_need_no_key(raw):
    assert raw("GET", "/api/v3/ping")[2] == {}
    assert raw("GET", "/api/v3/time")[2]["serverTime"] > 0
    status, _, body = raw("GET", "/api/v3/exchangeInfo", {"symbol": "NOPE"})
    assert (status, body["code"]) == (400, -1121)
    info = raw("GET", "/api/v3/exchangeInfo", {"symbols": '["ETHUSDT"]'})[2]
    filters = {f["filterType"] for f in info["symbols"][0]["filters"]}
    assert filters == {"PRICE_FILTER", "LOT_SIZE", "MIN_NOTIONAL", "NOTIONAL"}
    assert info["symbols"][0]["permissionSets"] == [["SPOT"]] and info["symbols"][0]["status"] == "TRADING"
    assert raw("GET", "/api/v3/nowhere")[0] == 404


def test_klines_follow_binance_rules(raw, sandbox):
    now = sandbox.venue.clock.market_ms()
    bar = now // 60_000 * 60_000
    latest = raw("GET", "/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1m", "limit": 3})[2]
    assert [k[0] for k in latest][-1] >= bar and len(latest) == 3
    assert latest[-1][6] == latest[-1][0] + 59_999
    mid = raw("GET", "/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1m", "startTime": bar - 10 * 60_000 + 1, "limit": 2})[2]
    assert [k[0] for k in mid] == [bar - 9 * 60_000, bar - 8 * 60_000]
    until = raw("GET", "/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1m", "endTime": bar - 5 * 60_000, "limit": 2})[2]
    assert [k[0] for k in until] == [bar - 6 * 60_000, bar - 5 * 60_000]
    assert len(raw("GET", "/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1m", "limit": 5000})[2]) == 1000
    assert raw("GET", "/api/v3/klines", {"symbol": "BTCUSDT", "interval": "7m"})[2]["code"] == -1120


def test_order_parameter_errors(raw, trader, sandbox):
    base = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001",
            "price": f"{sandbox.price('BTC/USDT') * 0.8:.2f}"}
    cases = [
        ({"timeInForce": None}, -1102), ({"side": "UP"}, -1117), ({"type": "ICEBERG"}, -1116),
        ({"type": "STOP_LOSS_LIMIT"}, -1102), ({"stopPrice": "100.00"}, -1106),
        ({"type": "STOP_LOSS_LIMIT", "stopPrice": "100.00", "timeInForce": None}, -1102),
        ({"type": "STOP_LOSS_LIMIT", "stopPrice": "100.001"}, -1013), ({"type": "STOP_LOSS_LIMIT", "stopPrice": "100.00"}, None),
        ({"type": "STOP_LOSS", "stopPrice": "100.00"}, -1106),
        ({"type": "TAKE_PROFIT", "stopPrice": "100000.00", "price": None, "timeInForce": None}, None),
        ({"quantity": "1e-3"}, -1100), ({"quantity": "0.000000001"}, -1111),
        ({"price": "12.345"}, -1013), ({"newClientOrderId": "has space"}, -1100), ({"timeInForce": "GTX"}, -1115),
        ({"type": "MARKET", "timeInForce": None, "price": None}, None), ({"type": "MARKET", "timeInForce": None}, -1106),
        ({"type": "LIMIT_MAKER", "timeInForce": None}, None),
    ]
    for change, code in cases:
        params = {k: v for k, v in {**base, **change}.items() if v is not None}
        status, _, body = raw("POST", "/api/v3/order/test", params, trader)  # validated, never matched
        assert (body.get("code") if status != 200 else None) == code, (change, body)
    taker = {**base, "type": "LIMIT_MAKER", "price": f"{sandbox.price('BTC/USDT') * 1.2:.2f}"}
    del taker["timeInForce"]
    status, _, body = raw("POST", "/api/v3/order", taker, trader)
    assert (status, body["msg"]) == (400, "Order would immediately match and take.")


def test_admin_api(sandbox, raw):
    def admin(method, action, payload=None):
        request = urllib.request.Request(f"{sandbox.url}/_sandbox/{action}", method=method,
                                         data=json.dumps(payload).encode() if payload is not None else None)
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    state = admin("GET", "state")
    assert set(state["prices"]) == {"BTCUSDT", "ETHUSDT"} and "sandbox-trader-key" in state["keys"]
    assert "secret" not in json.dumps(state).replace("sandbox-", "")
    admin("POST", "faults", {"api_key": "sandbox-trader-key", "rate_limit_rate": 1.0, "retry_after_s": 3})
    status, headers, _ = raw("GET", "/api/v3/time", header_key="sandbox-trader-key")
    assert status == 429 and headers["Retry-After"] == "3"
    assert raw("GET", "/api/v3/time")[0] == 200  # other callers unaffected
    admin("DELETE", "faults")
    admin("POST", "keys", {"api_key": "admin-made", "secret": "admin-secret", "balances": {"USDT": 5}})
    assert "admin-made" in admin("GET", "state")["keys"]
    before = admin("GET", "state")["market_time"]
    assert admin("POST", "advance", {"ms": 3_600_000})["market_time"] >= before + 3_600_000
