"""What `livegate status` shows first — the halt (who, when, why), the trading mode, unsigned
events that would open something — in the text and in `--json`; who the mode history names;
timestamps that do not wrap at 80 columns. Real workspaces driven through the CLI; expected
values read back from the ledger with plain sqlite3."""

from __future__ import annotations

import getpass
import json
import sqlite3
from contextlib import closing
from pathlib import Path

from livegate.config.workspace import Workspace
from livegate.ledger.store import Ledger
from tests.protocol_helpers import sign_off


def rows(root: Path, kind: str) -> list[tuple[int, str, str, dict]]:
    """(id, ts, actor, payload) of every event of `kind`, read without livegate."""
    with closing(sqlite3.connect(Workspace(root).ledger_path)) as conn:
        return [(i, ts, actor, json.loads(p))
                for i, ts, actor, p in conn.execute("SELECT id, ts, actor, payload FROM events WHERE kind = ? ORDER BY id", (kind,))]


def short(ts: str) -> str:
    """`2026-03-04T05:06:07.891Z` → `2026-03-04 05:06:07`, by hand."""
    date, clock = ts.split("T")
    return f"{date} {clock[:8]}"


def status_json(run_cli, root: Path) -> dict:
    code, report, output = run_cli.json("-w", root, "status", "--json")
    assert code == 0 and report is not None, output
    return report


def test_a_halt_is_the_first_thing_status_says(workspace, run_cli, operator_key):
    halted = run_cli("-w", workspace, "halt", "--reason", "desk on fire", "--by", "alice")
    assert halted.exit_code == 0, halted.output
    [(event_id, ts, actor, payload)] = rows(workspace, "trading_halted")
    at = payload.get("halted_at") or ts

    text = run_cli("-w", workspace, "status").output
    line = f"Trading is HALTED since {short(at)} UTC by alice: desk on fire — `livegate resume` lifts it"
    assert line in text, text
    assert text.index("Needs attention") < text.index(line) < text.index("Mode: PAPER") < text.index("Step")
    assert "Trading: not halted" not in text

    report = status_json(run_cli, workspace)
    assert {k: report["halt"][k] for k in ("halted", "by", "at", "reason", "source", "pending")} == {
        "halted": True, "by": "alice", "at": at, "reason": "desk on fire", "source": "ledger", "pending": False}
    assert report["mode"] == "PAPER" and report["tripped_breakers"] == [] and report["unsigned_events"] == []

    assert run_cli("-w", workspace, "resume", "--yes", "--reason", "fire out").exit_code == 0
    assert status_json(run_cli, workspace)["halt"] is None
    text = run_cli("-w", workspace, "status").output
    assert text.startswith("Trading: not halted\nMode: PAPER\n") and "Needs attention" not in text


def test_a_halt_only_the_halt_file_holds(workspace, run_cli):
    Workspace(workspace).halt_file_path.write_text(
        json.dumps({"reason": "disk full", "by": "carol", "at": "2030-01-02T03:04:05Z"}) + "\n", encoding="utf-8")
    halt = status_json(run_cli, workspace)["halt"]
    assert {k: halt[k] for k in ("by", "at", "reason", "source", "pending")} == {
        "by": "carol", "at": "2030-01-02T03:04:05Z", "reason": "disk full", "source": "halt_file", "pending": True}
    text = run_cli("-w", workspace, "status").output
    assert ("Trading is HALTED since 2030-01-02 03:04:05 UTC by carol: disk full (held by the halt file .livegate/HALTED; "
            "the ledger does not hold it yet)") in text, text


def test_an_emergency_stop_says_who_when_why(workspace, run_cli):
    stopped = run_cli("-w", workspace, "mode", "set", "EMERGENCY_STOP", "--reason", "venue outage", "--by", "bob", "--yes")
    assert stopped.exit_code == 0, stopped.output
    [(_, ts, actor, _payload)] = rows(workspace, "mode_changed")
    assert actor == "bob"  # no operator key on this machine: nothing signed, the recorded name is shown
    report = status_json(run_cli, workspace)
    assert report["mode"] == "EMERGENCY_STOP"
    assert {k: report["halt"][k] for k in ("by", "at", "reason", "source")} == {
        "by": "bob", "at": ts, "reason": "venue outage", "source": "emergency_stop"}
    text = run_cli("-w", workspace, "status").output
    assert f"Trading is STOPPED (EMERGENCY_STOP) since {short(ts)} UTC by bob: venue outage" in text, text
    assert f"Mode: EMERGENCY_STOP since {short(ts)} UTC by bob: venue outage" in text


def test_unsigned_events_that_would_open_something_are_shown_first(workspace, run_cli, operator_key):
    sign_off(workspace, operator_key, "env")
    with Ledger.open(Workspace(workspace).ledger_path) as ledger:  # written without the operator key
        forged = ledger.append("mode_changed", {"from": "PAPER", "to": "LIVE_MINIMAL", "reason": "no key",
                                                "risk_per_trade": 0.001, "max_exposure": 0.02}, actor="mallory")
    report = status_json(run_cli, workspace)
    assert report["unsigned_events"] == [{"id": forged.id, "kind": "mode_changed"}]
    assert report["mode"] == "PAPER" and report["halt"] is None  # it counts for nothing
    text = run_cli("-w", workspace, "status").output
    assert "Needs attention" in text and "Unsigned: 1 event(s) that would open something" in text, text
    assert text.count(f"(#{forged.id})") == 1  # said once, at the top, not again among the ledger's warnings
    assert text.index(f"(#{forged.id})") < text.index("Step")


def test_the_mode_history_names_the_signer_not_the_computer_account(workspace, run_cli, operator_key):
    sign_off(workspace, operator_key, "env")  # signs as "Test Operator"
    for mode, reason in (("EMERGENCY_STOP", "drill"), ("PAPER", "drill over")):
        result = run_cli("-w", workspace, "mode", "set", mode, "--reason", reason, "--yes")
        assert result.exit_code == 0, result.output
    assert [actor for _, _, actor, _ in rows(workspace, "mode_changed")] == [getpass.getuser()] * 2  # what was recorded
    shown = json.loads(run_cli("-w", workspace, "mode", "show", "--json").stdout)
    assert [(h["to"], h["by"], h["recorded_by"]) for h in shown["history"]] == [
        ("PAPER", "Test Operator", getpass.getuser()), ("EMERGENCY_STOP", "Test Operator", getpass.getuser())]
    assert "│ Test Operator" in run_cli("-w", workspace, "mode", "show").output
    [_, (_, ts, _, _)] = rows(workspace, "mode_changed")
    assert f"Mode: PAPER since {short(ts)} UTC by Test Operator: drill over" in run_cli("-w", workspace, "status").output
    report = json.loads(run_cli("-w", workspace, "report", "--json").stdout)
    assert [m["by"] for m in report["modes"]] == ["Test Operator", "Test Operator"]


def test_the_mode_history_keeps_the_recorded_name_without_a_signature(workspace, run_cli, operator_key, monkeypatch):
    sign_off(workspace, operator_key, "env")
    monkeypatch.setenv("LIVEGATE_KEY_DIR", str(workspace.parent / "no-key-here"))  # the stop is written without the key
    assert run_cli("-w", workspace, "mode", "set", "EMERGENCY_STOP", "--reason", "drill", "--by", "carol", "--yes").exit_code == 0
    monkeypatch.setenv("LIVEGATE_KEY_DIR", str(Path.home() / ".config" / "livegate"))
    [(_, _, actor, payload)] = rows(workspace, "mode_changed")
    assert actor == "carol" and "signature" not in payload
    history = json.loads(run_cli("-w", workspace, "mode", "show", "--json").stdout)["history"]
    assert [(h["by"], h["recorded_by"]) for h in history] == [("carol", "carol")]


def test_status_timestamps_do_not_wrap_at_80_columns(workspace, run_cli, operator_key, monkeypatch):
    sign_off(workspace, operator_key, "env")
    [(_, ts, _, _)] = rows(workspace, "phase_result")
    monkeypatch.setenv("COLUMNS", "80")
    text = run_cli("-w", workspace, "status").output
    table = [line for line in text.splitlines() if line[:1] in "┏┃┡│└"]
    assert table and max(len(line) for line in table) <= 80  # the table fits (message lines are never broken: they are copied)
    assert short(ts) in text, text  # the result's time on one line, whole
    assert "T" + ts.split("T")[1][:8] not in text  # and in the short form only
