"""The vocabulary of trading: bars, order intents, orders, fills and closed trades.

Plain data, no I/O. Times are epoch milliseconds (UTC), money is in the quote currency."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

BUY, SELL = "buy", "sell"
MARKET, LIMIT = "market", "limit"
# Protective orders: a sell that waits at the venue until the last price reaches its stop price,
# then becomes a limit order at its price (Binance's STOP_LOSS_LIMIT and TAKE_PROFIT_LIMIT).
STOP_LOSS_LIMIT, TAKE_PROFIT_LIMIT = "stop_loss_limit", "take_profit_limit"
PROTECTIVE = (STOP_LOSS_LIMIT, TAKE_PROFIT_LIMIT)


class Bar(NamedTuple):
    """One closed candle. `ts` is its open time; it closed at `ts + timeframe`."""

    symbol: str
    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(slots=True)
class OrderIntent:
    """What a strategy wants. Size it with `amount` (base units) or `quote_amount` (quote
    currency). `edge`, `confidence` and `sentiment` are optional inputs for the risk guardian
    (seed 001 §2.1, seed 000 §2.3); `leverage` defaults to 1 (spot)."""

    symbol: str
    side: str
    amount: float | None = None
    quote_amount: float | None = None
    type: str = MARKET
    price: float | None = None
    edge: float | None = None
    confidence: float | None = None
    sentiment: float | None = None
    leverage: float = 1.0
    reason: str = ""
    stop_price: float | None = None  # a protective order's trigger (PROTECTIVE types)


@dataclass(slots=True)
class Order:
    """An intent the gateway accepted, sized and normalised to the market's filters."""

    client_id: str
    symbol: str
    side: str
    type: str
    amount: float
    price: float | None
    created_ms: int
    origin: str = "strategy"  # strategy | guardian | operator
    reduce_only: bool = False
    filled: float = 0.0
    status: str = "open"  # open | filled | canceled | rejected
    quote_value: float | None = None  # a buy: the value the risk guardian approved; no executor spends more
    stop_price: float | None = None  # a protective order's trigger price

    def to_dict(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.__slots__}
        if out["stop_price"] is None:  # only a protective order has one
            del out["stop_price"]
        return out


@dataclass(slots=True)
class Fill:
    """An execution. `reference` is the price the decision saw (last close or best quote);
    `slippage_bps` is the fill's cost against it (positive = worse)."""

    order_id: str
    symbol: str
    side: str
    amount: float
    price: float
    fee: float
    liquidity: str  # taker | maker
    ts: int
    reference: float
    slippage_bps: float
    model: str  # book | model | limit

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(slots=True)
class Trade:
    """The trade unit, the same in paper, testnet, live and imports: one reducing order's fills,
    all of them, against the position they reduce — a round trip from entry to flat, or the
    part of a position one order sold. `amount` is what the order sold; `entry_price` the
    position's quantity-weighted entry (buys, fees excluded) and `exit_price` the order's
    quantity-weighted fill price; `gross` = amount · (exit − entry); `fee` = the entry fees of
    the amount sold (pro rata) + every fill's fee; `net` = gross − fee. `opened_ms` is when the
    position was opened from flat, `closed_ms` the order's last fill. `order_id` is the
    reducing order's client id and `fills` how many fills it took."""

    symbol: str
    side: str  # long
    opened_ms: int
    closed_ms: int
    amount: float
    entry_price: float
    exit_price: float
    gross: float
    fee: float
    net: float
    order_id: str = ""
    fills: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class Block:
    """Why an intent was refused: the rule and a sentence for the operator."""

    rule: str
    message: str
