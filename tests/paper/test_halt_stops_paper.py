"""`livegate halt` stops a running paper forward run: the next order is refused, the run stops
at its last checkpoint with exit 4 (TradingHalted), and `--resume` after `livegate resume`
finishes it."""

from __future__ import annotations

import subprocess
import sys

import pytest
from freezegun import freeze_time

from livegate.config.workspace import Workspace
from livegate.core.errors import TradingHalted
from livegate.ledger.keys import load_private
from livegate.phases.paper.run import FORWARD, PaperRunner, RunPlan, run_counts, run_events, unfinished_run
from livegate.services import modes

START = "2024-03-04 00:00:00"


def _cli(ws_root, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "livegate", "-w", str(ws_root), *args], capture_output=True, text=True)


def test_halt_from_another_process_stops_a_forward_paper_run(forward_workspace, clock_exchange):
    ws = Workspace(forward_workspace)
    halted_after: dict = {}
    with freeze_time(START) as frozen:
        ticks = {"n": 0}

        def sleep(seconds: float) -> None:
            frozen.tick(seconds)
            ticks["n"] += 1
            if ticks["n"] == 40:  # some hours into the run, another terminal pulls the kill switch
                done = _cli(forward_workspace, "halt", "--reason", "operator stop")
                assert done.returncode == 0, done.stderr
                halted_after["bars"] = ticks["n"]

        runner = PaperRunner(ws, RunPlan(FORWARD, days=1.0), key=load_private(), client=clock_exchange, sleep=sleep, progress=None)
        with pytest.raises(TradingHalted, match="operator stop.*paper-run --resume"):
            runner.run()
        assert halted_after, "the halt was never pulled"
        start, checkpoint = unfinished_run(ws)
        run_id = f"r{start['id']}"
        assert checkpoint is not None  # stopped at its last checkpoint: resumable
        stopped = run_events(ws, run_id, ("paper_run_stopped",))
        assert len(stopped) == 1 and stopped[0]["resumable"] is True and "operator stop" in stopped[0]["reason"]
        assert run_counts(ws, run_id)["events"].get("paper_run_completed", 0) == 0

        # While halted, neither a new run nor a resume starts; the exit code is 4.
        with pytest.raises(TradingHalted):
            PaperRunner(ws, RunPlan(FORWARD, resume=True), key=load_private(), client=clock_exchange,
                        sleep=frozen.tick, progress=None).run()
        assert _cli(forward_workspace, "resume", "--yes", "--reason", "checked").returncode == 0
        assert modes.halted_reason(ws) is None
        resumed = PaperRunner(ws, RunPlan(FORWARD, resume=True), key=load_private(), client=clock_exchange,
                              sleep=frozen.tick, progress=None).run()
        assert resumed.run_id == run_id
        assert run_counts(ws, run_id)["events"]["paper_run_completed"] == 1


def test_paper_run_command_exits_4_while_halted(forward_workspace, run_cli):
    assert run_cli("-w", forward_workspace, "halt", "--reason", "desk closed").exit_code == 0
    result = run_cli("-w", forward_workspace, "paper-run", "--days", "1")
    assert result.exit_code == 4, result.output
    assert "desk closed" in result.output
