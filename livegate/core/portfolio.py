"""Cash, positions, dust and the trades they close (spot: long positions only).

**The trade unit** (the same in paper, testnet and live; README "How the numbers are
defined"): a trade is one reducing order's fills, all of them, against the position they
reduce — a round trip from entry to flat, or the part of a position one order sold — at
quantity-weighted prices (`orders.Trade`). A sell fill adds to its order's trade in progress
(`closing`, keyed by the order's client id); that trade is final when

- the position is flat after a fill: every trade in progress of the symbol closes at once; or
- its order is done — no longer open at the executor (filled, cancelled, expired, rejected) —
  which only the gateway knows: it calls `close_trade` once the order's fills are applied.

So an order that fills in several pieces, at once or over several polls, is one trade, and
the same fills give the same trades however they are grouped into calls.

**Dust**: a holding too small to sell — below the market's minimum amount or notional at the
current price — is moved out of `positions` into `dust` by the gateway (`to_dust`). It still
counts in equity (it is money), but nothing that looks at open positions sees it: the
strategy's context, the guardian's position count and exposure, the protective stop, the
breakers' checks. A buy of the same symbol takes it back into the position (cost and entry
fees included: the same round trip); a sell fill (the rest of an order still resting) reduces
it, and may close the round trip."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from livegate.core.orders import BUY, Fill, Trade


@dataclass
class Position:
    amount: float = 0.0
    cost: float = 0.0  # quote paid for the open amount, fees excluded
    entry_fees: float = 0.0  # fees paid on the open amount, not yet charged to a trade
    opened_ms: int = 0

    @property
    def entry_price(self) -> float:
        return self.cost / self.amount if self.amount > 0 else 0.0


@dataclass(slots=True)
class Closing:
    """One reducing order's fills so far: the trade it closes when it is final. The entry
    side is taken from the position pro rata at each fill (its average entry and entry fees)."""

    symbol: str
    opened_ms: int
    amount: float = 0.0  # sold so far
    entry_cost: float = 0.0  # the entry cost of what was sold
    entry_fees: float = 0.0  # the entry fees of what was sold
    exit_value: float = 0.0  # Σ amount · price of the fills
    exit_fees: float = 0.0  # Σ fee of the fills
    closed_ms: int = 0  # the latest fill
    fills: int = 0
    last_price: float = 0.0  # the latest fill's price (a one-fill trade's exit price, exactly)

    def trade(self, order_id: str) -> Trade:
        gross = self.exit_value - self.entry_cost
        fee = self.entry_fees + self.exit_fees
        n = self.amount
        exit_price = self.last_price if self.fills == 1 else (self.exit_value / n if n > 0 else 0.0)
        return Trade(self.symbol, "long", self.opened_ms, self.closed_ms, n, self.entry_cost / n if n > 0 else 0.0, exit_price,
                     gross, fee, gross - fee, order_id, self.fills)

    def to_list(self) -> list[Any]:
        return [getattr(self, f.name) for f in fields(self)]


_NO_TRADES: tuple[Trade, ...] = ()  # the common answer of `apply`, shared (never mutated)


@dataclass
class Portfolio:
    """The account. `apply(fill)` moves cash and positions and returns the trades the fill
    closes by leaving the position flat; `close_trade(order_id)` closes the trade of an order
    that is done. `position(symbol)` is everything held (dust included), the accounting truth;
    `positions` holds the open positions only."""

    cash: float
    positions: dict[str, Position] = field(default_factory=dict)
    last_price: dict[str, float] = field(default_factory=dict)
    fees_paid: float = 0.0
    dust: dict[str, Position] = field(default_factory=dict)
    closing: dict[str, Closing] = field(default_factory=dict)  # trades in progress, by reducing order

    def _held(self, symbol: str) -> Position | None:
        pos = self.positions.get(symbol)
        return pos if pos is not None else self.dust.get(symbol)

    def position(self, symbol: str) -> float:
        """Everything held of `symbol`: the open position or its dust."""
        pos = self._held(symbol)
        return pos.amount if pos else 0.0

    def open_amount(self, symbol: str) -> float:
        """The open position of `symbol` (0 for dust): what a strategy sees."""
        pos = self.positions.get(symbol)
        return pos.amount if pos else 0.0

    def position_value(self, symbol: str) -> float:
        pos = self._held(symbol)
        return pos.amount * self.last_price.get(symbol, pos.entry_price) if pos else 0.0

    def exposure(self) -> float:
        """The value of everything held, dust included (equity counts it)."""
        total, prices = 0.0, self.last_price
        for s, p in self.positions.items():
            total += p.amount * prices.get(s, p.entry_price)
        if self.dust:
            for s, p in self.dust.items():
                total += p.amount * prices.get(s, p.entry_price)
        return total

    def open_exposure(self) -> float:
        """The value of the open positions (dust left out): what the guardian's caps compare."""
        total, prices = 0.0, self.last_price
        for s, p in self.positions.items():
            total += p.amount * prices.get(s, p.entry_price)
        return total

    def stop_price(self, symbol: str, max_loss: float) -> float:
        """The price at which the open position's loss (entry fees included) reaches `max_loss`."""
        pos = self.positions[symbol]
        return (pos.cost + pos.entry_fees - max_loss) / pos.amount

    def equity(self) -> float:
        return self.cash + self.exposure()

    def open_positions(self) -> int:
        return sum(1 for p in self.positions.values() if p.amount > 0)

    def unrealized(self, symbol: str) -> float:
        """Mark-to-market P&L of what is held (open position or dust), fees of the entry included."""
        pos = self._held(symbol)
        if not pos or pos.amount <= 0:
            return 0.0
        return pos.amount * self.last_price.get(symbol, pos.entry_price) - pos.cost - pos.entry_fees

    def to_dust(self, symbol: str) -> Position:
        """Move the open position of `symbol` to dust (the gateway decides when)."""
        pos = self.positions.pop(symbol)
        self.dust[symbol] = pos
        return pos

    def apply(self, fill: Fill) -> tuple[Trade, ...]:
        """Book a fill. A buy adds to the position (taking back its dust); a sell takes its share
        of the entry from the position and adds to its order's trade in progress. Returns the
        trades closed because the position is now flat (none for most fills)."""
        symbol = fill.symbol
        book = self.positions
        pos = book.get(symbol)
        if pos is None and symbol in self.dust:
            book = self.dust
            pos = book[symbol]
        if fill.side == BUY:
            if pos is None:
                pos = self.positions[symbol] = Position(opened_ms=fill.ts)
            elif book is self.dust:  # bought back into an open position: the dust is part of it
                self.positions[symbol] = self.dust.pop(symbol)
            self.fees_paid += fill.fee
            self.cash -= fill.amount * fill.price + fill.fee
            pos.amount += fill.amount
            pos.cost += fill.amount * fill.price
            pos.entry_fees += fill.fee
            return _NO_TRADES
        if pos is None or fill.amount > pos.amount * (1 + 1e-9) + 1e-15:
            held = pos.amount if pos is not None else 0.0
            raise ValueError(f"sell of {fill.amount} {symbol} exceeds the position {held} (spot cannot short)")
        self.fees_paid += fill.fee
        amount = min(fill.amount, pos.amount)
        share = amount / pos.amount
        entry_cost, entry_fee = pos.cost * share, pos.entry_fees * share
        self.cash += fill.amount * fill.price - fill.fee
        c = self.closing.get(fill.order_id)
        if c is None:
            c = self.closing[fill.order_id] = Closing(symbol, pos.opened_ms)
        c.amount += amount
        c.entry_cost += entry_cost
        c.entry_fees += entry_fee
        c.exit_value += amount * fill.price
        c.exit_fees += fill.fee
        c.closed_ms = max(c.closed_ms, fill.ts)
        c.fills += 1
        c.last_price = fill.price
        pos.amount -= amount
        pos.cost -= entry_cost
        pos.entry_fees -= entry_fee
        if pos.amount > 1e-12:
            return _NO_TRADES
        del book[symbol]  # flat: the round trip is over, every trade of it is final
        return tuple(self.closing.pop(oid).trade(oid) for oid in [o for o, t in self.closing.items() if t.symbol == symbol])

    def close_trade(self, order_id: str) -> Trade | None:
        """The trade of a reducing order that is done (None if it has no fill in progress)."""
        c = self.closing.pop(order_id, None)
        return c.trade(order_id) if c is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "cash": self.cash,
            "fees_paid": self.fees_paid,
            "last_price": dict(self.last_price),
            "positions": {s: [p.amount, p.cost, p.entry_fees, p.opened_ms] for s, p in self.positions.items()},
            "dust": {s: [p.amount, p.cost, p.entry_fees, p.opened_ms] for s, p in self.dust.items()},
            "closing": {oid: c.to_list() for oid, c in self.closing.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Portfolio:
        return cls(
            cash=data["cash"],
            fees_paid=data.get("fees_paid", 0.0),
            last_price=dict(data.get("last_price", {})),
            positions={s: Position(*v) for s, v in data.get("positions", {}).items()},
            dust={s: Position(*v) for s, v in data.get("dust", {}).items()},
            closing={oid: Closing(*v) for oid, v in data.get("closing", {}).items()},
        )
