"""cancel-all leaves no open order on the venue (ccxt's own fetch_open_orders says so), and
rollback (seed 000 §4.5) ends halted, with no open order, in PAPER, every step recorded."""

from __future__ import annotations

import pytest

from livegate.config.workspace import Workspace
from livegate.core.errors import UsageError
from livegate.services import controls, mode_switch, modes
from tests.controls.conftest import await_approval, drop_risk_key, events, set_env
from tests.protocol_helpers import sign_off


def test_cancel_all_leaves_no_open_order(venue, workspace, run_cli):
    placed = {venue.rest(0.001)["id"], venue.rest(0.002)["id"]}
    approval_id = await_approval(workspace)
    assert len(venue.open_orders()) == 2
    code, report, output = run_cli.json("-w", workspace, "cancel-all", "--yes", "--json", "--by", "carol")
    assert code == 0, output
    assert venue.open_orders() == []
    assert {o["id"] for o in report["cancelled"] if "id" in o} == placed
    assert {"approval": approval_id, "status": "rejected"} in report["cancelled"]
    [event] = events(workspace, controls.ORDERS_CANCELLED)
    assert event["actor"] == "carol" and event["payload"]["remaining"] == []
    assert {o["id"] for o in event["payload"]["cancelled"]} == placed
    assert event["payload"]["rejected_approvals"] == [approval_id]


def test_cancel_all_works_while_halted_and_with_a_broken_risk_file(venue, workspace, run_cli):
    venue.rest()
    controls.halt(Workspace(workspace), "drill", "bob")
    drop_risk_key(workspace, "max_daily_loss")
    result = run_cli("-w", workspace, "cancel-all", "--yes")
    assert result.exit_code == 0, result.output
    assert "No open order left (1 cancelled" in result.output
    assert venue.open_orders() == []


def test_cancel_all_without_confirmation_cancels_nothing(venue, workspace, run_cli, monkeypatch):
    from livegate.cli import prompts

    venue.rest()
    monkeypatch.setattr(prompts, "PROMPTER", prompts.ScriptedPrompter([False]))
    result = run_cli("-w", workspace, "cancel-all")
    assert result.exit_code == 0 and "Nothing cancelled." in result.output
    assert len(venue.open_orders()) == 1 and events(workspace, controls.ORDERS_CANCELLED) == []


def test_cancel_all_with_refused_credentials_says_so_and_is_recorded(venue, workspace, run_cli):
    set_env(workspace, EXCHANGE_API_SECRET="not-the-secret")
    result = run_cli("-w", workspace, "cancel-all", "--yes")
    assert result.exit_code == 5, result.output
    assert "refused the API credentials" in result.output
    [event] = events(workspace, controls.ORDERS_CANCELLED)
    assert "refused the API credentials" in event["payload"]["error"]


def test_rollback_ends_in_paper_halted_with_no_open_order(ready, workspace, run_cli):
    ws = Workspace(workspace)
    mode_switch.set_mode(ws, "LIVE_MINIMAL", "stage 4.1a", by="alice")
    order = ready.rest()
    code, report, output = run_cli.json("-w", workspace, "rollback", "--reason", "live 60% worse than paper",
                                        "--by", "alice", "--yes", "--json")
    assert code == 0, output
    assert modes.current_mode(ws) == "PAPER" and "live 60% worse than paper" in modes.halted_reason(ws)
    assert ready.open_orders() == []
    assert [o["id"] for o in report["cancelled"]] == [order["id"]]

    steps = [(e["kind"], e["actor"]) for e in events(workspace, modes.HALTED, controls.ORDERS_CANCELLED, modes.MODE_CHANGED, controls.ROLLBACK)]
    assert steps == [("mode_changed", "alice"), ("trading_halted", "alice"), ("orders_cancelled", "alice"),
                     ("mode_changed", "alice"), ("rollback", "alice")]
    [back, _] = modes.mode_history(ws)
    assert (back["from"], back["to"], back["reason"]) == ("LIVE_MINIMAL", "PAPER", "rollback: live 60% worse than paper")
    summary = events(workspace, controls.ROLLBACK)[0]["payload"]
    assert summary["from_mode"] == "LIVE_MINIMAL" and summary["cancelled"] == 1 and summary["mode_event"] == back["id"]

    again = run_cli("-w", workspace, "rollback", "--yes")  # already halted and in PAPER: still checks the venue
    assert again.exit_code == 0, again.output
    assert "already halted" in again.output


@pytest.mark.parametrize("start", ["EMERGENCY_STOP", "LIVE_SCALED"])
def test_paper_is_reachable_from_any_mode(ready, workspace, start, operator_key):
    ws = Workspace(workspace)
    if start == "LIVE_SCALED":  # the mode ladder: after the micro-live stages
        sign_off(workspace, operator_key, "4.1a", "4.1b", "4.1c", "4.1d")
    mode_switch.set_mode(ws, start, "for the test", by="alice", key=operator_key)
    summary = controls.rollback(ws, "alice", "drill", client=ready.client)
    assert modes.current_mode(ws) == "PAPER" and summary["from_mode"] == start


def test_a_rollback_that_cannot_reach_the_venue_still_halts_and_returns_to_paper(workspace, run_cli):
    ws = Workspace(workspace)
    mode_switch.set_mode(ws, "EMERGENCY_STOP", "outage", by="alice")
    result = run_cli("-w", workspace, "rollback", "--yes")  # a fresh workspace has no credentials
    assert result.exit_code == 2, result.output
    assert "trading is halted and the mode is PAPER" in result.output and "no exchange credentials" in result.output
    assert modes.current_mode(ws) == "PAPER" and modes.halted_reason(ws)
    assert "no exchange credentials" in events(workspace, controls.ROLLBACK)[0]["payload"]["error"]


def test_resume_is_refused_when_nothing_is_halted(workspace):
    with pytest.raises(UsageError, match="not halted"):
        controls.resume(Workspace(workspace), "alice")
