"""The kill switch when the ledger cannot be written: `livegate halt` (the command, as another
process) on a full disk or against a read-only ledger still stops a running go-live before its
next order — checked against the sandbox exchange's own record of the orders it received — and
the halt reaches the ledger as soon as a process can write it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest

from livegate.adapters.sandbox.local import THIN_BOOK
from livegate.config.environment import load_env
from livegate.config.workspace import Workspace
from livegate.ledger.queries import connect_readonly
from livegate.ledger.queries import events as ledger_events
from livegate.phases.microlive.runner import LiveRunner
from tests.live.conftest import live_options

LIVEGATE = [sys.executable, "-m", "livegate"]
LONG_STAGE = {"min_duration_hours": 1000, "min_successful_trades": 1000}  # never completes on its own

SPEED = 20.0  # a one-minute candle every 3 s: the loop trades on a candle and is idle (writes nothing) between


@pytest.fixture
def sandbox_options():
    return {"speed": SPEED, "history_bars": 600, "seed": 9, "book": THIN_BOOK, "share": "module"}


# The go-live loop inside the mount namespace holding the full disk: the sandbox's market clock
# is rebuilt from its parameters (start, speed, offset), as tests/live/conftest.py's live_options
# does. A spy on the loop's halt check reports the first refusal it saw; nothing else is changed.
DRIVER = r"""
import json, sys, time
from pathlib import Path
from livegate.config.workspace import Workspace
from livegate.ledger.keys import load_private
from livegate.phases.microlive import runner

root, start_ms, speed, offset_ms = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
# the workspace was copied onto the small disk: a signed workspace at a new path is anchored there
# by its operator first (else its ledger does not verify on this machine and go-live refuses)
import subprocess
subprocess.run([sys.executable, "-m", "livegate", "-w", str(root), "ledger", "anchor", "--reset", "--yes"], check=True,
               capture_output=True)
seen = []
check = runner.order_refusal

def spied(ws, purpose):
    refusal = check(ws, purpose)
    if refusal and not seen:
        seen.append(refusal)
    return refusal

runner.order_refusal = spied

def market_ms():
    return int(start_ms + (time.time() * 1000.0 - start_ms) * speed + offset_ms)

options = runner.LiveOptions(ask=lambda a: True, clock=lambda: market_ms() / 1000, market_clock=market_ms,
                             sleep=lambda s: time.sleep(min(s / speed, 0.05)), poll_s=1.0, max_seconds=10**6)
try:
    outcome = runner.LiveRunner(Workspace(root), "4.1a", load_private(), options).run()
    result = {"status": outcome.status, "reason": outcome.reason}
except Exception as exc:
    result = {"status": "stopped by an error", "reason": f"{type(exc).__name__}: {exc}"}
print(json.dumps({**result, "halt_check_saw": seen[0] if seen else None}), flush=True)
"""

# `livegate halt` started (its imports done) before the disk fills, pulled on a line from stdin.
HALTER = r"""
import sys
from livegate.cli import control_cmds, main  # noqa: F401 - imported before the signal
print("ready", flush=True)
sys.stdin.readline()
sys.argv = ["livegate", "-w", sys.argv[1], "halt", "--reason", "disk full", "--by", "bob", "--json"]
main()
"""


def _namespaces_work() -> bool:
    if not shutil.which("unshare") or not shutil.which("nsenter") or os.geteuid() != 0:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt && echo ok"],
                           capture_output=True, text=True)
    return probe.stdout.strip() == "ok"


needs_mounts = pytest.mark.skipif(not _namespaces_work(), reason="needs root and mount namespaces (unshare, nsenter) "
                                                                 "for a real full disk and a real read-only mount")


def venue_orders(sandbox, root) -> list[tuple[int, str]]:
    """(time received in ms, client order id) of every order the sandbox took from this workspace's key."""
    api_key = load_env(root).get("EXCHANGE_API_KEY")

    def read():
        account = sandbox.venue.account_of(sandbox.venue.keys[api_key])
        return sorted((o.time, o.client_id) for o in account.orders.values())

    return sandbox._on_loop(read)


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.02)


def halted_events(root) -> list[dict]:
    conn = connect_readonly(Workspace(root).ledger_path)
    try:
        return list(ledger_events(conn, kinds=("trading_halted", "trading_resumed")))
    finally:
        conn.close()


@needs_mounts
def test_a_halt_on_a_full_disk_stops_a_running_go_live_before_its_next_order(make_live_ws, sandbox, tmp_path):
    source = make_live_ws(stage=LONG_STAGE)
    disk = tmp_path / "disk"
    disk.mkdir()
    ws = disk / "ws"
    clock = sandbox.venue.clock
    loop = subprocess.Popen(
        ["unshare", "-m", "sh", "-c", 'mount -t tmpfs -o size=16m tmpfs "$1" && cp -a "$2" "$1/ws" && echo mounted && '
         'shift 2 && exec "$@"', "sh", str(disk), str(source), sys.executable, "-c", DRIVER, str(ws),
         repr(clock.start_ms), repr(clock.speed), repr(clock.offset_ms)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    inside = ["nsenter", "-t", str(loop.pid), "-m", "--"]
    halter = None
    try:
        assert loop.stdout.readline().strip() == "mounted", loop.stderr.read()
        halter = subprocess.Popen([*inside, sys.executable, "-c", HALTER, str(ws)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert halter.stdout.readline().strip() == "ready", halter.stderr.read()
        wait_for(lambda: len(venue_orders(sandbox, source)) >= 2)
        wait_for(lambda: time.time() - venue_orders(sandbox, source)[-1][0] / 1000 > 1.0)  # between two candles
        fill = subprocess.run([*inside, "sh", "-c", 'cat /dev/zero > "$1/fill"; df -k "$1" | tail -1', "sh", str(disk)],
                              capture_output=True, text=True, timeout=60)
        assert "100%" in fill.stdout, fill.stdout + fill.stderr
        out, err = halter.communicate("halt\n", timeout=60)
        returned_ms = time.time() * 1000
        assert halter.returncode == 0, out + err
        report = json.loads(out)
        assert report["halted"] and report["halt_file"] and not report["recorded"], report
        assert "disk is full" in " ".join(report["warnings"]) and "Warning:" in err
        driver_out, _ = loop.communicate(timeout=30)  # the loop has stopped
        ended = json.loads(driver_out.strip().splitlines()[-1])
        late = [order for order in venue_orders(sandbox, source) if order[0] > returned_ms]
        assert late == [], f"orders the venue received after the halt returned: {late}"
        # It stopped because its halt check saw the halt file (whose reason fit on the full disk);
        # its own last ledger write then fails too — never a completed or paused stage.
        assert ended["halt_check_saw"] and "by bob: disk full" in ended["halt_check_saw"], ended
        assert "halt file" in ended["halt_check_saw"] and ended["status"] in ("halted", "stopped by an error"), ended
    finally:
        for process in (halter, loop):
            if process is not None and process.poll() is None:
                process.kill()
                process.communicate()


@needs_mounts
def test_a_halt_on_a_full_disk_holds_after_the_disk_is_freed_and_is_recorded(make_live_ws, sandbox, tmp_path):
    """A resume on the full disk is refused; freeing the disk does not lift the halt: go-live refuses
    to start, and the halt reaches the ledger (recorded by whichever command first could write it)."""
    source = make_live_ws(stage=LONG_STAGE)
    disk = tmp_path / "disk"
    disk.mkdir()
    ws = str(disk / "ws")
    script = (
        'mount -t tmpfs -o size=16m tmpfs "$1" && cp -a "$2" "$1/ws" && cd "$1/ws" && shift 2 && '
        'cat /dev/zero > ../fill 2>/dev/null; '
        '"$@" halt --reason "disk full" --by bob >/dev/null 2>&1; echo "halt=$?"; '
        '"$@" resume --yes >/dev/null 2>&1; echo "resume on a full disk=$?"; '
        'rm ../fill; '
        '"$@" go-live --stage 4.1a --yes > ../go-live.out 2>&1; echo "go-live=$?"; grep -c "by bob: disk full" ../go-live.out; '
        '"$@" halt >/dev/null 2>&1; echo "halt again=$?"; '
        '"$@" ledger export --format json --kind trading_halted'
    )
    before = venue_orders(sandbox, source)
    done = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", str(disk), str(source), *LIVEGATE, "-w", ws],
                          capture_output=True, text=True, timeout=180)
    lines = done.stdout.splitlines()
    assert lines[:5] == ["halt=0", "resume on a full disk=4", "go-live=4", "1", "halt again=0"], done.stdout + done.stderr
    [halted] = json.loads("\n".join(lines[5:]))
    assert halted["actor"] == "bob" and halted["payload"]["reason"] == "disk full" and halted["payload"]["recorded_late"] is True
    assert venue_orders(sandbox, source) == before  # not one order


@needs_mounts
def test_a_halt_against_a_read_only_ledger_stops_go_live_and_is_recorded_by_it(make_live_ws, sandbox, run_cli, operator_key):
    root = make_live_ws(stage=LONG_STAGE)
    ledger = Workspace(root).ledger_path
    read_only = ["unshare", "-m", "sh", "-c", 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"',
                 "sh", str(ledger)]
    outcome = {}

    def go():
        outcome["value"] = LiveRunner(Workspace(root), "4.1a", operator_key, live_options(sandbox, max_seconds=10**6)).run()

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    wait_for(lambda: len(venue_orders(sandbox, root)) >= 2)
    halt = subprocess.run([*read_only, *LIVEGATE, "-w", str(root), "halt", "--reason", "ledger mounted read-only", "--by", "bob"],
                          capture_output=True, text=True, timeout=60)
    returned_ms = time.time() * 1000
    thread.join(timeout=10)
    assert halt.returncode == 0, halt.stdout + halt.stderr
    assert "Trading halted by the halt file" in halt.stdout and "could not record the halt" in halt.stderr, halt.stderr
    assert outcome["value"].status == "halted" and "ledger mounted read-only" in outcome["value"].reason
    late = [order for order in venue_orders(sandbox, root) if order[0] > returned_ms]
    assert late == [], f"orders the venue received after the halt returned: {late}"

    [halted] = halted_events(root)  # recorded by the go-live loop's own halt check, which can write
    assert halted["actor"] == "bob" and halted["payload"]["reason"] == "ledger mounted read-only"
    assert halted["payload"]["recorded_late"] is True and f"process {os.getpid()}" in halted["payload"]["recorded_by"]

    refused = subprocess.run([*read_only, *LIVEGATE, "-w", str(root), "resume", "--yes"], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 4 and "cannot resume" in refused.stderr and "Traceback" not in refused.stderr, refused.stderr
    assert os.path.lexists(Workspace(root).halt_file_path) and len(halted_events(root)) == 1
    resumed = run_cli("-w", root, "resume", "--yes", "--reason", "ledger writable again")
    assert resumed.exit_code == 0, resumed.output
    assert not os.path.lexists(Workspace(root).halt_file_path)
    assert [e["kind"] for e in halted_events(root)] == ["trading_halted", "trading_resumed"]
