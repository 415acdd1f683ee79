"""`livegate flatten` and EMERGENCY_STOP on the local exchange: every position above the savings
recorded at the env sign-off is sold at market through the order gateway, in sizes the market
accepts; what is too small to sell is recorded as dust; the savings are never touched. The
exchange's own order and trade record is compared with the ledger."""

from __future__ import annotations

import itertools
import math

import pytest

from livegate.config.workspace import Workspace
from livegate.services import modes
from livegate.services.alerts.receiver import LocalReceiver
from tests.alerts.conftest import configure
from tests.controls import test_savings_baseline
from tests.controls.conftest import events
from tests.controls.test_savings_baseline import SAVINGS, btc_held, signed_with_savings

# pytest loads test_savings_baseline again under its own name, with its own key counter: keys of ours are numbered apart
test_savings_baseline._ids = itertools.count(1000)

@pytest.fixture
def http_receiver():
    """A local webhook receiving the workspace's alerts."""
    receiver = LocalReceiver()
    yield receiver
    receiver.close()


FLATTEN = ("flatten", "--by", "Ann", "--yes", "--i-understand-real-money", "--json")


def deposit(sandbox, pair, amounts: dict[str, float]) -> None:
    """Credit the account on the exchange, as a deposit would."""
    sandbox._on_loop(lambda: sandbox.venue.account_of(sandbox.venue.keys[pair.api_key]).deposit(amounts))


def own_orders(sandbox, pair) -> list[dict]:
    return sandbox.client(pair).fetch_orders("BTC/USDT")


def check_flat_against_the_venue(sandbox, pair, root, report: dict) -> None:
    """The venue holds the savings plus at most the recorded dust; its sells since the flatten
    started are exactly the ledger's, order by order and fill by fill."""
    run = report["run"]
    dust = sum(d["amount"] for d in report["dust"] if d["asset"] == "BTC")
    assert btc_held(sandbox, pair) == pytest.approx(SAVINGS + dust, abs=1e-9)
    assert btc_held(sandbox, pair) >= SAVINGS  # the savings: never sold
    sent = [e["payload"] for e in events(root, "order_sending") if e["payload"]["run"] == run]
    venue_sells = {o["clientOrderId"]: o for o in own_orders(sandbox, pair) if o["side"] == "sell"}
    assert sorted(venue_sells) == sorted(p["client_id"] for p in sent)
    fills = [e["payload"] for e in events(root, "fill") if e["payload"]["run"] == run]
    for client_id, order in venue_sells.items():
        assert order["status"] == "closed"
        assert sum(f["amount"] for f in fills if f["order_id"] == client_id) == pytest.approx(order["filled"])
    venue_trades = [t for t in sandbox.client(pair).fetch_my_trades("BTC/USDT") if t["order"] in {o["id"] for o in venue_sells.values()}]
    assert sorted(round(t["amount"], 8) for t in venue_trades) == sorted(round(f["amount"], 8) for f in fills)


def test_flatten_sells_what_is_above_the_savings_and_records_the_dust(sandbox, workspace, run_cli, operator_key, http_receiver):
    pair = signed_with_savings(sandbox, workspace, run_cli, operator_key)
    configure(workspace, [{"url": http_receiver.url(), "name": "ops", "min_severity": "warning"}])
    client = sandbox.client(pair)
    client.create_order("BTC/USDT", "market", "buy", 0.00213)
    deposit(sandbox, pair, {"BTC": 0.0000037})  # a sliver received since (a deposit, a fee refund)
    excess = btc_held(sandbox, pair) - SAVINGS
    step = client.market("BTC/USDT")["precision"]["amount"]
    below_step = excess - math.floor(excess / step + 1e-9) * step  # no order can sell it: dust
    assert below_step == pytest.approx(0.0000037, abs=1e-10)

    code, report, output = run_cli.json("-w", workspace, *FLATTEN)
    assert code == 0 and report["flat"] is True, output
    assert report["baseline"]["BTC"] == SAVINGS and report["positions"]["BTC"] == pytest.approx(excess)
    assert [o["status"] for o in report["sold"]] == ["filled"]
    [dust] = report["dust"]
    assert dust["asset"] == "BTC" and dust["amount"] == pytest.approx(below_step, abs=1e-10) and "lot step" in dust["reason"]
    check_flat_against_the_venue(sandbox, pair, workspace, report)

    run = report["run"]
    kinds = [e["kind"] for e in events(workspace) if e["payload"].get("run") == run]
    assert kinds[0] == "flatten_started" and kinds[-1] == "flatten_finished"
    assert {"order_sending", "fill", "flatten_order", "flatten_dust"} <= set(kinds)
    titles = [r["body"]["title"] for r in http_receiver.requests]
    assert any("flatten started by Ann" in t for t in titles) and any("kept as dust" in t for t in titles), titles
    assert any("flatten: sell" in t and "filled" in t for t in titles) and any("flatten finished" in t for t in titles), titles

    # nothing left above the savings but dust: a second flatten sells nothing and records the dust again
    code, again, output = run_cli.json("-w", workspace, *FLATTEN)
    assert code == 0 and [o for o in again["sold"] if o["filled"]] == [] and len(again["dust"]) == 1, output
    assert btc_held(sandbox, pair) == pytest.approx(SAVINGS + dust["amount"], abs=1e-9)


def test_flatten_passes_a_halt_because_it_only_reduces(sandbox, workspace, run_cli, operator_key):
    pair = signed_with_savings(sandbox, workspace, run_cli, operator_key)
    sandbox.client(pair).create_order("BTC/USDT", "market", "buy", 0.002)
    assert run_cli("-w", workspace, "halt", "--reason", "incident").exit_code == 0
    code, report, output = run_cli.json("-w", workspace, *FLATTEN)
    assert code == 0 and report["flat"] is True, output
    check_flat_against_the_venue(sandbox, pair, workspace, report)
    assert modes.halted_reason(Workspace(workspace)) is not None  # the halt still holds


def test_flatten_is_guarded_like_the_switch_to_live(sandbox, workspace, run_cli, operator_key):
    pair = signed_with_savings(sandbox, workspace, run_cli, operator_key)
    sandbox.client(pair).create_order("BTC/USDT", "market", "buy", 0.002)
    held = btc_held(sandbox, pair)
    refused = run_cli("-w", workspace, "flatten", "--yes")
    assert refused.exit_code == 2 and "--i-understand-real-money" in refused.output
    assert btc_held(sandbox, pair) == held and events(workspace, "flatten_started") == []


def test_emergency_stop_halts_cancels_and_flattens_each_step_recorded(sandbox, workspace, run_cli, operator_key, http_receiver):
    pair = signed_with_savings(sandbox, workspace, run_cli, operator_key)
    configure(workspace, [{"url": http_receiver.url(), "name": "ops", "min_severity": "warning"}])
    client = sandbox.client(pair)
    client.create_order("BTC/USDT", "market", "buy", 0.002)
    resting = client.create_order("BTC/USDT", "limit", "buy", 0.001, round(sandbox.price("BTC/USDT") * 0.5, 2))

    stopped = run_cli("-w", workspace, "mode", "set", "EMERGENCY_STOP", "--reason", "exchange incident", "--by", "Ann", "--yes")
    assert stopped.exit_code == 0, stopped.output
    assert modes.current_mode(Workspace(workspace)) == "EMERGENCY_STOP"
    steps = [e["payload"] for e in events(workspace, "emergency_stop")]
    assert [(s["step"], s["ok"]) for s in steps] == [("halt", True), ("cancel_all", True), ("flatten", True)]
    assert client.fetch_open_orders("BTC/USDT") == [] and client.fetch_order(resting["id"], "BTC/USDT")["status"] == "canceled"
    [finished] = [e["payload"] for e in events(workspace, "flatten_finished")]
    report = {"run": finished["run"], "dust": finished["dust"]}
    check_flat_against_the_venue(sandbox, pair, workspace, report)
    titles = [r["body"]["title"] for r in http_receiver.requests]
    for step in ("halt done", "cancel-all done", "flatten done"):
        assert any(f"EMERGENCY_STOP {step} (exchange incident)" in t for t in titles), titles


def test_a_failing_step_is_recorded_and_the_next_still_runs(sandbox, workspace, run_cli, operator_key):
    """The venue's credentials refused: cancel-all and flatten both fail, each recorded; the stop holds (exit 8)."""
    signed_with_savings(sandbox, workspace, run_cli, operator_key)
    env = workspace / ".env"
    env.write_text(env.read_text().replace("EXCHANGE_API_SECRET=", "EXCHANGE_API_SECRET=wrong"))
    stopped = run_cli("-w", workspace, "mode", "set", "EMERGENCY_STOP", "--reason", "drill", "--yes")
    assert stopped.exit_code == 8, stopped.output
    assert modes.current_mode(Workspace(workspace)) == "EMERGENCY_STOP"
    steps = [e["payload"] for e in events(workspace, "emergency_stop")]
    assert [(s["step"], s["ok"]) for s in steps] == [("halt", True), ("cancel_all", False), ("flatten", False)]
    assert all(s["error"] for s in steps[1:])
    assert "Open orders cancelled: FAILED" in stopped.output and "Positions closed: FAILED" in stopped.output
