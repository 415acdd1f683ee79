"""The mode ladder (seed 004), enforced by `livegate mode set`: EMERGENCY_STOP leads only to PAPER,
LIVE_MINIMAL only after testnet is signed off, LIVE_SCALED only after stage 4.1d, one level at a
time, each level above 1 only after the level below earned a signed capital step up. Refusals
exit 3, name what is missing and write nothing; less risk is never held up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from freezegun import freeze_time

from livegate.config.workspace import Workspace
from livegate.phases.production.scaling import current_level, scale
from livegate.services import modes
from tests.controls.conftest import events
from tests.production.test_scaling import add_trades
from tests.protocol_helpers import ledger_rows, sign_off

REAL_MONEY = ("--yes", "--i-understand-real-money")


def mode_set(run_cli, root, mode: str, *extra: str):
    return run_cli("-w", root, "mode", "set", mode, "--reason", "the ladder", "--by", "alice", *extra, *REAL_MONEY)


def reasons(result) -> list[str]:
    return [line.strip()[2:] for line in result.output.splitlines() if line.strip().startswith("- ")]


def test_live_scaled_level_3_straight_from_paper_is_refused_exit_3_and_nothing_is_written(workspace, run_cli):
    before = ledger_rows(workspace)
    result = mode_set(run_cli, workspace, "LIVE_SCALED", "--level", "3")
    assert result.exit_code == 3, result.output
    assert "gate closed: cannot proceed with a switch to LIVE_SCALED level 3" in result.output
    assert reasons(result) == [
        "LIVE_SCALED level 3 is more than one level above PAPER: the levels go up one at a time (next: LIVE_SCALED level 1)",
        "LIVE_SCALED needs stage 4.1d signed off (4.1d: not run); finish the micro-live stages: `livegate go-live --stage "
        "4.1d`, then `livegate signoff 4.1d --by NAME`",
        "LIVE_SCALED level 3 needs level 2's scaling step signed off: the mode has never been LIVE_SCALED level 2; once "
        "level 2 meets the scaling rules, run `livegate scale --to AMOUNT` (signed with your key), then switch",
    ]
    assert ledger_rows(workspace) == before
    assert modes.mode_state(Workspace(workspace)) == ("PAPER", None)


def test_emergency_stop_leads_only_to_paper(ready, workspace, run_cli):
    stop = run_cli("-w", workspace, "mode", "set", "EMERGENCY_STOP", "--reason", "exchange incident", "--yes")
    assert stop.exit_code == 0, stop.output
    before = ledger_rows(workspace)
    for target in (("LIVE_SCALED", "--level", "3"), ("LIVE_MINIMAL",)):  # the gate to micro-live is open: only the ladder refuses
        refused = mode_set(run_cli, workspace, *target)
        assert refused.exit_code == 3, refused.output
        assert reasons(refused)[0].startswith("EMERGENCY_STOP leads only to PAPER: switch to PAPER first (`livegate resume`, "
                                              "or `livegate mode set PAPER --reason ...`), then up the ladder again to ")
        assert ledger_rows(workspace) == before
    assert modes.current_mode(Workspace(workspace)) == "EMERGENCY_STOP"

    paper = run_cli("-w", workspace, "mode", "set", "PAPER", "--reason", "incident over", "--yes")
    assert paper.exit_code == 0, paper.output
    live = mode_set(run_cli, workspace, "LIVE_MINIMAL")  # and up the ladder again from there
    assert live.exit_code == 0, live.output
    assert [(h["from"], h["to"]) for h in modes.mode_history(Workspace(workspace))] == [
        ("PAPER", "LIVE_MINIMAL"), ("EMERGENCY_STOP", "PAPER"), ("PAPER", "EMERGENCY_STOP")]


def test_live_minimal_before_testnet_is_signed_off_is_refused_exit_3(venue, workspace, run_cli, operator_key):
    sign_off(workspace, operator_key, "env", "paper")
    before = ledger_rows(workspace)
    result = mode_set(run_cli, workspace, "LIVE_MINIMAL")
    assert result.exit_code == 3, result.output
    assert "gate closed: cannot proceed with a switch to LIVE_MINIMAL (stage 4.1a)" in result.output
    assert "testnet has not passed yet (run `livegate testnet`)" in reasons(result)
    assert not any("env " in r or "paper " in r for r in reasons(result))  # signed off: not missing
    assert ledger_rows(workspace) == before


def test_up_the_ladder_one_level_at_a_time_each_after_a_signed_scaling_step(ready, workspace, run_cli, operator_key):
    ws = Workspace(workspace)
    sign_off(workspace, operator_key, "4.1a", "4.1b", "4.1c", "4.1d", "production")
    assert mode_set(run_cli, workspace, "LIVE_MINIMAL").exit_code == 0
    level_1 = mode_set(run_cli, workspace, "LIVE_SCALED", "--level", "1")
    assert level_1.exit_code == 0, level_1.output
    entered = events(workspace, "mode_changed")[-1]["id"]

    before = ledger_rows(workspace)
    early = mode_set(run_cli, workspace, "LIVE_SCALED", "--level", "2")
    assert early.exit_code == 3, early.output
    assert reasons(early) == [
        f"LIVE_SCALED level 2 needs level 1's scaling step signed off: no capital step up since the switch to LIVE_SCALED "
        "level 1 (event #" f"{entered}); once level 1 meets the scaling rules, run `livegate scale --to AMOUNT` (signed "
        "with your key), then switch"]
    jump = mode_set(run_cli, workspace, "LIVE_SCALED", "--level", "3")
    assert jump.exit_code == 3
    assert reasons(jump)[0] == ("LIVE_SCALED level 3 is more than one level above LIVE_SCALED level 1: the levels go up "
                                "one at a time (next: LIVE_SCALED level 2)")
    assert ledger_rows(workspace) == before

    # Level 1 earns its capital step: 15 days on the ledger's clock, its trades meeting the rules.
    capital = current_level(ws, ws.effective)
    with freeze_time(datetime.fromtimestamp(capital.since_ms / 1000, tz=UTC) + timedelta(days=15)):
        add_trades(ws, operator_key, capital.since_ms, [5.0, 4.0, -1.0, 6.0, 5.0, 3.0, 4.0, 2.0] * 10)
        step = scale(ws, to=15_000, down=False, by="alice", key=operator_key, reason="level 1: two good weeks")
    level_2 = mode_set(run_cli, workspace, "LIVE_SCALED", "--level", "2")
    assert level_2.exit_code == 0, level_2.output
    recorded = events(workspace, "mode_changed")[-1]["payload"]
    assert (recorded["to"], recorded["level"], recorded["scaling_step"]) == ("LIVE_SCALED", 2, step["event"])

    # The step taken at level 1 does not carry level 3: level 2 earns its own.
    again = mode_set(run_cli, workspace, "LIVE_SCALED", "--level", "3")
    assert again.exit_code == 3
    assert reasons(again)[0].startswith("LIVE_SCALED level 3 needs level 2's scaling step signed off: no capital step up "
                                        "since the switch to LIVE_SCALED level 2 (event #")

    # Down is never held up; back at level 1, the level earns its step again (the old one was
    # taken at the earlier stay), and a step down there — a red flag — is no step up.
    assert mode_set(run_cli, workspace, "LIVE_SCALED", "--level", "1").exit_code == 0
    reentered = events(workspace, "mode_changed")[-1]["id"]
    back_up = mode_set(run_cli, workspace, "LIVE_SCALED", "--level", "2")
    assert back_up.exit_code == 3
    assert reasons(back_up)[0].startswith(f"LIVE_SCALED level 2 needs level 1's scaling step signed off: no capital step up "
                                          f"since the switch to LIVE_SCALED level 1 (event #{reentered});")
    down = scale(ws, to=None, down=True, by="alice", key=operator_key, reason="red flag")
    after_down = mode_set(run_cli, workspace, "LIVE_SCALED", "--level", "2")
    assert after_down.exit_code == 3
    assert reasons(after_down)[0].startswith(
        f"LIVE_SCALED level 2 needs level 1's scaling step signed off: the latest capital step since the switch to "
        f"LIVE_SCALED level 1 (event #{reentered}) is down (event #{down['event']}: 15,000.00 → 7,500.00);")
    assert modes.mode_state(ws) == ("LIVE_SCALED", 1)
