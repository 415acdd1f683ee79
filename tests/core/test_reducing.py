"""REDUCING in the order gateway (NautilusTrader's semantics, spot long only): while the halt check
answers `Reducing`, a sell of at most the position held passes — also when the fills that built
the position add up to a hair less than the amount the bot counts — and a buy, an oversize sell
and a sell with nothing held are refused naming why. A halt (a plain reason) still refuses all."""

from __future__ import annotations

import pytest

from livegate.config.models import GuardianRules
from livegate.core.breakers import CircuitBreakers
from livegate.core.fills import MarketRules
from livegate.core.gateway import OrderGateway, Reducing
from livegate.core.guardian import RiskGuardian, RiskState
from livegate.core.orders import BUY, SELL, Fill, OrderIntent
from livegate.core.portfolio import Portfolio
from tests.core.trading_helpers import Journal, limits, loose_rules
from tests.core.venue_double import Venue

SYM = "BTC/USDT"
RULES = {SYM: MarketRules(SYM, step=0.001, min_amount=0.001, tick=0.01, min_notional=5.0)}
WHY = "trading is reducing only (since 2026-01-01T00:00:00Z by ann: red flag): only orders that reduce an open position pass"


def gateway(state):
    """A gateway holding 0.7 − 0.4 BTC (0.29999999999999993 in floats) at 100, its halt check answering `state`."""
    lim = limits()
    account = Portfolio(cash=10_000.0, last_price={SYM: 100.0})
    for amount, side in ((0.7, BUY), (0.4, SELL)):
        account.apply(Fill("setup", SYM, side, amount, 100.0, 0.0, "taker", 0, 100.0, 0.0, "model"))
    assert account.position(SYM) == 0.7 - 0.4 != 0.3
    return OrderGateway(guardian=RiskGuardian(lim, GuardianRules(max_trade_pct=1.0)), breakers=CircuitBreakers(lim, loose_rules()),
                        executor=Venue(), account=account, state=RiskState(peak_equity=10_000.0, equity=10_000.0), rules=RULES,
                        journal=Journal(), id_prefix="r", halt_check=lambda: state)


@pytest.mark.parametrize(("intent", "refusal"), [
    (OrderIntent(SYM, BUY, amount=0.01), "a buy opens or adds to a position"),
    (OrderIntent(SYM, SELL, amount=0.3), None),  # all of it, as the bot counts it
    (OrderIntent(SYM, SELL, amount=0.1), None),
    (OrderIntent(SYM, SELL), None),  # no amount: all of it
    (OrderIntent(SYM, SELL, quote_amount=20.0), None),  # 0.2 at 100
    (OrderIntent(SYM, SELL, amount=0.301), "this sell of 0.301 is larger than the 0.3 BTC held"),
    (OrderIntent(SYM, SELL, quote_amount=40.0), "this sell of 0.4 is larger than the 0.3 BTC held"),
    (OrderIntent("ETH/USDT", SELL, amount=0.1), "there is no ETH/USDT position to reduce"),
])
def test_only_a_sell_within_the_position_passes_while_reducing(intent, refusal):
    decision = gateway(Reducing(WHY)).submit(intent, 1_000)
    if refusal is None:
        assert decision.accepted, decision.blocks
        assert decision.order.amount <= 0.3
    else:
        assert not decision.accepted and [b.rule for b in decision.blocks] == ["reducing"]
        assert decision.blocks[0].message == f"{WHY} — {refusal}"


def test_a_halt_refuses_even_the_sell_that_reduces():
    decision = gateway("trading is halted (since … by bob: incident)").submit(OrderIntent(SYM, SELL, amount=0.1), 1_000)
    assert not decision.accepted and [b.rule for b in decision.blocks] == ["halted"]
