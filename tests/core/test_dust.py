"""Dust: a holding below the market's minimum order (lot size or notional) is recorded once,
kept out of everything that looks at open positions — the strategy's context, the guardian's
position count and exposure, the protective stop, the breakers' checks — and never wedges a
run: before, a partial fill that left such a remainder made the strategy and the stop-loss try
to sell it at every bar, and the gateway answered `order_blocked NOTIONAL` forever.

Market: lot step and minimum amount 0.001, minimum notional 5. Numbers worked out by hand."""

from __future__ import annotations

import math

import pytest

from livegate.config.models import GuardianRules
from livegate.core.breakers import CircuitBreakers
from livegate.core.engine import Engine
from livegate.core.fills import MarketRules
from livegate.core.gateway import OrderGateway
from livegate.core.guardian import RiskGuardian, RiskState
from livegate.core.orders import BUY, MARKET, SELL, Bar, Fill, Order, OrderIntent
from livegate.core.portfolio import Portfolio
from tests.core.trading_helpers import Journal, limits, loose_rules
from tests.core.venue_double import Venue

SYM, ETH = "BTC/USDT", "ETH/USDT"
TF = 60_000
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
RULE = MarketRules(SYM, step=0.001, min_amount=0.001, tick=0.01, min_notional=5.0)
RULES = {SYM: RULE, ETH: MarketRules(ETH, step=0.001, min_amount=0.001, tick=0.01, min_notional=5.0)}


@pytest.mark.parametrize("amount, price, dust", [
    (0.0009, 1e9, True),  # rounds down to 0 lots: dust at any price
    (0.04, 100.0, True),  # 0.04 · 100 = 4 < 5
    (0.04, 125.0, False),  # 0.04 · 125 = 5: exactly the minimum sells
    (0.0409, 125.0, False),  # rounds down to 0.040: 5
    (0.0409, 124.0, True),  # 0.040 · 124 = 4.96
    (0.06, 100.0, False),  # 6
])
def test_a_holding_is_dust_when_one_sell_of_all_of_it_would_be_refused(amount, price, dust):
    assert RULE.is_dust(amount, price) is dust
    assert (price < RULE.dust_price(amount)) is dust
    refused = RULE.check(RULE.floor_amount(amount), price, is_limit=False) if RULE.floor_amount(amount) > 0 else "no lot"
    assert (refused is not None) is dust  # the exchange's own verdict on that sell


def test_the_dust_price_is_the_minimum_notional_over_the_amount_that_can_be_sold():
    assert RULE.dust_price(0.04) == pytest.approx(125.0)  # 5 / 0.04
    assert RULE.dust_price(0.0409) == pytest.approx(125.0)  # rounded down to 0.040 first
    assert RULE.dust_price(0.0005) == math.inf


def setup(executor, strategy=None, lim=None, cash=10_000.0):
    lim = lim or limits()
    account = Portfolio(cash=cash, last_price={SYM: 100.0, ETH: 100.0})
    journal = Journal()
    state = RiskState(peak_equity=cash, equity=cash)
    breakers = CircuitBreakers(lim, loose_rules())
    gw = OrderGateway(guardian=RiskGuardian(lim, GuardianRules(max_trade_pct=1.0)), breakers=breakers, executor=executor,
                      account=account, state=state, rules=RULES, journal=journal, id_prefix="d")
    engine = Engine(strategy=strategy, gateway=gw, executor=executor, account=account, state=state, breakers=breakers,
                    timeframe_ms=TF) if strategy else None
    return gw, engine, journal


def flat(i, price, symbol=SYM):
    return Bar(symbol, T0 + i * TF, price, price, price, price, 1000.0)


class SellsWhatItHolds:
    """Sells its whole position at every bar (the wedge's strategy); records what it saw."""

    def __init__(self):
        self.seen: list[float] = []

    def on_bar(self, bar, ctx):
        self.seen.append(ctx.position(SYM))
        return [OrderIntent(SYM, SELL)] if ctx.position(SYM) > 0 else None


def test_a_partial_fill_leaving_a_remainder_below_the_minimum_no_longer_wedges_the_run():
    venue, strategy = Venue(), SellsWhatItHolds()
    gw, engine, journal = setup(venue, strategy, limits(max_single_trade_loss=0.5))
    gw.settle([Fill("B", SYM, BUY, 0.1, 100.0, 0.01, "taker", T0, 100.0, 0.0, "venue")], T0)  # 0.1 at 100: worth 10
    engine.on_bar(flat(0, 100.0))  # the strategy sells 0.1
    (sell,) = venue.open_orders()
    # the venue fills 0.06 of it and the rest expires: 0.04 is left, worth 4 < 5
    venue.queued = [venue.fill(sell.client_id, 0.06, 100.0, 0.006, T0 + TF, "canceled")]
    for i in range(1, 21):  # twenty bars, the price falling far below the protective stop
        engine.on_bar(flat(i, 100.0 if i == 1 else 80.0))
    (dust,) = journal.of("dust")
    assert (dust["symbol"], dust["amount"], dust["value"], dust["price"]) == (SYM, pytest.approx(0.04), pytest.approx(4.0), 100.0)
    assert dust["min_notional"] == 5.0 and "minimum order" in dust["message"]
    assert journal.of("order_blocked") == []  # no NOTIONAL, every bar, forever: nothing at all
    assert [p["origin"] for p in journal.of("order_placed")] == ["strategy"]  # no stop-loss sell of the dust
    assert strategy.seen[0] == pytest.approx(0.1) and strategy.seen[1:] == [0.0] * 20
    (trade,) = journal.of("trade")  # what was sold is a trade: 0.06 · (100 − 100) − (0.006 + 0.006) = −0.012
    assert (trade["amount"], trade["net"]) == (pytest.approx(0.06), pytest.approx(-0.012))
    assert gw.account.positions == {} and gw.account.position(SYM) == pytest.approx(0.04)
    # still money: equity = cash + 0.04 · 80
    # cash = 10000 − 10.01 + 6 − 0.006 = 9995.984; equity = 9995.984 + 3.2 = 9999.184
    assert gw.account.equity() == pytest.approx(9999.184)


class Holds:
    def on_bar(self, bar, ctx):
        return None


def test_a_position_the_price_makes_too_small_to_sell_becomes_dust_at_that_bar():
    venue = Venue()
    gw, engine, journal = setup(venue, Holds())
    venue.queued = [Fill("B", SYM, BUY, 0.06, 100.0, 0.006, "taker", T0, 100.0, 0.0, "venue")]  # worth 6
    venue.orders["B"] = Order("B", SYM, BUY, MARKET, 0.06, None, T0, status="filled", filled=0.06)
    engine.on_bar(flat(0, 100.0))
    engine.on_bar(flat(1, 84.0))  # 0.06 · 84 = 5.04: still sellable
    assert journal.of("dust") == [] and SYM in gw.account.positions
    engine.on_bar(flat(2, 83.0))  # 0.06 · 83 = 4.98 < 5
    (dust,) = journal.of("dust")
    assert (dust["amount"], dust["value"], dust["price"], dust["at"]) == (0.06, pytest.approx(4.98), 83.0, T0 + 3 * TF)
    assert gw.account.positions == {} and engine.ctx.positions == {} and engine.ctx.position(SYM) == 0.0


def test_a_position_still_being_bought_is_not_dust_until_its_buy_is_done():
    venue = Venue()
    gw, engine, journal = setup(venue, Holds())
    venue.open(Order("B", SYM, BUY, "limit", 0.1, 100.0, T0))
    venue.queued = [venue.fill("B", 0.03, 100.0, 0.003, T0)]  # worth 3 so far, the rest of the buy resting
    engine.on_bar(flat(0, 100.0))
    engine.on_bar(flat(1, 100.0))
    assert journal.of("dust") == [] and gw.account.positions[SYM].amount == 0.03
    venue.close("B", "canceled")
    engine.on_bar(flat(2, 100.0))
    assert [d["amount"] for d in journal.of("dust")] == [0.03]


def test_buying_into_dust_makes_it_part_of_the_new_position_and_its_trade():
    gw, _, journal = setup(Venue())
    account = gw.account
    account.apply(Fill("B1", SYM, BUY, 0.1, 100.0, 0.01, "taker", T0, 100.0, 0.0, "venue"))
    account.apply(Fill("S1", SYM, SELL, 0.06, 100.0, 0.006, "taker", T0 + TF, 100.0, 0.0, "venue"))
    account.close_trade("S1")
    assert gw.check_dust(SYM, T0 + TF) and set(account.dust) == {SYM}
    # left: 0.04, cost 4, entry fee 0.004. A buy of 0.1 at 100 (fee 0.01) takes it back
    account.apply(Fill("B2", SYM, BUY, 0.1, 100.0, 0.01, "taker", T0 + 2 * TF, 100.0, 0.0, "venue"))
    assert account.dust == {} and account.positions[SYM].amount == pytest.approx(0.14)
    assert account.positions[SYM].opened_ms == T0  # never flat: the same round trip
    (trade,) = account.apply(Fill("S2", SYM, SELL, 0.14, 110.0, 0.0154, "taker", T0 + 3 * TF, 110.0, 0.0, "venue"))
    # entry cost 4 + 10 = 14, entry fees 0.004 + 0.01 = 0.014; exit 0.14 · 110 = 15.4
    # gross 1.4; fee 0.014 + 0.0154 = 0.0294; net 1.3706
    assert (trade.gross, trade.fee, trade.net) == (pytest.approx(1.4), pytest.approx(0.0294), pytest.approx(1.3706))
    assert trade.entry_price == pytest.approx(100.0) and journal.of("dust")[0]["amount"] == pytest.approx(0.04)


def test_the_rest_of_a_resting_sell_filling_from_dust_closes_the_round_trip():
    venue = Venue()
    gw, _, journal = setup(venue)
    gw.settle([Fill("B", SYM, BUY, 0.1, 100.0, 0.01, "taker", T0, 100.0, 0.0, "venue")], T0)
    venue.open(Order("S", SYM, SELL, "limit", 0.1, 100.0, T0))
    gw.settle([venue.fill("S", 0.06, 100.0, 0.006, T0 + TF)], T0 + TF)  # 0.04 left, resting: dust now
    assert [d["amount"] for d in journal.of("dust")] == [pytest.approx(0.04)] and journal.of("trade") == []
    (trade,) = gw.settle([venue.fill("S", 0.04, 100.0, 0.004, T0 + 2 * TF, "filled")], T0 + 2 * TF)
    assert (trade.amount, trade.fills, trade.order_id) == (pytest.approx(0.1), 2, "S")
    assert gw.account.dust == {} and gw.account.positions == {}


def test_a_sell_of_dust_is_refused_once_as_dust_and_the_holding_recorded():
    gw, _, journal = setup(Venue())
    gw.account.apply(Fill("B", SYM, BUY, 0.04, 100.0, 0.004, "taker", T0, 100.0, 0.0, "venue"))  # worth 4, not yet flagged
    decision = gw.submit(OrderIntent(SYM, SELL), T0 + TF)
    assert [b.rule for b in decision.blocks] == ["dust"] and "is dust" in decision.blocks[0].message
    assert [d["amount"] for d in journal.of("dust")] == [0.04] and gw.account.positions == {}
    gw.account.last_price[SYM] = 200.0  # worth 8 now: a sell of it is an order like any other
    assert gw.submit(OrderIntent(SYM, SELL), T0 + 2 * TF).accepted


def test_a_small_sell_of_a_large_position_is_still_the_market_filter_not_dust():
    gw, _, journal = setup(Venue())
    gw.account.apply(Fill("B", SYM, BUY, 1.0, 100.0, 0.1, "taker", T0, 100.0, 0.0, "venue"))
    decision = gw.submit(OrderIntent(SYM, SELL, amount=0.01), T0 + TF)  # worth 1 < 5
    assert [b.rule for b in decision.blocks] == ["NOTIONAL"] and journal.of("dust") == []


def test_dust_is_out_of_the_guardians_position_count_and_exposure_but_in_equity():
    gw, _, _ = setup(Venue(), lim=limits(max_open_positions=1, max_total_capital=20.0))
    account = gw.account
    account.apply(Fill("B", SYM, BUY, 0.04, 100.0, 0.004, "taker", T0, 100.0, 0.0, "venue"))
    assert gw.check_dust(SYM, T0)
    assert account.open_positions() == 0 and account.open_exposure() == 0.0
    assert account.exposure() == pytest.approx(4.0) and account.equity() == pytest.approx(10_000.0 - 0.004)
    # another market: not refused for max_open_positions (the dust is not a position), and the
    # total capital cap sees 20 of room, not 16
    decision = gw.submit(OrderIntent(ETH, BUY, quote_amount=20.0), T0 + TF)
    assert decision.accepted and decision.caps == [] and decision.order.amount == pytest.approx(0.2)
