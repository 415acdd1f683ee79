"""The halt file `.livegate/HALTED`: the kill switch when the ledger cannot be written. Every
order path refuses while it exists, a halt it alone holds is recorded in the ledger as soon as
that can be done, `resume` clears it only when the ledger records the resume, a halt state that
cannot be read refuses, and TRADING_HALTED=true stops live orders through the same rule."""

from __future__ import annotations

import errno
import json
import os
import threading

import pytest

from livegate.config.workspace import Workspace
from livegate.core.errors import LedgerError
from livegate.core.gateway import Reducing
from livegate.ledger.store import Ledger
from livegate.services import controls, mode_switch, modes, trading
from tests.controls.conftest import events

HALTING = [p for p in trading.PURPOSES if p.halts and not p.reduces]  # flatten only reduces: a halt lets its sells through
LIVE = {"risk_per_trade": 0.001, "max_exposure": 0.02}


@pytest.fixture
def unwritable_ledger():
    """Every attempt to open the ledger for writing fails as on a full disk (reads still work);
    `.undo()` frees the space (its own patch: the test's environment stays as it is)."""

    def refuse(cls, path, key=None, **options):
        raise LedgerError(f"{path}: could not append to the ledger (database or disk is full)")

    patch = pytest.MonkeyPatch()
    patch.setattr(Ledger, "open", classmethod(refuse))
    yield patch
    patch.undo()


def halt_file(root) -> str:
    return str(Workspace(root).halt_file_path)


def test_halt_writes_the_halt_file_and_resume_removes_it(workspace, run_cli):
    result = run_cli("-w", workspace, "halt", "--reason", "exchange incident", "--by", "bob")
    assert result.exit_code == 0 and "ledger event #" in result.output, result.output
    with open(halt_file(workspace), encoding="utf-8") as f:
        content = json.load(f)
    assert content["reason"] == "exchange incident" and content["by"] == "bob" and content["at"].endswith("Z")
    assert not [n for n in os.listdir(workspace / ".livegate") if n.endswith(".tmp")]  # no temporary file left
    assert run_cli("-w", workspace, "resume", "--yes").exit_code == 0
    assert not os.path.lexists(halt_file(workspace))
    assert [e["kind"] for e in events(workspace, modes.HALTED, modes.RESUMED)] == ["trading_halted", "trading_resumed"]


@pytest.mark.parametrize("purpose", HALTING, ids=lambda p: p.name)
def test_a_halt_file_alone_stops_every_purpose_that_halts(workspace, purpose):
    ws = Workspace(workspace)
    mode_switch.append(ws, [("mode_changed", {"from": "PAPER", "to": "LIVE_MINIMAL", "reason": "test", **LIVE})], "tester")
    assert trading.order_refusal(ws, purpose) is None
    open(halt_file(workspace), "w").close()  # made by hand: `touch .livegate/HALTED`
    refusal = trading.order_refusal(ws, purpose)
    assert refusal is not None and "halt file .livegate/HALTED" in refusal and "names no one and no reason" in refusal
    assert trading.order_refusal(ws, trading.BACKTEST) is None and trading.order_refusal(ws, trading.SIMULATION) is None
    reducing = trading.order_rule(ws, trading.FLATTEN)
    assert isinstance(reducing, Reducing) and "halt file .livegate/HALTED" in reducing.reason


def test_the_halt_check_records_a_pending_halt_once(workspace):
    ws = Workspace(workspace)
    with open(halt_file(workspace), "w", encoding="utf-8") as f:
        f.write(json.dumps({"reason": "desk on fire", "by": "carol", "at": "2030-01-02T03:04:05.000006Z"}) + "\n")
    assert modes.halt_state(ws)["pending"] is True and modes.halt_status(ws)["pending"] is True
    assert "not yet in the ledger" in modes.halted_reason(ws)
    for _ in range(5):
        assert "desk on fire" in trading.order_refusal(ws, trading.PAPER)
    [halted] = events(workspace, modes.HALTED)
    assert halted["actor"] == "carol" and halted["payload"]["reason"] == "desk on fire"
    assert halted["payload"]["recorded_late"] is True and halted["payload"]["halted_at"] == "2030-01-02T03:04:05.000006Z"
    state = modes.halt_state(ws)
    assert state["halted"] and not state["pending"] and state["at"] == "2030-01-02T03:04:05.000006Z"
    assert "since 2030-01-02T03:04:05Z by carol: desk on fire" in modes.halted_reason(ws)


@pytest.mark.parametrize("kind", ["directory", "dangling link", "fifo", "empty file"])
def test_any_entry_named_HALTED_halts_and_resume_clears_it(workspace, run_cli, kind):
    ws, path = Workspace(workspace), halt_file(workspace)
    {"directory": os.mkdir, "dangling link": lambda p: os.symlink("/nowhere/at/all", p), "fifo": os.mkfifo,
     "empty file": lambda p: open(p, "w").close()}[kind](path)
    checked = []
    thread = threading.Thread(target=lambda: checked.append(trading.order_refusal(ws, trading.TESTNET)), daemon=True)
    thread.start()
    thread.join(5)
    assert checked and "halt file" in checked[0]  # answered at once: a fifo is never opened
    result = run_cli("-w", workspace, "resume", "--yes", "--reason", "checked")
    assert result.exit_code == 0, result.output
    assert not os.path.lexists(path) and trading.order_refusal(ws, trading.TESTNET) is None


def test_a_halt_file_that_cannot_be_checked_refuses(workspace, run_cli, monkeypatch):
    ws, path = Workspace(workspace), halt_file(workspace)
    real_lstat = os.lstat

    def lstat(p, *args, **kwargs):
        if os.fspath(p) == path:
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_lstat(p, *args, **kwargs)

    monkeypatch.setattr(os, "lstat", lstat)
    for purpose in HALTING:
        refusal = trading.order_refusal(ws, purpose)
        assert refusal is not None and "cannot read whether trading is halted" in refusal and "Permission denied" in refusal
    assert modes.halt_status(ws)["halted"] is True
    result = run_cli("-w", workspace, "halt", "--reason", "drill", "--by", "bob")
    assert result.exit_code == 0 and "the halt is in the ledger only" in result.output, result.output
    resumed = run_cli("-w", workspace, "resume", "--yes")
    assert resumed.exit_code == 4 and "cannot resume" in resumed.output and "trading stays halted" in resumed.output
    assert [e["kind"] for e in events(workspace, modes.HALTED, modes.RESUMED)] == ["trading_halted"]


def test_a_halt_while_the_ledger_cannot_be_written(workspace, run_cli, unwritable_ledger):
    ws = Workspace(workspace)
    result = run_cli("-w", workspace, "halt", "--reason", "disk full drill", "--by", "bob")
    assert result.exit_code == 0, result.output
    assert "Trading halted by the halt file .livegate/HALTED" in result.output
    assert "could not record the halt" in result.output and "database or disk is full" in result.output
    refusal = trading.order_refusal(ws, trading.PAPER)  # tries to record it too, and cannot
    assert "disk full drill" in refusal and "not yet in the ledger" in refusal
    code, report, output = run_cli.json("-w", workspace, "halt", "--json")
    assert code == 0 and report["already_halted"] and not report["recorded"] and report["halt_file"], output

    refused = run_cli("-w", workspace, "resume", "--yes")
    assert refused.exit_code == 4, refused.output
    assert "cannot resume" in refused.output and "trading stays halted" in refused.output
    assert os.path.exists(halt_file(workspace)) and events(workspace, modes.HALTED, modes.RESUMED) == []

    unwritable_ledger.undo()  # space freed: resume records the pending halt, then the resume
    resumed = run_cli("-w", workspace, "resume", "--yes", "--by", "alice")
    assert resumed.exit_code == 0, resumed.output
    halted, back = events(workspace, modes.HALTED, modes.RESUMED)
    assert halted["kind"] == "trading_halted" and halted["actor"] == "bob" and halted["payload"]["reason"] == "disk full drill"
    assert halted["payload"]["recorded_late"] is True and "livegate resume (alice)" in halted["payload"]["recorded_by"]
    assert back["kind"] == "trading_resumed" and back["actor"] == "alice"
    assert not os.path.lexists(halt_file(workspace)) and trading.order_refusal(ws, trading.PAPER) is None


def test_a_ledger_kept_locked_does_not_hold_up_the_halt(workspace, run_cli, monkeypatch):
    monkeypatch.setattr(controls, "HALT_LOCK_WAIT_S", 0.2)
    with Ledger.open(Workspace(workspace).ledger_path) as other, other.locked():  # a writer that does not let go
        result = run_cli("-w", workspace, "halt", "--reason", "stuck writer", "--by", "bob")
        assert result.exit_code == 0 and "Trading halted by the halt file" in result.output, result.output
        assert "database is locked" in result.output
        assert "stuck writer" in trading.order_refusal(Workspace(workspace), trading.PAPER)
    assert "stuck writer" in trading.order_refusal(Workspace(workspace), trading.PAPER)


def test_halt_again_records_a_pending_halt(workspace, run_cli, unwritable_ledger):
    assert run_cli("-w", workspace, "halt", "--reason", "first", "--by", "bob").exit_code == 0
    unwritable_ledger.undo()
    again = run_cli("-w", workspace, "halt", "--reason", "second", "--by", "carol")
    assert again.exit_code == 0 and "Already halted" in again.output and "Recorded in the ledger now" in again.output
    [halted] = events(workspace, modes.HALTED)
    assert halted["actor"] == "bob" and halted["payload"]["reason"] == "first"  # the halt in force since the first


@pytest.mark.parametrize("as_json", [False, True])
def test_a_halt_nothing_can_record_exits_6_and_says_trading_is_not_halted(workspace, run_cli, unwritable_ledger, as_json):
    def read_only(ws, reason, by, at=None):
        raise OSError(errno.EROFS, "Read-only file system")

    unwritable_ledger.setattr(mode_switch, "engage_halt_file", read_only)
    result = run_cli("-w", workspace, "halt", "--reason", "x", *(["--json"] if as_json else []))
    assert result.exit_code == 6, result.output
    assert "could NOT be engaged" in result.output and "trading is NOT halted" in result.output
    assert "Read-only file system" in result.output and "database or disk is full" in result.output
    if as_json:
        assert json.loads(result.stdout)["halted"] is False
    assert "Traceback" not in result.output
    assert not os.path.lexists(halt_file(workspace)) and events(workspace, modes.HALTED) == []


def test_an_emergency_stop_the_ledger_cannot_take_halts_by_the_halt_file(workspace, unwritable_ledger):
    ws = Workspace(workspace)
    with pytest.raises(LedgerError, match="halted by the halt file"):
        mode_switch.halt(ws, "balances do not match")
    assert "balances do not match" in trading.order_refusal(ws, trading.TESTNET)


def test_trading_halted_in_env_stops_live_orders_through_the_halt_rule(workspace, monkeypatch):
    ws = Workspace(workspace)
    mode_switch.append(ws, [("mode_changed", {"from": "PAPER", "to": "LIVE_MINIMAL", "reason": "test", **LIVE})], "tester")
    env = workspace / ".env"
    env.write_text("PAPER_MODE=false\nTRADING_HALTED=true\n")
    assert "TRADING_HALTED=true (.env:2)" in trading.order_refusal(ws, trading.LIVE_STAGE)
    assert "TRADING_HALTED=true" in trading.order_refusal(ws, trading.PRODUCTION)
    assert trading.order_refusal(ws, trading.PAPER) is None  # the flag's safe value must not stop the paper phase
    env.write_text("PAPER_MODE=false\nTRADING_HALTED=false\n")  # edited while running: read again
    assert trading.order_refusal(ws, trading.LIVE_STAGE) is None
    monkeypatch.setenv("TRADING_HALTED", "true")  # the environment over .env, as a deployment sets it
    assert "TRADING_HALTED=true (environment)" in trading.order_refusal(ws, trading.LIVE_STAGE)
    monkeypatch.setenv("TRADING_HALTED", "perhaps")
    refusal = trading.order_refusal(ws, trading.LIVE_STAGE)
    assert "cannot read whether trading is halted" in refusal and "must be true or false" in refusal


def test_status_shows_the_halt_and_a_halt_only_in_the_halt_file(workspace, run_cli):
    assert "Trading: not halted" in run_cli("-w", workspace, "status").output
    with open(halt_file(workspace), "w", encoding="utf-8") as f:  # written by `halt` while the ledger could not be
        f.write(json.dumps({"reason": "desk on fire", "by": "carol", "at": "2030-01-02T03:04:05.000006Z"}) + "\n")
    shown = run_cli("-w", workspace, "status", "--json")
    assert shown.exit_code == 0, shown.output
    halt = json.loads(shown.output)["halt"]
    assert halt["halted"] is True and "desk on fire" in halt["reason"]
    text = run_cli("-w", workspace, "status").output
    assert "Trading is HALTED" in text and "desk on fire" in text and "livegate resume" in text
