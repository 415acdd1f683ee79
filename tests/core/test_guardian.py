"""The risk guardian (every rule of RiskGuardian.check_buy) and the gateway's sanity rules.

Seeds: 000 §2.3 (6 % of equity blocked, daily loss and drawdown halt buys, falling knife),
001 §2.1 (risk_limits.yaml keys), 003 Phase 4 (25 % capped to 20 %, 4x leverage refused)."""

from __future__ import annotations

import math

import pytest

from livegate.config.models import CircuitBreakerRules, GuardianRules
from livegate.core.breakers import CircuitBreakers
from livegate.core.fills import MarketRules
from livegate.core.gateway import OrderGateway
from livegate.core.guardian import DAY_MS, HOUR_MS, RiskGuardian, RiskState
from livegate.core.orders import BUY, LIMIT, SELL, Block, OrderIntent
from livegate.core.portfolio import Portfolio, Position
from livegate.core.simulator import PaperExecutor
from tests.core.trading_helpers import Journal, limits, loose_rules  # noqa: F401

BTC, ETH, SOL = "BTC/USDT", "ETH/USDT", "SOL/USDT"
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z, a Monday
MIN = 60_000
NOW = T0 + 12 * HOUR_MS
RULES = {s: MarketRules(s, step=0.001, min_amount=0.001, tick=0.01, min_notional=5.0) for s in (BTC, ETH, SOL)}






def portfolio(cash=10_000.0, held: dict[str, tuple[float, float]] | None = None, prices=None) -> Portfolio:
    """held: {symbol: (amount, entry price)}; the last price is the entry unless `prices` says."""
    p = Portfolio(cash=cash, last_price={BTC: 100.0, ETH: 100.0, SOL: 100.0})
    for sym, (amount, entry) in (held or {}).items():
        p.positions[sym] = Position(amount, amount * entry, 0.0, T0)
        p.last_price[sym] = entry
    p.last_price.update(prices or {})
    return p


def state(*marks: tuple[int, float], orders=()) -> RiskState:
    s = RiskState(peak_equity=marks[0][1] if marks else 10_000.0, equity=10_000.0)
    for ms, eq in marks:
        s.mark(ms, eq)
    for t in orders:
        s.record_order(t)
    return s


def check(value, intent=None, lim=None, rules=None, acct=None, st=None, now=NOW, max_trade_amount=None, stage_cap=None, symbol=BTC):
    g = RiskGuardian(lim or limits(), rules or GuardianRules(), max_trade_amount)
    st = st if st is not None else state((T0, 10_000.0))
    return g.check_buy(value, symbol, intent or OrderIntent(symbol, BUY), acct or portfolio(), st, now, stage_cap)


def rules_of(sizing):
    return sorted(b.rule for b in sizing.blocks)


# -- intent-level rules ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, intent, lim, expected",
    [
        # seed 000 §2.3: 600 of 10000 = 6 % > 5 % -> blocked; 500 = 5 % -> allowed
        (600.0, {}, {}, ["max_trade_pct"]),
        (500.0, {}, {}, []),
        (500.01, {}, {}, ["max_trade_pct"]),
        # seed 003: 4x refused, 3x is the cap
        (100.0, {"leverage": 4.0}, {}, ["max_leverage"]),
        (100.0, {"leverage": 3.0}, {}, []),
        (100.0, {"leverage": 2.0}, {"max_leverage": 1.0}, ["max_leverage"]),
        # seed 000: sentiment below −0.5 is a falling knife
        (100.0, {"sentiment": -0.6}, {}, ["falling_knife"]),
        (100.0, {"sentiment": -0.4}, {}, []),
        (100.0, {"sentiment": -0.5}, {}, []),  # "below −0.5": −0.5 itself passes
        # seed 001 §2.1 edge / confidence thresholds, only when the intent states them
        (100.0, {"edge": 0.05}, {"min_edge_threshold": 0.08}, ["min_edge_threshold"]),
        (100.0, {"edge": 0.08}, {"min_edge_threshold": 0.08}, []),
        (100.0, {}, {"min_edge_threshold": 0.08}, []),
        (100.0, {"confidence": 0.69}, {"min_confidence": 0.7}, ["min_confidence"]),
        (100.0, {"confidence": 0.7}, {"min_confidence": 0.7}, []),
        (100.0, {}, {"min_confidence": 0.7}, []),
        (100.0, {"edge": 0.0, "confidence": 0.0}, {"min_edge_threshold": 0.08, "min_confidence": 0.7}, ["min_confidence", "min_edge_threshold"]),
    ],
    ids=lambda v: repr(v) if not isinstance(v, (dict, list)) else None,
)
def test_intent_rules(value, intent, lim, expected):
    out = check(value, OrderIntent(BTC, BUY, **intent), limits(**lim))
    assert rules_of(out) == expected
    if not expected:
        assert out.value == value and out.caps == []


def test_block_messages_name_the_numbers():
    out = check(600.0, OrderIntent(BTC, BUY, leverage=4.0, sentiment=-0.6))
    msgs = {b.rule: b.message for b in out.blocks}
    assert "6.0% of equity 10000.00" in msgs["max_trade_pct"] and "5%" in msgs["max_trade_pct"]
    assert "4x" in msgs["max_leverage"] and "3x" in msgs["max_leverage"]
    assert "-0.6" in msgs["falling_knife"]


def test_several_blocks_are_reported_together():
    out = check(600.0, OrderIntent(BTC, BUY, leverage=4.0, sentiment=-0.9, edge=0.01, confidence=0.1),
                limits(min_edge_threshold=0.08, min_confidence=0.7))
    assert rules_of(out) == ["falling_knife", "max_leverage", "max_trade_pct", "min_confidence", "min_edge_threshold"]


def test_equity_at_or_below_zero_blocks_everything():
    out = check(10.0, acct=portfolio(cash=0.0))
    assert rules_of(out) == ["equity"]


# -- exposure leverage: spot can exceed 3x only on borrowed cash ------------------------------------
@pytest.mark.parametrize(
    "cash, eth_price, value, expected",
    [
        # 10 ETH bought at 3000 on 20000 borrowed: exposure 10 · 3500 = 35000, equity −25000 + 35000 = 10000 -> 3.5x
        (-25_000.0, 3_500.0, 100.0, ["max_leverage"]),
        # exposure 29000, equity 10000: (29000 + 100) / 10000 = 2.91x -> allowed
        (-19_000.0, 2_900.0, 100.0, []),
        # exposure 29800: (29800 + 300) / 10000 = 3.01x -> blocked
        (-19_800.0, 2_980.0, 300.0, ["max_leverage"]),
    ],
)
def test_exposure_above_three_times_equity_is_blocked(cash, eth_price, value, expected):
    acct = portfolio(cash=cash, held={ETH: (10.0, 3_000.0)}, prices={ETH: eth_price})
    assert acct.equity() == pytest.approx(10_000.0)
    assert rules_of(check(value, acct=acct)) == expected


# -- halts on losses: daily (UTC day) and drawdown from peak -------------------------------------------
@pytest.mark.parametrize(
    "marks, now, expected",
    [
        # day open 10000, now 9490: 510 / 10000 = 5.1 % > 5 %
        ([(T0, 10_000.0), (T0 + 6 * HOUR_MS, 9_490.0)], NOW, ["daily_loss_halt_buys"]),
        # 9510: 4.9 %
        ([(T0, 10_000.0), (T0 + 6 * HOUR_MS, 9_510.0)], NOW, []),
        # lost 6 % yesterday; today's day opened at 9400 -> today's loss 0: buys allowed again
        ([(T0, 10_000.0), (T0 + 23 * HOUR_MS, 9_400.0), (T0 + DAY_MS + MIN, 9_400.0)], T0 + DAY_MS + 2 * MIN, []),
        # ...but still halted at 23:59 the same day
        ([(T0, 10_000.0), (T0 + 23 * HOUR_MS, 9_400.0)], T0 + DAY_MS - MIN, ["daily_loss_halt_buys"]),
        # drawdown from peak: 10000 -> 8900 on a later day (day loss 0): 11 % > 10 %
        ([(T0, 10_000.0), (T0 + 3 * DAY_MS, 8_900.0)], T0 + 3 * DAY_MS + HOUR_MS, ["drawdown_halt_buys"]),
        ([(T0, 10_000.0), (T0 + 3 * DAY_MS, 9_100.0)], T0 + 3 * DAY_MS + HOUR_MS, []),
        # from PEAK, not from the start: 10000 -> 12000 -> 10700 is +7 % overall but 10.8 % below the peak
        ([(T0, 10_000.0), (T0 + DAY_MS, 12_000.0), (T0 + 3 * DAY_MS, 10_700.0)], T0 + 3 * DAY_MS + HOUR_MS, ["drawdown_halt_buys"]),
        # both at once: 11 % down today, and from the peak
        ([(T0, 10_000.0), (T0 + HOUR_MS, 8_900.0)], NOW, ["daily_loss_halt_buys", "drawdown_halt_buys"]),
    ],
)
def test_loss_halts(marks, now, expected):
    st = state(*marks)
    acct = portfolio(cash=marks[-1][1])
    assert rules_of(check(100.0, acct=acct, st=st, now=now)) == expected


# -- max_open_positions ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "symbol, max_open, expected",
    [
        (BTC, 2, ["max_open_positions"]),  # 2 open (ETH, SOL), a third is refused
        (ETH, 2, []),  # adding to an open position is not a new one
        (BTC, 3, []),
    ],
)
def test_max_open_positions(symbol, max_open, expected):
    acct = portfolio(cash=9_800.0, held={ETH: (1.0, 100.0), SOL: (1.0, 100.0)})
    out = check(100.0, OrderIntent(symbol, BUY), limits(max_open_positions=max_open), acct=acct, symbol=symbol)
    assert rules_of(out) == expected


# -- throttles ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "lim, orders, now, expected",
    [
        ({"min_seconds_between_trades": 60.0}, [NOW - 59_000], NOW, ["min_seconds_between_trades"]),
        ({"min_seconds_between_trades": 60.0}, [NOW - 60_000], NOW, []),
        # 5 in the last hour: a 6th is refused
        ({"max_trades_per_hour": 5}, [NOW - m * MIN for m in (50, 40, 30, 20, 10)], NOW, ["max_trades_per_hour"]),
        # the oldest is exactly an hour old: 4 left in the window
        ({"max_trades_per_hour": 5}, [NOW - m * MIN for m in (60, 40, 30, 20, 10)], NOW, []),
        # 3 per UTC day: 01:00, 09:00, 17:00 on day 0; refused at 23:59 ...
        ({"max_trades_per_day": 3}, [T0 + h * HOUR_MS for h in (1, 9, 17)], T0 + DAY_MS - MIN, ["max_trades_per_day"]),
        # ... allowed at 00:00 on day 1, although all three are within the last 24 h
        ({"max_trades_per_day": 3}, [T0 + h * HOUR_MS for h in (1, 9, 17)], T0 + DAY_MS, []),
        # yesterday's 23:59 order counts for yesterday only
        ({"max_trades_per_day": 1}, [T0 + DAY_MS - MIN], T0 + DAY_MS, []),
        ({"max_trades_per_day": 1}, [T0 + DAY_MS], T0 + DAY_MS + MIN, ["max_trades_per_day"]),
    ],
)
def test_throttles(lim, orders, now, expected):
    st = state((T0, 10_000.0), orders=orders)
    assert rules_of(check(100.0, lim=limits(**lim), st=st, now=now)) == expected


def test_throttles_report_together():
    orders = [NOW - m * MIN for m in (3, 2, 1)] + [NOW - 10_000]
    st = state((T0, 10_000.0), orders=orders)
    out = check(100.0, lim=limits(min_seconds_between_trades=60.0, max_trades_per_hour=4, max_trades_per_day=4), st=st)
    assert rules_of(out) == ["max_trades_per_day", "max_trades_per_hour", "min_seconds_between_trades"]


# -- caps ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, lim, rules, acct, kwargs, final, capped, blocked",
    [
        # max_position_size 50: 80 -> 50
        (80.0, {"max_position_size": 50.0}, {}, {}, {}, 50.0, ["max_position_size"], []),
        # 30 already held (0.3 BTC at 100): room 20
        (40.0, {"max_position_size": 50.0}, {}, {BTC: (0.3, 100.0)}, {}, 20.0, ["max_position_size"], []),
        # 60 held: no room -> blocked, value 0
        (40.0, {"max_position_size": 50.0}, {}, {BTC: (0.6, 100.0)}, {}, 0.0, [], ["max_position_size"]),
        # seed 003 Phase 4: attempt 25 % of 10000 = 2500 -> capped to 20 % = 2000 (max_trade_pct opened up)
        (2_500.0, {}, {"max_trade_pct": 1.0}, {}, {}, 2_000.0, ["max_position_pct"], []),
        # 20 % held already: 2000 of equity 10000 at 100/BTC -> no room
        (100.0, {}, {}, {BTC: (20.0, 100.0)}, {}, 0.0, [], ["max_position_pct"]),
        # max_total_capital 1000 with 900 in ETH: room 100
        (300.0, {"max_total_capital": 1_000.0}, {}, {ETH: (9.0, 100.0)}, {}, 100.0, ["max_total_capital"], []),
        (300.0, {"max_total_capital": 1_000.0}, {}, {ETH: (10.0, 100.0)}, {}, 0.0, [], ["max_total_capital"]),
        # MAX_TRADE_AMOUNT 25 and the stage cap refuse a bigger buy outright (issue 7: not resized)
        (400.0, {}, {}, {}, {"max_trade_amount": 25.0}, 400.0, [], ["max_trade_amount"]),
        (400.0, {}, {}, {}, {"stage_cap": 10.0}, 400.0, [], ["stage_cap"]),
        (10.0, {}, {}, {}, {"stage_cap": 10.0}, 10.0, [], []),
        # every cap at once: both trade caps refuse; the position cap is still reported
        (400.0, {"max_position_size": 50.0}, {}, {}, {"max_trade_amount": 25.0, "stage_cap": 10.0}, 50.0,
         ["max_position_size"], ["max_trade_amount", "stage_cap"]),
        # under every cap: untouched
        (40.0, {"max_position_size": 50.0}, {}, {}, {"max_trade_amount": 45.0, "stage_cap": 41.0}, 40.0, [], []),
    ],
)
def test_caps(value, lim, rules, acct, kwargs, final, capped, blocked):
    cash = 10_000.0 - sum(a * p for a, p in acct.values())
    out = check(value, lim=limits(**lim), rules=GuardianRules(**rules), acct=portfolio(cash=cash, held=acct), **kwargs)
    assert out.value == pytest.approx(final)
    assert [c.split(":")[0] for c in out.caps] == capped
    assert rules_of(out) == blocked


def test_seed_003_cap_message():
    out = check(2_500.0, rules=GuardianRules(max_trade_pct=1.0))
    assert out.caps == ["max_position_pct: 2500.00 capped to 2000.00 (position cap 20% of equity)"]


# -- stop_loss_due -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "price, due",
    [
        # 2 BTC, cost 200, entry fees 0.5: unrealized = 2 · p − 200 − 0.5
        (85.25, True),  # 170.5 − 200.5 = −30 exactly: the limit is reached
        (85.0, True),  # −30.5
        (85.5, False),  # −29.5
        (120.0, False),
    ],
)
def test_stop_loss_due_at_max_single_trade_loss(price, due):
    acct = Portfolio(cash=9_799.5, positions={BTC: Position(2.0, 200.0, 0.5, T0)}, last_price={BTC: price})
    g = RiskGuardian(limits(max_single_trade_loss=30.0), GuardianRules())
    assert g.stop_loss_due(acct, BTC) is due


def test_stop_loss_not_due_without_a_position():
    g = RiskGuardian(limits(max_single_trade_loss=30.0), GuardianRules())
    assert g.stop_loss_due(portfolio(), BTC) is False


# -- through the gateway -----------------------------------------------------------------------------------
def gateway(lim=None, rules=None, acct=None, st=None, **kw):
    lim = lim or limits()
    journal = Journal()
    acct = acct or portfolio()
    st = st if st is not None else state((T0, acct.equity()))
    ex = PaperExecutor(RULES)
    gw = OrderGateway(guardian=RiskGuardian(lim, rules or GuardianRules(), kw.pop("max_trade_amount", None)),
                      breakers=CircuitBreakers(lim, CircuitBreakerRules()), executor=ex, account=acct, state=st,
                      rules=RULES, journal=journal, id_prefix="g", **kw)
    return gw, journal


def test_gateway_seed_000_600_blocked_500_allowed():
    gw, journal = gateway()
    blocked = gw.submit(OrderIntent(BTC, BUY, quote_amount=600.0), NOW)
    assert not blocked.accepted and [b.rule for b in blocked.blocks] == ["max_trade_pct"]
    (event,) = journal.of("order_blocked")
    assert [rule for rule, _ in event["blocks"]] == ["max_trade_pct"]
    assert event["origin"] == "strategy" and event["intent"]["quote_amount"] == 600.0
    ok = gw.submit(OrderIntent(BTC, BUY, quote_amount=500.0), NOW)
    assert ok.accepted and ok.order.amount == 5.0  # 500 / 100
    assert journal.of("order_placed")[0]["client_id"] == ok.order.client_id


def test_gateway_falling_knife_seed_000():
    gw, journal = gateway()
    d = gw.submit(OrderIntent(BTC, BUY, quote_amount=100.0, sentiment=-0.6), NOW)
    assert [b.rule for b in d.blocks] == ["falling_knife"]
    assert gw.submit(OrderIntent(BTC, BUY, quote_amount=100.0, sentiment=-0.4), NOW).accepted


def test_gateway_caps_size_the_order_and_are_journaled():
    gw, journal = gateway(rules=GuardianRules(max_trade_pct=1.0))
    d = gw.submit(OrderIntent(BTC, BUY, quote_amount=2_500.0), NOW)
    assert d.accepted and d.order.amount == 20.0  # 2000 / 100
    assert journal.of("order_placed")[0]["caps"][0].startswith("max_position_pct")


def test_gateway_reports_several_blocks_together():
    gw, journal = gateway(limits(min_confidence=0.7))
    gw.submit(OrderIntent(BTC, BUY, quote_amount=600.0, leverage=4.0, sentiment=-0.6, confidence=0.5), NOW)
    (event,) = journal.of("order_blocked")
    assert sorted(rule for rule, _ in event["blocks"]) == ["falling_knife", "max_leverage", "max_trade_pct", "min_confidence"]


@pytest.mark.parametrize(
    "intent, rule",
    [
        (OrderIntent("DOGE/USDT", BUY, quote_amount=10.0), "unknown_symbol"),
        (OrderIntent(BTC, "short", quote_amount=10.0), "invalid"),
        (OrderIntent(BTC, BUY, quote_amount=10.0, type="stop"), "invalid"),
        (OrderIntent(BTC, BUY, amount=1.0, type=LIMIT), "invalid"),  # a limit without a price
        (OrderIntent(BTC, BUY, amount=1.0, type=LIMIT, price=-1.0), "invalid"),
        (OrderIntent(BTC, BUY, amount=1.0, type=LIMIT, price=math.nan), "invalid"),
        (OrderIntent(BTC, BUY, amount=0.0), "invalid"),
        (OrderIntent(BTC, BUY, amount=-1.0), "invalid"),
        (OrderIntent(BTC, BUY, amount=math.nan), "invalid"),
        (OrderIntent(BTC, BUY, amount=math.inf), "invalid"),
        (OrderIntent(BTC, BUY, amount=True), "invalid"),  # a bool is not an amount
        (OrderIntent(BTC, BUY, quote_amount=-5.0), "invalid"),
        (OrderIntent(BTC, BUY), "invalid"),  # a buy with no size
        (OrderIntent(BTC, SELL, amount=1.0), "no_position"),
        (OrderIntent(BTC, BUY, amount=0.0000001), "LOT_SIZE"),  # floors to 0 on a 0.001 step
        (OrderIntent(BTC, BUY, quote_amount=3.0), "NOTIONAL"),  # 0.03 · 100 = 3 < 5
    ],
)
def test_gateway_sanity_rules(intent, rule):
    gw, journal = gateway()
    d = gw.submit(intent, NOW)
    assert not d.accepted and [b.rule for b in d.blocks] == [rule]
    assert [r for r, _ in journal.of("order_blocked")[0]["blocks"]] == [rule]
    assert journal.of("order_placed") == [] and gw.executor.open_orders() == []
    assert gw.state.order_times == type(gw.state.order_times)()  # a refused intent is not an order



def test_gateway_refuses_a_limit_price_that_rounds_to_zero():
    gw, _ = gateway()
    d = gw.submit(OrderIntent(BTC, BUY, amount=1.0, type=LIMIT, price=0.004), NOW)
    assert not d.accepted


def test_gateway_limit_price_is_rounded_to_the_tick():
    gw, _ = gateway()
    d = gw.submit(OrderIntent(BTC, BUY, amount=1.0, type=LIMIT, price=95.006), NOW)
    assert d.accepted and d.order.price == 95.01


def test_halt_blocks_buys_and_sells():
    acct = portfolio(cash=9_900.0, held={BTC: (1.0, 100.0)})
    gw, journal = gateway(acct=acct, halt_check=lambda: "kill switch engaged")
    for side in (BUY, SELL):
        d = gw.submit(OrderIntent(BTC, side, amount=1.0), NOW)
        assert [(b.rule, b.message) for b in d.blocks] == [("halted", "kill switch engaged")]
    assert len(journal.of("order_blocked")) == 2 and journal.of("order_placed") == []


def test_approval_refusal_blocks():
    gw, journal = gateway(approve=lambda order: Block("approval", f"operator refused {order.amount:g} {order.symbol}"))
    d = gw.submit(OrderIntent(BTC, BUY, quote_amount=100.0), NOW)
    assert [b.rule for b in d.blocks] == ["approval"]
    assert journal.of("order_blocked")[0]["blocks"] == [["approval", "operator refused 1 BTC/USDT"]]


def test_sells_bypass_throttles_and_buy_halts_but_not_breakers():
    # 20 % below the peak (buy halt at 10 %), an order 1 s ago (60 s spacing), 1 trade/day used
    # (the drop is first marked in the next ISO week and day, so only the drawdown breaker can trip)
    st = state((T0, 10_000.0), (T0 + 8 * DAY_MS, 8_000.0), orders=[NOW + 8 * DAY_MS - 1_000])
    acct = portfolio(cash=7_900.0, held={BTC: (1.0, 100.0)})
    lim = limits(min_seconds_between_trades=60.0, max_trades_per_day=1, drawdown_halt_pct=0.15)
    gw, journal = gateway(lim, acct=acct, st=st)
    now = NOW + 8 * DAY_MS
    buy = gw.submit(OrderIntent(BTC, BUY, quote_amount=100.0), now)
    assert sorted(b.rule for b in buy.blocks) == ["drawdown_halt_buys", "max_trades_per_day", "min_seconds_between_trades"]
    sell = gw.submit(OrderIntent(BTC, SELL), now)
    assert sell.accepted and sell.order.amount == 1.0 and sell.order.reduce_only
    # now the drawdown breaker (15 %) trips: even the sell — and the guardian's own stop — are refused
    new, _ = gw.breakers.on_equity(st, now)
    assert [t.breaker for t in new] == ["total_drawdown"]
    for origin in ("strategy", "guardian", "operator"):
        d = gw.submit(OrderIntent(BTC, SELL), now, origin=origin)
        assert [b.rule for b in d.blocks] == ["breaker:total_drawdown"]
    assert [e["origin"] for e in journal.of("order_blocked")] == ["strategy", "strategy", "guardian", "operator"]


def test_sell_is_capped_at_the_position_and_floored_to_the_step():
    acct = portfolio(cash=9_900.0, held={BTC: (1.23456, 100.0)})
    gw, _ = gateway(acct=acct)
    d = gw.submit(OrderIntent(BTC, SELL, amount=5.0), NOW)
    assert d.accepted and d.order.amount == 1.234



def test_market_order_is_not_refused_for_an_off_tick_reference_price():
    # A market order has no price: the exchange's PRICE_FILTER does not apply to it. The last
    # close 2301.755 (3 decimals, as the synthetic ETH market has) is off the 0.01 tick.
    acct = portfolio()
    acct.last_price[ETH] = 2301.755
    gw, journal = gateway(acct=acct)
    d = gw.submit(OrderIntent(ETH, BUY, quote_amount=100.0), NOW)
    assert d.accepted, journal.of("order_blocked")
