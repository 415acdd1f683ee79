"""The matching engine: accounts with free/locked balances, orders that take from the synthetic
book or rest until the price path crosses them, stop orders that wait for the last price to
reach their stop price, fills with fees charged in the quote asset."""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from livegate.adapters.sandbox import errors as e
from livegate.adapters.sandbox.errors import bad_request, order_rejected
from livegate.adapters.sandbox.faults import Faults
from livegate.adapters.sandbox.market import Clock, Market

OPEN = frozenset({"NEW", "PARTIALLY_FILLED"})
MAX_WALK_LEVELS = 5000
DUST = 1e-12
# Stop orders: the ones that trigger when the last price rises to the stop price (the others when
# it falls to it), and the ones that become a market order when triggered (the others a limit).
STOP_TYPES = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})
MARKET_STOPS = frozenset({"STOP_LOSS", "TAKE_PROFIT"})
STOP_WOULD_TRIGGER = "Stop price would trigger immediately."
NOT_WORKING = -1  # an untriggered stop order's workingTime


@dataclass(eq=False, slots=True)
class Order:
    order_id: int
    client_id: str
    symbol: str
    side: str
    type: str
    tif: str
    price: float
    orig_qty: float
    orig_quote_qty: float
    account: Account
    time: int
    executed: float = 0.0
    cum_quote: float = 0.0
    status: str = "NEW"
    update_time: int = 0
    locked: float = 0.0
    partial: float | None = None
    stop_price: float = 0.0
    working_time: int = 0
    rises: bool = False  # a stop order that triggers when the price rises to its stop price

    @property
    def remaining(self) -> float:
        return self.orig_qty - self.executed

    @property
    def is_stop(self) -> bool:
        return self.stop_price > 0


@dataclass(slots=True)
class Trade:
    id: int
    order_id: int
    symbol: str
    price: float
    qty: float
    commission: float
    commission_asset: str
    time: int
    is_buyer: bool
    is_maker: bool


@dataclass(eq=False)
class Account:
    """A spot account: balances as [free, locked], its orders and trades by symbol."""

    name: str
    balances: dict[str, list[float]] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    history: dict[str, list[Order]] = field(default_factory=dict)  # by symbol, ascending orderId
    by_client: dict[tuple[str, str], Order] = field(default_factory=dict)
    open: dict[str, dict[int, Order]] = field(default_factory=dict)
    trades: dict[str, list[Trade]] = field(default_factory=dict)
    can_withdraw: bool = False
    update_time: int = 0

    def deposit(self, balances: dict[str, float]) -> None:
        for asset, amount in balances.items():
            self.balances.setdefault(asset, [0.0, 0.0])[0] += float(amount)

    def lock(self, asset: str, amount: float) -> None:
        entry = self.balances.setdefault(asset, [0.0, 0.0])
        if entry[0] + DUST < amount:
            raise order_rejected(e.INSUFFICIENT_BALANCE)
        entry[0] -= amount
        entry[1] += amount

    def settle(self, asset: str, released: float, spent: float) -> None:
        """Take `released` out of locked; of it, `spent` leaves the account, the rest is free again."""
        entry = self.balances.setdefault(asset, [0.0, 0.0])
        entry[1] = round(entry[1] - released, 10)
        entry[0] = round(entry[0] + released - spent, 10)

    def credit(self, asset: str, amount: float) -> None:
        entry = self.balances.setdefault(asset, [0.0, 0.0])
        entry[0] = round(entry[0] + amount, 10)


@dataclass
class _Resting:
    """One symbol's resting orders: bids as a max-heap, asks as a min-heap (lazy deletion)."""

    market: Market
    last_ms: int
    bids: list = field(default_factory=list)
    asks: list = field(default_factory=list)
    stops: list[Order] = field(default_factory=list)  # untriggered stop orders


class Engine:
    """Orders, fills and balances for every account, matched against each market's price path."""

    def __init__(self, markets: dict[str, Market], clock: Clock, stamp_ms: Callable[[], int],
                 maker_fee: float = 0.001, taker_fee: float = 0.001):
        # stamp_ms: the time orders and fills carry (the server's clock; market time on a step clock)
        self.markets, self.clock, self.stamp_ms = markets, clock, stamp_ms
        self.maker_fee, self.taker_fee = maker_fee, taker_fee
        self.accounts: dict[str, Account] = {}
        now = clock.market_ms()
        self._resting = {sid: _Resting(m, now) for sid, m in markets.items()}
        self._order_ids = itertools.count(1)
        self._trade_ids = itertools.count(1)
        self._seq = itertools.count()
        # called with (order, execution type, trade or None) on every change of an order
        self.listeners: list[Callable[[Order, str, Trade | None], None]] = []

    def _report(self, order: Order, execution: str, trade: Trade | None = None) -> None:
        for listener in self.listeners:
            listener(order, execution, trade)

    def account(self, name: str) -> Account:
        if name not in self.accounts:
            self.accounts[name] = Account(name, update_time=self.stamp_ms())
        return self.accounts[name]

    # -- the clock moves: resting orders the path crossed are filled ---------------------------

    def sync(self, symbol: str | None = None) -> None:
        """Fill resting orders whose price the path crossed since the last look."""
        now = self.clock.market_ms()
        books = (self._resting[symbol],) if symbol else self._resting.values()
        for book in books:
            if now <= book.last_ms:
                continue
            if book.bids or book.asks or book.stops:
                lo, hi = book.market.path.range(book.last_ms, now)
                if book.bids or book.asks:
                    self._match(book, lo, hi)
                if book.stops:
                    self._trigger(book, lo, hi)
            book.last_ms = now

    def _match(self, book: _Resting, lo: float, hi: float) -> None:
        ts = self.stamp_ms()
        for heap, crossed in ((book.bids, lambda p: p >= lo), (book.asks, lambda p: p <= hi)):
            again = []
            while heap and crossed(heap[0][2].price):
                entry = heapq.heappop(heap)
                order = entry[2]
                if order.status not in OPEN:
                    continue
                qty = order.remaining
                if order.partial:
                    qty = min(qty, max(book.market.step, book.market.floor_qty(order.orig_qty * order.partial)))
                trade = self._fill(order, book.market, order.price, qty, maker=True, ts=ts)
                if self._finish(order, rests=True):
                    again.append(entry)
                if self.listeners:
                    self._report(order, "TRADE", trade)
            for entry in again:
                heapq.heappush(heap, entry)

    def _trigger(self, book: _Resting, lo: float, hi: float) -> None:
        """Stop orders whose stop price the path reached: a market stop fills at once at the stop
        price; a limit stop becomes a limit order placed at that moment, taking at the stop price
        when its limit crosses it, else resting (matched from the next look on)."""
        ts, market, waiting = self.stamp_ms(), book.market, []
        for order in book.stops:
            if order.status not in OPEN:
                continue
            if not (hi >= order.stop_price if order.rises else lo <= order.stop_price):
                waiting.append(order)
                continue
            order.working_time = order.update_time = ts
            buy, stop = order.side == "BUY", order.stop_price
            takes = order.type in MARKET_STOPS or (order.price >= stop if buy else order.price <= stop)
            trade = None
            if takes:
                qty = order.remaining
                if order.partial:
                    qty = min(qty, max(market.step, market.floor_qty(order.orig_qty * order.partial)))
                trade = self._fill(order, market, stop, qty, maker=False, ts=ts)
            rests = order.type not in MARKET_STOPS and order.tif == "GTC"
            if self._finish(order, rests=rests):
                heap = book.bids if buy else book.asks
                heapq.heappush(heap, (-order.price if buy else order.price, next(self._seq), order))
            if self.listeners:
                self._report(order, "TRADE" if trade else "EXPIRED" if order.status == "EXPIRED" else "NEW", trade)
        book.stops = waiting

    # -- new orders ----------------------------------------------------------------------------

    def place(self, account: Account, market: Market, side: str, type_: str, tif: str, price: float | None,
              qty: float | None, quote_qty: float | None, client_id: str, faults: Faults,
              stop_price: float | None = None) -> tuple[Order, list[Trade]]:
        """Place an order (already validated against the filters); returns it and its fills. A
        stop order (`stop_price`) waits, its balance locked, until the last price reaches it."""
        if faults.reject_orders:
            raise order_rejected("This action is disabled on this account.")
        sid = market.spec.id
        previous = account.by_client.get((sid, client_id))
        if previous is not None and previous.status in OPEN:
            raise order_rejected(e.DUPLICATE_ORDER)
        self.sync(sid)
        now, buy = self.clock.market_ms(), side == "BUY"
        rises = False
        if stop_price is not None:
            # STOP_LOSS BUY and TAKE_PROFIT SELL wait for the price to rise to the stop, the others to fall
            rises = buy == type_.startswith("STOP_LOSS")
            last = market.round_price(market.path.price(now))
            if (stop_price <= last) if rises else (stop_price >= last):
                raise order_rejected(STOP_WOULD_TRIGGER)
            plan = []
        elif type_ == "MARKET":
            plan = self._walk(market, now, buy, qty, quote_qty, None)
        else:
            bid, ask = market.best(now)
            takes = price >= ask if buy else price <= bid
            if type_ == "LIMIT_MAKER" and takes:
                raise order_rejected("Order would immediately match and take.")
            plan = self._walk(market, now, buy, qty, None, price) if takes else []
            if tif == "FOK" and sum(q for _, q in plan) + DUST < qty:
                plan = []
        if faults.partial_fill:
            plan = self._cut(market, plan, (qty or sum(q for _, q in plan)) * faults.partial_fill)
        if qty is None:
            qty = round(sum(q for _, q in plan), 8)
        ts = self.stamp_ms()
        order = Order(next(self._order_ids), client_id, sid, side, type_, tif, price or 0.0, qty, quote_qty or 0.0,
                      account, ts, update_time=ts, partial=faults.partial_fill, stop_price=stop_price or 0.0,
                      working_time=ts if stop_price is None else NOT_WORKING, rises=rises)
        fee = max(self.maker_fee, self.taker_fee) if type_ != "MARKET" else self.taker_fee
        if buy:
            if type_ == "MARKET":
                order.locked = sum(p * q for p, q in plan) * (1 + fee)
            else:
                order.locked = (price if type_ not in MARKET_STOPS else stop_price) * qty * (1 + fee)
            account.lock(market.spec.quote, order.locked)
        else:
            order.locked = qty
            account.lock(market.spec.base, qty)
        trades = [self._fill(order, market, p, q, maker=False, ts=ts) for p, q in plan]
        if stop_price is not None:
            account.open.setdefault(sid, {})[order.order_id] = order
            self._resting[sid].stops.append(order)
        elif self._finish(order, rests=type_ != "MARKET" and tif == "GTC"):
            heap = self._resting[sid].bids if buy else self._resting[sid].asks
            heapq.heappush(heap, (-order.price if buy else order.price, next(self._seq), order))
        account.orders[order.order_id] = order
        account.history.setdefault(sid, []).append(order)
        account.by_client[(sid, client_id)] = order
        if self.listeners:
            self._report(order, "NEW")
            for trade in trades:
                self._report(order, "TRADE", trade)
            if order.status == "EXPIRED":
                self._report(order, "EXPIRED")
        return order, trades

    def _walk(self, market: Market, now: int, buy: bool, qty: float | None, quote_qty: float | None,
              limit: float | None) -> list[tuple[float, float]]:
        """Take liquidity from the book, best level first, up to `qty` base or `quote_qty` quote."""
        plan = []
        for price, size in market.levels("asks" if buy else "bids", now, MAX_WALK_LEVELS):
            if limit is not None and (price > limit if buy else price < limit):
                break
            take = market.floor_qty(min(size, quote_qty / price)) if quote_qty is not None else min(size, qty)
            if take <= 0:
                break
            plan.append((price, take))
            if quote_qty is not None:
                quote_qty -= price * take
            else:
                qty = round(qty - take, 10)
                if qty <= DUST:
                    break
        return plan

    @staticmethod
    def _cut(market: Market, plan: list[tuple[float, float]], most: float) -> list[tuple[float, float]]:
        cut, left = [], market.floor_qty(most)
        for price, qty in plan:
            take = min(qty, left)
            if take <= 0:
                break
            cut.append((price, take))
            left = round(left - take, 10)
        return cut

    def _fill(self, order: Order, market: Market, price: float, qty: float, maker: bool, ts: int) -> Trade:
        account, spec = order.account, market.spec
        quote = price * qty
        commission = quote * (self.maker_fee if maker else self.taker_fee)
        if order.side == "BUY":
            released = order.locked if qty >= order.remaining - DUST else order.locked * qty / order.remaining
            account.settle(spec.quote, released, quote + commission)
            account.credit(spec.base, qty)
        else:
            released = qty
            account.settle(spec.base, qty, qty)
            account.credit(spec.quote, quote - commission)
        order.locked -= released
        order.executed = round(order.executed + qty, 10)
        order.cum_quote += quote
        order.update_time = account.update_time = ts
        trade = Trade(next(self._trade_ids), order.order_id, spec.id, price, qty, commission, spec.quote, ts,
                      order.side == "BUY", maker)
        account.trades.setdefault(spec.id, []).append(trade)
        return trade

    def _finish(self, order: Order, rests: bool) -> bool:
        """Set the order's status after fills; True when it stays on the book."""
        open_orders = order.account.open.setdefault(order.symbol, {})
        if order.remaining <= DUST and order.executed > 0:
            order.status = "FILLED"
        elif rests:
            order.status = "PARTIALLY_FILLED" if order.executed > 0 else "NEW"
            open_orders[order.order_id] = order
            return True
        else:
            order.status = "EXPIRED"
        self._release(order)
        open_orders.pop(order.order_id, None)
        return False

    def _release(self, order: Order) -> None:
        spec = self.markets[order.symbol].spec
        if order.locked > 0:
            order.account.settle(spec.quote if order.side == "BUY" else spec.base, order.locked, 0.0)
        order.locked = 0.0

    # -- queries and cancels ---------------------------------------------------------------------

    def find(self, account: Account, symbol: str, order_id: int | None, client_id: str | None,
             missing: tuple[int, str] = e.NO_SUCH_ORDER) -> Order:
        if order_id is None and not client_id:
            raise bad_request(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        order = account.orders.get(order_id) if order_id is not None else account.by_client.get((symbol, client_id))
        if order is None or order.symbol != symbol or (client_id and order.client_id != client_id):
            raise bad_request(*missing)
        return order

    def cancel(self, account: Account, symbol: str, order_id: int | None, client_id: str | None) -> Order:
        self.sync(symbol)
        order = self.find(account, symbol, order_id, client_id, missing=e.UNKNOWN_ORDER)
        if order.status not in OPEN:
            raise bad_request(*e.UNKNOWN_ORDER)
        order.status, order.update_time = "CANCELED", self.stamp_ms()
        self._release(order)
        account.open.get(symbol, {}).pop(order.order_id, None)
        if self.listeners:
            self._report(order, "CANCELED")
        return order

    def cancel_all(self, account: Account, symbol: str) -> list[Order]:
        self.sync(symbol)
        ids = list(account.open.get(symbol, {}))
        if not ids:
            raise bad_request(*e.UNKNOWN_ORDER)
        return [self.cancel(account, symbol, oid, None) for oid in ids]

    def open_orders(self, account: Account, symbol: str | None) -> list[Order]:
        self.sync(symbol)
        books = [account.open.get(symbol, {})] if symbol else list(account.open.values())
        return sorted((o for book in books for o in book.values()), key=lambda o: o.order_id)

    def all_orders(self, account: Account, symbol: str, order_id: int | None, start: int | None, end: int | None,
                   limit: int) -> list[Order]:
        """Binance's allOrders: from `order_id` on (the first `limit`), or by order time
        (the first `limit` from `start`, else the latest), or the latest `limit`; ascending."""
        self.sync(symbol)
        orders = account.history.get(symbol, [])
        if order_id is not None:
            orders = orders[bisect.bisect_left(orders, order_id, key=lambda o: o.order_id):]
        if start is not None or end is not None:
            hi = end if end is not None else 2**62
            orders = [o for o in orders if (start or 0) <= o.time <= hi]
        return orders[:limit] if order_id is not None or start is not None else orders[-limit:]

    def my_trades(self, account: Account, symbol: str, order_id: int | None, start: int | None, end: int | None,
                  from_id: int | None, limit: int) -> list[Trade]:
        self.sync(symbol)
        trades = account.trades.get(symbol, [])
        if order_id is not None:
            trades = [t for t in trades if t.order_id == order_id]
        if from_id is not None:
            return [t for t in trades if t.id >= from_id][:limit]
        if start is not None or end is not None:
            hi = end if end is not None else 2**62
            trades = [t for t in trades if (start or 0) <= t.time <= hi]
            return trades[:limit] if start is not None else trades[-limit:]
        return trades[-limit:]
