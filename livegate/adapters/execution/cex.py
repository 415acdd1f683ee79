"""Orders on an exchange through ccxt (testnet or live), behind the order gateway.

Exactly once: every order carries the gateway's client order id (a function of the intent), is
journaled (`order_sending`) before it is sent, and an id the run's ledger already shows as sent
is never sent again (a resumed run that replays a bar asks with the same id). When the answer is lost — a timeout, a 5xx, a 429, a
dropped connection — the executor asks the venue for that client id before sending again, so
an order is never doubled. Fills always come from the venue — the trades its answer to a new
order carries when they account for all of it, else `fetch_my_trades` of the order — with the
fee in the currency the venue charged it in; `balance_changes` adds them up so the
caller can reconcile the venue's balances against the ledger."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from livegate.adapters.exchange.client import translate_error
from livegate.adapters.exchange.retry import Retry, retryable
from livegate.core.errors import ExchangeAuthError, InsufficientFundsError, LivegateError, OrderNotFound, OrderRejected, VenueRefused, VenueUnreachable
from livegate.core.fills import slippage_bps
from livegate.core.orders import BUY, LIMIT, MARKET, SELL, Block, Fill, Order
from livegate.core.retry import Backoff

OPEN_STATES = ("open",)
KEEP_CLOSED = 10_000  # closed orders kept in memory (the ledger keeps them all)
ALREADY_SENT = "already_sent"  # the Block rule of an intent replayed after a restart


@dataclass
class Recovery:
    """What `recover` found: per client id "adopted" | "not placed" | "tracked" | "closed", and
    the fills the venue made that the ledger did not have (journaled now as `venue_fill`)."""

    outcome: dict[str, str] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)


@dataclass
class Tracked:
    """An order the venue acknowledged: its venue id, the price quoted when it was sent, and the
    venue trades already turned into fills."""

    order: Order
    venue_id: str
    reference: float
    trades: set[str] = field(default_factory=set)
    status: str = "open"
    info: dict = field(default_factory=dict)  # the venue's own answer when the order was placed


class CcxtExecutor:
    """`place` / `poll` / `cancel` / `cancel_all` / `open_orders` on a ccxt client. `journal`
    must write through: each event durable before the next call goes out, or — a journal that
    groups events — when its `flush()` is called, which happens before every order is sent."""

    protective = True  # places stop-loss / take-profit limit orders (the venue holds them until triggered)

    def __init__(self, client: Any, journal: Any, *, attempts: int = 4, base_delay: float = 0.5,
                 halt_check: Callable[[], str | None], sleep: Callable[[float], None] = time.sleep):
        self.client, self.journal, self.halt_check = client, journal, halt_check
        self.attempts, self.base_delay, self.sleep = attempts, base_delay, sleep
        self.tracked: dict[str, Tracked] = {}  # acknowledged orders: every open one and the latest KEEP_CLOSED closed
        self._open: dict[str, Tracked] = {}  # the open ones
        self.sent: set[str] = set()  # client ids journaled as `order_sending` (this run, this process and before)
        self.unsettled: list[Fill] = []  # fills a cancel found (journaled): the next `poll` hands them out
        self.lookups = 0  # how often a lost answer was resolved by asking the venue
        self.resends = 0
        self.quote_max_age_s = 0.0  # > 0: a book top this recent is the reference again (orders faster than books)
        self._quotes: dict[tuple[str, str], tuple[float, float]] = {}  # (symbol, side) → (monotonic time, price)

    def _retry(self) -> Retry:
        return Retry(attempts=self.attempts, base_delay=self.base_delay, sleep=self.sleep, venue=self.client.id,
                     client=self.client, then="the venue could not be reached; the order's state is looked up on restart")

    def call(self, fn: Callable[[], Any]) -> Any:
        """A read (quotes, orders, trades, balances) with retries."""
        return self._retry()(fn)

    # -- the Executor protocol ------------------------------------------------------------------

    def quote(self, symbol: str, side: str) -> float:
        """The price an order would be compared with: best ask for a buy, best bid for a sell —
        from the venue's book now, or one at most `quote_max_age_s` old."""
        now = time.monotonic()
        if self.quote_max_age_s > 0:
            seen = self._quotes.get((symbol, side))
            if seen is not None and now - seen[0] <= self.quote_max_age_s:
                return seen[1]
        book = self.call(lambda: self.client.fetch_order_book(symbol, 5))
        for book_side, levels in ((BUY, book["asks"]), (SELL, book["bids"])):
            if levels:
                self._quotes[(symbol, book_side)] = (now, float(levels[0][0]))
        levels = book["asks"] if side == BUY else book["bids"]
        if not levels:
            raise VenueRefused(f"{self.client.id}: the {symbol} book has no {'asks' if side == BUY else 'bids'}")
        return float(levels[0][0])

    def place(self, order: Order, now_ms: int, account: Any = None) -> list[Fill] | Block:
        if order.client_id in self.sent:
            self.journal.emit("order_not_resent", {"client_id": order.client_id,
                                                   "reason": "this intent was already sent (a replayed decision)"})
            return Block(ALREADY_SENT, f"order {order.client_id} was already sent; it is never sent twice")
        reference = order.price if order.type != MARKET and order.price else self.quote(order.symbol, order.side)
        self.journal.emit("order_sending", {**order.to_dict(), "reference": reference})
        self._durable()
        self.sent.add(order.client_id)
        # A halt written after the gateway looked but before this order is on record still stops
        # it: whatever is in the ledger before `order_sending` is seen here, the rest comes after.
        reason = self.halt_check()
        if reason:
            self.journal.emit("order_not_sent", {"client_id": order.client_id, "reason": reason})
            return Block("halted", reason)
        answer = self._send(order)
        if isinstance(answer, Block):
            return answer
        tracked = Tracked(order, str(answer["id"]), reference, info=dict(answer.get("info") or {}))
        self.tracked[order.client_id] = tracked
        self._index(tracked)  # open until its answer says otherwise
        self.journal.emit("order_acknowledged", {"client_id": order.client_id, "venue_id": tracked.venue_id,
                                                 "status": answer.get("status"), "lookups": self.lookups})
        return self._update(tracked, answer)

    def _durable(self) -> None:
        """Everything journaled so far on disk: a journal that groups events (`flush`) writes them now."""
        flush = getattr(self.journal, "flush", None)
        if flush is not None:
            flush()

    def poll(self, now_ms: int | None = None) -> list[Fill]:
        """New fills of the open orders, from the venue (and those a cancel found since the last poll)."""
        fills, self.unsettled = self.unsettled, []
        for tracked in list(self._open.values()):
            answer = self.call(lambda t=tracked: self.client.fetch_order(t.venue_id, t.order.symbol))
            fills += self._update(tracked, answer)
        return fills

    def open_orders(self) -> list[Order]:
        return [t.order for t in self._open.values()]

    # -- what the engine asks of an executor ------------------------------------------------------

    @property
    def pending(self) -> bool:
        return bool(self.unsettled) or bool(self._open)

    def on_bar(self, bar: Any, account: Any) -> tuple[list[Fill], list[Order]]:
        """Fills of open orders since the last look (from the venue; nothing is simulated)."""
        return self.poll(), []

    def to_dict(self) -> dict:
        return {"open": {cid: t.venue_id for cid, t in self._open.items()},
                "lookups": self.lookups, "resends": self.resends}

    def cancel(self, client_id: str) -> Order:
        """Cancel one of our orders; an order that filled meanwhile is reported as filled. Fills
        found on the way are journaled and kept for the next `poll`, to be applied."""
        tracked = self.tracked[client_id]
        try:
            self.call(lambda: self.client.cancel_order(tracked.venue_id, tracked.order.symbol))
        except OrderNotFound:
            pass  # already closed: the next look says how
        answer = self.call(lambda: self.client.fetch_order(tracked.venue_id, tracked.order.symbol))
        self.unsettled += self._update(tracked, answer)
        self.journal.emit("order_canceled", {"client_id": client_id, "venue_id": tracked.venue_id,
                                             "status": tracked.status, "filled": tracked.order.filled})
        return tracked.order

    def cancel_all(self, symbol: str | None = None) -> list[Order]:
        return [self.cancel(cid) for cid, t in list(self._open.items()) if symbol is None or t.order.symbol == symbol]

    # -- after a crash ---------------------------------------------------------------------------

    def recover(self, events: list[tuple[str, dict]]) -> Recovery:
        """Pick up a run's orders from its ledger events ((kind, payload) in ledger order) after
        a crash. Every order the ledger shows as sending or acknowledged is looked up at the
        venue (open and closed orders): by its venue id when acknowledged, else by its client
        order id — adopted if the venue has it, recorded as never placed if not. Nothing is sent
        again: every id the ledger shows as sent stays refused. Fills the venue made that the
        ledger lacks are journaled once and returned, for the caller to apply."""
        sending: dict[str, dict] = {}
        acked: dict[str, str] = {}
        fills: dict[str, list[dict]] = {}
        closed: set[str] = set()
        for kind, p in events:
            if kind == "order_sending":
                sending[p["client_id"]] = p
            elif kind == "order_acknowledged":
                acked[p["client_id"]] = p["venue_id"]
            elif kind == "venue_fill":
                fills.setdefault(p["order_id"], []).append(p)
            elif kind in ("order_canceled", "order_not_placed", "order_not_sent", "order_done"):
                closed.add(p["client_id"])
        self.sent |= set(sending)
        found = Recovery()
        outcome = found.outcome
        for cid, payload in sending.items():
            if cid in closed:
                outcome[cid] = "closed"
                continue
            order = Order(**{k: payload[k] for k in Order.__slots__ if k in payload})
            if cid in acked:
                answer = self.call(partial(self.client.fetch_order, acked[cid], order.symbol))
                outcome[cid] = "tracked"
            else:
                answer = self.lookup(order)
                if answer is None:
                    self.journal.emit("order_not_placed", {"client_id": cid, "reason": "after a restart the venue has no order with this client order id"})
                    outcome[cid] = "not placed"
                    continue
                self.journal.emit("order_acknowledged", {"client_id": cid, "venue_id": str(answer["id"]),
                                                         "status": answer.get("status"), "recovered": True})
                outcome[cid] = "adopted"
            known = fills.get(cid, [])
            order.filled = sum(f["amount"] for f in known)
            tracked = Tracked(order, str(answer["id"]), float(payload["reference"]), {f["venue_trade"] for f in known})
            self.tracked[cid] = tracked
            self._index(tracked)
            found.fills += self._update(tracked, answer)
        return found

    # -- sending without doubling ---------------------------------------------------------------

    def _send(self, order: Order) -> dict | Block:
        client = self.client
        backoff, last = Backoff(self.base_delay), None
        for attempt in range(self.attempts):
            if attempt:  # a resend: the venue had no such order; a halt pulled meanwhile stops it here
                reason = self.halt_check()
                if reason:
                    self.journal.emit("order_not_sent", {"client_id": order.client_id, "reason": reason})
                    return Block("halted", reason)
                self.resends += 1
            params: dict[str, Any] = {"clientOrderId": order.client_id}
            if order.stop_price is not None:  # a protective order: Binance's STOP_LOSS_LIMIT / TAKE_PROFIT_LIMIT
                params["stopPrice"] = order.stop_price
            try:
                if order.stop_price is None and order.type in _SPOT_TYPES and getattr(client, "id", None) == "binance":
                    return binance_spot_order(client, order)
                return client.create_order(order.symbol, order.type.upper() if order.stop_price is not None else order.type,
                                           order.side, order.amount, order.price, params)
            except Exception as exc:  # noqa: BLE001 - classified below
                err = _translated(exc, client)
                refusal = _refusal(err)
                if refusal is not None:
                    return refusal
                if not retryable(err):
                    raise err from None
                last = err
            found = self.lookup(order)  # the answer was lost: did the venue take it?
            if found is not None:
                return found
            if attempt < self.attempts - 1:
                wait = getattr(last, "retry_after", None) or 0.0
                self.sleep(max(backoff.delay(attempt), wait))
        raise VenueUnreachable(f"{client.id}: order {order.client_id} could not be sent after {self.attempts} attempts "
                               f"({last}); it was not placed (looked up by its client order id each time)")

    def lookup(self, order: Order) -> dict | None:
        """The venue's order with our client order id, or None when it has none."""
        self.lookups += 1
        try:
            return self.call(lambda: self.client.fetch_order(None, order.symbol, {"clientOrderId": order.client_id}))
        except OrderNotFound:
            return None

    def _update(self, tracked: Tracked, answer: dict) -> list[Fill]:
        """Fills the venue reports for the order beyond those already seen; the order's state."""
        order = tracked.order
        filled = float(answer.get("filled") or 0.0)
        fills: list[Fill] = []
        if filled > order.filled + 1e-15:
            trades = _answered_trades(tracked, answer, filled)
            if trades is None:
                trades = self.call(lambda: self.client.fetch_my_trades(order.symbol, params={"orderId": tracked.venue_id}))
            for trade in trades:
                if str(trade.get("order")) != tracked.venue_id or str(trade["id"]) in tracked.trades:
                    continue
                tracked.trades.add(str(trade["id"]))
                fill, fee_currency, fee_cost = _fill(tracked, trade)
                fills.append(fill)
                self.journal.emit("venue_fill", {**fill.to_dict(), "venue_trade": str(trade["id"]),
                                                 "fee_currency": fee_currency, "fee_cost": fee_cost})
            order.filled = filled
        was = tracked.status
        tracked.status = answer.get("status") or tracked.status
        order.status = {"closed": "filled", "canceled": "canceled", "expired": "canceled", "rejected": "rejected"}.get(
            tracked.status, "open")
        if was in OPEN_STATES and tracked.status not in OPEN_STATES:  # final: a restart need not ask about it again
            self.journal.emit("order_done", {"client_id": order.client_id, "venue_id": tracked.venue_id,
                                             "status": tracked.status, "filled": order.filled})
        self._index(tracked)
        return fills

    def _index(self, tracked: Tracked) -> None:
        """Keep `_open` to the open orders, and `tracked` from growing without end in a long run."""
        cid = tracked.order.client_id
        if tracked.status in OPEN_STATES:
            self._open[cid] = tracked
            return
        self._open.pop(cid, None)
        if len(self.tracked) > len(self._open) + KEEP_CLOSED + KEEP_CLOSED // 10:
            excess = len(self.tracked) - len(self._open) - KEEP_CLOSED
            for old in [c for c, t in self.tracked.items() if c not in self._open][:excess]:
                del self.tracked[old]


_SPOT_TYPES = {MARKET: "MARKET", LIMIT: "LIMIT"}
# Binance's order states as ccxt names them (what `_update` and the rest of livegate read)
_BINANCE_STATUS = {"NEW": "open", "PARTIALLY_FILLED": "open", "ACCEPTED": "open", "PENDING_NEW": "open",
                   "FILLED": "closed", "CANCELED": "canceled", "CANCELLED": "canceled", "PENDING_CANCEL": "canceling",
                   "REJECTED": "rejected", "EXPIRED": "expired", "EXPIRED_IN_MATCH": "expired"}


def binance_spot_order(client: Any, order: Order) -> dict:
    """A MARKET or LIMIT (GTC) order on a Binance spot API, sent as ccxt's `create_order` sends it
    — the same request, signed, timed and with its errors translated by the same client — and its
    FULL answer read into the few fields livegate uses (id, status, filled, trades, timestamp,
    info). ccxt's general-purpose request builder and order parser cost a third of an order's
    time through the bot gateway; this is the one order shape livegate sends there."""
    client.load_markets()  # as create_order does (once; then the markets in memory)
    request: dict[str, Any] = {"symbol": client.market(order.symbol)["id"], "side": order.side.upper(),
                               "type": _SPOT_TYPES[order.type], "quantity": client.amount_to_precision(order.symbol, order.amount),
                               "newClientOrderId": order.client_id, "newOrderRespType": "FULL"}
    if order.type != MARKET:
        request["price"] = client.price_to_precision(order.symbol, order.price)
        request["timeInForce"] = "GTC"
    return binance_order_answer(client, client.privatePostOrder(request))


def binance_order_answer(client: Any, info: dict) -> dict:
    """Binance's answer to a new order (FULL: with its `fills`) as the fields of ccxt's unified
    order that livegate reads."""
    venue_id = str(info["orderId"])
    at = info.get("transactTime") or info.get("workingTime")
    trades = [{"id": str(f["tradeId"]), "order": venue_id, "timestamp": at, "price": float(f["price"]),
               "amount": float(f["qty"]), "takerOrMaker": "taker",
               "fee": {"cost": float(f.get("commission") or 0.0), "currency": client.safe_currency_code(f.get("commissionAsset"))}}
              for f in info.get("fills") or ()]
    return {"id": venue_id, "clientOrderId": info.get("clientOrderId"), "timestamp": at,
            "status": _BINANCE_STATUS.get(str(info.get("status")), "open"), "filled": float(info.get("executedQty") or 0.0),
            "trades": trades, "info": info}


def _answered_trades(tracked: Tracked, answer: dict, filled: float) -> list[dict] | None:
    """The trades a new order's own answer carries (Binance's FULL response: `fills`, each with its
    trade id, price, amount and fee), when they account for everything filled so far; else None
    and the venue's trade list is asked. They are the taker side of the order's placement, at the
    time the venue gives the order."""
    trades = answer.get("trades") or []
    if not trades or any(not t.get("id") or t.get("price") is None or t.get("amount") is None for t in trades):
        return None
    seen = tracked.order.filled + sum(float(t["amount"]) for t in trades if str(t["id"]) not in tracked.trades)
    if abs(seen - filled) > 1e-9 * max(1.0, filled):
        return None
    at = answer.get("timestamp")
    return [{**t, "order": t.get("order") or tracked.venue_id, "timestamp": t.get("timestamp") or at,
             "takerOrMaker": t.get("takerOrMaker") or "taker"} for t in trades]


def _fill(tracked: Tracked, trade: dict) -> tuple[Fill, str, float]:
    """A venue trade as a Fill (fee converted to the quote currency), with the fee as charged."""
    order = tracked.order
    price, amount = float(trade["price"]), float(trade["amount"])
    fee = trade.get("fee") or {}
    base, quote = split_symbol(order.symbol)
    cost = float(fee.get("cost") or 0.0)
    currency = fee.get("currency") or quote
    fee_quote = cost if currency == quote else cost * price if currency == base else 0.0
    fill = Fill(order.client_id, order.symbol, order.side, amount, price, fee_quote,
                "maker" if trade.get("takerOrMaker") == "maker" else "taker", int(trade.get("timestamp") or 0),
                tracked.reference, slippage_bps(order.side, price, tracked.reference), "venue")
    return fill, currency, cost


def split_symbol(symbol: str) -> tuple[str, str]:
    """`BTC/USDT` (or `BTC/USDT:USDT`) → ("BTC", "USDT")."""
    base, _, rest = symbol.partition("/")
    return base, rest.split(":")[0]


def _translated(exc: BaseException, client: Any) -> LivegateError:
    return translate_error(exc, exchange=client)


def _refusal(err: LivegateError) -> Block | None:
    """The venue's refusal of an order as a Block (nothing to retry), or None."""
    for kind, rule in ((InsufficientFundsError, "insufficient_funds"), (OrderRejected, "venue_rejected"),
                       (ExchangeAuthError, "venue_auth")):
        if isinstance(err, kind):
            return Block(rule, str(err))
    return None


def balance_changes(venue_fills: list[dict]) -> dict[str, float]:
    """Net balance change per asset of `venue_fill` payloads: buys add base and spend quote,
    sells the reverse, each fee comes off the currency it was charged in."""
    out: dict[str, float] = {}
    for f in venue_fills:
        symbol, side, amount, price, fee_currency, fee_cost = (f["symbol"], f["side"], f["amount"], f["price"],
                                                               f["fee_currency"], f["fee_cost"])
        base, quote = split_symbol(symbol)
        sign = 1 if side == BUY else -1
        out[base] = out.get(base, 0.0) + sign * amount
        out[quote] = out.get(quote, 0.0) - sign * amount * price
        out[fee_currency] = out.get(fee_currency, 0.0) - fee_cost
    return out
