"""The paper executor: simulated fills that don't lie (SPEC §6, issue "Phase 2a").

- A market order fills at the next available price: against the live order book when one
  is available (walked level by level), otherwise at the next bar's open plus half the
  spread plus square-root impact (`fills.model_price`).
- A limit order fills only when a later bar trades *through* its price, at its price, as
  maker; a limit that is marketable when placed fills at once (or at the next open) as taker.
- Fees come from the market's maker/taker rates; the exchange's filters were applied by the
  gateway; a buy needs the cash (open buy orders reserve theirs), as on the exchange."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from livegate.core.fills import MarketRules, limit_crossed, model_price, slippage_bps, walk_book
from livegate.core.orders import BUY, LIMIT, MARKET, Bar, Block, Fill, Order
from livegate.core.portfolio import Portfolio

Book = dict[str, list[tuple[float, float]]]  # {"bids": [(price, size)...], "asks": [...]}


def _limit_price(order: Order) -> float:
    """The price of a limit order (the gateway gives every one a positive price)."""
    if order.price is None:
        raise ValueError(f"limit order {order.client_id} has no price")
    return order.price


class PaperExecutor:
    def __init__(self, rules: dict[str, MarketRules], book_for: Callable[[str], Book | None] | None = None, spread_bps: float = 2.0, cash_buffer: float = 0.02):
        self.rules = rules
        self.book_for = book_for
        self.spread_bps = spread_bps
        self.cash_buffer = cash_buffer
        self.pending: list[Order] = []
        self.reference: dict[str, float] = {}

    def open_orders(self) -> list[Order]:
        return list(self.pending)

    def cancel_all(self, symbol: str | None = None) -> list[Order]:
        gone = [o for o in self.pending if symbol is None or o.symbol == symbol]
        self.pending = [o for o in self.pending if o not in gone]
        for order in gone:
            order.status = "canceled"
            self.reference.pop(order.client_id, None)
        return gone

    def _reserved(self) -> float:
        """Cash held back for open buys: the limit price, or a market order's reference price
        plus the same buffer its placement was checked with."""
        return sum((o.amount - o.filled) * (o.price or self.reference.get(o.client_id, 0.0) * (1 + self.cash_buffer))
                   for o in self.pending if o.side == BUY)

    def place(self, order: Order, now_ms: int, account: Portfolio) -> list[Fill] | Block:
        rules = self.rules[order.symbol]
        ref = account.last_price[order.symbol]
        self.reference[order.client_id] = ref
        if order.side == BUY:
            px = order.price or ref
            need = order.amount * px * (1 + rules.taker_fee + (self.cash_buffer if order.type == MARKET else 0))
            free = account.cash - self._reserved()
            if need > free + 1e-9:
                return Block("insufficient_funds", f"buy needs {need:.2f} (with fees) but {free:.2f} is free")
        book = self.book_for(order.symbol) if self.book_for else None
        if book and (order.type == MARKET or self._marketable(order, book)):
            levels = book["asks"] if order.side == BUY else book["bids"]
            if order.type == LIMIT:
                limit = _limit_price(order)
                levels = [(p, s) for p, s in levels if (p <= limit if order.side == BUY else p >= limit)]
            avg, filled = walk_book(levels, order.amount)
            if filled > 0:
                fill = self._fill(order, filled, avg, "taker", now_ms, ref, "book")
                order.filled = filled
                if filled < order.amount - 1e-12:
                    self.pending.append(order)  # the rest: a limit rests, a market order takes the next bar
                else:
                    order.status = "filled"
                    self.reference.pop(order.client_id, None)
                return [fill]
        self.pending.append(order)
        return []

    @staticmethod
    def _marketable(order: Order, book: Book) -> bool:
        if order.type != LIMIT:
            return True
        side = book["asks"] if order.side == BUY else book["bids"]
        if not side:
            return False
        best, limit = side[0][0], _limit_price(order)
        return best <= limit if order.side == BUY else best >= limit

    def on_bar(self, bar: Bar, account: Portfolio) -> tuple[list[Fill], list[Order]]:
        """Fill pending orders of `bar.symbol` inside this bar (the first bar after they were
        placed). Returns (fills, orders cancelled because they could no longer be paid for)."""
        if not self.pending:
            return [], []
        fills, keep, dropped = [], [], []
        for order in self.pending:
            if order.symbol != bar.symbol or bar.ts < order.created_ms:
                keep.append(order)  # another market, or a bar that opened before the order existed
                continue
            amount = order.amount - order.filled
            ref = self.reference.get(order.client_id, bar.open)
            limit = 0.0 if order.type == MARKET else _limit_price(order)  # a market order has none
            if order.type == MARKET:
                price = model_price(order.side, bar.open, bar.high, bar.low, bar.volume, amount, self.spread_bps)
                fill = self._affordable(order, amount, price, "taker", bar, ref, "model", account)
            elif (order.side == BUY and bar.open <= limit) or (order.side != BUY and bar.open >= limit):
                fill = self._affordable(order, amount, bar.open, "taker", bar, ref, "limit", account)  # marketable at the open
            elif limit_crossed(order.side, limit, bar.low, bar.high):
                fill = self._affordable(order, amount, limit, "maker", bar, ref, "limit", account)
            else:
                keep.append(order)
                continue
            if fill is None:
                dropped.append(order)
                self.reference.pop(order.client_id, None)
                continue
            order.filled += fill.amount
            order.status = "filled"
            fills.append(fill)
            self.reference.pop(order.client_id, None)
        self.pending = keep
        return fills, dropped

    def _affordable(self, order: Order, amount: float, price: float, liquidity: str, bar: Bar, ref: float, model: str, account: Portfolio) -> Fill | None:
        """A buy that can no longer be paid for at the fill price is cancelled, as an
        exchange would refuse it; sells never exceed the position."""
        rules = self.rules[order.symbol]
        if order.side == BUY:
            fee_rate = rules.taker_fee if liquidity == "taker" else rules.maker_fee
            if amount * price * (1 + fee_rate) > account.cash + 1e-9:
                order.status = "canceled"
                return None
        else:
            amount = min(amount, account.position(order.symbol))
            if amount <= 0:
                order.status = "canceled"
                return None
        return self._fill(order, amount, price, liquidity, bar.ts, ref, model)

    def _fill(self, order: Order, amount: float, price: float, liquidity: str, ts: int, ref: float, model: str) -> Fill:
        rules = self.rules[order.symbol]
        rate = rules.taker_fee if liquidity == "taker" else rules.maker_fee
        return Fill(order.client_id, order.symbol, order.side, amount, price, amount * price * rate, liquidity, ts, ref,
                    slippage_bps(order.side, price, ref), model)

    def to_dict(self) -> dict[str, Any]:
        return {"pending": [o.to_dict() for o in self.pending], "reference": dict(self.reference)}

    def restore(self, data: dict[str, Any]) -> None:
        self.pending = [Order(**o) for o in data.get("pending", [])]
        self.reference = dict(data.get("reference", {}))
