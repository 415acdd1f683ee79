"""`livegate testnet`, exchange side: real ccxt orders on the local Binance emulator through the
order gateway, the approval flow, reconciliation — and the faults that must never double an order."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.conftest import by_id


def events(ws, kind):
    conn = sqlite3.connect(ws / ".livegate" / "ledger.db")
    try:
        return [json.loads(p) for (p,) in conn.execute("SELECT payload FROM events WHERE kind = ? ORDER BY id", (kind,))]
    finally:
        conn.close()


def test_the_scripted_orders_pass_and_are_recorded(testnet, testnet_ws):
    code, report, output = testnet()
    checks = by_id(report)
    assert code == 0, [c for c in report["checks"] if c["verdict"] not in ("pass", "skip")]
    assert checks["cex_fill_rate_pct"]["measured"] == 100.0
    assert checks["cex_slippage_pct"]["measured"] < 0.5 and checks["cex_balances_reconciled"]["measured"] is True
    assert checks["dex_tx_confirmed"]["verdict"] == "skip" and checks["approvals_behave"]["measured"] is True
    steps = {s["name"]: s for s in report["cex"]["steps"]}
    assert steps["limit buy far below, cancelled"]["status"] == "canceled"
    partial = steps["limit buy larger than the best level (partial fill)"]
    assert partial["note"].startswith("partially filled")  # the rest may fill before the cancel: it is then sold
    sent = [e["client_id"] for e in events(testnet_ws, "order_sending")]
    assert len(sent) == len(set(sent)) == len([s for s in report["cex"]["steps"] if s["accepted"]])
    assert [r["step"] for r in events(testnet_ws, "phase_result")][-1] == "testnet"


def test_a_balance_the_ledger_cannot_explain_halts_trading(testnet_ws, sandbox, operator_key, run_cli):
    from livegate.adapters.sandbox.defaults import DEFAULT_KEYS
    from livegate.config.workspace import Workspace
    from livegate.phases.testnet.runner import TestnetOptions, run_testnet
    from livegate.services import modes

    outsider = sandbox.client(DEFAULT_KEYS["trader"])
    traded = []

    def progress(step: str) -> None:  # someone else trades on the same account mid-run
        if step == "market sell" and not traded:
            traded.append(outsider.create_order("BTC/USDT", "market", "buy", 0.0002))

    ws = Workspace(testnet_ws)
    result, extras = run_testnet(ws, operator_key, TestnetOptions(ask=lambda a: True, progress=progress))
    check = extras["cex"]["reconciliation"]
    assert not result.passed and not check["ok"] and set(check["mismatches"]) >= {"BTC", "USDT"}
    assert check["halted"] and modes.current_mode(ws) == "EMERGENCY_STOP"
    assert "balances do not match the ledger" in modes.mode_history(ws, limit=1)[0]["reason"]
    again = run_cli("-w", testnet_ws, "testnet", "--yes")
    assert again.exit_code == 4 and "EMERGENCY_STOP" in again.output


def test_rejected_approvals_block_every_order(testnet_ws, operator_key):
    from livegate.config.workspace import Workspace
    from livegate.phases.testnet.runner import TestnetOptions, run_testnet

    ws = Workspace(testnet_ws)
    result, extras = run_testnet(ws, operator_key, TestnetOptions(ask=lambda a: False))
    steps = extras["cex"]["steps"]
    assert not any(s["accepted"] for s in steps)
    assert all(any(b.startswith("approval: rejected by") for b in s["blocks"]) for s in steps if "buy" in s["name"] and s["blocks"])
    assert events(testnet_ws, "order_sending") == []
    assert extras["cex"]["fill_rate_pct"] == 0 and not result.passed
    assert extras["approvals"]["ok"]  # the drill itself still behaves


def test_auto_mode_asks_nothing(testnet, testnet_ws):
    with (testnet_ws / ".env").open("a") as fh:
        fh.write("EXECUTION_APPROVAL_MODE=auto\n")
    code, report, _ = testnet()
    assert code == 0
    requested = [e for e in events(testnet_ws, "approval_requested") if "drill" not in e.get("context", "")]
    assert requested == []


def test_the_gate_needs_paper_signed_off(run_cli, workspace, sandbox, operator_key):
    from livegate.adapters.sandbox.configure import write_workspace
    from livegate.adapters.sandbox.local import describe
    from livegate.config.workspace import Workspace
    from tests.protocol_helpers import sign_off

    write_workspace(Workspace(workspace), describe(sandbox))
    sign_off(workspace, operator_key, "env")
    result = run_cli("-w", workspace, "testnet", "--yes")
    assert result.exit_code == 3 and "paper" in result.output


def test_testnet_always_uses_the_exchange_sandbox(run_cli, workspace, operator_key):
    """`exchange:` names the live venue (testnet: false): `livegate testnet` still goes to the
    exchange's sandbox (ccxt's sandbox mode) — offline, that is an error naming the testnet URL."""
    from tests.protocol_helpers import sign_off

    sign_off(workspace, operator_key, "env", "paper")
    code, report, _ = run_cli.json("-w", workspace, "testnet", "--yes", "--json")
    assert code == 1 and "error" in report["cex"]
    assert "testnet.binance.vision" in report["cex"]["error"] and "api.binance.com" not in report["cex"]["error"]


def test_a_dead_alert_receiver_never_stops_trading(run_cli, workspace, sandbox, operator_key):
    from livegate.adapters.sandbox.configure import write_workspace
    from livegate.adapters.sandbox.local import describe
    from livegate.config.workspace import Workspace
    from tests.alerts.conftest import configure, free_port
    from tests.protocol_helpers import sign_off

    write_workspace(Workspace(workspace), describe(sandbox))
    url = f"json://127.0.0.1:{free_port()}/hook"
    configure(workspace, [{"url": url, "min_severity": "info", "name": "dead hook"}], retries=1, timeout=1.0)
    sign_off(workspace, operator_key, "env", "paper")
    code, report, _ = run_cli.json("-w", workspace, "testnet", "--yes", "--json")
    assert code == 0, [c for c in report["checks"] if c["verdict"] not in ("pass", "skip")]
    failed = events(workspace, "alert_failed")
    assert failed and all(f["destination"] == "dead hook" for f in failed)
    assert url not in (workspace / ".livegate" / "ledger.db").read_bytes().decode("utf-8", "replace")  # never the URL


@pytest.mark.parametrize("raw", ["nan", "inf", "-5"])
def test_an_unusable_max_trade_amount_stops_testnet_before_any_order(testnet, testnet_ws, monkeypatch, raw):
    from livegate.config.workspace import Workspace
    from livegate.ledger import queries

    monkeypatch.setenv("MAX_TRADE_AMOUNT", raw)
    code, report, output = testnet()
    assert code == 2 and report is None
    assert "MAX_TRADE_AMOUNT" in output and "positive, finite" in output
    with queries.reading(Workspace(testnet_ws).ledger_path) as conn:
        assert not list(queries.events(conn, kinds=("testnet_started", "order_sending")))
        assert queries.latest_result(conn, "testnet") is None
