"""A venue's executor, scripted by the test (a test double of the `Executor` protocol): orders
it takes stay open until the test fills, closes or cancels them, as a venue's orders do between
polls; the fills it hands out are what a ccxt executor would read from the venue's trade list."""

from __future__ import annotations

from livegate.core.orders import Fill, Order


class Venue:
    def __init__(self):
        self.orders: dict[str, Order] = {}
        self.queued: list[Fill] = []  # fills the next poll (`on_bar`) reports

    # -- the Executor protocol -----------------------------------------------------------------
    def place(self, order, now_ms, account):
        self.orders[order.client_id] = order
        return []

    def open_orders(self):
        return [o for o in self.orders.values() if o.status == "open"]

    def cancel_all(self, symbol=None):
        gone = [o for o in self.open_orders() if symbol is None or o.symbol == symbol]
        for order in gone:
            order.status = "canceled"
        return gone

    @property
    def pending(self):
        return bool(self.open_orders()) or bool(self.queued)

    def on_bar(self, bar, account):
        fills, self.queued = self.queued, []
        return fills, []

    def to_dict(self):
        return {}

    # -- what the test does at the venue --------------------------------------------------------
    def open(self, order: Order) -> Order:
        self.orders[order.client_id] = order
        return order

    def fill(self, cid: str, amount: float, price: float, fee: float, ts: int, status: str = "open") -> Fill:
        """A trade of the venue for order `cid`; `status` is the order's state after it."""
        order = self.orders[cid]
        order.filled += amount
        order.status = status
        return Fill(cid, order.symbol, order.side, amount, price, fee, "taker", ts, price, 0.0, "venue")

    def close(self, cid: str, status: str = "canceled") -> None:
        self.orders[cid].status = status
