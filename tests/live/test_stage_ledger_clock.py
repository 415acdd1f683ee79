"""A real micro-live stage's hours are the ledger's: from its `stage_started` event to the ledger's
latest time, never the wall clock alone; a wall clock behind the ledger is refused (exit 3)
before anything is written. The stage is started for real (`livegate go-live` against the local
exchange); the clock is moved with freezegun in-process and with faketime for the command."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from livegate.config.workspace import Workspace
from livegate.core.ledger_clock import ClockWentBackwards
from livegate.ledger.store import Ledger
from livegate.phases.microlive.runner import stage_status
from tests.protocol_helpers import ledger_rows

LOOSEST = {"win_rate_gap_points": 60, "live_vs_paper_worse_pct": 100}  # the kill comparisons are not what is tested here


@pytest.fixture
def real_ws(make_live_ws):
    return make_live_ws(thresholds=LOOSEST)


def start_real_stage(run_cli, root) -> dict:
    """`livegate go-live --stage 4.1a` paused at once (no --sandbox-clock: a real stage); its
    `stage_started` event as {id, ts, payload}."""
    result = run_cli("-w", root, "go-live", "--stage", "4.1a", "--yes", "--max-hours", "0", "--json")
    assert result.exit_code == 7, result.output
    assert json.loads(result.stdout)["status"] == "paused"
    conn = sqlite3.connect(Workspace(root).ledger_path)
    try:
        [(event_id, ts, payload)] = conn.execute("SELECT id, ts, payload FROM events WHERE kind = 'stage_started'").fetchall()
    finally:
        conn.close()
    return {"id": event_id, "ts": ts, "payload": json.loads(payload)}


def at(started: dict, hours: float) -> datetime:
    return datetime.fromisoformat(started["ts"]).astimezone(UTC) + timedelta(hours=hours)


def test_a_real_stages_hours_are_the_ledgers_not_the_wall_clocks(run_cli, real_ws):
    ws = Workspace(real_ws)
    started = start_real_stage(run_cli, real_ws)
    assert "clock" not in started["payload"]  # a rehearsal's stage says `clock: sandbox`

    with freeze_time(at(started, 30)):  # 30 hours on the wall clock, minutes in the ledger
        assert stage_status(ws, "4.1a")["min_duration_hours"] < 0.1

    with freeze_time(at(started, 23)):  # the stage's loop writes on: the ledger shows 23 hours
        with Ledger.open(ws.ledger_path) as ledger:
            ledger.append("live_checkpoint", {"run": f"lgl{started['id']}", "cursor": {}, "state": {}})
    with freeze_time(at(started, 40)):
        assert stage_status(ws, "4.1a")["min_duration_hours"] == pytest.approx(23, abs=0.01)

    with freeze_time(at(started, 22)), pytest.raises(ClockWentBackwards) as info:
        stage_status(ws, "4.1a")
    assert info.value.target == "stage 4.1a" and info.value.reasons[0].startswith("the clock went backwards")


@pytest.mark.skipif(shutil.which("faketime") is None, reason="libfaketime's faketime is not installed")
def test_go_live_on_a_clock_behind_the_ledger_is_refused_exit_3_and_writes_nothing(run_cli, real_ws):
    start_real_stage(run_cli, real_ws)
    before = ledger_rows(real_ws)
    resumed = subprocess.run(["faketime", "-f", "-1d", sys.executable, "-m", "livegate", "-w", str(real_ws),
                              "go-live", "--stage", "4.1a", "--yes", "--max-hours", "0"],
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 3, resumed.stderr
    assert "gate closed: cannot proceed with go-live 4.1a" in resumed.stderr
    assert "the clock went backwards: this machine's clock reads" in resumed.stderr and "Traceback" not in resumed.stderr
    assert ledger_rows(real_ws) == before
