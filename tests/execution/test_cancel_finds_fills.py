"""A cancel that finds the order filled meanwhile: its fills are journaled once and handed to the
next `poll`, so the caller applies them — never journaled and dropped (real ccxt, the local
sandbox with a step clock, so the resting order fills exactly when the market is moved)."""

from __future__ import annotations

import pytest

from livegate.adapters.execution.cex import CcxtExecutor
from livegate.core.orders import BUY, LIMIT, Order
from livegate.ledger import queries
from livegate.ledger.journal import WriteThroughJournal
from livegate.ledger.store import Ledger

MINUTE = 60_000


@pytest.fixture
def sandbox_options():
    return {"clock": "step", "history_bars": 1500, "seed": 7}


def test_fills_found_by_a_cancel_reach_the_next_poll_once(sandbox, tmp_path):
    path = tmp_path / "ledger.db"
    Ledger.create(path).close()
    venue = sandbox.venue
    market = venue.market("BTCUSDT")
    now = venue.clock.market_ms()
    i, _ = market.path.locate(now)
    price = market.round_price(float(market.path.l[i + 1:i + 30].min()) * 1.0001)  # the market reaches it within 30 min
    assert price < market.best(now)[0]
    with Ledger.open(path) as ledger:
        executor = CcxtExecutor(sandbox.client(sandbox.add_key("cancel-key", "cancel-secret-Q9", balances={"USDT": 10_000})), WriteThroughJournal(ledger, "t"), base_delay=0.01,
                                halt_check=lambda: None)
        order = Order("cid-cancel-finds", "BTC/USDT", BUY, LIMIT, 0.001, price, now, origin="test")
        assert executor.place(order, now) == [] and executor.pending  # resting
        sandbox.advance(30 * MINUTE)  # the market crosses it: the venue fills it
        canceled = executor.cancel(order.client_id)
        assert canceled.status == "filled" and canceled.filled == pytest.approx(0.001)
        assert executor.pending  # a fill waits to be applied, although no order is open
        fills = executor.poll()
        assert [(f.order_id, f.amount, f.price) for f in fills] == [(order.client_id, pytest.approx(0.001), pytest.approx(price))]
        assert executor.poll() == [] and not executor.pending  # handed out once
    with queries.reading(path) as conn:
        kinds = [e["kind"] for e in queries.events_of_run(conn, "t")]
    assert kinds.count("venue_fill") == 1 and "order_canceled" in kinds
