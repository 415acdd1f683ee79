"""The ccxt executor against the local Binance emulator (real ccxt, real HTTP and signatures):
lost answers are looked up by client order id, never sent twice; a crash mid-order is
recovered from the ledger; faults become clear errors."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from livegate.adapters.execution.cex import CcxtExecutor
from livegate.core.errors import ClockSkewError, VenueUnreachable
from livegate.core.orders import BUY, MARKET, Block, Order
from livegate.ledger.journal import WriteThroughJournal
from livegate.ledger.store import Ledger

ORDER_POST = ("POST /api/v3/order",)
_ids = itertools.count(1)


@pytest.fixture
def sandbox_options():
    """The `sandbox` of these tests: the default markets and book, one per module."""
    return {"seed": 3, "share": "module"}


@pytest.fixture
def key(sandbox):
    n = next(_ids)
    pair = sandbox.add_key(f"exec-key-{n}", f"exec-secret-{n}-Q9", balances={"USDT": 10_000, "BTC": 1})
    yield pair
    sandbox.clear_faults(pair.api_key)


@pytest.fixture
def ledger(tmp_path):
    path = tmp_path / "ledger.db"
    Ledger.create(path).close()
    with Ledger.open(path) as opened:
        yield opened


def venue_orders(sandbox, pair, client_id):
    """Orders the venue holds with this client order id (any state)."""
    def read():
        account = sandbox.venue.account_of(sandbox.venue.keys[pair.api_key])
        return [o for o in account.orders.values() if o.client_id == client_id]

    return sandbox._on_loop(read)


def executor_for(sandbox, pair, ledger, timeout_ms=10_000):
    client = sandbox.client(pair, timeout_ms=timeout_ms)
    return CcxtExecutor(client, WriteThroughJournal(ledger, "t"), base_delay=0.01, halt_check=lambda: None)


def market_buy(cid: str, amount: float = 0.001) -> Order:
    return Order(cid, "BTC/USDT", BUY, MARKET, amount, None, int(time.time() * 1000), origin="test")


def kinds(ledger):
    return [kind for kind, _ in _events(ledger.path)]


def test_a_timeout_after_the_order_was_accepted_is_looked_up_not_resent(sandbox, key, ledger):
    sandbox.set_fault(key.api_key, timeout_rate=1.0, hang_s=3, routes=ORDER_POST)
    executor = executor_for(sandbox, key, ledger, timeout_ms=700)
    fills = executor.place(market_buy("cid-timeout"), 0)
    assert len(venue_orders(sandbox, key, "cid-timeout")) == 1
    assert executor.lookups == 1 and executor.resends == 0
    assert sum(f.amount for f in fills) == pytest.approx(0.001)
    assert kinds(ledger)[:2] == ["order_sending", "order_acknowledged"]


@pytest.mark.parametrize("fault", [{"rate_limit_rate": 0.6, "retry_after_s": 0}, {"error_rate": 0.6}])
def test_429s_and_5xx_are_retried_with_zero_duplicates(sandbox, key, ledger, fault):
    sandbox.set_fault(key.api_key, routes=ORDER_POST, **fault)
    executor = executor_for(sandbox, key, ledger)
    executor.attempts = 12
    for n in range(6):
        assert not hasattr(executor.place(market_buy(f"cid-storm-{n}", 0.0002), 0), "rule")
    for n in range(6):
        assert len(venue_orders(sandbox, key, f"cid-storm-{n}")) == 1
    assert executor.resends > 0


def test_a_total_storm_gives_up_clearly_and_places_nothing(sandbox, key, ledger):
    sandbox.set_fault(key.api_key, rate_limit_rate=1.0, retry_after_s=0, routes=ORDER_POST)
    executor = executor_for(sandbox, key, ledger)
    with pytest.raises(VenueUnreachable, match="could not be sent after 4 attempts .* it was not placed"):
        executor.place(market_buy("cid-never"), 0)
    assert venue_orders(sandbox, key, "cid-never") == []


def test_a_clock_beyond_recv_window_is_a_clear_refusal_and_no_order(sandbox, key, ledger):
    executor = executor_for(sandbox, key, ledger)
    sandbox.set_fault(key.api_key, clock_skew_ms=20_000)
    with pytest.raises(ClockSkewError, match="local clock is off"):
        executor.place(market_buy("cid-skew"), 0)
    assert venue_orders(sandbox, key, "cid-skew") == []


def test_partial_fills_come_from_the_venue(sandbox, key, ledger):
    sandbox.set_fault(key.api_key, partial_fill=0.5)
    executor = executor_for(sandbox, key, ledger)
    order = market_buy("cid-partial", 0.002)
    fills = executor.place(order, 0)
    assert sum(f.amount for f in fills) == pytest.approx(0.001) and order.filled == pytest.approx(0.001)
    assert order.status == "canceled"  # a market order's rest expires
    assert kinds(ledger).count("venue_fill") == len(fills)


CRASHING_CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from livegate.core.orders import Order
    from livegate.adapters.exchange.client import build_exchange
    from livegate.adapters.execution.cex import CcxtExecutor
    from livegate.ledger.journal import WriteThroughJournal
    from livegate.ledger.store import Ledger
    url, key, secret, path = sys.argv[1:5]
    client = build_exchange("binance", testnet=False, base_url=url, api_key=key, secret=secret, rate_limit_ms=0, timeout_ms=60000)
    with Ledger.open(Path(path)) as ledger:
        executor = CcxtExecutor(client, WriteThroughJournal(ledger, "t"), halt_check=lambda: None)
        executor.place(Order("cid-crash", "BTC/USDT", "buy", "market", 0.001, None, int(time.time() * 1000)), 0)
""")


def test_kill_9_mid_order_then_restart_recovers_it_without_a_second_order(sandbox, key, ledger):
    sandbox.set_fault(key.api_key, timeout_rate=1.0, hang_s=60, routes=ORDER_POST)
    path = ledger.path
    child = subprocess.Popen([sys.executable, "-c", CRASHING_CHILD, sandbox.url, key.api_key, key.secret, str(path)],
                             env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 30
    while not venue_orders(sandbox, key, "cid-crash") and time.time() < deadline:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    assert len(venue_orders(sandbox, key, "cid-crash")) == 1, child.stderr.read().decode()
    sandbox.clear_faults(key.api_key)
    events = _events(path)
    assert [k for k, _ in events] == ["order_sending"]  # the answer never came back
    executor = executor_for(sandbox, key, ledger)
    found = executor.recover(events)
    assert found.outcome == {"cid-crash": "adopted"}
    (venue_order,) = venue_orders(sandbox, key, "cid-crash")
    assert venue_order.executed > 0 and sum(f.amount for f in found.fills) == pytest.approx(venue_order.executed)  # to be applied
    # the replayed intent (same client id) is refused, never sent a second time
    again = executor.place(Order("cid-crash", "BTC/USDT", "buy", "market", 0.001, None, 0), 0)
    assert isinstance(again, Block) and again.rule == "already_sent"
    assert len(venue_orders(sandbox, key, "cid-crash")) == 1
    later = executor_for(sandbox, key, ledger).recover(events + list(_events(path))[1:])  # a second restart
    assert later.outcome == {"cid-crash": "closed"} and later.fills == []  # done and recorded: nothing to ask
    assert len(venue_orders(sandbox, key, "cid-crash")) == 1
    recorded = _events(path)
    assert [k for k, _ in recorded].count("order_acknowledged") == 1  # recovered once, not again
    trades = [p["venue_trade"] for k, p in recorded if k == "venue_fill"]
    assert trades and len(trades) == len(set(trades))  # every venue fill journaled exactly once


def test_an_order_that_never_reached_the_venue_is_recorded_as_not_placed(sandbox, key, ledger):
    executor = executor_for(sandbox, key, ledger)
    payload = {**market_buy("cid-ghost").to_dict(), "reference": 40_000.0}
    assert executor.recover([("order_sending", payload)]).outcome == {"cid-ghost": "not placed"}
    assert venue_orders(sandbox, key, "cid-ghost") == [] and kinds(ledger) == ["order_not_placed"]


def _events(path):
    import json
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return [(k, json.loads(p)) for k, p in conn.execute(
            "SELECT kind, payload FROM events WHERE kind != 'ledger_created' ORDER BY id")]
    finally:
        conn.close()


def test_a_halt_pulled_between_a_lost_attempt_and_its_resend_stops_the_resend(sandbox, key, ledger):
    """Every attempt is refused with a 429 (the venue has no such order, as the lookup shows); the
    kill switch goes on during the backoff: the order is not sent again."""
    sandbox.set_fault(key.api_key, rate_limit_rate=1.0, retry_after_s=0, routes=ORDER_POST)
    client = sandbox.client(key, timeout_ms=10_000)
    halted: list[str] = []
    executor = CcxtExecutor(client, WriteThroughJournal(ledger, "t"), base_delay=0.01,
                            sleep=lambda s: halted.append("halted during the backoff"),
                            halt_check=lambda: halted[0] if halted else None)
    block = executor.place(market_buy("cid-halted-resend"), 0)
    assert block.rule == "halted" and block.message == "halted during the backoff"
    assert executor.resends == 0 and executor.lookups == 1
    assert venue_orders(sandbox, key, "cid-halted-resend") == []
    assert kinds(ledger) == ["order_sending", "order_not_sent"]


def test_a_new_orders_fills_come_from_its_answer_and_equal_the_venues_own_trades(sandbox, key, ledger):
    sandbox.set_fault(key.api_key, error_rate=1.0, routes=("GET /api/v3/myTrades",))  # asked, the trade list would fail
    executor = executor_for(sandbox, key, ledger)
    order = market_buy("cid-answer", 0.003)
    fills = executor.place(order, 0)
    [venue_order] = venue_orders(sandbox, key, "cid-answer")
    account = sandbox.venue.account_of(sandbox.venue.keys[key.api_key])
    trades = sandbox._on_loop(lambda: [t for t in account.trades.get("BTCUSDT", []) if t.order_id == venue_order.order_id])
    recorded = [p for kind, p in _events(ledger.path) if kind == "venue_fill"]
    assert trades and len(fills) == len(trades)
    assert [(r["venue_trade"], r["price"], r["amount"], r["fee_cost"], r["fee_currency"], r["ts"], r["liquidity"]) for r in recorded] == [
        (str(t.id), t.price, t.qty, round(t.commission, 8), t.commission_asset, t.time, "taker") for t in trades]  # 8 decimals on the wire
    assert order.status == "filled" and order.filled == pytest.approx(sum(t.qty for t in trades))


def test_a_resting_orders_later_fills_are_asked_of_the_venue_once_each(sandbox, key, ledger):
    executor = executor_for(sandbox, key, ledger)
    book = executor.client.fetch_order_book("BTC/USDT", 5)
    order = Order("cid-rest", "BTC/USDT", BUY, "limit", 0.001, round(book["bids"][0][0] * 0.5, 2), int(time.time() * 1000), origin="test")
    assert executor.place(order, 0) == [] and executor.open_orders() == [order]
    executor.cancel("cid-rest")
    assert executor.open_orders() == [] and executor.poll() == []
    assert [k for k in kinds(ledger) if k.startswith("order_")] == ["order_sending", "order_acknowledged", "order_done", "order_canceled"]


def test_a_new_orders_answer_reads_as_ccxts_own_parser_reads_it(sandbox, key, ledger):
    """The executor sends MARKET and LIMIT orders itself and reads Binance's FULL answer with a
    small reader of its own: on real answers of the venue (filled at once over several levels,
    half filled, resting, a fee in the base asset) every field livegate uses equals ccxt's."""
    from livegate.adapters.execution.cex import binance_order_answer

    client = sandbox.client(key)
    book = client.fetch_order_book("BTC/USDT", 5)
    top = book["asks"][0][1]
    requests = [{"side": "BUY", "type": "MARKET", "quantity": client.amount_to_precision("BTC/USDT", top + 0.01)},  # more than one level
                {"side": "SELL", "type": "MARKET", "quantity": "0.00200"},
                {"side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.00100",
                 "price": client.price_to_precision("BTC/USDT", book["bids"][0][0] * 0.5)}]  # rests
    answers = []
    for n, request in enumerate(requests):
        answers.append(client.privatePostOrder({"symbol": "BTCUSDT", "newClientOrderId": f"cid-parity-{n}",
                                                "newOrderRespType": "FULL", **request}))
    sandbox.set_fault(key.api_key, partial_fill=0.5)
    answers.append(client.privatePostOrder({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.00200",
                                            "newClientOrderId": "cid-parity-half", "newOrderRespType": "FULL"}))
    answers.append({**answers[0], "fills": [{**f, "commissionAsset": "BTC"} for f in answers[0]["fills"]]})  # a fee taken in the base asset
    assert len(answers[0]["fills"]) >= 2 and answers[2]["status"] == "NEW" and answers[3]["status"] == "EXPIRED"
    for raw in answers:
        ours, theirs = binance_order_answer(client, raw), client.parse_order(raw, client.market("BTC/USDT"))
        assert (ours["id"], ours["status"], ours["filled"], ours["timestamp"]) == (
            theirs["id"], theirs["status"], theirs["filled"], theirs["timestamp"])
        assert [(t["id"], t["order"], t["price"], t["amount"], t["fee"]["cost"], t["fee"]["currency"]) for t in ours["trades"]] == [
            (t["id"], t["order"] or theirs["id"], t["price"], t["amount"], t["fee"]["cost"], t["fee"]["currency"])  # the executor names the order when ccxt does not
            for t in theirs["trades"]]
