"""A trader's own bot behind livegate: its orders through the one order gateway, its reads and
cancels forwarded to the venue with livegate's key, its fills recorded as they happen.

`BotDesk` is what the HTTP gateway (`adapters/gateway/server.py`) hands requests to. Every order
the bot sends becomes an `OrderIntent` submitted to the same `OrderGateway` livegate's own
strategy uses — halt and mode, breakers, risk guardian, stage cap, MAX_TRADE_AMOUNT, approvals,
the id journaled before the order is sent and never sent twice — with the bot's
`newClientOrderId` kept as the venue's client order id, so the bot finds its own order. A
refusal reaches the bot as Binance's rejected-order error (400, -2010) whose message starts
with `livegate:` and names the rule. Cancels and reads are never refused for a halt.

All access to the order gateway, the executor and the ccxt client goes through one lock: the
live loop (bars, fills, checkpoints) holds it too, so the bot's orders and the loop never
interleave inside the engine."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from livegate.adapters.gateway.server import GatewayServer, GatewayThread
from livegate.adapters.gateway.upstream import forward, venue_error
from livegate.adapters.sandbox.auth import LOOPBACK, ApiKey
from livegate.adapters.sandbox.errors import ApiError, bad_request, mandatory
from livegate.adapters.sandbox.rest import order_params
from livegate.core.errors import LedgerError, LivegateError, UsageError, VenueUnreachable
from livegate.core.orders import BUY, LIMIT, MARKET, SELL, STOP_LOSS_LIMIT, TAKE_PROFIT_LIMIT, OrderIntent
from livegate.core.redact import register_secret

ORIGIN = "bot"
SUPPORTED = {"MARKET": MARKET, "LIMIT": LIMIT, "STOP_LOSS_LIMIT": STOP_LOSS_LIMIT, "TAKE_PROFIT_LIMIT": TAKE_PROFIT_LIMIT}
MAX_DECIMAL = Decimal("1e15")  # no market trades or prices more than this
KEYS_FILE = "gateway-keys.json"
BOT_WEIGHT_SHARE = 0.8  # the bot's requests stop (429 from the gateway) once the venue reports this share of its minute's weight
MARKET_DATA_TTL_S = 1.0  # public market data is served from the gateway's cache for this long
SLOW_MARKET_DATA = {"/api/v3/exchangeInfo": 60.0}  # what changes rarely is kept longer
QUOTE_MAX_AGE_S = 0.5  # a market order's reference price (its slippage is measured from it): the touch at most this old


# -- the bot's key -------------------------------------------------------------------------------

@dataclass(frozen=True)
class BotKey:
    api_key: str
    secret: str

    @property
    def key_id(self) -> str:
        """A name for the key that gives nothing of it away (ledger, status)."""
        return hashlib.sha256(self.api_key.encode()).hexdigest()[:12]

    def api_key_object(self, loopback_only: bool) -> ApiKey:
        return ApiKey(self.api_key, self.secret, account="bot", ip_restrict=loopback_only)


def keys_path(state_dir: Path) -> Path:
    return state_dir / KEYS_FILE


def load_bot_key(state_dir: Path) -> BotKey | None:
    """The workspace's gateway key (`.livegate/gateway-keys.json`, outside the ledger), or None."""
    path = keys_path(state_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        key = BotKey(str(data["api_key"]), str(data["secret"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path}: not a gateway key file ({type(exc).__name__}); `livegate gateway key --new` writes a new one") from None
    register_secret(key.api_key)
    register_secret(key.secret)
    return key


def issue_bot_key(state_dir: Path) -> BotKey:
    """A new gateway key and secret, written with owner-only permissions (replacing any other)."""
    key = BotKey("lg" + secrets.token_hex(31), secrets.token_hex(32))
    state_dir.mkdir(parents=True, exist_ok=True)
    path = keys_path(state_dir)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"api_key": key.api_key, "secret": key.secret, "created_ms": int(time.time() * 1000)}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    register_secret(key.api_key)
    register_secret(key.secret)
    return key


# -- the desk ------------------------------------------------------------------------------------

def _bounded(name: str, value: Decimal | None) -> float | None:
    """A checked decimal as the float the order gateway takes; one too large for any market is
    refused here (Binance's filters would; the gateway checks a venue's own filters later)."""
    if value is None:
        return None
    if value > MAX_DECIMAL:
        raise bad_request(-1013, "Invalid price." if name in ("price", "stopPrice") else "Invalid quantity.")
    return float(value)


@dataclass(frozen=True)
class NewOrder:
    symbol: str  # ccxt's (BTC/USDT)
    side: str
    type: str
    amount: float | None
    quote_amount: float | None
    price: float | None
    client_id: str | None
    stop_price: float | None = None


class BotDesk:
    """The gateway's side inside livegate. `gateway`: the OrderGateway (its executor the ccxt
    executor on `client`); `symbols`: the venue's symbol ids the bot may trade → ccxt symbols;
    `clock()`: seconds (the ledger's clock); `lock`: shared with the loop that owns the engine."""

    def __init__(self, gateway: Any, client: Any, symbols: dict[str, str], clock: Callable[[], float],
                 lock: threading.RLock, is_open: Callable[[], bool] = lambda: True,
                 busy_for: Callable[[], float | None] = lambda: None):
        self.gateway, self.client, self.symbols, self.clock, self.lock = gateway, client, symbols, clock, lock
        self.executor = gateway.executor
        self.is_open, self.busy_for = is_open, busy_for
        self.refusals = 0  # requests answered with an error here (counted, never forwarded)
        self._refused: Counter[str] = Counter()  # since the last `take_refusals`: "status code" → how many
        self._refused_lock = threading.Lock()
        self.cache: dict[tuple, tuple[float, Any]] = {}  # public market data: (path, params) → (until, body)
        self.cache_hits = 0
        if hasattr(self.executor, "quote_max_age_s"):  # a bot orders faster than books need asking
            self.executor.quote_max_age_s = QUOTE_MAX_AGE_S

    # -- Desk protocol ---------------------------------------------------------------------------

    def server_ms(self) -> int:
        return int(time.time() * 1000)

    def refused(self, method: str, path: str, status: int, code: int) -> None:
        with self._refused_lock:
            self.refusals += 1
            self._refused[f"{status} {code}"] += 1

    def take_refusals(self) -> dict[str, int]:
        """The refusals counted since the last call (by HTTP status and Binance code), and reset."""
        with self._refused_lock:
            taken, self._refused = dict(self._refused), Counter()
        return taken

    def place(self, params: dict[str, str]) -> Any:
        order = self.parse(params)
        self._spare_the_key()
        intent = OrderIntent(order.symbol, order.side, amount=order.amount, quote_amount=order.quote_amount,
                             type=order.type, price=order.price, reason="bot order", stop_price=order.stop_price)
        with self.lock:
            if not self.is_open():
                raise bad_request(-2010, "livegate: the stage has stopped; no order is taken until it runs again")
            try:
                self._know_price(order.symbol)
                with self._grouped():  # the order's events in two ledger writes: before it is sent; after its answer, without waiting
                    decision = self.gateway.submit(intent, int(self.clock() * 1000), origin=ORIGIN, client_id=order.client_id)
            except VenueUnreachable as exc:
                raise ApiError(503, -1001, f"livegate: {exc}") from None
            except LivegateError as exc:
                raise ApiError(503, -1001, f"livegate: the order was not sent: {exc}") from None
            if not decision.accepted:
                raise bad_request(-2010, "livegate: " + "; ".join(f"{b.rule}: {b.message}" for b in decision.blocks))
            tracked = self.executor.tracked.get(decision.order.client_id)
            return dict(tracked.info) if tracked is not None and tracked.info else self._order(params["symbol"], decision.order.client_id)

    def cancel(self, params: dict[str, str]) -> Any:
        return self._cancel("/api/v3/order", params)

    def cancel_open(self, params: dict[str, str]) -> Any:
        return self._cancel("/api/v3/openOrders", params)

    def _cancel(self, path: str, params: dict[str, str]) -> Any:
        """A cancel, forwarded whatever the halt says; then the fills it revealed are applied."""
        self._symbol(params)
        with self.lock:
            answer = forward(self.client, "DELETE", path, params, True)
            self._settle()
            return answer

    def forward(self, method: str, path: str, params: dict[str, str], signed: bool) -> Any:
        """A read: public market data from the cache while it is fresh (many bots, one venue
        weight), everything else from the venue — unless the venue's minute of request weight is
        nearly used up, when the bot gets a 429 from here rather than the real key a ban there."""
        key = (path, tuple(sorted(params.items()))) if not signed and method == "GET" else None
        now = time.monotonic()
        if key is not None:
            hit = self.cache.get(key)
            if hit is not None and hit[0] > now:
                self.cache_hits += 1
                return hit[1]
        self._spare_the_key()
        with self.lock:
            body = forward(self.client, method, path, params, signed)
        if key is not None:
            if len(self.cache) > 1000:
                self.cache = {k: v for k, v in self.cache.items() if v[0] > now}
            self.cache[key] = (now + SLOW_MARKET_DATA.get(path, MARKET_DATA_TTL_S), body)
        return body

    # -- parts -----------------------------------------------------------------------------------

    def parse(self, params: dict[str, str]) -> NewOrder:
        """A new order's parameters as Binance checks them (the emulator's rulebook), then what the
        gateway does not place — other order types, IOC/FOK, a protective buy — refused naming why."""
        symbol = self._symbol(params)
        p = order_params(params)
        if p.type not in SUPPORTED:
            raise bad_request(-1014, f"livegate: {p.type} orders are not placed through the gateway "
                                     "(MARKET, LIMIT, STOP_LOSS_LIMIT and TAKE_PROFIT_LIMIT are)")
        if p.type in ("STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT") and p.side != "SELL":
            raise bad_request(-2010, f"livegate: a {p.type} through the gateway protects a position: a SELL that reduces it")
        if p.tif not in (None, "GTC"):
            raise bad_request(-1014, f"livegate: timeInForce {p.tif} is not placed through the gateway yet (GTC is)")
        price, qty, quote, stop = (_bounded(name, value) for name, value in
                                   (("price", p.price), ("quantity", p.qty), ("quoteOrderQty", p.quote_qty), ("stopPrice", p.stop)))
        return NewOrder(symbol, BUY if p.side == "BUY" else SELL, SUPPORTED[p.type], qty, quote, price, p.client_id or None, stop)

    def _know_price(self, symbol: str) -> None:
        """The guardian values an order at the account's last price of its symbol: before the
        loop's first bar of it, that is the venue's last trade price."""
        prices = self.gateway.account.last_price
        if symbol not in prices:
            try:
                prices[symbol] = float(self.client.fetch_ticker(symbol)["last"])
            except Exception as exc:  # noqa: BLE001 - the venue's answer, as the bot would get it
                raise venue_error(self.client, exc) from None

    def _grouped(self) -> Any:
        grouped = getattr(self.gateway.journal, "grouped", None)
        return grouped(wait_at_end=False) if grouped is not None else contextlib.nullcontext()

    def after_answer(self) -> None:
        """What an order left to write once its answer is on its way to the bot: the events of the
        answer (acknowledged, fills, trade), in one ledger write. The gateway calls it when no other
        order waits; else the next order writes them first, in its own write before it is sent. A
        write that fails here is kept waiting and fails that next write (its order is not sent)."""
        write = getattr(self.gateway.journal, "write_waiting", None)
        if write is not None:
            with contextlib.suppress(LedgerError):
                write()

    def _spare_the_key(self) -> None:
        wait = self.busy_for()
        if wait is not None:
            seconds = max(1, math.ceil(wait))
            raise ApiError(429, -1003, f"livegate: the venue's request weight for this minute is nearly used up; retry after {seconds} s",
                           {"Retry-After": str(seconds)})

    def _symbol(self, params: dict[str, str]) -> str:
        raw = params.get("symbol")
        if not raw:
            raise mandatory("symbol")
        symbol = self.symbols.get(raw)
        if symbol is None:
            raise bad_request(-1121, "Invalid symbol.")
        return symbol

    def _order(self, symbol_id: str, client_id: str) -> Any:
        try:
            return self.client.request("order", ["private"], "GET", {"symbol": symbol_id, "origClientOrderId": client_id})
        except Exception as exc:  # noqa: BLE001 - the venue's answer, as the bot would get it
            raise venue_error(self.client, exc) from None

    def _settle(self) -> None:
        """The fills a cancel revealed (or any since the last poll), recorded and applied now."""
        if self.executor.pending:
            self.gateway.settle(self.executor.poll(), int(self.clock() * 1000))


def symbol_ids(markets: dict[str, dict], symbols: list[str]) -> dict[str, str]:
    """The venue's ids (BTCUSDT) of the configured ccxt symbols (BTC/USDT)."""
    return {str(markets[s]["id"]): s for s in symbols if s in markets}


class ExternalBot:
    """The strategy of a `bot: external` workspace: it decides nothing — the bot's orders come
    through the gateway — while the engine still marks equity, runs the breakers and settles fills."""

    name = "external bot"

    def on_bar(self, bar: Any, ctx: Any) -> None:
        return None


@dataclass
class Served:
    """A running bot gateway: stop it with `stop()`; `info` is what the bot needs to reach it."""

    thread: Any
    desk: BotDesk
    info: dict

    def stop(self) -> None:
        self.thread.stop()

    def record_refusals(self, journal: Any) -> None:
        """Journal how many of the bot's requests the gateway refused since the last call, by
        status and code (`gateway_refused`) — counted, never their content."""
        counts = self.desk.take_refusals()
        if counts:
            journal.emit("gateway_refused", {"counts": counts, "total": sum(counts.values())})


def serve_bot(state_dir: Path, gateway: Any, client: Any, symbols: list[str], *, step: str, clock: Callable[[], float],
              lock: threading.RLock, journal: Any, host: str = "127.0.0.1", port: int = 0,
              is_open: Callable[[], bool] = lambda: True, busy_for: Callable[[], float | None] = lambda: None,
              desk_class: type[BotDesk] = BotDesk) -> Served:
    """Start the Binance-compatible gateway for the workspace's own bot in front of `gateway` (an
    OrderGateway whose executor trades on `client`), for the ccxt `symbols`. The bot signs with
    the workspace's gateway key (`livegate gateway key`); `gateway_started` is journaled (the
    URL and the key's id, never the key)."""
    key = load_bot_key(state_dir)
    if key is None:
        raise UsageError("bot: external needs a gateway key for your bot: run `livegate gateway key` first")
    ids = symbol_ids(client.markets, symbols)
    ledger = getattr(journal, "ledger", None)  # the ledger the bot's orders are journaled to
    if hasattr(ledger, "checkpoint_in_background"):  # its file syncs off the orders' path
        ledger.checkpoint_in_background()
    desk = desk_class(gateway, client, ids, clock, lock, is_open=is_open, busy_for=busy_for)
    thread = GatewayThread(GatewayServer(desk, {key.api_key: key.api_key_object(loopback_only=host in LOOPBACK)}, host=host, port=port))
    url = thread.start()
    journal.emit("gateway_started", {"gateway_url": url, "key_id": key.key_id, "venue": client.id, "step": step})
    info = {"gateway_url": url, "api_key": key.api_key, "secret": key.secret, "step": step, "venue": client.id,
            "symbols": sorted(ids)}
    return Served(thread, desk, info)


# -- paper: the bot's orders filled by the paper simulator ---------------------------------------

def _num(value: float) -> str:
    return f"{value:.8f}"


@dataclass
class PaperOrder:
    order_id: int
    symbol_id: str
    order: Any  # the core Order (the simulator updates `filled` and `status`)
    time_ms: int
    quote_filled: float = 0.0
    update_ms: int = 0


class PaperDesk(BotDesk):
    """`bot: external` in a paper run: the bot's orders go through the same order gateway, and
    the paper simulator fills them from the live market (book walk, fees, the exchange's
    filters). The bot's account, orders and trades are answered here, from the paper account —
    never from the venue, where nothing is traded; market data is the venue's."""

    ACCOUNT_ROUTES = {"/api/v3/account", "/api/v3/order", "/api/v3/openOrders", "/api/v3/allOrders", "/api/v3/myTrades"}

    def __init__(self, gateway: Any, client: Any, symbols: dict[str, str], clock: Callable[[], float], lock: threading.RLock,
                 **kwargs: Any):
        super().__init__(gateway, client, symbols, clock, lock, **kwargs)
        self.orders: dict[str, PaperOrder] = {}  # by client id
        self.by_id: dict[int, PaperOrder] = {}
        self.trades: list[dict] = []
        self._ids = iter(range(1, 1 << 62))
        self._trade_ids = iter(range(1, 1 << 62))
        self.journal = gateway.journal
        gateway.journal = self  # every `fill` the gateway records passes here first

    # the gateway's journal: fills of the bot's orders become its trades, then go on as before
    def emit(self, kind: str, payload: dict) -> None:
        if kind == "fill" and payload.get("order_id") in self.orders:
            self._trade(payload)
        self.journal.emit(kind, payload)

    def __getattr__(self, name: str) -> Any:  # commit, discard, run_id … of the paper journal
        journal = self.__dict__.get("journal")
        if journal is None:
            raise AttributeError(name)
        return getattr(journal, name)

    def place(self, params: dict[str, str]) -> Any:
        order = self.parse(params)
        if order.type not in (MARKET, LIMIT):
            raise bad_request(-1014, f"livegate: {params['type']} orders wait at a venue; the paper run simulates MARKET and LIMIT")
        intent = OrderIntent(order.symbol, order.side, amount=order.amount, quote_amount=order.quote_amount,
                             type=order.type, price=order.price, reason="bot order")
        now = int(self.clock() * 1000)
        client_id = order.client_id or f"paper{now}{len(self.orders)}"
        with self.lock:
            if not self.is_open():
                raise bad_request(-2010, "livegate: the paper run has stopped; no order is taken")
            if client_id in self.orders:
                raise bad_request(-2010, "Duplicate order sent.")
            self._know_price(order.symbol)
            paper = PaperOrder(next(self._ids), params["symbol"], None, now, update_ms=now)
            self.orders[client_id] = paper  # before submit: its fills are recorded as they come
            decision = self.gateway.submit(intent, now, origin=ORIGIN, client_id=client_id)
            if not decision.accepted:
                del self.orders[client_id]
                raise bad_request(-2010, "livegate: " + "; ".join(f"{b.rule}: {b.message}" for b in decision.blocks))
            paper.order = decision.order
            self.by_id[paper.order_id] = paper
            body = self._order_json(paper)
            body["transactTime"] = now
            body["fills"] = [{"price": t["price"], "qty": t["qty"], "commission": t["commission"],
                              "commissionAsset": t["commissionAsset"], "tradeId": t["id"]}
                             for t in self.trades if t["orderId"] == paper.order_id]
            return body

    def cancel(self, params: dict[str, str]) -> Any:
        self._symbol(params)
        with self.lock:
            paper = self._find(params)
            if paper.order.status != "open":
                raise bad_request(-2011, "Unknown order sent.")
            self._cancel([paper])
            return self._order_json(paper)

    def cancel_open(self, params: dict[str, str]) -> Any:
        self._symbol(params)
        with self.lock:
            mine = [p for p in self.orders.values() if p.symbol_id == params["symbol"] and p.order and p.order.status == "open"]
            if not mine:
                raise bad_request(-2011, "Unknown order sent.")
            self._cancel(mine)
            return [self._order_json(p) for p in mine]

    def forward(self, method: str, path: str, params: dict[str, str], signed: bool) -> Any:
        if path not in self.ACCOUNT_ROUTES:
            return super().forward(method, path, params, signed)  # market data: the venue's
        with self.lock:
            if path == "/api/v3/account":
                return self._account()
            symbol_id = params.get("symbol")
            if path != "/api/v3/openOrders" or symbol_id:
                self._symbol(params)
            if path == "/api/v3/order":
                return self._order_json(self._find(params))
            if path == "/api/v3/myTrades":
                wanted = int(params["orderId"]) if params.get("orderId") else None
                return [t for t in self.trades if t["symbol"] == symbol_id and (wanted is None or t["orderId"] == wanted)]
            mine = [p for p in self.by_id.values() if symbol_id in (None, p.symbol_id)]
            if path == "/api/v3/openOrders":
                mine = [p for p in mine if p.order.status == "open"]
            return [self._order_json(p) for p in sorted(mine, key=lambda p: p.order_id)]

    # -- parts -----------------------------------------------------------------------------------

    def _find(self, params: dict[str, str]) -> PaperOrder:
        paper = None
        if params.get("orderId"):
            try:
                paper = self.by_id.get(int(params["orderId"]))
            except ValueError:
                raise bad_request(-1100, "Illegal characters found in parameter 'orderId'; legal range is '^[0-9]{1,20}$'.") from None
        elif params.get("origClientOrderId"):
            paper = self.orders.get(params["origClientOrderId"])
        else:
            raise bad_request(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        if paper is None or paper.order is None or paper.symbol_id != params.get("symbol"):
            raise bad_request(-2013, "Order does not exist.")
        return paper

    def _cancel(self, papers: list[PaperOrder]) -> None:
        executor, now = self.executor, int(self.clock() * 1000)
        gone = {p.order.client_id for p in papers}
        executor.pending = [o for o in executor.pending if o.client_id not in gone]
        for paper in papers:
            paper.order.status, paper.update_ms = "canceled", now
            executor.reference.pop(paper.order.client_id, None)
            self.journal.emit("order_canceled", {"client_id": paper.order.client_id, "reason": "canceled by the bot"})
        self.gateway.finish_trades(now)

    def _trade(self, fill: dict) -> None:
        paper = self.orders[fill["order_id"]]
        amount, price = float(fill["amount"]), float(fill["price"])
        paper.quote_filled += amount * price
        paper.update_ms = int(fill["ts"])
        self.trades.append({"symbol": paper.symbol_id, "id": next(self._trade_ids), "orderId": paper.order_id, "orderListId": -1,
                            "price": _num(price), "qty": _num(amount), "quoteQty": _num(amount * price),
                            "commission": _num(float(fill["fee"])), "commissionAsset": self._quote(paper.symbol_id),
                            "time": int(fill["ts"]), "isBuyer": fill["side"] == BUY, "isMaker": fill["liquidity"] == "maker",
                            "isBestMatch": True})

    def _quote(self, symbol_id: str) -> str:
        return self.symbols[symbol_id].split("/")[1]

    def _order_json(self, paper: PaperOrder) -> dict:
        o = paper.order
        status = {"open": "PARTIALLY_FILLED" if o.filled > 0 else "NEW", "filled": "FILLED", "canceled": "CANCELED",
                  "rejected": "REJECTED"}.get(o.status, "NEW")
        return {"symbol": paper.symbol_id, "orderId": paper.order_id, "orderListId": -1, "clientOrderId": o.client_id,
                "price": _num(o.price or 0.0), "origQty": _num(o.amount), "executedQty": _num(o.filled),
                "cummulativeQuoteQty": _num(paper.quote_filled), "status": status,
                "timeInForce": "GTC", "type": o.type.upper(), "side": o.side.upper(), "stopPrice": _num(0.0),
                "icebergQty": _num(0.0), "time": paper.time_ms, "updateTime": paper.update_ms, "isWorking": True,
                "workingTime": paper.time_ms, "origQuoteOrderQty": _num(0.0), "selfTradePreventionMode": "NONE"}

    def _account(self) -> dict:
        account, executor = self.gateway.account, self.executor
        quote_assets = {self._quote(s) for s in self.symbols}
        balances: dict[str, list[float]] = {q: [0.0, 0.0] for q in quote_assets}
        reserved = executor._reserved() if hasattr(executor, "_reserved") else 0.0
        for q in quote_assets:
            balances[q] = [max(0.0, account.cash - reserved), reserved]
        for symbol, pos in list(account.positions.items()) + [(s, d) for s, d in getattr(account, "dust", {}).items()]:
            base = symbol.split("/")[0]
            free, locked = balances.setdefault(base, [0.0, 0.0])
            balances[base] = [free + float(getattr(pos, "amount", 0.0)), locked]
        return {"makerCommission": 10, "takerCommission": 10, "buyerCommission": 0, "sellerCommission": 0,
                "canTrade": True, "canWithdraw": False, "canDeposit": False, "brokered": False,
                "requireSelfTradePrevention": False, "preventSor": False, "updateTime": int(self.clock() * 1000),
                "accountType": "SPOT", "permissions": ["SPOT"], "uid": 0,
                "balances": [{"asset": a, "free": _num(f), "locked": _num(lk)} for a, (f, lk) in sorted(balances.items())]}
