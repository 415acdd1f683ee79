"""The guarded switch to a live mode (seed 003 Phase 3): each reason it is refused, every
reason at once, and the typed confirmation it needs; the limits of each mode (seed 004)."""

from __future__ import annotations

import pytest

from livegate.cli import prompts
from livegate.config.workspace import Workspace
from livegate.services import mode_switch, modes
from tests.controls.conftest import await_approval, drop_risk_key, set_env
from tests.protocol_helpers import sign_off

MICRO_LIVE = ("4.1a", "4.1b", "4.1c", "4.1d")  # LIVE_SCALED needs them signed off (the mode ladder)

LIVE = ("mode", "set", "LIVE_MINIMAL", "--reason", "first live stage", "--by", "alice")


def switch(run_cli, root, *extra: str):
    return run_cli("-w", root, *LIVE, "--yes", "--i-understand-real-money", *extra)


def assert_still_paper(root) -> None:
    ws = Workspace(root)
    assert modes.current_mode(ws) == "PAPER" and modes.mode_history(ws) == []


def test_a_closed_gate_is_refused_exit_3(venue, workspace, run_cli):
    result = switch(run_cli, workspace)
    assert result.exit_code == 3, result.output
    assert "gate closed" in result.output and "testnet has not passed yet" in result.output
    assert_still_paper(workspace)


def _position(venue, root) -> list[str]:
    venue.buy(0.002)
    return ["open position: 0.002 BTC", "close it first"]


def _resting_order(venue, root) -> list[str]:
    order = venue.rest()  # a resting buy holds USDT, not BTC: no position
    return ["pending order on binance", f"id {order['id']}", "livegate cancel-all"]


def _awaiting_approval(venue, root) -> list[str]:
    return [f"pending order awaiting approval: {await_approval(root)}"]


def _wrong_secret(venue, root) -> list[str]:
    set_env(root, EXCHANGE_API_SECRET="not-the-secret")
    return ["invalid exchange credentials", "refused the API credentials", "orders on binance not checked"]


def _no_credentials(venue, root) -> list[str]:
    set_env(root, EXCHANGE_API_KEY="", EXCHANGE_API_SECRET="")
    return ["no exchange credentials: EXCHANGE_API_KEY and EXCHANGE_API_SECRET not set"]


def _incomplete_risk_config(venue, root) -> list[str]:
    drop_risk_key(root, "max_daily_loss")
    return ["risk configuration is incomplete", "live_trading.max_daily_loss: required key is missing"]


@pytest.mark.parametrize("make, reasons", [
    (_position, 1), (_resting_order, 1), (_awaiting_approval, 1),
    (_wrong_secret, 2), (_no_credentials, 1), (_incomplete_risk_config, 1),
], ids=lambda v: getattr(v, "__name__", str(v)).strip("_"))
def test_each_refusal_names_its_reason(ready, workspace, run_cli, make, reasons):
    expected = make(ready, workspace)
    result = switch(run_cli, workspace)
    assert result.exit_code == 2, result.output
    assert result.output.count("\n  - ") == reasons, result.output
    for text in expected:
        assert text in result.output, text
    assert "not-the-secret" not in result.output
    assert_still_paper(workspace)


def test_every_reason_is_listed_at_once(venue, workspace, run_cli):
    venue.buy(0.002)
    order = venue.rest()
    approval_id = await_approval(workspace)
    result = switch(run_cli, workspace)
    assert result.exit_code == 3, result.output  # the gate is one of them
    out = result.output
    for reason in ("testnet has not passed yet", "open position: 0.002 BTC", f"id {order['id']}",
                   f"pending order awaiting approval: {approval_id}"):
        assert reason in out, reason

    drop_risk_key(workspace, "max_weekly_loss")
    set_env(workspace, EXCHANGE_API_SECRET="not-the-secret")
    with pytest.raises(mode_switch.SwitchRefused) as info:
        mode_switch.set_mode(Workspace(workspace), "LIVE_MINIMAL", "again")
    reasons = info.value.reasons
    assert any("max_weekly_loss" in r for r in reasons) and any("invalid exchange credentials" in r for r in reasons)
    assert any(approval_id in r for r in reasons)
    assert_still_paper(workspace)


def test_a_switch_to_live_needs_the_typed_phrase_or_both_flags(ready, workspace, run_cli, monkeypatch, operator_key):
    ws = Workspace(workspace)
    alone = run_cli("-w", workspace, *LIVE, "--yes")
    assert alone.exit_code == 2 and "only together with --i-understand-real-money" in alone.output
    assert_still_paper(workspace)

    prompter = prompts.ScriptedPrompter(["real money", "REAL MONEY"])
    monkeypatch.setattr(prompts, "PROMPTER", prompter)
    mistyped = run_cli("-w", workspace, *LIVE)
    assert mistyped.exit_code == 0 and "Mode unchanged." in mistyped.output
    assert_still_paper(workspace)
    typed = run_cli("-w", workspace, *LIVE)
    assert typed.exit_code == 0, typed.output
    assert all("Type REAL MONEY to confirm" in q and "LIVE_MINIMAL" in q for q in prompter.asked)
    assert modes.mode_limits(ws) == {"mode": "LIVE_MINIMAL", "level": None, "risk_per_trade": 0.001, "max_exposure": 0.02}
    [change] = modes.mode_history(ws)
    assert (change["from"], change["to"], change["by"]) == ("PAPER", "LIVE_MINIMAL", "alice")

    ready.buy(0.002)  # scaling up while live: a position is expected then
    sign_off(workspace, operator_key, *MICRO_LIVE)
    scaled = run_cli("-w", workspace, "mode", "set", "LIVE_SCALED", "--level", "1", "--reason", "4.1d signed off",
                     "--yes", "--i-understand-real-money")
    assert scaled.exit_code == 0, scaled.output
    assert modes.mode_limits(ws) == {"mode": "LIVE_SCALED", "level": 1, "risk_per_trade": 0.0025, "max_exposure": 0.05}
    shown = run_cli("-w", workspace, "mode", "show")
    assert "LIVE_SCALED level 1 — risk per trade 0.25 %, max exposure 5.00 %" in shown.output


def test_the_history_keeps_what_was_checked(ready, workspace, operator_key):
    from livegate.ledger.queries import connect_readonly
    from livegate.ledger.queries import events as iter_events

    sign_off(workspace, operator_key, *MICRO_LIVE)
    mode_switch.set_mode(Workspace(workspace), "LIVE_SCALED", "straight to level 1", by="alice", level=1, key=operator_key)
    conn = connect_readonly(Workspace(workspace).ledger_path)
    [event] = list(iter_events(conn, kinds=("mode_changed",)))
    conn.close()
    p = event["payload"]
    assert (p["to"], p["level"], p["risk_per_trade"], p["max_exposure"]) == ("LIVE_SCALED", 1, 0.0025, 0.05)
    assert {c["check"] for c in p["checks"]} == {"risk_config", "gate", "credentials", "positions", "pending_orders"}
    assert all(c["ok"] for c in p["checks"])


@pytest.mark.parametrize("mode, level, risk, exposure", [
    ("PAPER", None, 0.005, 0.20),
    ("LIVE_MINIMAL", None, 0.001, 0.02),
    ("LIVE_SCALED", 1, 0.0025, 0.05),
    ("LIVE_SCALED", 2, 0.005, 0.075),
    ("LIVE_SCALED", 3, 0.01, 0.10),
    ("EMERGENCY_STOP", None, 0.0, 0.0),
])
def test_limits_of_each_mode_follow_seed_004(mode, level, risk, exposure):
    assert modes.LIMITS[(mode, level)] == modes.Limits(risk, exposure)


def test_level_is_for_live_scaled_only(workspace, run_cli):
    result = run_cli("-w", workspace, "mode", "set", "EMERGENCY_STOP", "--level", "2", "--reason", "x", "--yes")
    assert result.exit_code == 2 and "--level applies to LIVE_SCALED only" in result.output


def test_scaling_down_a_live_mode_is_never_held_up(ready, workspace, operator_key):
    ws = Workspace(workspace)
    sign_off(workspace, operator_key, *MICRO_LIVE)
    mode_switch.set_mode(ws, "LIVE_SCALED", "scale up", level=1, key=operator_key)
    set_env(workspace, EXCHANGE_API_SECRET="not-the-secret")  # a broken key must not block less risk,
    drop_risk_key(workspace, "max_weekly_loss")  # nor a config that no longer loads (every sign-off stale)
    mode_switch.set_mode(ws, "LIVE_MINIMAL", "red flag: downscale", key=operator_key)
    assert modes.mode_limits(ws)["risk_per_trade"] == 0.001
    with pytest.raises(mode_switch.SwitchRefused, match="invalid exchange credentials"):
        mode_switch.set_mode(ws, "LIVE_SCALED", "up again", level=1)
