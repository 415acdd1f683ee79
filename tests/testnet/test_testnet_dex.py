"""`livegate testnet` with the chain on: a real swap through Uniswap V2 on the local node."""

from __future__ import annotations

from tests.conftest import by_id


def test_cex_and_dex_together_pass(testnet, full_ws):
    code, report, _ = testnet(ws=full_ws)
    checks = by_id(report)
    assert code == 0, [c for c in report["checks"] if c["verdict"] not in ("pass", "skip")]
    assert all(c["verdict"] == "pass" for c in report["checks"] if not c["criterion"].startswith("bot_"))
    assert {c["verdict"] for c in report["checks"] if c["criterion"].startswith("bot_")} == {"skip"}  # no bot of its own
    dex = report["dex"]
    assert dex["tx_hash"].startswith("0x") and dex["confirmations"] >= 1
    assert dex["amount_out"] >= dex["min_out"] and 0.5 <= checks["dex_gas_used_ratio"]["measured"] <= 1.0
    assert dex["paid"].endswith(" TKA") and float(dex["paid"].split()[0]) <= 1.0 and dex["bought"] == "TKB"  # shown, not masked


def test_a_swap_worth_more_than_max_trade_amount_is_refused_by_the_guardian(testnet, full_ws, monkeypatch):
    """The test swap goes through the one order gateway: 1 TKA against MAX_TRADE_AMOUNT=0.5 is
    refused before anything is signed, and the refusal is in the ledger as `order_blocked`."""
    from livegate.config.workspace import Workspace
    from livegate.ledger import queries

    monkeypatch.setenv("MAX_TRADE_AMOUNT", "0.5")
    code, report, _ = testnet(ws=full_ws)
    checks = by_id(report)
    assert code == 1
    dex = report["dex"]
    assert dex["executed"] is False and "max_trade_amount" in dex["reason"]
    assert checks["dex_tx_confirmed"]["verdict"] == "fail"
    with queries.reading(Workspace(full_ws).ledger_path) as conn:
        blocked = [e["payload"] for e in queries.events(conn, kinds=("order_blocked",))
                   if e["payload"].get("origin") == "testnet" and e["payload"]["intent"]["symbol"] == "TKB/TKA"]
        sent = list(queries.events(conn, kinds=("dex_swap_sending",)))
    assert len(blocked) == 1 and blocked[0]["blocks"][0][0] == "max_trade_amount"
    assert blocked[0]["intent"]["quote_amount"] == 1.0
    assert not sent  # nothing was signed or sent


class _Crash(BaseException):
    """The process dying between the swap's journal entry and its broadcast."""


def test_a_run_killed_before_its_swap_was_broadcast_resumes_with_the_same_transaction(full_ws, operator_key, monkeypatch):
    """Exactly once on the chain: the resumed run broadcasts the very transaction it journaled
    (same hash, same nonce) and signs no other one for the swap."""
    from livegate.adapters.execution.dex import DexExecutor
    from livegate.config.workspace import Workspace
    from livegate.ledger import queries
    from livegate.phases.testnet.runner import TestnetOptions, run_testnet

    ws = Workspace(full_ws)
    real = DexExecutor.broadcast

    def dies(self, prepared):
        raise _Crash()

    monkeypatch.setattr(DexExecutor, "broadcast", dies)
    try:
        run_testnet(ws, operator_key, TestnetOptions(ask=lambda a: True))
    except _Crash:
        pass
    else:
        raise AssertionError("the run should have died at the broadcast")
    monkeypatch.setattr(DexExecutor, "broadcast", real)
    result, extras = run_testnet(ws, operator_key, TestnetOptions(ask=lambda a: True))
    assert result.passed, [c for c in result.to_dict()["checks"] if c["verdict"] not in ("pass", "skip")]
    assert extras["resumed"] is True and extras["run"] == "lgt1"
    with queries.reading(ws.ledger_path) as conn:
        sending = [e["payload"] for e in queries.events(conn, kinds=("dex_swap_sending",))]
        rebroadcast = [e["payload"] for e in queries.events(conn, kinds=("dex_swap_rebroadcast",))]
        confirmed = [e["payload"] for e in queries.events(conn, kinds=("dex_swap_confirmed",))]
    assert len(sending) == 1 and [r["tx_hash"] for r in rebroadcast] == [sending[0]["tx_hash"]]
    assert [c["tx_hash"] for c in confirmed] == [sending[0]["tx_hash"]] and confirmed[0]["resumed"] is True
    assert extras["dex"]["tx_hash"] == sending[0]["tx_hash"] and extras["dex"]["resumed"] is True


def test_max_cex_order_amount_does_not_cap_an_on_chain_swap(testnet, full_ws, monkeypatch):
    """MAX_CEX_ORDER_AMOUNT caps orders sent to an exchange; the swap (1 TKA) is not one: set
    at 0.5, it leaves the swap alone, which executes on the chain."""
    from livegate.config.workspace import Workspace
    from livegate.ledger import queries

    monkeypatch.setenv("MAX_CEX_ORDER_AMOUNT", "0.5")
    _, report, output = testnet(ws=full_ws)
    dex = report["dex"]
    assert dex["executed"] is True and dex["tx_hash"].startswith("0x"), output
    assert by_id(report)["dex_tx_confirmed"]["verdict"] == "pass"
    with queries.reading(Workspace(full_ws).ledger_path) as conn:
        blocked = [e["payload"] for e in queries.events(conn, kinds=("order_blocked",))]
    assert not [b for b in blocked if b["intent"]["symbol"] == "TKB/TKA"]  # (the exchange's orders, sized down to 0.5 USDT, are its business)
