"""`livegate testnet --check` against the local exchange: the same real orders, judged the same
way, and not one event in the workspace's ledger; and a recorded testnet refused (exit 3, before
any order) while a go-live stage holds the live lock."""

from __future__ import annotations

import pytest

from livegate.adapters.sandbox.defaults import DEFAULT_KEYS
from tests.conftest import by_id
from tests.protocol_helpers import event_count, hold_live_lock


def venue_orders(sandbox) -> list[str]:
    """The exchange's own record of the trader account's orders (client order ids)."""
    client = sandbox.client(DEFAULT_KEYS["trader"])
    return sorted(o["clientOrderId"] for o in client.fetch_orders("BTC/USDT"))


@pytest.fixture
def stage_running(testnet_ws):
    """A go-live stage 4.1a holding the live lock, taken the way go-live takes it."""
    proc = hold_live_lock(testnet_ws, "4.1a")
    yield proc
    proc.kill()
    proc.wait(timeout=10)


def test_testnet_check_trades_on_the_sandbox_and_records_nothing(testnet, testnet_ws, run_cli, sandbox):
    count, orders = event_count(testnet_ws), venue_orders(sandbox)
    code, report, output = testnet("--check")
    assert code == 0, [c for c in report["checks"] if c["verdict"] not in ("pass", "skip")]
    checks = by_id(report)
    assert report["recorded"] is False and report["counts_as_phase_result"] is False and report["gate_notice"] is None
    assert checks["cex_fill_rate_pct"]["measured"] == 100.0 and checks["cex_balances_reconciled"]["measured"] is True
    assert checks["approvals_behave"]["measured"] is True
    assert report["run"].startswith("lgc")
    sent = [s["client_id"] for s in report["cex"]["steps"] if s["accepted"]]
    assert sent and set(venue_orders(sandbox)) - set(orders) == set(sent)  # real orders, at the venue
    assert all(cid.startswith(report["run"] + "-") for cid in sent)  # never the ids a recorded run will use
    assert event_count(testnet_ws) == count

    human = run_cli("-w", testnet_ws, "testnet", "--yes", "--check")
    assert human.exit_code == 0, human.output
    assert "Verdict: pass — check only: nothing was recorded." in human.stdout
    assert "livegate signoff testnet" not in human.stdout
    assert event_count(testnet_ws) == count


def test_a_recorded_testnet_is_refused_while_a_stage_runs_but_a_check_still_runs(testnet, testnet_ws, stage_running, sandbox):
    count, orders = event_count(testnet_ws), venue_orders(sandbox)
    code, report, output = testnet()
    assert code == 3, output
    assert report is None and "gate closed: cannot proceed with testnet" in output
    assert f"go-live stage 4.1a (pid {stage_running.pid}) is running: no testnet result is recorded" in output
    assert "livegate testnet --check" in output
    assert event_count(testnet_ws) == count and venue_orders(sandbox) == orders  # nothing recorded, no order sent

    code, report, output = testnet("--check")
    assert code == 0 and report["recorded"] is False, output
    assert event_count(testnet_ws) == count


def test_testnet_check_swaps_on_the_test_chain_and_records_nothing(testnet, full_ws, default_chain):
    count = event_count(full_ws)
    code, report, output = testnet("--check", ws=full_ws)
    assert code == 0, [c for c in report["checks"] if c["verdict"] not in ("pass", "skip")]
    assert by_id(report)["dex_tx_confirmed"]["verdict"] == "pass"
    receipt = default_chain.web3().eth.get_transaction_receipt(report["dex"]["tx_hash"])  # the chain's own record of the swap
    assert receipt["status"] == 1
    assert event_count(full_ws) == count


def test_a_check_run_that_cannot_reconcile_fails_and_halts_nothing(testnet_ws, sandbox, operator_key):
    from livegate.config.workspace import Workspace
    from livegate.phases.testnet.runner import TestnetOptions, run_testnet
    from livegate.services import modes

    outsider = sandbox.client(DEFAULT_KEYS["trader"])
    traded = []

    def progress(step: str) -> None:  # someone else trades on the same account mid-run
        if step == "market sell" and not traded:
            traded.append(outsider.create_order("BTC/USDT", "market", "buy", 0.0002))

    ws = Workspace(testnet_ws)
    count = event_count(testnet_ws)
    result, extras = run_testnet(ws, operator_key, TestnetOptions(ask=lambda a: True, progress=progress, check=True))
    check = extras["cex"]["reconciliation"]
    assert traded and not result.passed and not check["ok"] and check["halted"] is False
    assert modes.halted_reason(ws) is None and modes.current_mode(ws) == "PAPER" and not ws.halt_file_path.exists()
    assert event_count(testnet_ws) == count


def test_a_check_waits_for_an_unfinished_recorded_run(testnet, testnet_ws, operator_key, sandbox):
    from livegate.ledger.store import Ledger

    with Ledger.open(testnet_ws / ".livegate" / "ledger.db", key=operator_key) as ledger:  # a run killed mid-way
        ledger.append("testnet_started", {"run": "lgt1", "cex": True, "dex": False, "approval_mode": "auto"})
    count, orders = event_count(testnet_ws), venue_orders(sandbox)
    code, report, output = testnet("--check")
    assert code == 3 and report is None, output
    assert "testnet run lgt1 did not finish; `livegate testnet` resumes and records it first" in output
    assert event_count(testnet_ws) == count and venue_orders(sandbox) == orders
