"""Fills that don't lie: exchange filters, fees, order-book walks and the slippage model.

Everything here is arithmetic on plain floats; the paper executor and the tests call it."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from livegate.core.orders import BUY, Block


@dataclass(frozen=True)
class MarketRules:
    """One market's filters and fees, as the exchange states them (Binance names in brackets):
    lot step and bounds [LOT_SIZE], tick [PRICE_FILTER], minimum order value [NOTIONAL /
    MIN_NOTIONAL], and maker/taker fee rates."""

    symbol: str
    step: float = 0.00001
    min_amount: float = 0.00001
    max_amount: float = 9000.0
    tick: float = 0.01
    min_notional: float = 5.0
    maker_fee: float = 0.001
    taker_fee: float = 0.001
    source: str = "defaults"

    def floor_amount(self, amount: float) -> float:
        """Round an amount down to the lot step, as ccxt's amount_to_precision does."""
        return _to_step(amount, self.step, math.floor)

    def round_price(self, price: float) -> float:
        """Round a price to the tick (nearest), as ccxt's price_to_precision does."""
        return _to_step(price, self.tick, round)

    def check(self, amount: float, price: float, is_limit: bool = True) -> Block | None:
        """The exchange's verdict on an order of `amount` at `price` (the limit price, or the
        reference price of a market order, which has no price of its own and so no tick to
        respect): None if accepted, else the filter that fails."""
        if not (math.isfinite(amount) and amount > 0):
            return Block("LOT_SIZE", f"amount {amount!r} must be a positive number")
        if amount < self.min_amount - 1e-12:
            return Block("LOT_SIZE", f"amount {amount:g} is below the minimum {self.min_amount:g} {self.symbol}")
        if amount > self.max_amount:
            return Block("LOT_SIZE", f"amount {amount:g} is above the maximum {self.max_amount:g}")
        if not _on_step(amount, self.step):
            return Block("LOT_SIZE", f"amount {amount!r} is not a multiple of the lot step {self.step:g}")
        if is_limit and not _on_step(price, self.tick):
            return Block("PRICE_FILTER", f"price {price!r} is not a multiple of the tick {self.tick:g}")
        if amount * price < self.min_notional - 1e-9:
            return Block("NOTIONAL", f"order value {amount * price:.4f} is below the minimum notional {self.min_notional:g}")
        return None

    def is_dust(self, amount: float, price: float) -> bool:
        """Whether a holding of `amount` is dust at `price`: one market sell of all of it (rounded
        down to the lot step) would be refused — below the minimum amount [LOT_SIZE] or worth
        less than the minimum notional — the same tests as `check`."""
        sellable = self.floor_amount(amount)
        return sellable <= 0 or sellable < self.min_amount - 1e-12 or sellable * price < self.min_notional - 1e-9

    def dust_price(self, amount: float) -> float:
        """The price below which a holding of `amount` is dust (`is_dust`): infinite when its
        amount alone makes it dust. The engine compares each close with it (one comparison a bar)."""
        sellable = self.floor_amount(amount)
        if sellable <= 0 or sellable < self.min_amount - 1e-12:
            return math.inf
        return (self.min_notional - 1e-9) / sellable


def default_rules(symbol: str, price: float, maker_fee: float | None = None, taker_fee: float | None = None) -> MarketRules:
    """Binance-like spot filters for a market whose info is not available (offline replay):
    a tick of 0.01 (finer for cheap coins), a lot step giving ~0.5 quote of resolution, a
    minimum notional of 5 and Binance's base fee of 0.1 %."""
    tick = 0.01 if price >= 10 else 10 ** math.floor(math.log10(price) - 3)
    step = 10 ** math.floor(math.log10(0.5 / price))
    return MarketRules(
        symbol=symbol, step=step, min_amount=step, max_amount=9_000_000 * step, tick=tick, min_notional=5.0,
        maker_fee=0.001 if maker_fee is None else maker_fee, taker_fee=0.001 if taker_fee is None else taker_fee,
        source="defaults",
    )


@lru_cache(maxsize=256)
def _decimals(step: float) -> int:
    from decimal import Decimal

    exponent = Decimal(repr(step)).normalize().as_tuple().exponent
    if not isinstance(exponent, int):  # NaN or infinity
        raise ValueError(f"step {step!r} is not a finite number")
    return max(0, -exponent)


def _to_step(value: float, step: float, how: Callable[[float], int]) -> float:
    units = math.floor(value / step + 1e-9) if how is math.floor else math.floor(value / step + 0.5 + 1e-9)  # half up, as ccxt
    return round(units * step, _decimals(step))


def _on_step(value: float, step: float) -> bool:
    units = value / step
    return abs(units - round(units)) < 1e-6


def walk_book(levels: list[tuple[float, float]], amount: float) -> tuple[float, float]:
    """Fill `amount` against book levels [(price, size), ...] best first. Returns
    (average price, amount filled); the amount filled is less when the book runs out."""
    remaining, cost = amount, 0.0
    for price, size in levels:
        take = size if size < remaining else remaining
        cost += take * price
        remaining -= take
        if remaining <= 1e-15:
            remaining = 0.0
            break
    filled = amount - remaining
    return (cost / filled if filled > 0 else math.nan), filled


def model_price(side: str, open_: float, high: float, low: float, volume: float, amount: float, spread_bps: float = 2.0, impact: float = 1.0) -> float:
    """Fill price of a market order without an order book: the next bar's open, plus half
    the spread, plus a square-root impact: `impact · σ · √(order value / bar value)` with
    σ = (high − low) / open of that bar. Never better than the open."""
    sigma = (high - low) / open_ if open_ > 0 else 0.0
    bar_value = volume * open_
    participation = (amount * open_ / bar_value) if bar_value > 0 else 1.0
    slip = spread_bps / 2e4 + impact * sigma * math.sqrt(min(participation, 1.0))
    return open_ * (1 + slip) if side == BUY else open_ * (1 - slip)


def limit_crossed(side: str, limit: float, low: float, high: float) -> bool:
    """A resting limit fills only when the market trades through it (touching is not
    enough: the queue ahead of us is unknown)."""
    return low < limit if side == BUY else high > limit


def slippage_bps(side: str, price: float, reference: float) -> float:
    """Cost of a fill against its reference price, in basis points (positive = worse)."""
    if reference <= 0:
        return 0.0
    sign = 1.0 if side == BUY else -1.0
    return sign * (price - reference) / reference * 1e4
