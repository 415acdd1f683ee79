"""Each rule of the risk guardian's table (livegate.core.guardian.BUY_RULES), one table-driven test
per rule: cases where it blocks or caps and cases where it lets the buy pass. Every expected
message and value is worked out by hand here, not taken from the code.

The account is a stub whose numbers are fixed, so equity, the value held and the exposure are
exactly what each case says. Unless a case says otherwise: equity 10,000, nothing held, the
guardian's default rules (5 % per trade, 5 % daily loss, 10 % drawdown, sentiment -0.5) and
limits where nothing binds (tests/core/trading_helpers.limits: 20 % position cap, 3x leverage)."""

from __future__ import annotations

import pytest

from livegate.config.models import GuardianRules
from livegate.core import guardian
from livegate.core.guardian import DAY_MS, HOUR_MS, BuyCheck, RiskGuardian, RiskState, Sizing
from livegate.core.orders import BUY, OrderIntent
from tests.core.trading_helpers import limits

BTC = "BTC/USDT"
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
MIN = 60_000
NOW = T0 + 12 * HOUR_MS


class Account:
    """What the rules read of an account, fixed."""

    def __init__(self, equity: float = 10_000.0, held: float = 0.0, exposure: float = 0.0, open_positions: int = 0):
        self._equity, self.held, self._exposure, self.positions = equity, held, exposure, open_positions

    def equity(self) -> float:
        return self._equity

    def position_value(self, symbol: str) -> float:
        return self.held

    def open_exposure(self) -> float:
        return self._exposure

    def open_amount(self, symbol: str) -> float:
        return self.held  # only its sign matters to the rules: something open, or nothing

    def open_positions(self) -> int:
        return self.positions


def buy(value: float = 100.0, *, equity: float = 10_000.0, held: float = 0.0, exposure: float = 0.0, open_positions: int = 0,
        intent: dict | None = None, lim: dict | None = None, rules: dict | None = None, state: RiskState | None = None,
        now: int = NOW, max_trade_amount: float | None = None, stage_cap: float | None = None,
        allowed: float | None = None, max_cex_order_amount: float | None = None, symbol: str = BTC) -> BuyCheck:
    """A buy worth `value` under check; `allowed` is what earlier caps left of it (default: all)."""
    return BuyCheck(value, symbol, OrderIntent(symbol, BUY, **(intent or {})), Account(equity, held, exposure, open_positions),
                    state if state is not None else RiskState(peak_equity=equity, equity=equity), now,
                    limits(**(lim or {})), GuardianRules(**(rules or {})), equity, Sizing(value if allowed is None else allowed),
                    max_trade_amount=max_trade_amount, stage_cap=stage_cap, max_cex_order_amount=max_cex_order_amount)


def said(block):
    return None if block is None else (block.rule, block.message)


def day(open_equity: float, equity: float) -> RiskState:
    return RiskState(peak_equity=max(open_equity, equity), day=NOW // DAY_MS, day_open_equity=open_equity, equity=equity)


def orders(*times: int) -> RiskState:
    return RiskState(peak_equity=10_000.0, equity=10_000.0, order_times=sorted(times))


# -- the table -------------------------------------------------------------------------------------
def test_the_table_holds_every_rule_in_the_order_they_are_checked():
    assert [rule.__name__ for rule in guardian.BUY_RULES] == [
        "max_trade_pct", "max_leverage", "daily_loss_halt_buys", "drawdown_halt_buys", "falling_knife",
        "min_edge_threshold", "min_confidence", "max_open_positions", "min_seconds_between_trades",
        "max_trades_per_hour", "max_trades_per_day", "max_trade_amount", "max_cex_order_amount", "stage_cap", "max_position_size",
        "max_position_pct", "max_total_capital", "max_exposure_leverage"]


def test_check_buy_collects_every_block_in_table_order():
    g = RiskGuardian(limits(max_trades_per_hour=1), GuardianRules(), max_trade_amount=50.0)
    sizing = g.check_buy(600.0, BTC, OrderIntent(BTC, BUY, leverage=4.0, sentiment=-0.9), Account(),
                         orders(NOW - MIN), NOW, stage_cap=20.0)
    assert [b.rule for b in sizing.blocks] == ["max_trade_pct", "max_leverage", "falling_knife", "max_trades_per_hour",
                                               "max_trade_amount", "stage_cap"]
    assert sizing.value == 600.0 and sizing.caps == []  # 600 is within the 2,000 position cap: refused, not resized


def test_check_buy_without_equity_says_that_alone():
    g = RiskGuardian(limits(), GuardianRules(), max_trade_amount=1.0)
    sizing = g.check_buy(600.0, BTC, OrderIntent(BTC, BUY, leverage=4.0), Account(equity=0.0), orders(NOW - MIN), NOW)
    assert [(b.rule, b.message) for b in sizing.blocks] == [("equity", "equity is 0.00; nothing may be bought")]


# -- one test per rule ------------------------------------------------------------------------------
@pytest.mark.parametrize("equity, expected", [
    (0.0, ("equity", "equity is 0.00; nothing may be bought")),
    (-12.5, ("equity", "equity is -12.50; nothing may be bought")),
    (0.01, None),
    (10_000.0, None),
])
def test_no_equity(equity, expected):
    assert said(guardian.no_equity(buy(equity=equity))) == expected


@pytest.mark.parametrize("value, equity, rules, expected", [
    (600.0, 10_000.0, {}, ("max_trade_pct", "buy of 600.00 is 6.0% of equity 10000.00, above the 5% limit")),  # seed 000
    (500.01, 10_000.0, {}, ("max_trade_pct", "buy of 500.01 is 5.0% of equity 10000.00, above the 5% limit")),
    (150.0, 2_000.0, {}, ("max_trade_pct", "buy of 150.00 is 7.5% of equity 2000.00, above the 5% limit")),
    (250.0, 10_000.0, {"max_trade_pct": 0.02}, ("max_trade_pct", "buy of 250.00 is 2.5% of equity 10000.00, above the 2% limit")),
    (500.0, 10_000.0, {}, None),  # exactly 5 %
    (100.0, 2_000.0, {}, None),
])
def test_max_trade_pct(value, equity, rules, expected):
    assert said(guardian.max_trade_pct(buy(value, equity=equity, rules=rules))) == expected


@pytest.mark.parametrize("leverage, cap, expected", [
    (4.0, 3.0, ("max_leverage", "leverage 4x is above the 3x cap")),  # seed 003
    (1.5, 1.0, ("max_leverage", "leverage 1.5x is above the 1x cap")),
    (3.0, 3.0, None),
    (1.0, 1.0, None),
])
def test_max_leverage(leverage, cap, expected):
    assert said(guardian.max_leverage(buy(intent={"leverage": leverage}, lim={"max_leverage": cap}))) == expected


@pytest.mark.parametrize("state, rules, expected", [
    (day(10_000.0, 9_400.0), {}, ("daily_loss_halt_buys", "down 6.0% today (limit 5%): buys halted")),
    (day(8_000.0, 7_000.0), {"daily_loss_halt_buys_pct": 0.1}, ("daily_loss_halt_buys", "down 12.5% today (limit 10%): buys halted")),
    (day(10_000.0, 9_500.0), {}, None),  # exactly 5 % down
    (day(10_000.0, 10_600.0), {}, None),  # up today
    (day(0.0, 0.0), {}, None),  # no opening equity recorded
])
def test_daily_loss_halt_buys(state, rules, expected):
    assert said(guardian.daily_loss_halt_buys(buy(state=state, rules=rules))) == expected


@pytest.mark.parametrize("peak, equity, rules, expected", [
    (10_000.0, 8_900.0, {}, ("drawdown_halt_buys", "drawdown 11.0% from peak 10000.00 (limit 10%): buys halted")),
    (12_000.0, 10_000.0, {}, ("drawdown_halt_buys", "drawdown 16.7% from peak 12000.00 (limit 10%): buys halted")),
    (12_000.0, 10_000.0, {"drawdown_halt_buys_pct": 0.2}, None),
    (10_000.0, 9_000.0, {}, None),  # exactly 10 % down
    (10_000.0, 10_000.0, {}, None),
])
def test_drawdown_halt_buys(peak, equity, rules, expected):
    state = RiskState(peak_equity=peak, equity=equity)
    assert said(guardian.drawdown_halt_buys(buy(state=state, rules=rules))) == expected


@pytest.mark.parametrize("sentiment, rules, expected", [
    (-0.6, {}, ("falling_knife", "sentiment -0.6 is below -0.5: no buying a falling knife")),  # seed 000
    (-0.3, {"falling_knife_sentiment": -0.2}, ("falling_knife", "sentiment -0.3 is below -0.2: no buying a falling knife")),
    (-0.5, {}, None),  # "below -0.5": -0.5 itself passes
    (0.4, {}, None),
    (None, {"falling_knife_sentiment": 0.0}, None),  # not stated: not checked
])
def test_falling_knife(sentiment, rules, expected):
    assert said(guardian.falling_knife(buy(intent={"sentiment": sentiment}, rules=rules))) == expected


@pytest.mark.parametrize("edge, floor, expected", [
    (0.05, 0.08, ("min_edge_threshold", "edge 0.05 is below the minimum 0.08")),
    (0.0, 0.01, ("min_edge_threshold", "edge 0 is below the minimum 0.01")),
    (0.08, 0.08, None),
    (None, 0.08, None),  # not stated: not checked
])
def test_min_edge_threshold(edge, floor, expected):
    assert said(guardian.min_edge_threshold(buy(intent={"edge": edge}, lim={"min_edge_threshold": floor}))) == expected


@pytest.mark.parametrize("confidence, floor, expected", [
    (0.4, 0.6, ("min_confidence", "confidence 0.4 is below the minimum 0.6")),
    (0.25, 0.5, ("min_confidence", "confidence 0.25 is below the minimum 0.5")),
    (0.6, 0.6, None),
    (None, 0.9, None),  # not stated: not checked
])
def test_min_confidence(confidence, floor, expected):
    assert said(guardian.min_confidence(buy(intent={"confidence": confidence}, lim={"min_confidence": floor}))) == expected


@pytest.mark.parametrize("open_positions, held, limit, expected", [
    (3, 0.0, 3, ("max_open_positions", "3 positions open, the limit is 3")),
    (5, 0.0, 3, ("max_open_positions", "5 positions open, the limit is 3")),
    (3, 50.0, 3, None),  # adding to a position held is not a new one
    (2, 0.0, 3, None),
])
def test_max_open_positions(open_positions, held, limit, expected):
    check = buy(open_positions=open_positions, held=held, lim={"max_open_positions": limit})
    assert said(guardian.max_open_positions(check)) == expected


@pytest.mark.parametrize("state, minimum, expected", [
    (orders(NOW - 30_000), 60.0, ("min_seconds_between_trades", "30 s since the last order, the minimum is 60 s")),
    (orders(NOW - 59_600), 60.0, ("min_seconds_between_trades", "60 s since the last order, the minimum is 60 s")),  # 59.6 s, shown rounded
    (orders(NOW - 5 * MIN, NOW - 1_000), 2.5, ("min_seconds_between_trades", "1 s since the last order, the minimum is 2.5 s")),
    (orders(NOW - 60_000), 60.0, None),
    (orders(), 60.0, None),  # no order yet
])
def test_min_seconds_between_trades(state, minimum, expected):
    assert said(guardian.min_seconds_between_trades(buy(state=state, lim={"min_seconds_between_trades": minimum}))) == expected


@pytest.mark.parametrize("state, limit, expected", [
    (orders(NOW - 10 * MIN, NOW - 20 * MIN, NOW - 30 * MIN), 3, ("max_trades_per_hour", "3 orders in the last hour already")),
    (orders(NOW - 59 * MIN, NOW - MIN), 2, ("max_trades_per_hour", "2 orders in the last hour already")),
    (orders(NOW - HOUR_MS, NOW - 20 * MIN, NOW - 30 * MIN), 3, None),  # the one an hour ago exactly no longer counts
    (orders(NOW - 2 * HOUR_MS, NOW - 90 * MIN), 1, None),
])
def test_max_trades_per_hour(state, limit, expected):
    assert said(guardian.max_trades_per_hour(buy(state=state, lim={"max_trades_per_hour": limit}))) == expected


@pytest.mark.parametrize("state, limit, expected", [
    (orders(T0, T0 + HOUR_MS), 2, ("max_trades_per_day", "2 orders today (UTC) already")),  # 00:00 UTC itself is today
    (orders(T0 + HOUR_MS, T0 + 2 * HOUR_MS, T0 + 3 * HOUR_MS), 3, ("max_trades_per_day", "3 orders today (UTC) already")),
    (orders(T0 - 1, T0 + HOUR_MS), 2, None),  # one of them was yesterday
    (orders(T0 - 5 * HOUR_MS, T0 - HOUR_MS), 1, None),
])
def test_max_trades_per_day(state, limit, expected):
    assert said(guardian.max_trades_per_day(buy(state=state, lim={"max_trades_per_day": limit}))) == expected


@pytest.mark.parametrize("value, cap, expected", [
    (12.5, 10.0, ("max_trade_amount", "buy worth 12.50 is above MAX_TRADE_AMOUNT 10.00: refused, not resized")),
    (1_500.0, 1_000.0, ("max_trade_amount", "buy worth 1,500.00 is above MAX_TRADE_AMOUNT 1,000.00: refused, not resized")),
    (10.0, 10.0, None),
    (10_000.0, None, None),  # not set
])
def test_max_trade_amount(value, cap, expected):
    check = buy(value, max_trade_amount=cap)
    assert said(guardian.max_trade_amount(check)) == expected
    assert check.sizing.value == value  # refused or not, never resized


@pytest.mark.parametrize("value, cap, symbol, expected", [
    (63.2, 50.0, BTC, ("max_cex_order_amount", "MAX_CEX_ORDER_AMOUNT caps a CEX order at 50.00 USDT; this one is 63.20: "
                                               "refused, not resized")),
    (1_250.0, 1_000.0, "ETH/EUR", ("max_cex_order_amount", "MAX_CEX_ORDER_AMOUNT caps a CEX order at 1,000.00 EUR; this one "
                                                           "is 1,250.00: refused, not resized")),
    (50.01, 50.0, BTC, ("max_cex_order_amount", "MAX_CEX_ORDER_AMOUNT caps a CEX order at 50.00 USDT; this one is 50.01: "
                                                "refused, not resized")),
    (50.0, 50.0, BTC, None),
    (49.99, 50.0, BTC, None),
    (10_000.0, None, BTC, None),  # not set (nor on a swap's gateway)
])
def test_max_cex_order_amount(value, cap, symbol, expected):
    check = buy(value, max_cex_order_amount=cap, symbol=symbol)
    assert said(guardian.max_cex_order_amount(check)) == expected
    assert check.sizing.value == value  # refused or not, never resized


@pytest.mark.parametrize("value, cap, expected", [
    (30.0, 25.0, ("stage_cap", "buy worth 30.00 is above the stage's trade cap 25.00: refused, not resized")),
    (2_000.5, 1_000.0, ("stage_cap", "buy worth 2,000.50 is above the stage's trade cap 1,000.00: refused, not resized")),
    (25.0, 25.0, None),
    (10_000.0, None, None),  # no stage
])
def test_stage_cap(value, cap, expected):
    check = buy(value, stage_cap=cap)
    assert said(guardian.stage_cap(check)) == expected
    assert check.sizing.value == value


@pytest.mark.parametrize("value, allowed, held, limit, expected, value_after, caps", [
    (300.0, None, 600.0, 1_000.0, None, 300.0, []),  # 400 of room
    (500.0, None, 600.0, 1_000.0, None, 400.0, ["max_position_size: 500.00 capped to 400.00 (position limit 1000)"]),
    (900.0, 350.0, 600.0, 1_000.0, None, 350.0, []),  # earlier caps left 350: it fits
    (100.0, None, 1_000.0, 1_000.0, ("max_position_size", "no room under the position limit 1000 (1000.00 held)"), 0.0, []),
    (100.0, None, 1_200.0, 1_000.0, ("max_position_size", "no room under the position limit 1000 (1200.00 held)"), 0.0, []),
])
def test_max_position_size(value, allowed, held, limit, expected, value_after, caps):
    check = buy(value, allowed=allowed, held=held, lim={"max_position_size": limit})
    assert said(guardian.max_position_size(check)) == expected
    assert check.sizing.value == value_after and check.sizing.caps == caps


@pytest.mark.parametrize("value, allowed, held, pct, expected, value_after, caps", [
    (400.0, None, 1_500.0, 0.2, None, 400.0, []),  # 20 % of 10,000 = 2,000; 500 of room
    (800.0, None, 1_500.0, 0.2, None, 500.0, ["max_position_pct: 800.00 capped to 500.00 (position cap 20% of equity)"]),
    (2_500.0, None, 0.0, 0.1, None, 1_000.0, ["max_position_pct: 2500.00 capped to 1000.00 (position cap 10% of equity)"]),
    (2_500.0, 900.0, 0.0, 0.1, None, 900.0, []),  # earlier caps left 900: it fits
    (50.0, None, 2_000.0, 0.2, ("max_position_pct", "no room under the position cap 20% of equity (2000.00 held)"), 0.0, []),
])
def test_max_position_pct(value, allowed, held, pct, expected, value_after, caps):
    check = buy(value, allowed=allowed, held=held, lim={"max_position_pct": pct})
    assert said(guardian.max_position_pct(check)) == expected
    assert check.sizing.value == value_after and check.sizing.caps == caps


@pytest.mark.parametrize("value, exposure, held, limit, expected, value_after, caps", [
    (600.0, 4_000.0, 0.0, 5_000.0, None, 600.0, []),  # 1,000 of room
    (1_500.0, 4_000.0, 0.0, 5_000.0, None, 1_000.0, ["max_total_capital: 1500.00 capped to 1000.00 (total capital limit 5000)"]),
    (100.0, 5_000.0, 250.0, 5_000.0, ("max_total_capital", "no room under the total capital limit 5000 (250.00 held)"), 0.0, []),
    (1_000.0, 4_000.0, 0.0, 5_000.0, None, 1_000.0, []),  # exactly the room
])
def test_max_total_capital(value, exposure, held, limit, expected, value_after, caps):
    check = buy(value, exposure=exposure, held=held, lim={"max_total_capital": limit})
    assert said(guardian.max_total_capital(check)) == expected
    assert check.sizing.value == value_after and check.sizing.caps == caps


@pytest.mark.parametrize("value, allowed, exposure, cap, expected", [
    (6_000.0, None, 25_000.0, 3.0, ("max_leverage", "exposure 31000.00 would be 3.10x equity, above 3x")),
    (1_500.0, None, 9_000.0, 1.0, ("max_leverage", "exposure 10500.00 would be 1.05x equity, above 1x")),
    (5_000.0, None, 25_000.0, 3.0, None),  # exactly 3x
    (20_000.0, 500.0, 9_500.0, 1.0, None),  # what the caps left (500) counts, not what was asked
])
def test_max_exposure_leverage(value, allowed, exposure, cap, expected):
    check = buy(value, allowed=allowed, exposure=exposure, lim={"max_leverage": cap})
    assert said(guardian.max_exposure_leverage(check)) == expected
