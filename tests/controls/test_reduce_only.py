"""REDUCING (`livegate reduce-only`): only orders that reduce an open position pass the one order
gateway — a buy and a sell larger than the position are refused naming who, when and why, a sell
within it reaches the local exchange. It needs no key, `livegate resume` (signed) lifts it, and a
resume forged into the ledger with sqlite3 lifts nothing. A halt still wins over it."""

from __future__ import annotations

import os

import pytest

from livegate.config.environment import load_env
from livegate.config.workspace import Workspace
from livegate.core.orders import BUY, SELL, OrderIntent
from livegate.ledger.journal import WriteThroughJournal
from livegate.ledger.store import Ledger
from livegate.services import approvals, controls, modes
from livegate.services.trading import TESTNET, venue_gateway
from tests.controls.conftest import events
from tests.ledger.test_attacks import forge

RULE = "only orders that reduce an open position pass"


@pytest.fixture
def traded(venue, workspace):
    """A testnet gateway on the workspace's sandbox account that bought BTC through it; (gateway, client ids sent)."""
    ws = Workspace(workspace)
    ledger = Ledger.open(ws.ledger_path)
    journal = WriteThroughJournal(ledger, "reduce-test")
    vg = venue_gateway(TESTNET, ws, ws.effective, load_env(workspace), journal, "reduce-test", "BTC/USDT", approvals.let_through,
                       client=venue.client)
    price = venue.sandbox.price("BTC/USDT")
    vg.gateway.account.last_price["BTC/USDT"] = price
    for at in (1_000, 1_001):  # two buys under MAX_TRADE_AMOUNT: half the position is worth more than the minimum order
        bought = vg.gateway.submit(OrderIntent("BTC/USDT", BUY, quote_amount=9.5, reason="test"), at, origin="test")
        assert bought.accepted, bought.blocks
    yield vg.gateway
    ledger.close()


def submit(gateway, side: str, amount: float, at: int):
    return gateway.submit(OrderIntent("BTC/USDT", side, amount=amount, reason="test"), at, origin="test")


def test_reducing_refuses_buys_and_oversize_sells_and_lets_a_reducing_sell_through(traded, venue, workspace, run_cli,
                                                                                 tmp_path, monkeypatch):
    gateway = traded
    held = gateway.account.position("BTC/USDT")
    assert held > 0
    keys = os.environ["LIVEGATE_KEY_DIR"]
    monkeypatch.setenv("LIVEGATE_KEY_DIR", str(tmp_path / "no-key-here"))  # entering REDUCING needs no key
    code, report, output = run_cli.json("-w", workspace, "reduce-only", "--reason", "win rate below 40 %", "--by", "Ann",
                                        "--yes", "--json")
    assert code == 0 and report["reducing"] is True and report["already"] is False, output
    [event] = events(workspace, "reduce_only")
    assert event["payload"] == {"reason": "win rate below 40 %", "by": "Ann", "source": "operator"} and event["id"] == report["event"]

    buy = submit(gateway, BUY, 0.0002, 2_000)
    assert not buy.accepted and [b.rule for b in buy.blocks] == ["reducing"]
    message = buy.blocks[0].message
    assert message.startswith("trading is reducing only (since ") and "by Ann: win rate below 40 %" in message and RULE in message
    oversize = submit(gateway, SELL, held * 2, 3_000)
    assert not oversize.accepted and oversize.blocks[0].rule == "reducing" and "larger than" in oversize.blocks[0].message

    part = float(f"{held / 2:.5f}")
    sell = submit(gateway, SELL, part, 4_000)
    assert sell.accepted, sell.blocks
    assert gateway.account.position("BTC/USDT") == pytest.approx(held - part)

    # the exchange's own record: the buy and the one sell reached it, the refused orders did not
    sent = {o.client_id for o in (buy.order, oversize.order) if o is not None}
    assert not sent
    orders = venue.client.fetch_orders("BTC/USDT")
    placed = [e["payload"] for e in events(workspace, "order_placed")]
    assert [(o["clientOrderId"], o["side"]) for o in orders] == [(p["client_id"], p["side"]) for p in placed]
    assert [o["side"] for o in orders] == ["buy", "buy", "sell"] and orders[2]["filled"] == pytest.approx(part)
    assert sum(t["amount"] for t in venue.client.fetch_my_trades("BTC/USDT") if t["side"] == "sell") == pytest.approx(part)
    blocked = [e["payload"] for e in events(workspace, "order_blocked")]
    assert [b["blocks"][0][0] for b in blocked] == ["reducing", "reducing"]

    # a resume forged with sqlite3 (no signature) lifts nothing; the signed resume does
    forge(Workspace(workspace).ledger_path, "trading_resumed", {"reason": "mallory"})
    assert not submit(gateway, BUY, 0.0002, 5_000).accepted
    monkeypatch.setenv("LIVEGATE_KEY_DIR", keys)
    resumed = run_cli("-w", workspace, "resume", "--reason", "flags green again", "--yes")
    assert resumed.exit_code == 0, resumed.output
    assert modes.reduce_state(Workspace(workspace)) is None
    again = submit(gateway, BUY, 0.0002, 6_000)
    assert again.accepted, again.blocks


def test_status_and_mode_show_name_reducing_and_a_halt_wins_over_it(workspace, run_cli):
    ws = Workspace(workspace)
    event = controls.reduce_only(ws, "5 consecutive losses", "trade loop", source="red flag")
    assert controls.reduce_only(ws, "again", "trade loop", source="red flag") == event  # already in force: nothing written
    assert len(events(workspace, "reduce_only")) == 1

    code, report, output = run_cli.json("-w", workspace, "status", "--json")
    assert report["halt"] is None, output
    assert report["reducing"]["by"] == "trade loop" and report["reducing"]["source"] == "red flag"
    assert report["reducing"]["reason"] == "5 consecutive losses" and report["reducing"]["event"] == event
    shown = run_cli("-w", workspace, "status")
    assert "Trading is REDUCING ONLY" in shown.output and "5 consecutive losses" in shown.output
    code, mode, output = run_cli.json("-w", workspace, "mode", "show", "--json")
    assert mode["halted"] is False and RULE in mode["reducing"], output

    assert run_cli("-w", workspace, "halt", "--reason", "exchange incident").exit_code == 0
    halted, _mode, reducing = modes.trading_state(ws)
    assert halted is not None and "exchange incident" in halted and reducing is None
    assert run_cli("-w", workspace, "status", "--json").exit_code == 0

    resumed = run_cli("-w", workspace, "resume", "--yes")
    assert resumed.exit_code == 0, resumed.output
    assert modes.trading_state(ws) == (None, "PAPER", None)
    assert [e["kind"] for e in events(workspace, "trading_resumed")] == ["trading_resumed"]  # one resume lifts both
    refused = run_cli("-w", workspace, "resume", "--yes")
    assert refused.exit_code == 2 and "not halted, nor reducing only" in refused.output


def test_reduce_only_needs_a_reason(workspace, run_cli):
    result = run_cli("-w", workspace, "reduce-only", "--reason", "  ", "--yes")
    assert result.exit_code == 2 and "--reason is required" in result.output
    assert events(workspace, "reduce_only") == []
