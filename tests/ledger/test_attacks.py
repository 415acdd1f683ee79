"""The ledger attacked by someone who can write the workspace but does not hold the operator key
(README "The ledger": the threat model). Each attack is made on the real ledger file with
sqlite3, file copies and the CLI, as such an attacker would; each must be refused or detected."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from livegate.config.workspace import Workspace
from livegate.core.canonical import canonical_json
from livegate.core.orders import Order
from livegate.ledger.anchor import anchor_file, read_anchor
from livegate.ledger.chain import event_hash, event_record, head_message, signoff_message
from livegate.ledger.keys import PRIVATE_FILE, key_dir, load_private
from livegate.ledger.queries import connect_readonly
from livegate.ledger.queries import events as iter_events
from livegate.ledger.store import ANCHOR_EVERY_S, Ledger
from livegate.ledger.trust import PIN_FILE
from livegate.services import approvals, gate, modes
from tests.protocol_helpers import sign_off


def now_ts() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def forge(ledger_path: Path, kind: str, payload: dict, actor: str = "mallory") -> int:
    """A plain SQL INSERT of a well-formed event with the head moved onto it (no trigger dropped,
    no key used): what anyone who can write the workspace can do."""
    with closing(sqlite3.connect(ledger_path)) as conn:
        last_id, last_hash = conn.execute("SELECT last_id, last_hash FROM ledger_head WHERE id = 1").fetchone()
        record = event_record(last_hash, now_ts(), kind, actor, canonical_json(payload))
        conn.execute("INSERT INTO events (id, record, hash) VALUES (?, ?, ?)", (last_id + 1, record, event_hash(record)))
        conn.execute("UPDATE ledger_head SET last_id = ?, last_hash = ? WHERE id = 1", (last_id + 1, event_hash(record)))
        conn.commit()
    return last_id + 1


def kinds(ws_root: Path, kind: str) -> list[dict]:
    with closing(connect_readonly(Workspace(ws_root).ledger_path)) as conn:
        return list(iter_events(conn, kinds=(kind,)))


def status(run_cli, ws_root: Path) -> dict:
    code, report, output = run_cli.json("-w", ws_root, "status", "--json")
    assert report is not None, output
    return report


def step(report: dict, step_id: str) -> dict:
    return next(s for s in report["steps"] if s["step"] == step_id)


@pytest.fixture
def signed_env(workspace, operator_key) -> Path:
    sign_off(workspace, operator_key, "env")
    return workspace


# --- 1. forged results, mode changes and resumes ---------------------------------------------------

def test_a_forged_passing_result_counts_for_nothing(signed_env, run_cli):
    ws = Workspace(signed_env)
    forged = forge(ws.ledger_path, "phase_result", {
        "step": "paper", "kind": "phase", "verdict": "pass", "phase": "paper",
        "config_fingerprint": ws.effective.fingerprint, "checks": [], "looser_thresholds": []})

    code, report, output = run_cli.json("-w", signed_env, "ledger", "verify", "--json")
    assert code == 0 and report["unsigned_events"] == [{"id": forged, "kind": "phase_result"}], output
    assert any("written without the operator key" in w and "count for nothing" in w for w in report["warnings"])

    shown = status(run_cli, signed_env)
    assert step(shown, "paper")["status"] != "passed" and step(shown, "paper")["verdict"] is None
    assert step(shown, "testnet")["gate_open"] is False
    assert any(f"#{forged}" in w for w in shown["ledger"]["warnings"])

    refused = run_cli("-w", signed_env, "signoff", "paper", "--by", "mallory", "--yes")
    assert refused.exit_code == 3, refused.output
    assert [e["payload"]["step"] for e in kinds(signed_env, "signoff")] == ["env"]


def test_a_forged_failing_result_still_closes_the_gate(signed_env, run_cli):
    ws = Workspace(signed_env)
    forge(ws.ledger_path, "phase_result", {"step": "env", "kind": "phase", "verdict": "fail", "phase": "env",
                                           "config_fingerprint": ws.effective.fingerprint, "checks": []})
    assert step(status(run_cli, signed_env), "paper")["gate_open"] is False


def test_a_forged_resume_does_not_lift_a_halt(signed_env, run_cli):
    ws = Workspace(signed_env)
    assert run_cli("-w", signed_env, "halt", "--reason", "drill", "--by", "ada").exit_code == 0
    forge(ws.ledger_path, "trading_resumed", {"reason": "mallory says so"})
    ws.halt_file_path.unlink()  # the attacker can delete files in the workspace too
    assert modes.halted_reason(ws) is not None and "halted" in modes.halted_reason(ws)
    assert status(run_cli, signed_env)["halt"]["halted"] is True


def test_a_forged_mode_change_does_not_raise_the_mode(signed_env):
    ws = Workspace(signed_env)
    forge(ws.ledger_path, "mode_changed", {"from": "PAPER", "to": "LIVE_SCALED", "level": 3, "reason": "forged",
                                           "risk_per_trade": 0.01, "max_exposure": 0.1})
    assert modes.mode_state(ws) == ("PAPER", None)
    forge(ws.ledger_path, "mode_changed", {"from": "PAPER", "to": "EMERGENCY_STOP", "reason": "closing needs no key"})
    assert modes.current_mode(ws) == "EMERGENCY_STOP"  # what closes counts however it was written


def test_a_forged_approval_lets_no_order_through(signed_env):
    ws = Workspace(signed_env)
    pending = approvals.request(ws, Order("", "BTC/USDT", "buy", "market", 0.001, None, 1_893_553_445_000), expiry_s=60)
    forge(ws.ledger_path, "approval_decided", {"id": pending.id, "decision": "approved", "by": "mallory",
                                               "at": now_ts(), "reason": ""})
    assert approvals.get(ws, pending.id).decision is None  # still waiting for the operator


# --- 2. rollback, truncation, a deleted write-ahead log --------------------------------------------

def test_replacing_the_ledger_with_an_older_copy_is_caught(signed_env, run_cli, tmp_path):
    ws = Workspace(signed_env)
    old = tmp_path / "older-ledger.db"
    shutil.copy(ws.ledger_path, old)
    assert run_cli("-w", signed_env, "halt", "--reason", "breaker", "--by", "ada").exit_code == 0
    ws.halt_file_path.unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{ws.ledger_path}{suffix}").unlink(missing_ok=True)
    shutil.copy(old, ws.ledger_path)

    code, report, output = run_cli.json("-w", signed_env, "ledger", "verify", "--json")
    assert code == 1, output
    assert any("rolled back or truncated" in p and "but #" in p for p in report["problems"]), report["problems"]
    assert gate.snapshot(ws).state.ledger_ok is False  # every phase gate is closed
    anchors = run_cli("-w", signed_env, "ledger", "anchor")
    assert anchors.exit_code == 1 and "rolled back or truncated" in anchors.output


def test_cutting_the_tail_and_restoring_an_older_signed_head_is_caught(signed_env, run_cli, operator_key):
    ws = Workspace(signed_env)
    with closing(sqlite3.connect(ws.ledger_path)) as conn:
        head = conn.execute("SELECT last_id, last_hash, signed_id, signed_hash, signature, key_id FROM ledger_head").fetchone()
        cut_after = head[0]
    assert run_cli("-w", signed_env, "halt", "--reason", "breaker", "--by", "ada").exit_code == 0
    with closing(sqlite3.connect(ws.ledger_path)) as conn:
        conn.execute("DROP TRIGGER events_append_only_delete")
        conn.execute("DELETE FROM events WHERE id > ?", (cut_after,))
        conn.execute("UPDATE ledger_head SET last_id = ?, last_hash = ?, signed_id = ?, signed_hash = ?, signature = ?, key_id = ?",
                     head)  # the older signed head, as recovered from an old copy or the write-ahead log
        conn.commit()
    code, report, output = run_cli.json("-w", signed_env, "ledger", "verify", "--json")
    assert code == 1, output
    assert any(f"the ledger ends at #{cut_after} but #{cut_after + 1}" in p for p in report["problems"]), report["problems"]


def test_deleting_the_write_ahead_log_is_caught(signed_env, run_cli, tmp_path):
    ws = Workspace(signed_env)
    reader = sqlite3.connect(ws.ledger_path)  # an open connection keeps the appends in the write-ahead log
    try:
        reader.execute("SELECT count(*) FROM events").fetchone()
        assert run_cli("-w", signed_env, "halt", "--reason", "breaker", "--by", "ada").exit_code == 0
        wal = Path(f"{ws.ledger_path}-wal")
        assert wal.stat().st_size > 0
        main_file_only = tmp_path / "main-only.db"
        shutil.copy(ws.ledger_path, main_file_only)
    finally:
        reader.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{ws.ledger_path}{suffix}").unlink(missing_ok=True)
    shutil.copy(main_file_only, ws.ledger_path)  # the ledger as it is without its log
    assert kinds(signed_env, "trading_halted") == []
    code, report, output = run_cli.json("-w", signed_env, "ledger", "verify", "--json")
    assert code == 1 and any("rolled back or truncated" in p for p in report["problems"]), output


def test_a_git_witness_records_each_signed_head(signed_env, run_cli, operator_key, tmp_path):
    witness = tmp_path / "witness"
    witness.mkdir()
    subprocess.run(["git", "init", "-q", str(witness)], check=True)
    added = run_cli("-w", signed_env, "ledger", "anchor", "--witness", witness)
    assert added.exit_code == 0, added.output
    sign_off(signed_env, operator_key, "paper")
    log = subprocess.run(["git", "-C", str(witness), "log", "--format=%s"], check=True, capture_output=True, text=True).stdout
    assert log.count("livegate head #") >= 2
    code, report, output = run_cli.json("-w", signed_env, "ledger", "anchor", "--json")
    assert code == 0 and len(report["anchors"]) == 2 and all(a["ok"] for a in report["anchors"]), output
    [copy] = [a for a in report["anchors"] if a["where"].startswith(str(witness))]
    assert copy["event"] == report["ledger_ends_at"]


# --- 3. a replaced operator key, and a real rotation --------------------------------------------------

def test_a_replaced_operator_key_is_a_failure_even_after_re_signing_everything(signed_env, run_cli):
    ws = Workspace(signed_env)
    replaced = run_cli("keys", "init", "--force")
    assert replaced.exit_code == 0, replaced.output
    mallory = load_private()
    # re-sign every signature in the ledger and the head with the new key, hashes recomputed
    with closing(sqlite3.connect(ws.ledger_path)) as conn:
        for trigger in ("events_append_only_update", "events_append_only_delete"):
            conn.execute(f"DROP TRIGGER {trigger}")
        rows = conn.execute("SELECT id, ts, kind, actor, payload FROM events ORDER BY id").fetchall()
        prev, ledger_id = "0" * 64, ""
        for event_id, ts, kind, actor, payload in rows:
            data = json.loads(payload)
            if "signature" in data:
                data.pop("signature")
                data["key_id"] = mallory.key_id
                data["signature"] = mallory.sign(signoff_message(canonical_json(data), prev, event_id, ledger_id))
            record = event_record(prev, ts, kind, actor, canonical_json(data))
            conn.execute("UPDATE events SET record = ?, hash = ? WHERE id = ?", (record, event_hash(record), event_id))
            prev = event_hash(record)
            if event_id == 1:
                ledger_id = prev
        last = rows[-1][0]
        conn.execute("UPDATE ledger_head SET last_id = ?, last_hash = ?, signed_id = ?, signed_hash = ?, key_id = ?, signature = ?",
                     (last, prev, last, prev, mallory.key_id, mallory.sign(head_message(last, prev))))
        conn.commit()
    code, report, output = run_cli.json("-w", signed_env, "ledger", "verify", "--json")
    assert code == 1, output
    assert any(f"{mallory.key_id} on this machine is not one of this workspace's keys" in p for p in report["problems"])
    assert any("history was replaced" in p for p in report["problems"])  # the anchor next to the key disagrees

    # editing the committed pin file to the new key only moves the failure: no rotation introduces it
    pin = signed_env / PIN_FILE
    pin.write_text(pin.read_text() + mallory.public.raw.hex() + "\n")
    code, report, _ = run_cli.json("-w", signed_env, "ledger", "verify", "--json")
    assert code == 1 and any("which no rotation signed by the previous key introduces" in p for p in report["problems"])


def test_keys_rotate_hands_over_and_old_signoffs_still_verify(signed_env, run_cli):
    old = load_private()
    rotated = run_cli("-w", signed_env, "keys", "rotate", "--by", "ada", "--yes")
    assert rotated.exit_code == 0, rotated.output
    new = load_private()
    assert new.key_id != old.key_id and new.key_id in rotated.output
    assert (Path(os.environ["LIVEGATE_KEY_DIR"]) / f"{PRIVATE_FILE}.{old.key_id}.old").is_file()
    pins = [line.split()[0] for line in (signed_env / PIN_FILE).read_text().splitlines() if line and not line.startswith("#")]
    assert pins == [old.public.raw.hex(), new.public.raw.hex()]
    sign_off(signed_env, new, "paper")
    code, report, output = run_cli.json("-w", signed_env, "ledger", "verify", "--json")
    assert code == 0, output
    shown = status(run_cli, signed_env)
    assert step(shown, "env")["status"] == "signed" and step(shown, "paper")["status"] == "signed"
    # the old key can no longer sign this workspace
    old_dir = Path(os.environ["LIVEGATE_KEY_DIR"])
    (old_dir / PRIVATE_FILE).rename(old_dir / "new.key")
    (old_dir / f"{PRIVATE_FILE}.{old.key_id}.old").rename(old_dir / PRIVATE_FILE)
    refused = run_cli("-w", signed_env, "signoff", "paper", "--by", "ada", "--yes")
    assert refused.exit_code == 3


# --- 8. time going backwards -------------------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("faketime") is None, reason="faketime (libfaketime) is installed by .ci/run")
def test_timestamps_going_backwards_are_warned_about(signed_env, run_cli):
    cli = [sys.executable, "-m", "livegate", "-w", str(signed_env)]
    done = subprocess.run(["faketime", "-f", "-3d", *cli, "halt", "--reason", "late clock", "--by", "ada"],
                          capture_output=True, text=True, env=os.environ.copy(), timeout=120)
    assert done.returncode == 0, done.stderr
    [halted] = kinds(signed_env, "trading_halted")
    assert halted["ts"] < kinds(signed_env, "signoff")[-1]["ts"]  # faketime really moved the clock
    verified = run_cli("-w", signed_env, "ledger", "verify")
    assert verified.exit_code == 0, verified.output
    assert f"event #{halted['id']} is timestamped" in verified.output and "the clock went backwards" in verified.output


def test_a_busy_writer_anchors_its_latest_head_within_a_moment(signed_env, operator_key):
    """Appends that open nothing are anchored at most every ANCHOR_EVERY_S; a timer anchors the
    last of a burst even when nothing is appended after it and the ledger stays open."""
    ws = Workspace(signed_env)
    with Ledger.open(ws.ledger_path, key=operator_key) as ledger:
        last = [ledger.append("note", {"n": n}) for n in range(50)][-1]
        time.sleep(ANCHOR_EVERY_S * 10)
        anchored = read_anchor(anchor_file(key_dir(), ws.ledger_path))
        assert anchored is not None and (anchored.last_id, anchored.last_hash) == (last.id, last.hash)


# --- found by attacking the first version of these defences ------------------------------------------

def _cut_back_to(ledger_path: Path, head: tuple) -> None:
    """Roll the ledger back in place: the tail deleted, an older head row put back."""
    with closing(sqlite3.connect(ledger_path)) as conn:
        conn.execute("DROP TRIGGER IF EXISTS events_append_only_delete")
        conn.execute("DELETE FROM events WHERE id > ?", (head[0],))
        conn.execute("UPDATE ledger_head SET last_id = ?, last_hash = ?, signed_id = ?, signed_hash = ?, signature = ?, key_id = ?", head)
        conn.commit()


def _head_row(ledger_path: Path) -> tuple:
    with closing(sqlite3.connect(ledger_path)) as conn:
        return conn.execute("SELECT last_id, last_hash, signed_id, signed_hash, signature, key_id FROM ledger_head").fetchone()


def test_a_rollback_is_not_laundered_by_the_next_honest_append(signed_env, run_cli):
    ws = Workspace(signed_env)
    before = _head_row(ws.ledger_path)
    assert run_cli("-w", signed_env, "halt", "--reason", "breaker", "--by", "ada").exit_code == 0
    halted_at = _head_row(ws.ledger_path)[0]
    _cut_back_to(ws.ledger_path, before)
    ws.halt_file_path.unlink()
    while _head_row(ws.ledger_path)[0] <= halted_at:  # junk until the ledger is past the anchored id
        forge(ws.ledger_path, "note", {"text": "padding"})
    with Ledger.open(ws.ledger_path) as ledger:  # an honest keyless writer (a bot's order) appends next
        ledger.append("order_placed", {"client_id": "x"})
    code, report, output = run_cli.json("-w", signed_env, "ledger", "verify", "--json")
    assert code == 1 and any("differs from the one anchored" in p for p in report["problems"]), output
    assert "does not match its anchor" in (modes.halted_reason(ws) or "")  # every order path refuses


def test_a_running_process_sees_a_rollback_as_a_halt(signed_env, run_cli):
    ws = Workspace(signed_env)
    assert modes.halted_reason(ws) is None
    before = _head_row(ws.ledger_path)
    assert run_cli("-w", signed_env, "halt", "--reason", "breaker", "--by", "ada").exit_code == 0
    assert modes.halted_reason(ws) is not None
    _cut_back_to(ws.ledger_path, before)
    ws.halt_file_path.unlink()
    reason = modes.halted_reason(ws)  # the same process, its watched connection still open
    assert reason is not None and "rolled back or truncated" in reason


def test_a_symlinked_ledger_cannot_escape_its_anchor(signed_env, run_cli):
    ws = Workspace(signed_env)
    old = ws.state_dir / "old" / "ledger.db"
    old.parent.mkdir()
    shutil.copy(ws.ledger_path, old)
    assert run_cli("-w", signed_env, "halt", "--reason", "breaker", "--by", "ada").exit_code == 0
    for suffix in ("", "-wal", "-shm"):
        Path(f"{ws.ledger_path}{suffix}").unlink(missing_ok=True)
    ws.ledger_path.symlink_to(old)
    ws.halt_file_path.unlink()
    code, report, output = run_cli.json("-w", signed_env, "ledger", "verify", "--json")
    assert code == 1 and any("rolled back or truncated" in p for p in report["problems"]), output


def test_a_copied_signed_workspace_without_its_anchor_fails_where_the_key_is(signed_env, run_cli, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(signed_env, copy)
    code, report, output = run_cli.json("-w", copy, "ledger", "verify", "--json")
    assert code == 1 and any("has no anchor on this machine" in p for p in report["problems"]), output
    reset = run_cli("-w", copy, "ledger", "anchor", "--reset", "--yes")
    assert reset.exit_code == 0, reset.output
    assert run_cli("-w", copy, "ledger", "verify").exit_code == 0


def test_a_record_rewritten_under_its_old_hash_does_not_reuse_a_verdict(signed_env, operator_key):
    ws = Workspace(signed_env)
    first = approvals.request(ws, Order("", "BTC/USDT", "buy", "market", 0.001, None, 1_893_553_445_000), expiry_s=600)
    second = approvals.request(ws, Order("", "BTC/USDT", "buy", "market", 5.0, None, 1_893_553_445_000), expiry_s=600)
    approvals.decide(ws, first.id, "approved", "ada", key=operator_key)
    assert approvals.get(ws, first.id).decision == "approved"  # verdict kept by this process
    with closing(sqlite3.connect(ws.ledger_path)) as conn:  # same record, other id; the stored hash left as it was
        conn.execute("DROP TRIGGER events_append_only_update")
        event_id, record = conn.execute("SELECT id, record FROM events WHERE kind = 'approval_decided' ORDER BY id DESC").fetchone()
        conn.execute("UPDATE events SET record = ? WHERE id = ?", (record.replace(f'"id":"{first.id}"', f'"id":"{second.id}"'), event_id))
        conn.commit()
    assert approvals.get(ws, second.id).decision is None


def test_a_second_request_under_the_same_id_makes_its_approval_count_for_nothing(signed_env, operator_key):
    ws = Workspace(signed_env)
    real = approvals.request(ws, Order("", "BTC/USDT", "buy", "market", 5.0, None, 1_893_553_445_000), expiry_s=600)
    forge(ws.ledger_path, "approval_requested", {"id": real.id, "order": {"symbol": "BTC/USDT", "side": "buy", "type": "market",
          "amount": 0.0001}, "context": "", "requested_at": real.requested_at, "expires_at": "2099-01-01T00:00:00.000Z",
          "expiry_seconds": 600})
    assert approvals.get(ws, real.id).order["amount"] == 5.0  # the first request keeps the id: the operator sees the real order
    approvals.decide(ws, real.id, "approved", "ada", key=operator_key)
    assert approvals.get(ws, real.id).decision is None  # which order it would approve is unclear: none is


def test_a_real_resume_after_a_forged_one(signed_env, run_cli):
    ws = Workspace(signed_env)
    assert run_cli("-w", signed_env, "halt", "--reason", "drill", "--by", "ada").exit_code == 0
    forge(ws.ledger_path, "trading_resumed", {"reason": "mallory"})
    resumed = run_cli("-w", signed_env, "resume", "--by", "ada", "--yes")
    assert resumed.exit_code == 0, resumed.output
    assert modes.halted_reason(ws) is None


def test_an_interrupted_rotation_is_finished_by_running_it_again(signed_env, run_cli, operator_key, monkeypatch):
    from livegate.ledger import store
    from livegate.ledger.keys import prepare_rotation

    ws = Workspace(signed_env)
    new = prepare_rotation(key_dir())
    with Ledger.open(ws.ledger_path, key=operator_key) as ledger, monkeypatch.context() as patch:
        patch.setattr(store, "pin_path", lambda root: Path("/nonexistent/operator-keys.txt"))  # the process dies here
        with pytest.raises(OSError):
            ledger.rotate_key(new, by="ada")
    assert run_cli("-w", signed_env, "ledger", "verify").exit_code == 1
    finished = run_cli("-w", signed_env, "keys", "rotate", "--by", "ada", "--yes")
    assert finished.exit_code == 0 and "Finished the interrupted rotation" in finished.output, finished.output
    assert load_private().key_id == new.key_id
    assert run_cli("-w", signed_env, "ledger", "verify").exit_code == 0


def test_a_fifo_as_the_pin_file_blocks_nothing(signed_env, run_cli):
    pin = signed_env / PIN_FILE
    pin.unlink()
    os.mkfifo(pin)
    started = time.monotonic()
    code, report, output = run_cli.json("-w", signed_env, "ledger", "verify", "--json")
    assert time.monotonic() - started < 10
    assert code == 1 and any("not a regular file" in p for p in report["problems"]), output
    assert run_cli("-w", signed_env, "halt", "--reason", "still works", "--by", "ada").exit_code == 0


def test_a_failed_decision_leaves_no_anchor_ahead_of_the_ledger(signed_env, operator_key, run_cli):
    ws = Workspace(signed_env)
    with Ledger.open(ws.ledger_path, key=operator_key) as ledger:
        with pytest.raises(RuntimeError), ledger.locked():
            ledger.append("note", {"text": "never committed"})
            raise RuntimeError("the decision failed")
    assert run_cli("-w", signed_env, "ledger", "verify").exit_code == 0


def test_a_witness_before_any_anchor_is_one_clear_error(workspace, run_cli, tmp_path):
    witness = tmp_path / "w"
    witness.mkdir()
    result = run_cli("-w", workspace, "ledger", "anchor", "--witness", witness)
    assert result.exit_code == 2 and "no anchor for this workspace yet" in result.output


# --- a second round of attacks ---------------------------------------------------------------------

def _copy_to_the_end(ledger_path: Path, *event_ids: int) -> None:
    """Plain SQL: byte-identical copies of these records appended, the head moved onto the last."""
    with closing(sqlite3.connect(ledger_path)) as conn:
        last_id = conn.execute("SELECT last_id FROM ledger_head").fetchone()[0]
        for n, event_id in enumerate(event_ids, 1):
            record, digest = conn.execute("SELECT record, hash FROM events WHERE id = ?", (event_id,)).fetchone()
            conn.execute("INSERT INTO events (id, record, hash) VALUES (?, ?, ?)", (last_id + n, record, digest))
        conn.execute("UPDATE ledger_head SET last_id = ?, last_hash = ?", (last_id + len(event_ids), digest))
        conn.commit()


def test_a_replayed_signed_resume_lifts_nothing(signed_env, run_cli):
    ws = Workspace(signed_env)
    assert run_cli("-w", signed_env, "halt", "--reason", "one", "--by", "ada").exit_code == 0
    assert run_cli("-w", signed_env, "resume", "--by", "ada", "--yes").exit_code == 0
    [resume] = kinds(signed_env, "trading_resumed")
    assert run_cli("-w", signed_env, "halt", "--reason", "two", "--by", "ada").exit_code == 0
    assert modes.halted_reason(ws) is not None
    _copy_to_the_end(ws.ledger_path, resume["id"] - 1, resume["id"])
    ws.halt_file_path.unlink()
    assert modes.halted_reason(ws) is not None  # this process: the copies do not follow the chain it read
    fresh = subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; from livegate.config.workspace import "
                            "Workspace; from livegate.services import modes; print(modes.halted_reason(Workspace(Path(sys.argv[1]))))",
                            str(signed_env)], capture_output=True, text=True, env=os.environ.copy(), timeout=60)
    assert fresh.returncode == 0 and fresh.stdout.strip() != "None", fresh.stderr  # a fresh process: the same


def test_a_halt_rewritten_in_place_is_still_a_halt(signed_env, run_cli):
    ws = Workspace(signed_env)
    assert run_cli("-w", signed_env, "halt", "--reason", "one", "--by", "ada").exit_code == 0
    assert modes.halted_reason(ws) is not None
    [halt] = kinds(signed_env, "trading_halted")
    with closing(sqlite3.connect(ws.ledger_path)) as conn:  # the kind rewritten, the stored hash column left alone
        conn.execute("DROP TRIGGER events_append_only_update")
        record = conn.execute("SELECT record FROM events WHERE id = ?", (halt["id"],)).fetchone()[0]
        conn.execute("UPDATE events SET record = ? WHERE id = ?", (record.replace("trading_halted", "note"), halt["id"]))
        conn.commit()
    ws.halt_file_path.unlink()
    assert modes.halted_reason(ws) is not None  # this process
    code, report, _ = run_cli.json("-w", signed_env, "status", "--json")
    assert report["halt"]["halted"] is True  # a fresh read: the record no longer matches its anchor


def test_a_head_moved_back_does_not_hide_a_halt_from_a_running_process(signed_env, run_cli):
    ws = Workspace(signed_env)
    assert modes.halted_reason(ws) is None
    before = _head_row(ws.ledger_path)[0]
    assert run_cli("-w", signed_env, "halt", "--reason", "one", "--by", "ada").exit_code == 0
    with closing(sqlite3.connect(ws.ledger_path)) as conn:
        conn.execute("UPDATE ledger_head SET last_id = ?", (before,))
        conn.commit()
    ws.halt_file_path.unlink()
    assert modes.halted_reason(ws) is not None


def test_resume_with_a_broken_pin_file_refuses_instead_of_pretending(signed_env, run_cli):
    ws = Workspace(signed_env)
    assert run_cli("-w", signed_env, "halt", "--reason", "one", "--by", "ada").exit_code == 0
    with (signed_env / PIN_FILE).open("a") as fh:
        fh.write("junk\n")
    resumed = run_cli("-w", signed_env, "resume", "--by", "ada", "--yes")
    assert resumed.exit_code == 3 and "Trading resumed" not in resumed.output, resumed.output
    assert ws.halt_file_path.exists() and modes.halted_reason(ws) is not None


def test_a_forged_signoff_never_shows_a_step_signed(signed_env, operator_key, run_cli):
    sign_off(signed_env, operator_key, "paper")
    ws = Workspace(signed_env)
    [paper] = [e for e in kinds(signed_env, "phase_result") if e["payload"]["step"] == "paper"]
    [signoff] = [e for e in kinds(signed_env, "signoff") if e["payload"]["step"] == "paper"]
    forge(ws.ledger_path, "signoff", {**signoff["payload"], "by": "Mallory", "result_event": paper["id"]})
    shown = status(run_cli, signed_env)
    assert step(shown, "paper")["signed_by"] != "Mallory"


def test_a_rotation_hands_every_workspace_over(signed_env, operator_key, run_cli, tmp_path):
    other = tmp_path / "other"
    assert run_cli("init", other).exit_code == 0
    sign_off(other, operator_key, "env")
    assert run_cli("-w", signed_env, "keys", "rotate", "--by", "ada", "--yes").exit_code == 0
    assert run_cli("-w", other, "ledger", "verify").exit_code == 1  # still pinned to the old key
    handed = run_cli("-w", other, "keys", "rotate", "--by", "ada", "--yes")
    assert handed.exit_code == 0 and "Handed this workspace over" in handed.output, handed.output
    assert run_cli("-w", other, "ledger", "verify").exit_code == 0
    assert step(status(run_cli, other), "env")["status"] == "signed"


def test_a_workspace_reached_through_a_link_has_one_anchor(signed_env, run_cli, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(signed_env.parent)
    via = link / signed_env.name
    assert run_cli("-w", via, "halt", "--reason", "one", "--by", "ada").exit_code == 0
    assert run_cli("-w", via, "ledger", "verify").exit_code == 0
    assert run_cli("-w", signed_env, "ledger", "verify").exit_code == 0
    assert len(list((key_dir() / "anchors").glob("*.json"))) == 1


def test_two_processes_appending_never_move_the_anchor_back(signed_env, operator_key):
    """Writers anchor one at a time (a lock beside the anchor): after both finish, the anchor is
    the ledger's last event, whichever process wrote last."""
    script = ("import sys\nfrom pathlib import Path\nfrom livegate.ledger.store import Ledger\n"
              "with Ledger.open(Path(sys.argv[1])) as ledger:\n"
              "    for n in range(150):\n        ledger.append('note', {'n': n, 'who': sys.argv[2]})\n")
    ws = Workspace(signed_env)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(ws.ledger_path), who], env=os.environ.copy())
             for who in ("a", "b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    anchored = read_anchor(anchor_file(key_dir(), ws.ledger_path))
    with closing(sqlite3.connect(ws.ledger_path)) as conn:
        last_id, last_hash = conn.execute("SELECT id, hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
    assert (anchored.last_id, anchored.last_hash) == (last_id, last_hash)
