"""The risk guardian: pre-trade limits every order passes (SPEC §6, seed 001 §2.1, seed 000
§2.3, seed 003 Phase 4). It decides on a sized order; it never places one.

`limits` is `risk_limits.yaml`'s `live_trading` section and `rules` its `guardian` section
(any objects with those attributes)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from livegate.core.orders import Block

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
WEEK_MS = 7 * DAY_MS
_EPOCH_MONDAY_MS = 4 * DAY_MS  # 1970-01-05 was a Monday


def day_key(now_ms: int) -> int:
    return now_ms // DAY_MS


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
    order_times: list = field(default_factory=list)  # sorted epoch ms of the last day's orders

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
    def from_dict(cls, data: dict[str, Any]) -> "RiskState":
        return cls(**{**data, "order_times": sorted(data.get("order_times", []))})


@dataclass
class Sizing:
    """The guardian's answer: the value it allows (after caps), what it capped and why it blocked."""

    value: float
    caps: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)


class RiskGuardian:
    def __init__(self, limits: Any, rules: Any, max_trade_amount: float | None = None):
        self.limits = limits
        self.rules = rules
        self.max_trade_amount = max_trade_amount

    def check_buy(self, value: float, symbol: str, intent: Any, account: Any, state: RiskState, now_ms: int, stage_cap: float | None = None) -> Sizing:
        """Decide on a buy worth `value` (quote). Blocks are collected, not short-circuited,
        so the operator sees every rule an order breaks. Caps shrink the order (seed 003:
        "attempt 25 %, capped to 20 %"); a single buy above `max_trade_pct` is blocked
        outright (seed 000 §2.3: 6 % > 5 % blocked)."""
        lim, rules = self.limits, self.rules
        equity = account.equity()
        out = Sizing(value)
        blocks = out.blocks
        if equity <= 0:
            blocks.append(Block("equity", f"equity is {equity:.2f}; nothing may be bought"))
            return out
        if value > rules.max_trade_pct * equity + 1e-9:
            blocks.append(Block("max_trade_pct", f"buy of {value:.2f} is {value / equity:.1%} of equity {equity:.2f}, above the {rules.max_trade_pct:.0%} limit"))
        if intent.leverage > lim.max_leverage:
            blocks.append(Block("max_leverage", f"leverage {intent.leverage:g}x is above the {lim.max_leverage:g}x cap"))
        if state.day_loss > 0 and state.day_open_equity > 0 and state.day_loss / state.day_open_equity > rules.daily_loss_halt_buys_pct:
            blocks.append(Block("daily_loss_halt_buys", f"down {state.day_loss / state.day_open_equity:.1%} today (limit {rules.daily_loss_halt_buys_pct:.0%}): buys halted"))
        if state.drawdown > rules.drawdown_halt_buys_pct:
            blocks.append(Block("drawdown_halt_buys", f"drawdown {state.drawdown:.1%} from peak {state.peak_equity:.2f} (limit {rules.drawdown_halt_buys_pct:.0%}): buys halted"))
        if intent.sentiment is not None and intent.sentiment < rules.falling_knife_sentiment:
            blocks.append(Block("falling_knife", f"sentiment {intent.sentiment:g} is below {rules.falling_knife_sentiment:g}: no buying a falling knife"))
        if intent.edge is not None and intent.edge < lim.min_edge_threshold:
            blocks.append(Block("min_edge_threshold", f"edge {intent.edge:g} is below the minimum {lim.min_edge_threshold:g}"))
        if intent.confidence is not None and intent.confidence < lim.min_confidence:
            blocks.append(Block("min_confidence", f"confidence {intent.confidence:g} is below the minimum {lim.min_confidence:g}"))
        held = account.position_value(symbol)
        if held <= 0 and account.open_positions() >= lim.max_open_positions:
            blocks.append(Block("max_open_positions", f"{account.open_positions()} positions open, the limit is {lim.max_open_positions}"))
        blocks += self._throttles(state, now_ms)
        exposure = account.exposure()
        # The value caps of a single trade refuse an order above them: a $10 stage must never
        # quietly become a smaller order of something else (value at the current price).
        for rule, cap, label in (("max_trade_amount", self.max_trade_amount, "MAX_TRADE_AMOUNT"),
                                 ("stage_cap", stage_cap, "the stage's trade cap")):
            if cap is not None and value > cap + 1e-9:
                blocks.append(Block(rule, f"buy worth {value:,.2f} is above {label} {cap:,.2f}: refused, not resized"))
        for rule, room, label in (
            ("max_position_size", lim.max_position_size - held, f"position limit {lim.max_position_size:g}"),
            ("max_position_pct", lim.max_position_pct * equity - held, f"position cap {lim.max_position_pct:.0%} of equity"),
            ("max_total_capital", lim.max_total_capital - exposure, f"total capital limit {lim.max_total_capital:g}"),
        ):
            if room is None or out.value <= room + 1e-9:
                continue
            if room <= 0:
                blocks.append(Block(rule, f"no room under the {label} ({held:.2f} held)"))
                out.value = 0.0
            else:
                out.caps.append(f"{rule}: {out.value:.2f} capped to {room:.2f} ({label})")
                out.value = room
        if (exposure + out.value) / equity > lim.max_leverage + 1e-9:
            blocks.append(Block("max_leverage", f"exposure {(exposure + out.value):.2f} would be {(exposure + out.value) / equity:.2f}x equity, above {lim.max_leverage:g}x"))
        return out

    def _throttles(self, state: RiskState, now_ms: int) -> list[Block]:
        lim, out = self.limits, []
        times = state.order_times
        if times and (now_ms - times[-1]) / 1000 < lim.min_seconds_between_trades:
            out.append(Block("min_seconds_between_trades", f"{(now_ms - times[-1]) / 1000:.0f} s since the last order, the minimum is {lim.min_seconds_between_trades:g} s"))
        if state.orders_since(now_ms - HOUR_MS) >= lim.max_trades_per_hour:
            out.append(Block("max_trades_per_hour", f"{lim.max_trades_per_hour} orders in the last hour already"))
        day_start = (now_ms // DAY_MS) * DAY_MS
        if state.orders_since(day_start - 1) >= lim.max_trades_per_day:
            out.append(Block("max_trades_per_day", f"{lim.max_trades_per_day} orders today (UTC) already"))
        return out

    def stop_loss_due(self, account: Any, symbol: str) -> bool:
        """Whether an open position's loss has reached `max_single_trade_loss` and must be closed."""
        return account.unrealized(symbol) <= -self.limits.max_single_trade_loss
