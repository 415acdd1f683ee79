"""Each micro-live stage's cap (seed 000 §4.1), as the gateway applies it: the order's value in
the quote currency at the current price, refused above the cap — never resized."""

from __future__ import annotations

import pytest

from livegate.config.workspace import Workspace
from livegate.core.orders import BUY, OrderIntent
from livegate.phases.microlive.stage import stage_spec


@pytest.mark.parametrize("stage, cap, hours, trades", [("4.1a", 10, 24, 3), ("4.1b", 50, 24, 5), ("4.1c", 100, 48, 10),
                                                       ("4.1d", 500, 72, 20)])
def test_each_stage_caps_the_trade_value_in_quote(workspace, stage, cap, hours, trades):
    from livegate.core.breakers import CircuitBreakers
    from livegate.core.fills import default_rules
    from livegate.core.gateway import NullJournal, OrderGateway
    from livegate.core.guardian import RiskGuardian, RiskState
    from livegate.core.portfolio import Portfolio
    from tests.benchmarks_helpers import AcceptAll

    eff = Workspace(workspace).effective
    spec = stage_spec(eff, stage)
    assert (spec.cap, spec.min_hours, spec.min_trades) == (cap, hours, trades)
    limits = eff.risk.live_trading.model_copy(update={"max_position_size": 10_000.0, "max_total_capital": 100_000.0,
                                                      "min_seconds_between_trades": 0.0})
    account = Portfolio(cash=100_000.0)
    account.last_price["BTC/USDT"] = 60_000.0
    gateway = OrderGateway(guardian=RiskGuardian(limits, eff.risk.guardian.model_copy(update={"max_trade_pct": 1.0})),
                           breakers=CircuitBreakers(limits, eff.risk.circuit_breakers), executor=AcceptAll(), account=account,
                           state=RiskState(peak_equity=100_000.0, equity=100_000.0),
                           rules={"BTC/USDT": default_rules("BTC/USDT", 60_000.0)}, journal=NullJournal(), id_prefix="t",
                           stage_cap=spec.cap)
    assert gateway.submit(OrderIntent("BTC/USDT", BUY, quote_amount=cap), 0).accepted
    over = gateway.submit(OrderIntent("BTC/USDT", BUY, quote_amount=cap + 1), 1)
    assert [b.rule for b in over.blocks] == ["stage_cap"]
    ten_btc = gateway.submit(OrderIntent("BTC/USDT", BUY, amount=10.0), 2)  # $600,000, never "10" of anything
    assert "stage_cap" in [b.rule for b in ten_btc.blocks] and ten_btc.order is None
