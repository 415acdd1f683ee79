"""`livegate go-live` as a command: a short run paused by --max-hours, the report, a second
live process refused while one holds the workspace, and Ctrl-C or SIGTERM pausing a stage
(exit 7) that `status` then shows as paused."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from livegate.config.workspace import Workspace
from livegate.services import controls
from tests.live.conftest import events


def test_a_short_run_pauses_and_reports(run_cli, live_ws):
    result = run_cli("-w", live_ws, "go-live", "--stage", "4.1a", "--yes", "--max-hours", "0", "--json")
    assert result.exit_code == 7, result.output  # paused
    report = json.loads(result.stdout)
    assert report["status"] == "paused" and report["stage"] == "4.1a" and report["verdict"] is None
    assert report["measures"]["limits_enforced"] is True


def test_a_second_live_process_is_refused(run_cli, live_ws):
    with controls.live_lock(Workspace(live_ws)):
        result = run_cli("-w", live_ws, "go-live", "--stage", "4.1a", "--yes", "--max-hours", "0")
    assert result.exit_code == 2 and "live" in result.output.lower()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_pauses_the_stage_with_exit_7_and_status_says_how_to_resume(live_ws, run_cli, stop):
    lock = live_ws / ".livegate" / "live.lock"
    stage = subprocess.Popen([sys.executable, "-m", "livegate", "-w", str(live_ws), "go-live", "--stage", "4.1a", "--yes", "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while not (lock.exists() and lock.read_text().split() == [str(stage.pid), "4.1a"] and events(live_ws, "live_started")):
            assert stage.poll() is None, stage.stderr.read()
            assert time.time() < deadline, "go-live never started its loop"
            time.sleep(0.05)
        running = {s["step"]: s for s in json.loads(run_cli("-w", live_ws, "status", "--json").stdout)["steps"]}["4.1a"]
        assert running["status"] == "running" and str(stage.pid) in running["detail"]
        assert run_cli("-w", live_ws, "status", "--json").stdout.count("stage 4.1a is trading") == 1  # the next action
        stage.send_signal(stop)
        out, err = stage.communicate(timeout=60)
    finally:
        if stage.poll() is None:
            stage.kill()
            stage.wait(timeout=30)
    assert stage.returncode == 7, err[-2000:]
    report = json.loads(out)
    assert report["status"] == "paused" and report["reason"] == "stopped by the operator" and report["verdict"] is None
    assert events(live_ws, "phase_result")[-1]["step"] != "4.1a"  # a paused stage records no result
    paused = {s["step"]: s for s in json.loads(run_cli("-w", live_ws, "status", "--json").stdout)["steps"]}["4.1a"]
    assert paused["status"] == "paused" and paused["stage_run"]["run"] == report["run"]
    assert paused["stage_run"]["reason"] == "stopped by the operator"
    assert paused["stage_run"]["resume"] == "livegate go-live --stage 4.1a"
    assert "`livegate go-live --stage 4.1a` resumes it" in paused["detail"]
