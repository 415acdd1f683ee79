"""A real `livegate go-live` trading in another process holds the live lock: a recorded re-run of
an earlier phase is refused (exit 3, naming the stage) and the signed results stay as they are."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from tests.live.conftest import events

LIVEGATE = [sys.executable, "-m", "livegate"]


def test_testnet_and_validate_refuse_to_record_while_go_live_trades(live_ws, run_cli):
    lock = live_ws / ".livegate" / "live.lock"
    stage = subprocess.Popen([*LIVEGATE, "-w", str(live_ws), "go-live", "--stage", "4.1a", "--yes", "--max-hours", "1"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while not (lock.exists() and lock.read_text().split() == [str(stage.pid), "4.1a"]):
            assert stage.poll() is None, stage.stderr.read()
            assert time.time() < deadline, "go-live never took the live lock"
            time.sleep(0.05)
        results = events(live_ws, "phase_result")

        testnet = run_cli("-w", live_ws, "testnet", "--yes")
        assert testnet.exit_code == 3, testnet.output
        assert f"go-live stage 4.1a (pid {stage.pid}) is running: no testnet result is recorded" in testnet.output
        validate = run_cli("-w", live_ws, "validate")
        assert validate.exit_code == 3, validate.output
        assert "`livegate validate --check` measures without recording" in validate.output

        assert events(live_ws, "phase_result") == results and events(live_ws, "testnet_started") == []  # no order either
        ladder = {s["step"]: s for s in json.loads(run_cli("-w", live_ws, "status", "--json").stdout)["steps"]}
        assert [ladder[s]["status"] for s in ("env", "paper", "testnet")] == ["signed"] * 3
        assert stage.poll() is None  # the stage trades on, undisturbed
    finally:
        stage.kill()
        stage.wait(timeout=30)
