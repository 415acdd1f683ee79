"""Ledger timestamps of phase results and sign-offs come from the clock (frozen here)."""

from __future__ import annotations

import json

from freezegun import freeze_time

from livegate.phases import run_phase

from .test_gate import ENV_PASS, events, step_of, ws_of


def test_result_and_signoff_timestamps_come_from_the_clock(workspace, operator_key, run_cli):
    with freeze_time("2031-05-06 07:08:09") as clock:
        assert run_phase(ENV_PASS, ws_of(workspace), key=operator_key).passed
        clock.move_to("2031-05-07 10:11:12.345678")
        signed = run_cli("-w", workspace, "signoff", "env", "--by", "alice", "--yes")
        assert signed.exit_code == 0, signed.output

    [result] = events(workspace, "phase_result")
    [signoff] = events(workspace, "signoff")
    assert result["ts"] == "2031-05-06T07:08:09.000000Z"
    assert signoff["ts"] == "2031-05-07T10:11:12.345678Z"

    report = json.loads(run_cli("-w", workspace, "status", "--json").stdout)
    env = step_of(report, "env")
    assert env["result_at"] == "2031-05-06T07:08:09.000000Z"
    assert env["signed_at"] == "2031-05-07T10:11:12.345678Z"
    assert env["detail"] == "by alice at 2031-05-07T10:11:12.345678Z"
