"""Cash, positions and the trades they close (spot: long positions only)."""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass
class Portfolio:
    """The paper account. `apply(fill)` moves cash and positions and returns the trade a
    reducing fill closes (fees of the entry charged pro rata), or None."""

    cash: float
    positions: dict[str, Position] = field(default_factory=dict)
    last_price: dict[str, float] = field(default_factory=dict)
    fees_paid: float = 0.0

    def position(self, symbol: str) -> float:
        pos = self.positions.get(symbol)
        return pos.amount if pos else 0.0

    def position_value(self, symbol: str) -> float:
        pos = self.positions.get(symbol)
        return pos.amount * self.last_price.get(symbol, pos.entry_price) if pos else 0.0

    def exposure(self) -> float:
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
        """Mark-to-market P&L of the open position, fees of the entry included."""
        pos = self.positions.get(symbol)
        if not pos or pos.amount <= 0:
            return 0.0
        return pos.amount * self.last_price.get(symbol, pos.entry_price) - pos.cost - pos.entry_fees

    def apply(self, fill: Fill) -> Trade | None:
        value = fill.amount * fill.price
        held = self.position(fill.symbol)
        if fill.side != BUY and fill.amount > held * (1 + 1e-9) + 1e-15:
            raise ValueError(f"sell of {fill.amount} {fill.symbol} exceeds the position {held} (spot cannot short)")
        self.fees_paid += fill.fee
        pos = self.positions.setdefault(fill.symbol, Position())
        if fill.side == BUY:
            if pos.amount <= 0:
                pos.opened_ms = fill.ts
            self.cash -= value + fill.fee
            pos.amount += fill.amount
            pos.cost += value
            pos.entry_fees += fill.fee
            return None
        amount = min(fill.amount, pos.amount)
        share = amount / pos.amount
        entry_cost, entry_fee = pos.cost * share, pos.entry_fees * share
        self.cash += value - fill.fee
        gross = amount * fill.price - entry_cost
        fee = entry_fee + fill.fee
        trade = Trade(fill.symbol, "long", pos.opened_ms, fill.ts, amount, entry_cost / amount, fill.price, gross, fee, gross - fee)
        pos.amount -= amount
        pos.cost -= entry_cost
        pos.entry_fees -= entry_fee
        if pos.amount <= 1e-12:
            self.positions.pop(fill.symbol)
        return trade

    def to_dict(self) -> dict[str, Any]:
        return {
            "cash": self.cash,
            "fees_paid": self.fees_paid,
            "last_price": dict(self.last_price),
            "positions": {s: [p.amount, p.cost, p.entry_fees, p.opened_ms] for s, p in self.positions.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Portfolio:
        return cls(
            cash=data["cash"],
            fees_paid=data.get("fees_paid", 0.0),
            last_price=dict(data.get("last_price", {})),
            positions={s: Position(*v) for s, v in data.get("positions", {}).items()},
        )
