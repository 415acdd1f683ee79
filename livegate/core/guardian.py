"""The risk guardian: pre-trade limits every order passes (SPEC §6, seed 001 §2.1, seed 000
§2.3, seed 003 Phase 4). It decides on a sized order; it never places one.

`limits` is `risk_limits.yaml`'s `live_trading` section and `rules` its `guardian` section
(any objects with those attributes)."""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from livegate.core.limits import GuardianSettings, LiveLimits
from livegate.core.orders import Block, OrderIntent
from livegate.core.portfolio import Portfolio

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
WEEK_MS = 7 * DAY_MS
_EPOCH_MONDAY_MS = 4 * DAY_MS  # 1970-01-05 was a Monday


def week_key(now_ms: int) -> int:
    """ISO weeks: Monday 00:00 UTC to Monday 00:00 UTC."""
    return (now_ms - _EPOCH_MONDAY_MS) // WEEK_MS


@dataclass
class RiskState:
    """What the guardian and the breakers remember between orders: peak equity, the equity
    the UTC day and the ISO week opened with, and the times of recent orders."""

    peak_equity: float
    day: int = -1
    day_open_equity: float = 0.0
    week: int = -1
    week_open_equity: float = 0.0
    equity: float = 0.0
    max_drawdown: float = 0.0
    order_times: list[int] = field(default_factory=list)  # sorted epoch ms of the last day's orders

    def mark(self, now_ms: int, equity: float) -> None:
        """Record equity at `now_ms` (mark-to-market)."""
        self.equity = equity
        if equity > self.peak_equity:
            self.peak_equity = equity
        elif self.peak_equity > 0 and 1.0 - equity / self.peak_equity > self.max_drawdown:
            self.max_drawdown = 1.0 - equity / self.peak_equity
        d = now_ms // DAY_MS
        if d != self.day:
            self.day, self.day_open_equity = d, equity
            w = week_key(now_ms)
            if w != self.week:
                self.week, self.week_open_equity = w, equity

    @property
    def drawdown(self) -> float:
        """Fraction below peak equity (0.1 = 10 % down from the peak)."""
        return 1.0 - self.equity / self.peak_equity if self.peak_equity > 0 else 0.0

    @property
    def day_loss(self) -> float:
        return self.day_open_equity - self.equity

    @property
    def week_loss(self) -> float:
        return self.week_open_equity - self.equity

    def record_order(self, now_ms: int) -> None:
        times = self.order_times
        if times and now_ms < times[-1]:
            bisect.insort(times, now_ms)
        else:
            times.append(now_ms)
        old = bisect.bisect_right(times, now_ms - DAY_MS)
        if old:
            del times[:old]

    def orders_since(self, since_ms: int) -> int:
        """Orders after `since_ms` (a binary search: throttles stay cheap with many orders)."""
        return len(self.order_times) - bisect.bisect_right(self.order_times, since_ms)

    def to_dict(self) -> dict[str, Any]:
        return {"peak_equity": self.peak_equity, "day": self.day, "day_open_equity": self.day_open_equity, "week": self.week,
                "week_open_equity": self.week_open_equity, "equity": self.equity, "max_drawdown": self.max_drawdown,
                "order_times": list(self.order_times)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RiskState:
        return cls(**{**data, "order_times": sorted(data.get("order_times", []))})


@dataclass
class Sizing:
    """The guardian's answer: the value it allows (after caps), what it capped and why it blocked."""

    value: float
    caps: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)


@dataclass
class BuyCheck:
    """One buy under check: what the rules read, and `sizing`, the answer they build. `value` is
    the value asked for; `sizing.value` what the caps have left of it so far. The account is
    read when a rule first needs it (`held`, `exposure`)."""

    value: float
    symbol: str
    intent: OrderIntent
    account: Portfolio
    state: RiskState
    now_ms: int
    limits: LiveLimits  # risk_limits.yaml's `live_trading`
    rules: GuardianSettings  # risk_limits.yaml's `guardian`
    equity: float
    sizing: Sizing
    max_trade_amount: float | None = None
    stage_cap: float | None = None
    max_cex_order_amount: float | None = None
    cap_label: str = "the stage's trade cap"  # what `stage_cap` is, in the refusal

    @cached_property
    def held(self) -> float:
        return self.account.position_value(self.symbol)

    @cached_property
    def exposure(self) -> float:
        """The value of the open positions: dust, too small to sell, is left out."""
        return self.account.open_exposure()


BuyRule = Callable[[BuyCheck], Block | None]


# -- the rules of a buy: each returns its Block, or None when the buy passes it ------------------

def no_equity(c: BuyCheck) -> Block | None:
    """Checked before the table (every rule there divides by equity): with none, nothing else is said."""
    if c.equity <= 0:
        return Block("equity", f"equity is {c.equity:.2f}; nothing may be bought")
    return None


def max_trade_pct(c: BuyCheck) -> Block | None:
    """Seed 000 §2.3: a single buy above `max_trade_pct` of equity is blocked outright (6 % > 5 %)."""
    if c.value > c.rules.max_trade_pct * c.equity + 1e-9:
        return Block("max_trade_pct", f"buy of {c.value:.2f} is {c.value / c.equity:.1%} of equity {c.equity:.2f}, "
                                      f"above the {c.rules.max_trade_pct:.0%} limit")
    return None


def max_leverage(c: BuyCheck) -> Block | None:
    """The intent's own leverage above the cap (seed 003: 4x refused)."""
    if c.intent.leverage > c.limits.max_leverage:
        return Block("max_leverage", f"leverage {c.intent.leverage:g}x is above the {c.limits.max_leverage:g}x cap")
    return None


def daily_loss_halt_buys(c: BuyCheck) -> Block | None:
    state, limit = c.state, c.rules.daily_loss_halt_buys_pct
    if state.day_loss > 0 and state.day_open_equity > 0 and state.day_loss / state.day_open_equity > limit:
        return Block("daily_loss_halt_buys", f"down {state.day_loss / state.day_open_equity:.1%} today (limit {limit:.0%}): buys halted")
    return None


def drawdown_halt_buys(c: BuyCheck) -> Block | None:
    state, limit = c.state, c.rules.drawdown_halt_buys_pct
    if state.drawdown > limit:
        return Block("drawdown_halt_buys", f"drawdown {state.drawdown:.1%} from peak {state.peak_equity:.2f} (limit {limit:.0%}): buys halted")
    return None


def _below_floor(rule: str, what: str, value: Callable[[BuyCheck], float | None], floor: Callable[[BuyCheck], float],
                 said: str) -> BuyRule:
    """A rule on a number the strategy may state with its intent: below the floor, no buy;
    not stated, not checked. `said` follows "<what> <value> is below ", with {floor}."""

    def check(c: BuyCheck) -> Block | None:
        stated, least = value(c), floor(c)
        if stated is not None and stated < least:
            return Block(rule, f"{what} {stated:g} is below " + said.format(floor=f"{least:g}"))
        return None

    check.__name__ = rule
    return check


falling_knife = _below_floor("falling_knife", "sentiment", lambda c: c.intent.sentiment, lambda c: c.rules.falling_knife_sentiment,
                             "{floor}: no buying a falling knife")
min_edge_threshold = _below_floor("min_edge_threshold", "edge", lambda c: c.intent.edge, lambda c: c.limits.min_edge_threshold,
                                  "the minimum {floor}")
min_confidence = _below_floor("min_confidence", "confidence", lambda c: c.intent.confidence, lambda c: c.limits.min_confidence,
                              "the minimum {floor}")


def max_open_positions(c: BuyCheck) -> Block | None:
    """Only a new position counts: adding to one already open is not another (dust is not an
    open position: buying into it opens one)."""
    limit = c.limits.max_open_positions
    if c.account.open_amount(c.symbol) <= 0 and c.account.open_positions() >= limit:
        return Block("max_open_positions", f"{c.account.open_positions()} positions open, the limit is {limit}")
    return None


def min_seconds_between_trades(c: BuyCheck) -> Block | None:
    times, minimum = c.state.order_times, c.limits.min_seconds_between_trades
    if times and (c.now_ms - times[-1]) / 1000 < minimum:
        return Block("min_seconds_between_trades", f"{(c.now_ms - times[-1]) / 1000:.0f} s since the last order, the minimum is {minimum:g} s")
    return None


def max_trades_per_hour(c: BuyCheck) -> Block | None:
    limit = c.limits.max_trades_per_hour
    if c.state.orders_since(c.now_ms - HOUR_MS) >= limit:
        return Block("max_trades_per_hour", f"{limit} orders in the last hour already")
    return None


def max_trades_per_day(c: BuyCheck) -> Block | None:
    """The UTC day: orders since 00:00 UTC, that instant included."""
    limit = c.limits.max_trades_per_day
    day_start = (c.now_ms // DAY_MS) * DAY_MS
    if c.state.orders_since(day_start - 1) >= limit:
        return Block("max_trades_per_day", f"{limit} orders today (UTC) already")
    return None


# The value caps of a single trade refuse an order above them: a $10 stage must never quietly
# become a smaller order of something else (value at the current price).

def _refuse_above(c: BuyCheck, rule: str, cap: float | None, label: str) -> Block | None:
    if cap is not None and c.value > cap + 1e-9:
        return Block(rule, f"buy worth {c.value:,.2f} is above {label} {cap:,.2f}: refused, not resized")
    return None


def max_trade_amount(c: BuyCheck) -> Block | None:
    """MAX_TRADE_AMOUNT (.env), when set."""
    return _refuse_above(c, "max_trade_amount", c.max_trade_amount, "MAX_TRADE_AMOUNT")


def max_cex_order_amount(c: BuyCheck) -> Block | None:
    """MAX_CEX_ORDER_AMOUNT (.env), when set: the cap on each order sent to a centralized
    exchange (the gateway of an on-chain swap is built without it)."""
    cap = c.max_cex_order_amount
    if cap is not None and c.value > cap + 1e-9:
        quote = c.symbol.partition("/")[2].split(":")[0] or "in the quote currency"
        return Block("max_cex_order_amount", f"MAX_CEX_ORDER_AMOUNT caps a CEX order at {cap:,.2f} {quote}; this one is "
                                             f"{c.value:,.2f}: refused, not resized")
    return None


def stage_cap(c: BuyCheck) -> Block | None:
    """The micro-live stage's trade cap (in production trading: the capital level's order cap), when there is one."""
    return _refuse_above(c, "stage_cap", c.stage_cap, c.cap_label)


# The position and capital caps resize: the order shrinks to the room left (seed 003: "attempt
# 25 %, capped to 20 %"); with no room at all it is blocked and its value becomes 0. Each cap
# applies to what the caps before it left.

def _resize(c: BuyCheck, rule: str, room: float | None, label: str) -> Block | None:
    out = c.sizing
    if room is None or out.value <= room + 1e-9:
        return None
    if room <= 0:
        out.value = 0.0
        return Block(rule, f"no room under the {label} ({c.held:.2f} held)")
    out.caps.append(f"{rule}: {out.value:.2f} capped to {room:.2f} ({label})")
    out.value = room
    return None


def max_position_size(c: BuyCheck) -> Block | None:
    lim = c.limits
    return _resize(c, "max_position_size", lim.max_position_size - c.held, f"position limit {lim.max_position_size:g}")


def max_position_pct(c: BuyCheck) -> Block | None:
    lim = c.limits
    return _resize(c, "max_position_pct", lim.max_position_pct * c.equity - c.held,
                   f"position cap {lim.max_position_pct:.0%} of equity")


def max_total_capital(c: BuyCheck) -> Block | None:
    lim = c.limits
    return _resize(c, "max_total_capital", lim.max_total_capital - c.exposure, f"total capital limit {lim.max_total_capital:g}")


def max_exposure_leverage(c: BuyCheck) -> Block | None:
    """Exposure after the (resized) buy against equity; blocks as `max_leverage`."""
    after = c.exposure + c.sizing.value
    if after / c.equity > c.limits.max_leverage + 1e-9:
        return Block("max_leverage", f"exposure {after:.2f} would be {after / c.equity:.2f}x equity, above {c.limits.max_leverage:g}x")
    return None


# The order the rules are checked in, which is the order of `Sizing.blocks` and `Sizing.caps`.
BUY_RULES: tuple[BuyRule, ...] = (
    max_trade_pct, max_leverage, daily_loss_halt_buys, drawdown_halt_buys, falling_knife, min_edge_threshold,
    min_confidence, max_open_positions,
    min_seconds_between_trades, max_trades_per_hour, max_trades_per_day,  # the throttles
    max_trade_amount, max_cex_order_amount, stage_cap,  # value caps: refused
    max_position_size, max_position_pct, max_total_capital,  # position and capital caps: resized
    max_exposure_leverage,
)


class RiskGuardian:
    def __init__(self, limits: LiveLimits, rules: GuardianSettings, max_trade_amount: float | None = None,
                 max_cex_order_amount: float | None = None):
        self.limits = limits
        self.rules = rules
        self.max_trade_amount = max_trade_amount
        self.max_cex_order_amount = max_cex_order_amount
        self.cap_label = "the stage's trade cap"  # production trading names its capital level's cap instead

    def check_buy(self, value: float, symbol: str, intent: OrderIntent, account: Portfolio, state: RiskState, now_ms: int, stage_cap: float | None = None) -> Sizing:
        """Decide on a buy worth `value` (quote): every rule of BUY_RULES in turn. Blocks are
        collected, not short-circuited, so the operator sees every rule an order breaks. Caps
        shrink the order (seed 003: "attempt 25 %, capped to 20 %"); a single buy above
        `max_trade_pct` is blocked outright (seed 000 §2.3: 6 % > 5 % blocked). Without
        equity, that alone is the answer."""
        out = Sizing(value)
        check = BuyCheck(value, symbol, intent, account, state, now_ms, self.limits, self.rules, account.equity(), out,
                         max_trade_amount=self.max_trade_amount, stage_cap=stage_cap,
                         max_cex_order_amount=self.max_cex_order_amount, cap_label=self.cap_label)
        block = no_equity(check)
        if block is not None:
            out.blocks.append(block)
            return out
        for rule in BUY_RULES:
            block = rule(check)
            if block is not None:
                out.blocks.append(block)
        return out

    def stop_loss_due(self, account: Portfolio, symbol: str) -> bool:
        """Whether an open position's loss has reached `max_single_trade_loss` and must be closed."""
        return account.unrealized(symbol) <= -self.limits.max_single_trade_loss
