"""Fill arithmetic (livegate.core.fills): exchange filters, book walks, the slippage model.

Every expected value is a literal computed by hand; the arithmetic is in the comment."""

from __future__ import annotations

import math

import pytest

from livegate.core.fills import MarketRules, default_rules, limit_crossed, model_price, slippage_bps, walk_book
from livegate.core.orders import BUY, LIMIT, MARKET, SELL, Bar, Order
from livegate.core.portfolio import Portfolio
from livegate.core.simulator import PaperExecutor

SYM = "BTC/USDT"


# -- walk_book ------------------------------------------------------------------------------
ASKS = [(100.0, 1.0), (101.0, 1.0), (105.0, 2.0)]
BIDS = [(99.0, 1.0), (98.0, 1.0), (97.0, 2.0)]


@pytest.mark.parametrize(
    "levels, amount, avg, filled",
    [
        # inside the first level: 0.5 @ 100
        (ASKS, 0.5, 100.0, 0.5),
        # exactly two levels: (100 + 101) / 2 = 100.5
        (ASKS, 2.0, 100.5, 2.0),
        # across all three: (1·100 + 1·101 + 1·105) / 3 = 306 / 3 = 102
        (ASKS, 3.0, 102.0, 3.0),
        # the book runs out: 4 available, cost 100 + 101 + 2·105 = 411, 411 / 4 = 102.75
        (ASKS, 10.0, 102.75, 4.0),
        # sell side walks the bids down: (99 + 98 + 97) / 3 = 98
        (BIDS, 3.0, 98.0, 3.0),
        # half a level: (1·99 + 1·98 + 0.5·97) / 2.5 = 245.5 / 2.5 = 98.2
        (BIDS, 2.5, 98.2, 2.5),
    ],
)
def test_walk_book(levels, amount, avg, filled):
    got_avg, got_filled = walk_book(levels, amount)
    assert got_avg == pytest.approx(avg, rel=1e-12)
    assert got_filled == pytest.approx(filled, rel=1e-12)


def test_walk_book_empty_book_fills_nothing():
    avg, filled = walk_book([], 1.0)
    assert filled == 0.0
    assert math.isnan(avg)


# -- fees: taker when taking liquidity, maker when resting --------------------------------
def test_fees_taker_vs_maker():
    rules = MarketRules(SYM, step=0.001, min_amount=0.001, tick=0.01, maker_fee=0.0002, taker_fee=0.0007)
    book = {"asks": [(100.0, 5.0)], "bids": [(99.0, 5.0)]}
    taker = PaperExecutor({SYM: rules}, book_for=lambda s: book)
    acct = Portfolio(cash=10_000.0, last_price={SYM: 100.0})
    fills = taker.place(Order("o-1", SYM, BUY, MARKET, 2.0, None, 0), 0, acct)
    # taker: 2 · 100 · 0.0007 = 0.14
    assert [(f.liquidity, f.price) for f in fills] == [("taker", 100.0)]
    assert fills[0].fee == pytest.approx(0.14, rel=1e-12)

    maker = PaperExecutor({SYM: rules})
    assert maker.place(Order("o-2", SYM, BUY, LIMIT, 2.0, 95.0, 0), 0, acct) == []
    fills, _ = maker.on_bar(Bar(SYM, 60_000, 99.0, 99.5, 94.0, 96.0, 100.0), acct)
    # maker at the limit: 2 · 95 · 0.0002 = 0.038
    assert [(f.liquidity, f.price) for f in fills] == [("maker", 95.0)]
    assert fills[0].fee == pytest.approx(0.038, rel=1e-12)


def test_default_fees_are_binance_base_rate():
    rules = MarketRules(SYM)
    assert (rules.maker_fee, rules.taker_fee) == (0.001, 0.001)


# -- floor_amount / round_price -----------------------------------------------------------
@pytest.mark.parametrize(
    "amount, step, expected",
    [
        (0.3, 0.1, 0.3),  # 0.3 / 0.1 = 2.9999999999999996 in floats: still 3 steps
        (0.7, 0.1, 0.7),  # 0.7 / 0.1 = 6.999999999999999
        (2.3, 0.1, 2.3),
        (0.1 + 0.2, 0.1, 0.3),  # 0.30000000000000004 -> 0.3 exactly
        (4.35, 0.05, 4.35),  # 87 steps of 0.05
        (0.29999999, 0.1, 0.2),  # really below 3 steps: floor, never round up
        (0.123456789, 0.00001, 0.12345),
        (0.000299999, 0.0001, 0.0002),
        (1.0, 1e-8, 1.0),
        (1234.5, 10.0, 1230.0),
        (0.0000009, 0.000001, 0.0),  # below one step: nothing
    ],
)
def test_floor_amount(amount, step, expected):
    assert MarketRules(SYM, step=step).floor_amount(amount) == expected


@pytest.mark.parametrize(
    "price, tick, expected",
    [
        (100.004, 0.01, 100.0),  # nearest tick, down
        (100.006, 0.01, 100.01),  # nearest tick, up
        (43251.237, 0.01, 43251.24),
        (0.123456, 0.0001, 0.1235),
        (0.375, 0.25, 0.5),  # 1.5 ticks -> 2 ticks
        (7.0, 0.5, 7.0),  # already on the grid
    ],
)
def test_round_price(price, tick, expected):
    assert MarketRules(SYM, tick=tick).round_price(price) == expected



@pytest.mark.parametrize(
    "price, tick, expected",
    [
        (0.625, 0.25, 0.75),  # exactly 2.5 ticks (exact in binary): ccxt ROUND gives 3 ticks = 0.75
        (1.125, 0.25, 1.25),  # exactly 4.5 ticks: ccxt gives 5 ticks = 1.25
    ],
)
def test_round_price_half_tick_rounds_up_like_ccxt(price, tick, expected):
    assert MarketRules(SYM, tick=tick).round_price(price) == expected


# -- MarketRules.check --------------------------------------------------------------------
RULES = MarketRules(SYM, step=0.001, min_amount=0.001, max_amount=100.0, tick=0.01, min_notional=5.0)


@pytest.mark.parametrize(
    "amount, price, rule, words",
    [
        (0.0, 100.0, "LOT_SIZE", "positive"),
        (-1.0, 100.0, "LOT_SIZE", "positive"),
        (math.nan, 100.0, "LOT_SIZE", "positive"),
        (math.inf, 100.0, "LOT_SIZE", "positive"),
        (0.0005, 20_000.0, "LOT_SIZE", "below the minimum"),  # notional 10 would pass: the minimum binds
        (100.001, 100.0, "LOT_SIZE", "above the maximum"),
        (0.0015, 20_000.0, "LOT_SIZE", "lot step"),  # 1.5 steps of 0.001
        (0.01, 100.005, "PRICE_FILTER", "tick"),  # half a tick off the 0.01 grid
        (0.049, 100.0, "NOTIONAL", "minimum notional"),  # 0.049 · 100 = 4.9 < 5
    ],
)
def test_check_failures(amount, price, rule, words):
    block = RULES.check(amount, price)
    assert block is not None
    assert block.rule == rule
    assert words in block.message


@pytest.mark.parametrize(
    "amount, price",
    [
        (0.05, 100.0),  # 0.05 · 100 = 5.0: exactly the minimum notional passes
        (0.001, 5000.0),  # exactly the minimum amount, notional 5
        (100.0, 100.0),  # exactly the maximum amount
        (0.3, 20_000.01),  # 0.3 = 300 steps even though 0.3 / 0.001 is not exact in floats
    ],
)
def test_check_passes(amount, price):
    assert RULES.check(amount, price) is None


# -- default_rules --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "price, tick, step",
    [
        # BTC-like: tick 0.01; step 10^floor(log10(0.5 / 50000)) = 10^-5
        (50_000.0, 0.01, 1e-05),
        # 60000: 0.5 / 60000 = 8.3e-6 -> 10^-6
        (60_000.0, 0.01, 1e-06),
        # ETH-like: 0.5 / 3000 = 1.7e-4 -> 10^-4
        (3_000.0, 0.01, 1e-04),
        # 10 is the last price with a 0.01 tick; step 10^floor(log10(0.05)) = 0.01
        (10.0, 0.01, 0.01),
        # below 10: tick 10^(floor(log10 9.99 - 3)) = 10^-3
        (9.99, 0.001, 0.01),
        # cheap coin at 0.5: tick 10^floor(-0.30 - 3) = 10^-4; step 10^floor(log10 1) = 1
        (0.5, 0.0001, 1.0),
        # meme coin at 1.23e-5: tick 10^floor(-4.91 - 3) = 10^-8; step 10^floor(log10 40650) = 10^4
        (0.0000123, 1e-08, 10_000.0),
    ],
)
def test_default_rules(price, tick, step):
    rules = default_rules("X/USDT", price)
    assert rules.tick == pytest.approx(tick, rel=1e-12)
    assert rules.step == pytest.approx(step, rel=1e-12)
    assert rules.min_amount == rules.step
    assert rules.max_amount == pytest.approx(9_000_000 * step, rel=1e-12)
    assert rules.min_notional == 5.0
    assert (rules.maker_fee, rules.taker_fee, rules.source) == (0.001, 0.001, "defaults")
    # the lot step's value in quote is at most 0.5 (and more than 0.05)
    assert 0.05 < rules.step * price <= 0.5 + 1e-12
    # the price itself passes the tick filter and a minimum-notional order is expressible
    assert rules.check(rules.floor_amount(10.0 / price), rules.round_price(price)) is None


def test_default_rules_fee_overrides():
    rules = default_rules(SYM, 50_000.0, maker_fee=0.0002, taker_fee=0.0004)
    assert (rules.maker_fee, rules.taker_fee) == (0.0002, 0.0004)
    zero = default_rules(SYM, 50_000.0, maker_fee=0.0, taker_fee=0.0)
    assert (zero.maker_fee, zero.taker_fee) == (0.0, 0.0)  # 0 is a rate, not "use the default"


# -- model_price ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "side, open_, high, low, volume, amount, kwargs, expected",
    [
        # σ = (102 − 98) / 100 = 0.04; participation 10 / 1000 = 0.01, √ = 0.1
        # slip = 2 / 2e4 + 1 · 0.04 · 0.1 = 0.0001 + 0.004 = 0.0041 -> 100 · 1.0041
        (BUY, 100.0, 102.0, 98.0, 1000.0, 10.0, {}, 100.41),
        # the same order selling: 100 · (1 − 0.0041)
        (SELL, 100.0, 102.0, 98.0, 1000.0, 10.0, {}, 99.59),
        # participation above 1 is capped at 1: slip = 0.0001 + 0.04 = 0.0401
        (BUY, 100.0, 102.0, 98.0, 1000.0, 2000.0, {}, 104.01),
        # no volume: participation 1 -> same as above
        (BUY, 100.0, 102.0, 98.0, 0.0, 1.0, {}, 104.01),
        # flat bar: σ = 0, only half the spread: 100 · (1 + 0.0001)
        (BUY, 100.0, 100.0, 100.0, 1000.0, 10.0, {}, 100.01),
        # spread 10 bps, impact 0.5: 0.0005 + 0.5 · 0.04 · √(40 / 1000 = 0.04 → 0.2) = 0.0005 + 0.004 = 0.0045
        (BUY, 100.0, 102.0, 98.0, 1000.0, 40.0, {"spread_bps": 10.0, "impact": 0.5}, 100.45),
        # no spread, no range: exactly the open
        (SELL, 250.0, 250.0, 250.0, 10.0, 1.0, {"spread_bps": 0.0}, 250.0),
    ],
)
def test_model_price(side, open_, high, low, volume, amount, kwargs, expected):
    assert model_price(side, open_, high, low, volume, amount, **kwargs) == pytest.approx(expected, rel=1e-12)


def test_model_price_never_better_than_the_open():
    for amount in (0.001, 1.0, 50.0, 1e6):
        assert model_price(BUY, 100.0, 103.0, 97.0, 500.0, amount) > 100.0
        assert model_price(SELL, 100.0, 103.0, 97.0, 500.0, amount) < 100.0


def test_model_price_grows_with_the_square_root_of_size():
    # impact part with 0 spread: 0.04 · √(a / 1000); quadrupling the size doubles it
    small = model_price(BUY, 100.0, 102.0, 98.0, 1000.0, 10.0, spread_bps=0.0) - 100.0  # 0.4
    large = model_price(BUY, 100.0, 102.0, 98.0, 1000.0, 40.0, spread_bps=0.0) - 100.0  # 0.8
    assert small == pytest.approx(0.4, rel=1e-9)
    assert large == pytest.approx(0.8, rel=1e-9)


# -- limit_crossed ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "side, limit, low, high, crossed",
    [
        (BUY, 100.0, 100.0, 105.0, False),  # the low only touches the limit
        (BUY, 100.0, 99.99, 105.0, True),  # traded through it
        (BUY, 100.0, 100.01, 105.0, False),  # never reached
        (SELL, 100.0, 95.0, 100.0, False),  # the high only touches
        (SELL, 100.0, 95.0, 100.01, True),
        (SELL, 100.0, 95.0, 99.99, False),
    ],
)
def test_limit_crossed(side, limit, low, high, crossed):
    assert limit_crossed(side, limit, low, high) is crossed


# -- slippage_bps -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "side, price, reference, bps",
    [
        (BUY, 101.0, 100.0, 100.0),  # paid 1 % more: (101 − 100) / 100 · 1e4 = +100 (worse)
        (BUY, 99.0, 100.0, -100.0),  # paid less: better, negative
        (SELL, 99.0, 100.0, 100.0),  # sold 1 % lower: worse, positive
        (SELL, 101.0, 100.0, -100.0),
        (BUY, 100.41, 100.0, 41.0),  # the model fill above: 0.41 / 100 · 1e4
        (BUY, 100.0, 0.0, 0.0),  # no reference: no number
    ],
)
def test_slippage_bps_sign(side, price, reference, bps):
    assert slippage_bps(side, price, reference) == pytest.approx(bps, rel=1e-9, abs=1e-9)
