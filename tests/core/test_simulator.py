"""The paper executor and the portfolio: fills that don't lie, money that adds up.

Expected prices and fees are literals computed by hand (arithmetic in the comments)."""

from __future__ import annotations

import itertools

import pytest

from livegate.config.models import CircuitBreakerRules, GuardianRules
from livegate.core.breakers import CircuitBreakers
from livegate.core.fills import MarketRules
from livegate.core.gateway import OrderGateway
from livegate.core.guardian import RiskGuardian, RiskState
from livegate.core.orders import BUY, LIMIT, MARKET, SELL, Bar, Block, Fill, Order, OrderIntent
from livegate.core.portfolio import Portfolio, Position
from livegate.core.simulator import PaperExecutor
from tests.core.trading_helpers import Journal, limits, loose_rules  # noqa: F401

SYM, ETH = "BTC/USDT", "ETH/USDT"
TF = 60_000
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
TAKER, MAKER = 0.001, 0.0005
RULES = {
    SYM: MarketRules(SYM, step=0.001, min_amount=0.001, tick=0.01, min_notional=5.0, maker_fee=MAKER, taker_fee=TAKER),
    ETH: MarketRules(ETH, step=0.001, min_amount=0.001, tick=0.01, min_notional=5.0, maker_fee=MAKER, taker_fee=TAKER),
}




def bar(i, o, h, lo, c, v=1000.0, symbol=SYM):
    return Bar(symbol, T0 + i * TF, o, h, lo, c, v)


def order(cid, side, type_, amount, price=None, symbol=SYM, created=T0 + TF):
    return Order(cid, symbol, side, type_, amount, price, created)


def account(cash=10_000.0, price=100.0):
    return Portfolio(cash=cash, last_price={SYM: price, ETH: 2_000.0})




# -- market orders ---------------------------------------------------------------------------
def test_market_buy_fills_at_next_open_plus_model_slippage_through_the_gateway():
    acct, journal = account(), Journal()
    ex = PaperExecutor(RULES)
    lim = limits()
    gw = OrderGateway(guardian=RiskGuardian(lim, GuardianRules(max_trade_pct=1.0)), breakers=CircuitBreakers(lim, CircuitBreakerRules()),
                      executor=ex, account=acct, state=RiskState(peak_equity=10_000.0, equity=10_000.0), rules=RULES,
                      journal=journal, id_prefix="t")
    # bar 0 closed at 100 (the reference); the decision is made at its close, T0 + TF
    decision = gw.submit(OrderIntent(SYM, BUY, amount=10.0), T0 + TF)
    assert decision.accepted and decision.fills == []  # nothing fills inside the bar already seen
    assert [o.client_id for o in ex.open_orders()] == [decision.order.client_id]
    # bar 1: open 100, range 98–102, volume 1000
    fills, dropped = ex.on_bar(bar(1, 100.0, 102.0, 98.0, 101.0), acct)
    assert dropped == []
    (fill,) = fills
    # σ = 4/100 = 0.04, participation 10/1000 → √ = 0.1; slip = 0.0001 + 0.004 = 0.0041 → 100.41
    assert fill.price == pytest.approx(100.41, rel=1e-12)
    # taker fee = 10 · 100.41 · 0.001 = 1.0041
    assert fill.fee == pytest.approx(1.0041, rel=1e-12)
    assert (fill.liquidity, fill.model, fill.ts, fill.reference) == ("taker", "model", T0 + TF, 100.0)
    assert fill.slippage_bps == pytest.approx(41.0, rel=1e-9)  # (100.41 − 100) / 100 · 1e4
    gw.settle(fills, T0 + 2 * TF)
    # cash = 10000 − 10 · 100.41 − 1.0041 = 10000 − 1004.1 − 1.0041 = 8994.8959
    assert acct.cash == pytest.approx(8994.8959, rel=1e-12)
    assert acct.position(SYM) == 10.0
    assert ex.open_orders() == []
    assert [k for k, _ in journal.events] == ["order_placed", "fill"]


def test_market_sell_fills_below_the_open():
    acct = account()
    acct.positions[SYM] = Position(10.0, 1000.0, 1.0, T0)
    ex = PaperExecutor(RULES)
    assert ex.place(order("s-1", SELL, MARKET, 10.0), T0 + TF, acct) == []
    (fill,), _ = ex.on_bar(bar(1, 100.0, 102.0, 98.0, 101.0), acct)
    # 100 · (1 − 0.0041) = 99.59; fee 10 · 99.59 · 0.001 = 0.9959
    assert fill.price == pytest.approx(99.59, rel=1e-12)
    assert fill.fee == pytest.approx(0.9959, rel=1e-12)
    assert fill.slippage_bps == pytest.approx(41.0, rel=1e-9)  # worse for a sell is also positive


def test_orders_of_another_symbol_wait_for_their_own_bar():
    acct = account()
    ex = PaperExecutor(RULES)
    ex.place(order("e-1", BUY, MARKET, 1.0, symbol=ETH), T0 + TF, acct)
    fills, _ = ex.on_bar(bar(1, 100.0, 101.0, 99.0, 100.0), acct)
    assert fills == [] and [o.client_id for o in ex.open_orders()] == ["e-1"]
    fills, _ = ex.on_bar(bar(1, 2000.0, 2000.0, 2000.0, 2000.0, symbol=ETH), acct)
    # flat bar: 2000 · (1 + 0.0001) = 2000.2
    assert [(f.order_id, f.price) for f in fills] == [("e-1", pytest.approx(2000.2, rel=1e-12))]



def test_an_order_never_fills_in_a_bar_that_opened_before_it_was_placed():
    # Two symbols, bars merged by time: the strategy sees BTC's bar [T0+TF, T0+2TF) close and
    # orders ETH at T0+2TF. ETH's bar with the same ts (opened at T0+TF) comes next in the feed;
    # it is in the past for that order and must not fill it at its open.
    acct = account()
    ex = PaperExecutor(RULES)
    ex.place(order("e-1", BUY, MARKET, 1.0, symbol=ETH, created=T0 + 2 * TF), T0 + 2 * TF, acct)
    fills, _ = ex.on_bar(bar(1, 1900.0, 1900.0, 1900.0, 1950.0, symbol=ETH), acct)
    assert fills == []


# -- limit orders ------------------------------------------------------------------------------
def test_limit_buy_rests_touch_does_not_fill_through_fills_at_limit_as_maker():
    acct = account()
    ex = PaperExecutor(RULES)
    assert ex.place(order("l-1", BUY, LIMIT, 10.0, 95.0), T0 + TF, acct) == []
    # bar 1 above the limit entirely
    assert ex.on_bar(bar(1, 99.0, 100.0, 96.0, 97.0), acct) == ([], [])
    # bar 2: the low touches 95 exactly — the queue ahead of us is unknown, no fill
    assert ex.on_bar(bar(2, 97.0, 98.0, 95.0, 96.0), acct) == ([], [])
    assert [o.client_id for o in ex.open_orders()] == ["l-1"]
    # bar 3 trades through 95
    (fill,), _ = ex.on_bar(bar(3, 96.0, 97.0, 94.0, 94.5), acct)
    assert fill.price == 95.0  # exactly the limit, not the low
    assert fill.liquidity == "maker" and fill.model == "limit"
    assert fill.fee == pytest.approx(0.475, rel=1e-12)  # 10 · 95 · 0.0005
    assert fill.slippage_bps == pytest.approx(-500.0, rel=1e-9)  # (95 − 100) / 100 · 1e4: better than the reference
    assert ex.open_orders() == []
    acct.apply(fill)
    # 10000 − 950 − 0.475 = 9049.525
    assert acct.cash == pytest.approx(9049.525, rel=1e-12)


def test_limit_buy_above_the_next_open_fills_at_the_open_as_taker():
    acct = account()
    ex = PaperExecutor(RULES)
    ex.place(order("l-1", BUY, LIMIT, 10.0, 101.0), T0 + TF, acct)
    (fill,), _ = ex.on_bar(bar(1, 100.0, 102.0, 99.0, 101.5), acct)
    assert (fill.price, fill.liquidity) == (100.0, "taker")  # the open, better than the limit
    assert fill.fee == pytest.approx(1.0, rel=1e-12)  # 10 · 100 · 0.001


def test_limit_sell_touch_does_not_fill_through_fills_at_limit():
    acct = account()
    acct.positions[SYM] = Position(5.0, 500.0, 0.5, T0)
    ex = PaperExecutor(RULES)
    ex.place(order("l-1", SELL, LIMIT, 5.0, 110.0), T0 + TF, acct)
    assert ex.on_bar(bar(1, 105.0, 110.0, 104.0, 108.0), acct) == ([], [])  # high touches only
    (fill,), _ = ex.on_bar(bar(2, 108.0, 111.0, 107.0, 109.0), acct)
    assert (fill.price, fill.liquidity) == (110.0, "maker")
    assert fill.fee == pytest.approx(0.275, rel=1e-12)  # 5 · 110 · 0.0005


def test_limit_sell_below_the_next_open_fills_at_the_open_as_taker():
    acct = account()
    acct.positions[SYM] = Position(5.0, 500.0, 0.5, T0)
    ex = PaperExecutor(RULES)
    ex.place(order("l-1", SELL, LIMIT, 5.0, 99.0), T0 + TF, acct)
    (fill,), _ = ex.on_bar(bar(1, 100.0, 100.5, 97.0, 98.0), acct)
    assert (fill.price, fill.liquidity) == (100.0, "taker")


def test_limit_fills_never_leave_the_bar_or_beat_the_limit():
    """A grid of limits against a grid of bars: every fill price lies inside the bar's range
    and on the right side of the limit."""
    opens, limits_, widths = (95.0, 100.0, 105.0), (94.0, 97.5, 100.0, 102.5, 106.0), (0.0, 1.0, 3.0, 8.0)
    checked = 0
    for side, o, lim, up, down in itertools.product((BUY, SELL), opens, limits_, widths, widths):
        acct = account(cash=1e6)
        acct.positions[SYM] = Position(1.0, 100.0, 0.0, T0)
        ex = PaperExecutor(RULES)
        ex.place(order("l", side, LIMIT, 1.0, lim), T0 + TF, acct)
        b = bar(1, o, o + up, o - down, o)
        fills, _ = ex.on_bar(b, acct)
        for f in fills:
            checked += 1
            assert b.low <= f.price <= b.high
            assert f.price <= lim if side == BUY else f.price >= lim
            assert f.liquidity == ("taker" if f.price == o and (o <= lim if side == BUY else o >= lim) else "maker")
        expected = (o <= lim or o - down < lim) if side == BUY else (o >= lim or o + up > lim)
        assert bool(fills) is expected
    assert checked > 50


# -- book walks ---------------------------------------------------------------------------------
BOOK = {"asks": [(100.5, 3.0), (101.0, 5.0), (102.0, 10.0)], "bids": [(99.5, 2.0), (99.0, 4.0)]}


def test_market_buy_walks_the_book_at_once():
    acct = account()
    ex = PaperExecutor(RULES, book_for=lambda s: BOOK)
    o = order("b-1", BUY, MARKET, 5.0)
    (fill,) = ex.place(o, T0 + TF, acct)
    # 3 · 100.5 + 2 · 101 = 301.5 + 202 = 503.5; 503.5 / 5 = 100.7
    assert fill.price == pytest.approx(100.7, rel=1e-12)
    assert fill.fee == pytest.approx(0.5035, rel=1e-12)  # 503.5 · 0.001
    assert (fill.model, fill.liquidity, fill.ts, fill.amount) == ("book", "taker", T0 + TF, 5.0)
    assert fill.slippage_bps == pytest.approx(70.0, rel=1e-9)  # (100.7 − 100) / 100 · 1e4
    assert o.status == "filled" and ex.open_orders() == []


def test_market_sell_walks_the_bids():
    acct = account()
    acct.positions[SYM] = Position(6.0, 600.0, 0.6, T0)
    ex = PaperExecutor(RULES, book_for=lambda s: BOOK)
    (fill,) = ex.place(order("b-1", SELL, MARKET, 4.0), T0 + TF, acct)
    # 2 · 99.5 + 2 · 99 = 199 + 198 = 397; / 4 = 99.25
    assert fill.price == pytest.approx(99.25, rel=1e-12)


def test_marketable_limit_takes_what_the_book_has_up_to_its_price_and_rests_the_rest():
    acct = account()
    ex = PaperExecutor(RULES, book_for=lambda s: BOOK)
    o = order("b-1", BUY, LIMIT, 10.0, 101.0)
    (fill,) = ex.place(o, T0 + TF, acct)
    # levels ≤ 101: 3 · 100.5 + 5 · 101 = 301.5 + 505 = 806.5 for 8; 806.5 / 8 = 100.8125
    assert fill.amount == pytest.approx(8.0) and fill.price == pytest.approx(100.8125, rel=1e-12)
    assert fill.liquidity == "taker"
    assert [x.client_id for x in ex.open_orders()] == ["b-1"] and o.filled == pytest.approx(8.0)
    # the remaining 2 fill later when a bar trades through 101, as maker
    (rest,), _ = ex.on_bar(bar(1, 101.5, 102.0, 100.0, 100.5), acct)
    assert (rest.amount, rest.price, rest.liquidity) == (pytest.approx(2.0), 101.0, "maker")


def test_non_marketable_limit_with_a_book_rests():
    ex = PaperExecutor(RULES, book_for=lambda s: BOOK)
    assert ex.place(order("b-1", BUY, LIMIT, 1.0, 100.0), T0 + TF, account()) == []  # best ask 100.5 > 100
    assert len(ex.open_orders()) == 1


def test_no_book_falls_back_to_the_model():
    ex = PaperExecutor(RULES, book_for=lambda s: None)
    acct = account()
    assert ex.place(order("b-1", BUY, MARKET, 1.0), T0 + TF, acct) == []
    (fill,), _ = ex.on_bar(bar(1, 100.0, 100.0, 100.0, 100.0), acct)
    assert (fill.model, fill.price) == ("model", pytest.approx(100.01, rel=1e-12))  # 100 · (1 + 2/2e4)


# -- funds and cancels ------------------------------------------------------------------------------
def test_insufficient_funds_market_buy():
    ex = PaperExecutor(RULES)
    # need = 10 · 100 · (1 + 0.001 fee + 0.02 buffer) = 1021 > 1000
    result = ex.place(order("f-1", BUY, MARKET, 10.0), T0 + TF, account(cash=1000.0))
    assert isinstance(result, Block) and result.rule == "insufficient_funds"
    assert ex.open_orders() == []
    # 9.7 · 100 · 1.021 = 990.37 fits
    assert ex.place(order("f-2", BUY, MARKET, 9.7), T0 + TF, account(cash=1000.0)) == []


def test_resting_limit_buys_reserve_their_cash():
    ex = PaperExecutor(RULES)
    acct = account(cash=1000.0)
    # 10 · 99 · 1.001 = 990.99 ≤ 1000
    assert ex.place(order("f-1", BUY, LIMIT, 10.0, 99.0), T0 + TF, acct) == []
    # free = 1000 − 990 reserved = 10 < 1 · 99 · 1.001 = 99.099
    blocked = ex.place(order("f-2", BUY, LIMIT, 1.0, 99.0), T0 + TF, acct)
    assert isinstance(blocked, Block) and blocked.rule == "insufficient_funds"



def test_pending_market_buys_reserve_their_cash():
    ex = PaperExecutor(RULES)
    acct = account(cash=1000.0)
    # 6 · 100 · 1.021 = 612.6 ≤ 1000
    assert ex.place(order("f-1", BUY, MARKET, 6.0), T0 + TF, acct) == []
    # the first still waits for the next open; only ~388 is free for the second 612.6
    blocked = ex.place(order("f-2", BUY, MARKET, 6.0), T0 + TF, acct)
    assert isinstance(blocked, Block) and blocked.rule == "insufficient_funds"


def test_buy_that_can_no_longer_be_paid_at_the_fill_price_is_cancelled():
    ex = PaperExecutor(RULES)
    acct = account(cash=1000.0)
    assert ex.place(order("f-1", BUY, MARKET, 9.7), T0 + TF, acct) == []
    # gap up: 9.7 · 110.011 ≈ 1067 > 1000 cash
    fills, dropped = ex.on_bar(bar(1, 110.0, 110.0, 110.0, 110.0), acct)
    assert fills == [] and [o.client_id for o in dropped] == ["f-1"]
    assert dropped[0].status == "canceled" and ex.open_orders() == []


def test_cancel_all():
    ex = PaperExecutor(RULES)
    acct = account()
    a = order("c-1", BUY, LIMIT, 1.0, 90.0)
    b = order("c-2", BUY, LIMIT, 0.1, 1500.0, symbol=ETH)
    c = order("c-3", BUY, LIMIT, 1.0, 91.0)
    for o in (a, b, c):
        ex.place(o, T0 + TF, acct)
    gone = ex.cancel_all(ETH)
    assert [o.client_id for o in gone] == ["c-2"] and b.status == "canceled"
    assert [o.client_id for o in ex.open_orders()] == ["c-1", "c-3"]
    gone = ex.cancel_all()
    assert [o.client_id for o in gone] == ["c-1", "c-3"]
    assert all(o.status == "canceled" for o in (a, b, c))
    assert ex.open_orders() == [] and ex.cancel_all() == []
    # nothing fills afterwards, even on a bar through every limit
    assert ex.on_bar(bar(1, 80.0, 80.0, 70.0, 75.0), acct) == ([], [])


def test_executor_state_round_trip():
    ex = PaperExecutor(RULES)
    ex.place(order("r-1", BUY, LIMIT, 1.0, 95.0), T0 + TF, account())
    other = PaperExecutor(RULES)
    other.restore(ex.to_dict())
    assert other.to_dict() == ex.to_dict()
    (fill,), _ = other.on_bar(bar(1, 96.0, 97.0, 94.0, 95.0), account())
    assert (fill.order_id, fill.price, fill.reference) == ("r-1", 95.0, 100.0)


# -- portfolio ---------------------------------------------------------------------------------------
def fill(side, amount, price, fee, ts=T0, symbol=SYM, order="x"):
    return Fill(order, symbol, side, amount, price, fee, "taker", ts, price, 0.0, "model")


def test_portfolio_buy_then_sell_round_trip():
    p = Portfolio(cash=10_000.0)
    assert p.apply(fill(BUY, 2.0, 100.0, 0.2, ts=T0)) == ()
    # 10000 − 200 − 0.2
    assert p.cash == pytest.approx(9799.8, rel=1e-12)
    assert p.position(SYM) == 2.0 and p.positions[SYM].entry_price == 100.0
    p.last_price[SYM] = 105.0
    assert p.equity() == pytest.approx(10_009.8, rel=1e-12)  # 9799.8 + 2 · 105
    assert p.unrealized(SYM) == pytest.approx(9.8, rel=1e-12)  # 210 − 200 − 0.2
    (trade,) = p.apply(fill(SELL, 2.0, 110.0, 0.22, ts=T0 + TF, order="s1"))  # flat: final at once
    # gross = 2 · 110 − 200 = 20; fee = 0.2 + 0.22 = 0.42; net = 19.58
    assert (trade.gross, trade.fee, trade.net) == (pytest.approx(20.0), pytest.approx(0.42), pytest.approx(19.58))
    assert (trade.entry_price, trade.exit_price, trade.amount) == (100.0, 110.0, 2.0)
    assert (trade.opened_ms, trade.closed_ms, trade.side, trade.order_id, trade.fills) == (T0, T0 + TF, "long", "s1", 1)
    # 9799.8 + 220 − 0.22 = 10019.58 = 10000 + net
    assert p.cash == pytest.approx(10_019.58, rel=1e-12)
    assert p.position(SYM) == 0.0 and SYM not in p.positions and p.closing == {}
    assert p.fees_paid == pytest.approx(0.42, rel=1e-12)


def test_portfolio_partial_sell_charges_entry_fee_pro_rata():
    p = Portfolio(cash=10_000.0)
    p.apply(fill(BUY, 4.0, 100.0, 0.4))
    assert p.apply(fill(SELL, 1.0, 120.0, 0.12, ts=T0 + TF, order="s1")) == ()  # not flat: in progress until s1 is done
    trade = p.close_trade("s1")
    # a quarter sold: entry cost 400/4 = 100, entry fee 0.4/4 = 0.1
    # gross = 120 − 100 = 20; fee = 0.1 + 0.12 = 0.22; net = 19.78
    assert trade.gross == pytest.approx(20.0, rel=1e-12)
    assert trade.fee == pytest.approx(0.22, rel=1e-12)
    assert trade.net == pytest.approx(19.78, rel=1e-12)
    assert p.close_trade("s1") is None  # closed once
    pos = p.positions[SYM]
    assert (pos.amount, pos.cost, pos.entry_fees) == (3.0, pytest.approx(300.0), pytest.approx(0.3))
    # the rest at 90: gross 3 · 90 − 300 = −30; fee 0.3 + 0.27 = 0.57; net −30.57
    (last,) = p.apply(fill(SELL, 3.0, 90.0, 0.27, ts=T0 + 2 * TF, order="s2"))
    assert (last.gross, last.fee, last.net) == (pytest.approx(-30.0), pytest.approx(0.57), pytest.approx(-30.57))
    # all fees of both trades: 0.4 + 0.12 + 0.27 = 0.79 = 0.22 + 0.57
    assert p.fees_paid == pytest.approx(0.79, rel=1e-12)
    # cash = 10000 − 400.4 + 119.88 + 269.73 = 9989.21 = 10000 + 19.78 − 30.57
    assert p.cash == pytest.approx(9989.21, rel=1e-12)


def test_portfolio_average_entry_over_two_buys():
    p = Portfolio(cash=10_000.0)
    p.apply(fill(BUY, 1.0, 100.0, 0.1, ts=T0))
    p.apply(fill(BUY, 1.0, 110.0, 0.11, ts=T0 + TF))
    (trade,) = p.apply(fill(SELL, 2.0, 120.0, 0.24, ts=T0 + 2 * TF))
    # entry (100 + 110) / 2 = 105; gross 240 − 210 = 30; fee 0.1 + 0.11 + 0.24 = 0.45
    assert trade.entry_price == pytest.approx(105.0)
    assert (trade.gross, trade.fee, trade.net) == (pytest.approx(30.0), pytest.approx(0.45), pytest.approx(29.55))
    assert trade.opened_ms == T0  # the position opened with the first buy


def test_portfolio_selling_more_than_held_raises():
    p = Portfolio(cash=10_000.0)
    p.apply(fill(BUY, 1.0, 100.0, 0.1))
    with pytest.raises(ValueError, match="exceeds the position"):
        p.apply(fill(SELL, 1.5, 100.0, 0.15))
    assert p.position(SYM) == 1.0 and p.cash == pytest.approx(9899.9)
    with pytest.raises(ValueError, match="cannot short"):
        p.apply(fill(SELL, 1.0, 2000.0, 2.0, symbol=ETH))



def test_portfolio_refused_sell_leaves_the_account_untouched():
    p = Portfolio(cash=10_000.0)
    p.apply(fill(BUY, 1.0, 100.0, 0.1))
    before = p.to_dict()
    for bad in (fill(SELL, 1.5, 100.0, 0.15), fill(SELL, 1.0, 2000.0, 2.0, symbol=ETH)):
        with pytest.raises(ValueError):
            p.apply(bad)
    assert p.to_dict() == before


def test_portfolio_round_trip_dict():
    p = Portfolio(cash=10_000.0)
    p.apply(fill(BUY, 4.0, 100.0, 0.4))
    p.last_price[SYM] = 101.0
    q = Portfolio.from_dict(p.to_dict())
    assert q.to_dict() == p.to_dict() and q.equity() == p.equity()
