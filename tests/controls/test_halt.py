"""The kill switch across real processes: a halt written by one process is seen by another on
its very next check, a running loop stops before its next order, and a second live process on
the same workspace is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime

import pytest

from livegate.config.workspace import Workspace
from livegate.core.errors import UsageError
from livegate.services import controls, mode_switch, modes
from tests.controls.conftest import events

ORDER_LOOP = r"""
import sys, time
from pathlib import Path
from livegate.services import modes
from livegate.config.workspace import Workspace

ws = Workspace(Path(sys.argv[1]))
print("ready", flush=True)
while True:
    checked = time.time()
    why = modes.halted_reason(ws)
    if why:
        print(f"stopped {checked!r}", flush=True)
        print(why, flush=True)
        break
    print(f"order {checked!r}", flush=True)  # a simulated order, sent after the check
    time.sleep(0.01)
"""

HOLD_LOCK = r"""
import sys
from pathlib import Path
from livegate.services import controls
from livegate.core.errors import UsageError
from livegate.config.workspace import Workspace

try:
    with controls.live_lock(Workspace(Path(sys.argv[1]))):
        print("acquired", flush=True)
        if sys.argv[2] == "hold":
            sys.stdin.readline()
except UsageError as exc:
    print(f"refused: {exc}", flush=True)
"""


def livegate(root, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "livegate", "-w", str(root), *args], capture_output=True, text=True, timeout=60)


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_halt_and_resume_through_the_cli(workspace, run_cli):
    ws = Workspace(workspace)
    code, report, output = run_cli.json("-w", workspace, "halt", "--reason", "news spike", "--by", "bob", "--json")
    assert code == 0 and report["event"] and report["already_halted"] is False, output
    assert "news spike" in modes.halted_reason(ws) and "by bob" in modes.halted_reason(ws)
    code, report, _ = run_cli.json("-w", workspace, "halt", "--json")
    assert code == 0 and report["already_halted"] is True and "news spike" in report["reason"]
    assert modes.current_mode(ws) == "PAPER"  # the kill switch is not a mode

    resumed = run_cli("-w", workspace, "resume", "--yes", "--reason", "spike over", "--by", "alice")
    assert resumed.exit_code == 0 and "Trading resumed in PAPER" in resumed.output
    assert modes.halted_reason(ws) is None
    again = run_cli("-w", workspace, "resume", "--yes")
    assert again.exit_code == 2 and "not halted" in again.output
    history = [(e["kind"], e["payload"]["reason"], e["actor"]) for e in events(workspace, modes.HALTED, modes.RESUMED)]
    assert history == [("trading_halted", "news spike", "bob"), ("trading_resumed", "spike over", "alice")]


def test_resume_leaves_emergency_stop_for_paper_never_live(workspace, run_cli):
    ws = Workspace(workspace)
    mode_switch.halt(ws, "balances do not match")  # the automatic stop: EMERGENCY_STOP
    assert "EMERGENCY_STOP" in modes.halted_reason(ws)
    assert modes.mode_limits(ws)["risk_per_trade"] == 0.0
    result = run_cli("-w", workspace, "resume", "--yes")
    assert result.exit_code == 0 and "resumed in PAPER" in result.output
    assert modes.current_mode(ws) == "PAPER" and modes.halted_reason(ws) is None


def test_a_halt_from_another_process_is_seen_on_the_next_call(workspace):
    ws = Workspace(workspace)
    assert modes.halted_reason(ws) is None  # this process's connection is open and warm
    done = livegate(workspace, "halt", "--reason", "exchange outage", "--by", "bob")
    assert done.returncode == 0, done.stderr
    assert "exchange outage" in (modes.halted_reason(ws) or "")
    controls.resume(ws, "alice")
    assert modes.halted_reason(ws) is None


def test_a_running_loop_stops_before_its_next_order(workspace):
    loop = subprocess.Popen([sys.executable, "-c", ORDER_LOOP, str(workspace)], stdout=subprocess.PIPE, text=True)
    try:
        assert loop.stdout.readline().strip() == "ready"
        time.sleep(0.3)  # a few orders go out
        done = livegate(workspace, "halt", "--reason", "kill-switch drill")
        assert done.returncode == 0, done.stderr
        out, _ = loop.communicate(timeout=10)
    finally:
        loop.kill()
    lines = out.splitlines()
    orders = [float(line.split()[1]) for line in lines if line.startswith("order ")]
    [stopped] = [float(line.split()[1]) for line in lines if line.startswith("stopped ")]
    assert "kill-switch drill" in lines[-1]
    with open(Workspace(workspace).halt_file_path, encoding="utf-8") as f:
        halted_at = epoch(json.load(f)["at"])  # the halt file is written first: the halt holds from then
    recorded_at = epoch(events(workspace, modes.HALTED)[-1]["ts"])
    assert orders and max(orders) < stopped  # nothing went out after the check that saw the halt
    assert -0.05 < stopped - halted_at < 1.0 and halted_at <= recorded_at, (halted_at, stopped, recorded_at)


def test_a_second_live_process_is_refused_naming_the_holder(workspace):
    ws = Workspace(workspace)
    with controls.live_lock(ws):
        other = subprocess.run([sys.executable, "-c", HOLD_LOCK, str(workspace), "try"], capture_output=True, text=True, timeout=60)
    assert f"refused: another live process (pid {os.getpid()})" in other.stdout, other.stdout + other.stderr

    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(workspace), "hold"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "acquired"
        with pytest.raises(UsageError, match=f"pid {holder.pid}"), controls.live_lock(ws):
            pass
        holder.communicate("\n", timeout=10)
    finally:
        holder.kill()
    with controls.live_lock(ws):  # released with its holder
        pass
