"""Binance spot REST endpoints: parameters in, Binance-shaped JSON out. Each route has a
security type (NONE, USER_STREAM, USER_DATA, TRADE) and a request weight, as in Binance's
documentation."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from livegate.adapters.sandbox.auth import ApiKey
from livegate.adapters.sandbox.errors import bad_request, illegal, mandatory, not_required
from livegate.adapters.sandbox.faults import Faults
from livegate.adapters.sandbox.market import DAY_MS, INTERVALS_MS, Market, fmt
from livegate.adapters.sandbox.matching import MARKET_STOPS, NOT_WORKING, STOP_TYPES, Order, Trade
from livegate.adapters.sandbox.venue import WEIGHT_LIMIT_1M, Venue

NONE, USER_STREAM, USER_DATA, TRADE = "NONE", "USER_STREAM", "USER_DATA", "TRADE"
DECIMAL_RE = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
DECIMAL_RANGE = r"^([0-9]{1,20})(\.[0-9]{1,20})?$"
CLIENT_ID_RE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
CLIENT_ID_RANGE = r"^[\.A-Z\:/a-z0-9_-]{1,36}$"
ORDER_TYPES = ("LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
LIMIT_TYPES = frozenset({"LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})  # timeInForce mandatory
MAX_LOOKUP_MS = 86_400_000  # allOrders: at most 24 hours between startTime and endTime


@dataclass(slots=True)
class Call:
    """One request as a handler sees it."""

    venue: Venue
    params: dict[str, str]
    key: ApiKey | None
    faults: Faults
    server_ms: int


@dataclass(frozen=True)
class Route:
    handler: Callable[[Call], object]
    security: str
    weight: Callable[[dict], int]


# -- parameters ----------------------------------------------------------------------------------

def _decimal(params: dict, name: str) -> Decimal | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not DECIMAL_RE.match(raw):
        raise illegal(name, DECIMAL_RANGE)
    if len(raw.partition(".")[2].rstrip("0")) > 8:
        raise bad_request(-1111, "Precision is over the maximum defined for this asset.")
    return Decimal(raw)


def _int(params: dict, name: str, default: int | None = None) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise illegal(name, "^[0-9]{1,20}$") from None


def _markets(call: Call) -> list[Market]:
    """The markets named by `symbol` or `symbols` (a JSON array), or all of them."""
    venue, params = call.venue, call.params
    if params.get("symbol"):
        return [venue.market(params["symbol"])]
    if params.get("symbols"):
        try:
            names = json.loads(params["symbols"])
        except ValueError:
            raise illegal("symbols", "JSON array of symbols") from None
        return [venue.market(name) for name in names]
    return list(venue.markets.values())


def _one_or_all(call: Call, render: Callable[[Market, int], dict]):
    now = call.venue.clock.market_ms()
    rows = [render(m, now) for m in _markets(call)]
    return rows[0] if call.params.get("symbol") else rows


def _many(params: dict, one: int, all_: int) -> int:
    return one if params.get("symbol") else all_


# -- market data ---------------------------------------------------------------------------------

def ping(call: Call):
    return {}


def server_time(call: Call):
    return {"serverTime": call.server_ms}


def exchange_info(call: Call):
    return {
        "timezone": "UTC", "serverTime": call.server_ms,
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": WEIGHT_LIMIT_1M},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
            {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
        ],
        "exchangeFilters": [],
        "symbols": [_symbol_info(m) for m in _markets(call)],
    }


def _symbol_info(market: Market) -> dict:
    spec = market.spec
    return {
        "symbol": spec.id, "status": "TRADING", "baseAsset": spec.base, "baseAssetPrecision": 8,
        "quoteAsset": spec.quote, "quotePrecision": 8, "quoteAssetPrecision": 8, "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8, "orderTypes": list(ORDER_TYPES), "icebergAllowed": False,
        "ocoAllowed": False, "otoAllowed": False, "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": False,
        "cancelReplaceAllowed": False, "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
        "filters": spec.exchange_filters(), "permissions": [], "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def _price(market: Market, x: float) -> str:
    return fmt(market.round_price(x))


def ticker_price(call: Call):
    return _one_or_all(call, lambda m, now: {"symbol": m.spec.id, "price": _price(m, m.path.price(now))})


def _top(market: Market, now: int) -> dict:
    (bid, bid_qty), (ask, ask_qty) = next(market.levels("bids", now, 1)), next(market.levels("asks", now, 1))
    return {"bidPrice": fmt(bid), "bidQty": fmt(bid_qty), "askPrice": fmt(ask), "askQty": fmt(ask_qty)}


def book_ticker(call: Call):
    return _one_or_all(call, lambda m, now: {"symbol": m.spec.id, **_top(m, now)})


def ticker_24hr(call: Call):
    def render(m: Market, now: int) -> dict:
        open_, high, low, volume = m.path.window(now, DAY_MS)
        last = m.path.price(now)
        top = _top(m, now)
        return {
            "symbol": m.spec.id, "priceChange": _price(m, last - open_),
            "priceChangePercent": f"{100 * (last - open_) / open_:.3f}", "weightedAvgPrice": _price(m, (high + low + last) / 3),
            "prevClosePrice": _price(m, open_), "lastPrice": _price(m, last), "lastQty": fmt(m.step),
            "bidPrice": top["bidPrice"], "bidQty": top["bidQty"], "askPrice": top["askPrice"], "askQty": top["askQty"],
            "openPrice": _price(m, open_), "highPrice": _price(m, high), "lowPrice": _price(m, low),
            "volume": fmt(volume), "quoteVolume": fmt(volume * last), "openTime": now - DAY_MS, "closeTime": now,
            "firstId": 0, "lastId": int(volume), "count": int(volume) + 1,
        }

    return _one_or_all(call, render)


def avg_price(call: Call):
    market = call.venue.market(call.params.get("symbol"))
    now = call.venue.clock.market_ms()
    return {"mins": 5, "price": _price(market, market.path.price(now)), "closeTime": now}


def depth(call: Call):
    market = call.venue.market(call.params.get("symbol"))
    limit = min(max(_int(call.params, "limit", 100), 1), 5000)
    now = call.venue.clock.market_ms()
    return {
        "lastUpdateId": now // 100,
        "bids": [[fmt(p), fmt(q)] for p, q in market.levels("bids", now, limit)],
        "asks": [[fmt(p), fmt(q)] for p, q in market.levels("asks", now, limit)],
    }


def _depth_weight(params: dict) -> int:
    limit = _int(params, "limit", 100) or 100
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


def klines(call: Call):
    params = call.params
    market = call.venue.market(params.get("symbol"))
    if not params.get("interval"):
        raise mandatory("interval")
    interval = INTERVALS_MS.get(params["interval"])
    if interval is None or interval % market.path.tf:
        raise bad_request(-1120, "Invalid interval.")
    limit = min(max(_int(params, "limit", 500), 1), 1000)
    rows = market.path.klines(interval, call.venue.clock.market_ms(), _int(params, "startTime"),
                              _int(params, "endTime"), limit)
    return [
        [t, _price(market, o), _price(market, h), _price(market, lo), _price(market, c), fmt(v), t + interval - 1,
         fmt(qv), int(v) + 1, fmt(v / 2), fmt(qv / 2), "0"]
        for t, o, h, lo, c, v, qv in rows
    ]


# -- orders --------------------------------------------------------------------------------------

def _order_common(order: Order) -> dict:
    return {
        "symbol": order.symbol, "orderId": order.order_id, "orderListId": -1, "clientOrderId": order.client_id,
        "price": fmt(order.price), "origQty": fmt(order.orig_qty), "executedQty": fmt(order.executed),
        "origQuoteOrderQty": fmt(order.orig_quote_qty), "cummulativeQuoteQty": fmt(order.cum_quote),
        "status": order.status, "timeInForce": order.tif, "type": order.type, "side": order.side,
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }


def order_json(order: Order) -> dict:
    """An order as GET /api/v3/order shows it (an untriggered stop: not working, workingTime -1)."""
    return {**_order_common(order), "stopPrice": fmt(order.stop_price), "icebergQty": "0.00000000",
            "time": order.time, "updateTime": order.update_time, "isWorking": order.working_time != NOT_WORKING,
            "workingTime": order.working_time}


def _fill_json(trade: Trade) -> dict:
    return {"price": fmt(trade.price), "qty": fmt(trade.qty), "commission": fmt(trade.commission),
            "commissionAsset": trade.commission_asset, "tradeId": trade.id}


class OrderParams(NamedTuple):
    """A new order's parameters, checked as Binance checks them before any filter."""

    side: str  # BUY | SELL
    type: str  # one of ORDER_TYPES
    tif: str | None
    price: Decimal | None
    qty: Decimal | None
    quote_qty: Decimal | None
    stop: Decimal | None
    client_id: str | None


def order_params(params: dict) -> OrderParams:
    """The parameter rules of POST /api/v3/order (mandatory, not required, legal values, > 0,
    the client id's range): the emulator's and livegate's bot gateway's one rulebook. Raises
    Binance's error."""
    for name in ("side", "type"):
        if not params.get(name):
            raise mandatory(name)
    side, type_ = params["side"], params["type"]
    if side not in ("BUY", "SELL"):
        raise bad_request(-1117, "Invalid side.")
    if type_ not in ORDER_TYPES:
        raise bad_request(-1116, "Invalid orderType.")
    price, qty, quote_qty = _decimal(params, "price"), _decimal(params, "quantity"), _decimal(params, "quoteOrderQty")
    stop = _decimal(params, "stopPrice")
    tif = params.get("timeInForce")
    if type_ in STOP_TYPES:
        if stop is None:
            raise mandatory("stopPrice")
    elif stop is not None:
        raise not_required("stopPrice")
    if type_ == "MARKET":
        for name, value in (("price", price), ("timeInForce", tif)):
            if value is not None:
                raise not_required(name)
        if (qty is None) == (quote_qty is None):
            raise bad_request(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"
                              if qty is None else "Parameter 'quoteOrderQty' sent when not required.")
    elif type_ in MARKET_STOPS:
        for name, value in (("price", price), ("timeInForce", tif), ("quoteOrderQty", quote_qty)):
            if value is not None:
                raise not_required(name)
        if qty is None:
            raise mandatory("quantity")
    else:
        if price is None:
            raise mandatory("price")
        if qty is None:
            raise mandatory("quantity")
        if quote_qty is not None:
            raise not_required("quoteOrderQty")
        if type_ in LIMIT_TYPES and tif is None:
            raise mandatory("timeInForce")
        if type_ == "LIMIT_MAKER" and tif is not None:
            raise not_required("timeInForce")
        if tif is not None and tif not in ("GTC", "IOC", "FOK"):
            raise bad_request(-1115, "Invalid timeInForce.")
    for name, value in (("price", price), ("stopPrice", stop), ("quantity", qty), ("quoteOrderQty", quote_qty)):
        if value is not None and value <= 0:
            raise bad_request(-1013, "Invalid price." if name in ("price", "stopPrice") else "Invalid quantity.")
    client_id = params.get("newClientOrderId")
    if client_id is not None and not CLIENT_ID_RE.match(client_id):
        raise illegal("newClientOrderId", CLIENT_ID_RANGE)
    return OrderParams(side, type_, tif, price, qty, quote_qty, stop, client_id)


def _parse_order(call: Call) -> tuple:
    """Validate a new order's parameters and filters; returns what the engine needs."""
    params = call.params
    market = call.venue.market(params.get("symbol"))
    side, type_, tif, price, qty, quote_qty, stop, client_id = order_params(params)
    spec = market.spec
    if type_ == "MARKET":
        reference = Decimal(repr(market.path.price(call.venue.clock.market_ms())))
        spec.check_filters(None, qty, quote_qty if quote_qty is not None else qty * reference, True)
    elif type_ in MARKET_STOPS:
        spec.check_filters(stop, qty, qty * stop, True)
    else:
        spec.check_filters(price, qty, price * qty, False)
        if stop is not None:
            spec.check_filters(stop, None, price * qty, False)
    return (market, side, type_, tif or "GTC", _float(price), _float(qty), _float(quote_qty), client_id,
            _float(stop))


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


_client_ids = itertools.count(1)


def _new_client_id() -> str:
    return f"sandbox{next(_client_ids):024d}"


def new_order(call: Call):
    market, side, type_, tif, price, qty, quote_qty, client_id, stop = _parse_order(call)
    kind = call.params.get("newOrderRespType") or ("FULL" if type_ in ("MARKET", "LIMIT") else "ACK")
    if kind not in ("ACK", "RESULT", "FULL"):
        raise illegal("newOrderRespType", "ACK, RESULT, FULL")
    account = call.venue.account_of(call.key)
    order, fills = call.venue.engine.place(account, market, side, type_, tif, price, qty, quote_qty,
                                           client_id or _new_client_id(), call.faults, stop)
    ack = {"symbol": order.symbol, "orderId": order.order_id, "orderListId": -1, "clientOrderId": order.client_id,
           "transactTime": order.time}
    if kind == "ACK":
        return ack
    result = {**ack, **_order_common(order), "workingTime": order.working_time}
    if order.is_stop:
        result["stopPrice"] = fmt(order.stop_price)
    if kind == "FULL":
        result["fills"] = [_fill_json(t) for t in fills]
    return result


def test_order(call: Call):
    _parse_order(call)
    return {}


def _order_ref(call: Call) -> tuple[Market, int | None, str | None]:
    market = call.venue.market(call.params.get("symbol"))
    return market, _int(call.params, "orderId"), call.params.get("origClientOrderId")


def get_order(call: Call):
    market, order_id, client_id = _order_ref(call)
    engine = call.venue.engine
    engine.sync(market.spec.id)
    return order_json(engine.find(call.venue.account_of(call.key), market.spec.id, order_id, client_id))


def _cancel_json(order: Order, params: dict) -> dict:
    return {**_order_common(order), "origClientOrderId": order.client_id,
            "clientOrderId": params.get("newClientOrderId") or _new_client_id(), "transactTime": order.update_time}


def cancel_order(call: Call):
    market, order_id, client_id = _order_ref(call)
    order = call.venue.engine.cancel(call.venue.account_of(call.key), market.spec.id, order_id, client_id)
    return _cancel_json(order, call.params)


def open_orders(call: Call):
    symbol = call.params.get("symbol")
    if symbol:
        call.venue.market(symbol)
    return [order_json(o) for o in call.venue.engine.open_orders(call.venue.account_of(call.key), symbol)]


def all_orders(call: Call):
    params = call.params
    if not params.get("symbol"):
        raise mandatory("symbol")
    market = call.venue.market(params.get("symbol"))
    start, end = _int(params, "startTime"), _int(params, "endTime")
    if start is not None and end is not None and end - start > MAX_LOOKUP_MS:
        raise bad_request(-1127, "More than 24 hours between startTime and endTime.")
    limit = min(max(_int(params, "limit", 500), 1), 1000)
    orders = call.venue.engine.all_orders(call.venue.account_of(call.key), market.spec.id, _int(params, "orderId"),
                                          start, end, limit)
    return [order_json(o) for o in orders]


def cancel_open_orders(call: Call):
    market = call.venue.market(call.params.get("symbol"))
    orders = call.venue.engine.cancel_all(call.venue.account_of(call.key), market.spec.id)
    return [_cancel_json(o, {}) for o in orders]


# -- account -------------------------------------------------------------------------------------

def account(call: Call):
    venue, key = call.venue, call.key
    acct = venue.account_of(key)
    venue.engine.sync()
    omit_zero = call.params.get("omitZeroBalances") == "true"
    balances = [{"asset": a, "free": fmt(max(free, 0.0)), "locked": fmt(max(locked, 0.0))}
                for a, (free, locked) in sorted(acct.balances.items()) if not (omit_zero and free <= 0 and locked <= 0)]
    maker, taker = venue.engine.maker_fee, venue.engine.taker_fee
    return {
        "makerCommission": round(maker * 1e4), "takerCommission": round(taker * 1e4), "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {"maker": fmt(maker), "taker": fmt(taker), "buyer": fmt(0), "seller": fmt(0)},
        "canTrade": key.can_trade, "canWithdraw": acct.can_withdraw, "canDeposit": True, "brokered": False,
        "requireSelfTradePrevention": False, "preventSor": False, "updateTime": acct.update_time,
        "accountType": "SPOT", "balances": balances, "permissions": ["SPOT"], "uid": venue.uid(acct),
    }


def my_trades(call: Call):
    params = call.params
    market = call.venue.market(params.get("symbol"))
    trades = call.venue.engine.my_trades(
        call.venue.account_of(call.key), market.spec.id, _int(params, "orderId"), _int(params, "startTime"),
        _int(params, "endTime"), _int(params, "fromId"), min(_int(params, "limit", 500), 1000))
    return [{
        "symbol": t.symbol, "id": t.id, "orderId": t.order_id, "orderListId": -1, "price": fmt(t.price),
        "qty": fmt(t.qty), "quoteQty": fmt(t.price * t.qty), "commission": fmt(t.commission),
        "commissionAsset": t.commission_asset, "time": t.time, "isBuyer": t.is_buyer, "isMaker": t.is_maker,
        "isBestMatch": True,
    } for t in trades]


# -- user data stream (USER_STREAM: the API key, no signature) -----------------------------------

def new_listen_key(call: Call):
    return {"listenKey": call.venue.listen_keys.open(call.key.account, call.server_ms)}


def keep_alive_listen_key(call: Call):
    call.venue.listen_keys.keep_alive(call.params.get("listenKey"), call.server_ms)
    return {}


def close_listen_key(call: Call):
    call.venue.listen_keys.close(call.params.get("listenKey"), call.server_ms)
    return {}


def api_restrictions(call: Call):
    return call.key.restrictions()


def trade_fee(call: Call):
    engine = call.venue.engine
    return [{"symbol": m.spec.id, "makerCommission": str(engine.maker_fee), "takerCommission": str(engine.taker_fee)}
            for m in _markets(call)]


def system_status(call: Call):
    return {"status": 0, "msg": "normal"}


def _w(n: int) -> Callable[[dict], int]:
    return lambda params: n


ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/api/v3/ping"): Route(ping, NONE, _w(1)),
    ("GET", "/api/v3/time"): Route(server_time, NONE, _w(1)),
    ("GET", "/api/v3/exchangeInfo"): Route(exchange_info, NONE, _w(20)),
    ("GET", "/api/v3/ticker/price"): Route(ticker_price, NONE, lambda p: _many(p, 2, 4)),
    ("GET", "/api/v3/ticker/24hr"): Route(ticker_24hr, NONE, lambda p: _many(p, 2, 80)),
    ("GET", "/api/v3/ticker"): Route(ticker_24hr, NONE, lambda p: _many(p, 4, 80)),
    ("GET", "/api/v3/ticker/bookTicker"): Route(book_ticker, NONE, lambda p: _many(p, 2, 4)),
    ("GET", "/api/v3/avgPrice"): Route(avg_price, NONE, _w(2)),
    ("GET", "/api/v3/depth"): Route(depth, NONE, _depth_weight),
    ("GET", "/api/v3/klines"): Route(klines, NONE, _w(2)),
    ("POST", "/api/v3/order"): Route(new_order, TRADE, _w(1)),
    ("POST", "/api/v3/order/test"): Route(test_order, TRADE, _w(1)),
    ("GET", "/api/v3/order"): Route(get_order, USER_DATA, _w(4)),
    ("DELETE", "/api/v3/order"): Route(cancel_order, TRADE, _w(1)),
    ("GET", "/api/v3/openOrders"): Route(open_orders, USER_DATA, lambda p: _many(p, 6, 80)),
    ("GET", "/api/v3/allOrders"): Route(all_orders, USER_DATA, _w(20)),
    ("DELETE", "/api/v3/openOrders"): Route(cancel_open_orders, TRADE, _w(1)),
    ("GET", "/api/v3/account"): Route(account, USER_DATA, _w(20)),
    ("GET", "/api/v3/myTrades"): Route(my_trades, USER_DATA, _w(20)),
    ("POST", "/api/v3/userDataStream"): Route(new_listen_key, USER_STREAM, _w(2)),
    ("PUT", "/api/v3/userDataStream"): Route(keep_alive_listen_key, USER_STREAM, _w(2)),
    ("DELETE", "/api/v3/userDataStream"): Route(close_listen_key, USER_STREAM, _w(2)),
    ("GET", "/sapi/v1/account/apiRestrictions"): Route(api_restrictions, USER_DATA, _w(1)),
    ("GET", "/sapi/v1/asset/tradeFee"): Route(trade_fee, USER_DATA, _w(1)),
    ("GET", "/sapi/v1/system/status"): Route(system_status, NONE, _w(1)),
}
