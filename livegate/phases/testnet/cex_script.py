"""The scripted CEX orders of `livegate testnet`, every one through the order gateway (guardian,
caps, approval) and the ccxt executor, on the exchange's sandbox:

1. market buy, 2. market sell of it, 3. marketable limit buy, 4. marketable limit sell,
5. a limit buy far from the market, then cancelled, 6. a limit buy larger than the best ask
level (a partial fill), its rest cancelled, what filled sold.

Measured: fill rate of the orders that should fill (1–4), the worst slippage of any fill
against the price quoted when it was sent, the partial fill, and a reconciliation of the
venue's balances against the fills recorded in the ledger — a mismatch halts trading."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from livegate.core.orders import BUY, LIMIT, SELL, OrderIntent

SETTLE_S = 5.0  # how long a marketable limit order may take to show its fill
TOLERANCE = 1e-8


@dataclass
class Step:
    name: str
    should_fill: bool
    accepted: bool = False
    client_id: str | None = None
    amount: float = 0.0
    filled: float = 0.0
    status: str = ""
    slippage_bps: list[float] = field(default_factory=list)
    blocks: list[str] = field(default_factory=list)
    note: str = ""

    def to_dict(self) -> dict:
        return dict(self.__dict__)


class CexScript:
    """Runs the script on `gateway` (whose executor is a CcxtExecutor) for `symbol`."""

    def __init__(self, gateway: Any, executor: Any, symbol: str, order_value: float, *,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = lambda: time.time(),
                 progress: Callable[[str], None] = lambda text: None):
        self.gateway, self.executor, self.symbol, self.value = gateway, executor, symbol, order_value
        self.sleep, self.clock, self.progress = sleep, clock, progress
        self.steps: list[Step] = []

    def run(self) -> list[Step]:
        s = self.symbol
        self.submit("market buy", OrderIntent(s, BUY, quote_amount=self.value), should_fill=True)
        self.submit("market sell", OrderIntent(s, SELL, amount=self.held()), should_fill=True)
        self.submit("limit buy at the ask", OrderIntent(s, BUY, quote_amount=self.value, type=LIMIT, price=self.best(BUY)),
                    should_fill=True)
        self.submit("limit sell at the bid", OrderIntent(s, SELL, amount=self.held(), type=LIMIT, price=self.best(SELL)),
                    should_fill=True)
        far = self.best(SELL) * 0.97
        step = self.submit("limit buy far below, cancelled", OrderIntent(s, BUY, quote_amount=self.value, type=LIMIT, price=far),
                           should_fill=False)
        self.cancel(step)
        self.partial_fill()
        if self.held() > 0:
            self.submit("market sell of what is left", OrderIntent(s, SELL, amount=self.held()), should_fill=True)
        return self.steps

    # -- pieces ----------------------------------------------------------------------------------

    def held(self) -> float:
        return self.gateway.account.position(self.symbol)

    def best(self, side: str) -> float:
        return self.executor.quote(self.symbol, side)

    def submit(self, name: str, intent: OrderIntent, should_fill: bool) -> Step:
        step = Step(name, should_fill)
        self.steps.append(step)
        self.progress(name)
        mid = (self.best(BUY) + self.best(SELL)) / 2
        self.gateway.account.last_price[self.symbol] = mid
        decision = self.gateway.submit(intent, int(self.clock() * 1000), origin="testnet")
        step.blocks = [f"{b.rule}: {b.message}" for b in decision.blocks]
        if decision.order is None:
            return step
        order = decision.order
        step.accepted, step.client_id, step.amount = True, order.client_id, order.amount
        fills = list(decision.fills)
        if should_fill and order.type == LIMIT:
            fills += self._settle(order)
        step.filled, step.status = order.filled, order.status
        step.slippage_bps = [f.slippage_bps for f in fills]
        return step

    def _settle(self, order) -> list:
        """Poll a marketable limit order until it has filled (or SETTLE_S passed)."""
        fills: list = []
        deadline = self.clock() + SETTLE_S
        while order.status == "open" and self.clock() < deadline:
            self.sleep(0.2)
            new = self.executor.poll()
            self.gateway.settle(new, int(self.clock() * 1000))
            fills += new
        return fills

    def cancel(self, step: Step) -> None:
        if not step.accepted or step.client_id not in self.executor.tracked:
            return
        order = self.executor.cancel(step.client_id)
        self.gateway.settle(self.executor.poll(), int(self.clock() * 1000))  # fills the cancel found
        step.status, step.filled = order.status, order.filled
        step.note = "cancelled" if order.status == "canceled" else f"could not cancel: {order.status}"

    def partial_fill(self) -> None:
        """A limit buy between the best and the second ask for about three times what the best
        level holds: it fills in part at once and the rest rests (then is cancelled; what filled is sold at the end).
        Skipped, with the reason, when such an order would exceed the caps (a deep book)."""
        rules = self.gateway.rules[self.symbol]
        book = self.executor.call(lambda: self.executor.client.fetch_order_book(self.symbol, 5))
        price, size = float(book["asks"][0][0]), float(book["asks"][0][1])
        if len(book["asks"]) > 1:  # between the first two levels: the first fills, the second does not
            price = rules.round_price((price + float(book["asks"][1][0])) / 2)
        limit = self.value * 0.95
        amount = rules.floor_amount(min(max(3 * size, rules.min_notional * 1.2 / price), limit / price))
        name = "limit buy larger than the best level (partial fill)"
        if amount < size + 2 * rules.step:
            self.steps.append(Step(name, False, note=f"skipped: the best ask level holds {size:g} ({size * price:,.2f}); "
                                                     f"an order well above it would exceed {limit:,.2f}"))
            return
        step = self.submit(name, OrderIntent(self.symbol, BUY, amount=amount, type=LIMIT, price=price), should_fill=False)
        at_once = step.filled
        partial = 0 < at_once < step.amount
        self.cancel(step)
        step.note = (("partially filled" if partial else "not a partial fill") + f": {at_once:g} of {step.amount:g} at once; "
                     + step.note)


def summarize(steps: list[Step]) -> dict:
    """Fill rate of the orders that should fill, and the worst slippage of any fill, in percent."""
    should = [s for s in steps if s.should_fill]
    filled = [s for s in should if s.accepted and s.amount > 0 and s.filled >= s.amount - 1e-12]
    slippages = [b for s in steps for b in s.slippage_bps]
    partial = next((s for s in steps if "partial" in s.name), None)
    return {
        "orders_that_should_fill": len(should), "filled": len(filled),
        "fill_rate_pct": 100.0 * len(filled) / len(should) if should else None,
        "worst_slippage_pct": max(slippages) / 100 if slippages else None,
        "partial_fill": partial.note if partial else None,
        "steps": [s.to_dict() for s in steps],
    }


def reconcile(before: dict[str, float], after: dict[str, float], changes: dict[str, float]) -> dict:
    """Venue balances after the run against before + the fills the ledger recorded."""
    mismatches = {}
    for asset, delta in changes.items():
        expected = before.get(asset, 0.0) + delta
        seen = after.get(asset, 0.0)
        if abs(seen - expected) > TOLERANCE + 1e-9 * abs(expected):
            mismatches[asset] = {"expected": expected, "venue": seen, "difference": seen - expected}
    return {"ok": not mismatches, "mismatches": mismatches, "changes": changes}


def reconcile_fills(venue_trades: dict[str, list[dict]], venue_ids: dict[str, str], ledger_fills: list[dict]) -> dict:
    """The venue's trades of each order (ccxt trades, by client id) against the ledger's
    `venue_fill`s, fill by fill: a trade the ledger lacks, a fill the venue does not have, or a
    different amount, price or fee is a difference of that order."""
    recorded: dict[str, dict[str, dict]] = {}
    for f in ledger_fills:
        recorded.setdefault(f["order_id"], {})[str(f["venue_trade"])] = f
    differences: dict[str, list[str]] = {}
    checked = 0
    for cid, trades in venue_trades.items():
        mine = dict(recorded.get(cid, {}))
        for t in trades:
            if str(t.get("order")) != venue_ids[cid]:
                continue
            checked += 1
            f = mine.pop(str(t["id"]), None)
            fee = t.get("fee") or {}
            if f is None:
                differences.setdefault(cid, []).append(f"venue trade {t['id']} is not in the ledger")
            elif (abs(float(t["amount"]) - f["amount"]) > TOLERANCE or abs(float(t["price"]) - f["price"]) > TOLERANCE * float(t["price"])
                  or abs(float(fee.get("cost") or 0.0) - f["fee_cost"]) > TOLERANCE):
                differences.setdefault(cid, []).append(f"trade {t['id']}: venue {t['amount']} at {t['price']}, "
                                                       f"ledger {f['amount']} at {f['price']}")
        for trade_id in mine:
            differences.setdefault(cid, []).append(f"ledger fill {trade_id} is not at the venue")
    for cid in set(recorded) - set(venue_trades):
        differences.setdefault(cid, []).append("fills recorded for an order the venue never acknowledged")
    return {"differences": differences, "checked": checked}
