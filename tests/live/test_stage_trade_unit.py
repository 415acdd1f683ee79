"""The trade unit on a venue: real ccxt against the local Binance emulator with a thin book, so
every market order walks several levels and the venue's trade list has several trades per
order. Each round trip is still one trade — the venue's own record of the sell (its filled
amount and average price) is the trade's — and paper accounting of the very same fills, handed
over at once as the simulator does, gives identical trades."""

from __future__ import annotations

import time

import pytest

from livegate.adapters.exchange.markets import rules_from_market
from livegate.adapters.execution.cex import CcxtExecutor
from livegate.config.models import GuardianRules
from livegate.core.breakers import CircuitBreakers
from livegate.core.gateway import OrderGateway
from livegate.core.guardian import RiskGuardian, RiskState
from livegate.core.orders import BUY, SELL, Fill, OrderIntent
from livegate.core.portfolio import Portfolio
from livegate.core.simulator import PaperExecutor
from tests.core.trading_helpers import Journal, limits, loose_rules

SYM = "BTC/USDT"


def gateway(executor, rules, journal, price):
    lim = limits()
    return OrderGateway(guardian=RiskGuardian(lim, GuardianRules()), breakers=CircuitBreakers(lim, loose_rules()), executor=executor,
                        account=Portfolio(cash=1_000.0, last_price={SYM: price}), state=RiskState(peak_equity=1_000.0, equity=1_000.0),
                        rules=rules, journal=journal, id_prefix="tu")


def test_round_trips_on_a_venue_are_one_trade_each_and_paper_accounting_agrees(sandbox):
    pair = sandbox.add_key("unit-key", "unit-secret-Zq7", balances={"USDT": 1_000})
    client = sandbox.client(pair)
    journal = Journal()
    executor = CcxtExecutor(client, journal, base_delay=0.01, halt_check=lambda: None)
    rules = {SYM: rules_from_market(SYM, executor.call(client.load_markets)[SYM])}
    live = gateway(executor, rules, journal, executor.quote(SYM, BUY))
    sells = []
    for _ in range(3):
        now = int(time.time() * 1000)
        live.account.last_price[SYM] = executor.quote(SYM, BUY)
        assert live.submit(OrderIntent(SYM, BUY, quote_amount=8.0), now).accepted
        sell = live.submit(OrderIntent(SYM, SELL), now + 1)
        assert sell.accepted
        sells.append(sell.order.client_id)
    trades = journal.of("trade")
    fills = journal.of("fill")
    assert [t["order_id"] for t in trades] == sells  # one trade per round trip
    assert all(sum(1 for f in fills if f["order_id"] == cid) >= 2 for cid in sells)  # each sell filled in pieces
    assert live.account.positions == {} and live.account.closing == {}

    # the venue's own record of each sell: its filled amount and average price are the trade's
    for trade in trades:
        venue_id = next(p["venue_id"] for p in journal.of("order_acknowledged") if p["client_id"] == trade["order_id"])
        order = client.fetch_order(venue_id, SYM)
        assert trade["amount"] == pytest.approx(float(order["filled"]), rel=1e-12)
        assert trade["exit_price"] == pytest.approx(float(order["average"]), rel=1e-9)
        assert trade["fills"] == len([f for f in fills if f["order_id"] == trade["order_id"]])

    # paper accounting of the same fills: each order's fills at once, the order done
    paper_journal = Journal()
    paper = gateway(PaperExecutor(rules), rules, paper_journal, live.account.last_price[SYM])
    by_order: dict[str, list[Fill]] = {}
    for f in fills:
        by_order.setdefault(f["order_id"], []).append(Fill(**f))
    for order_fills in by_order.values():
        paper.settle(order_fills, order_fills[-1].ts)
    assert paper_journal.of("trade") == trades
    assert paper.account.cash == pytest.approx(live.account.cash, rel=1e-12)
