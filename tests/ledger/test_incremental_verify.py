"""`status` and the phase commands verify incrementally, from a checkpoint signed with the operator
key and kept beside the anchor (README "The ledger"). Each tampering — after the checkpoint,
before it (an event already verified rewritten, a rollback, a swapped file), or of the checkpoint
itself — is made on the real files with sqlite3 and must still be caught by `status` and by a
phase command (`validate --check`, refused with exit 3); `ledger verify` stays a full verify."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from livegate.config.workspace import Workspace
from livegate.ledger import follow
from livegate.ledger.chain import SEP, event_hash
from livegate.ledger.keys import init_key, load_private, load_public
from livegate.ledger.store import Ledger
from livegate.ledger.verify import checkpoint_file, verify_at
from tests.protocol_helpers import sign_off


@pytest.fixture
def signed_env(workspace, operator_key) -> Path:
    sign_off(workspace, operator_key, "env")
    return workspace


def status(run_cli, root: Path) -> dict:
    code, report, output = run_cli.json("-w", root, "status", "--json")
    assert report is not None, output
    return report


def checkpoint(root: Path) -> dict:
    return json.loads(checkpoint_file(Workspace(root).ledger_path).read_text())


def add_fills(root: Path, n: int) -> list[int]:
    with Ledger.open(Workspace(root).ledger_path, key=load_private()) as ledger:
        return [e.id for e in ledger.append_many([("fill", {"n": i, "price": 50_000 + i}) for i in range(n)])]


def rewrite_in_place(root: Path, event_id: int, old: str, new: str) -> None:
    """The record edited with sqlite3 (the append-only trigger dropped), its stored hash left as it was."""
    with closing(sqlite3.connect(Workspace(root).ledger_path)) as conn:
        conn.execute("DROP TRIGGER IF EXISTS events_append_only_update")
        record = conn.execute("SELECT record FROM events WHERE id = ?", (event_id,)).fetchone()[0]
        assert old in record
        conn.execute("UPDATE events SET record = ? WHERE id = ?", (record.replace(old, new), event_id))
        conn.commit()


def event_ids(root: Path, kind: str) -> list[int]:
    with closing(sqlite3.connect(Workspace(root).ledger_path)) as conn:
        return [i for (i,) in conn.execute("SELECT id FROM events WHERE kind = ? ORDER BY id", (kind,))]


def refused_by_a_phase_command(run_cli, root: Path) -> bool:
    """`validate --check` (the env phase, measuring without recording): its gate check refuses
    first, with exit 3, naming the ledger."""
    result = run_cli("-w", root, "validate", "--check")
    return result.exit_code == 3 and "does not verify" in result.output


def test_a_status_after_a_checkpoint_reads_only_the_new_events_and_reports_the_same(signed_env, run_cli):
    ws = Workspace(signed_env)
    with Ledger.open(ws.ledger_path) as ledger:  # what the report must carry over: an unsigned opening event
        forged = ledger.append("phase_result", {"step": "paper", "kind": "phase", "verdict": "pass"}).id
    assert status(run_cli, signed_env)["ledger"]["ok"] is True
    upto = checkpoint(signed_env)["body"]["upto_id"]
    assert upto == forged
    add_fills(signed_env, 30)

    incremental = verify_at(ws.ledger_path, load_public(), incremental=True)
    full = verify_at(ws.ledger_path, load_public())
    assert incremental.trusted_upto == upto and full.trusted_upto == 0
    assert incremental.to_dict() == full.to_dict()
    assert incremental.signed == full.signed and incremental.unsigned == [(forged, "phase_result")]
    assert checkpoint(signed_env)["body"]["upto_id"] == upto + 30  # moved on


def test_tampering_after_the_checkpoint_is_caught(signed_env, run_cli, tmp_path):
    status(run_cli, signed_env)
    fills = add_fills(signed_env, 5)
    rewrite_in_place(signed_env, fills[2], '"price":50002', '"price":1')

    shown = status(run_cli, signed_env)["ledger"]
    assert shown["ok"] is False and shown["first_bad_event"] == fills[2], shown
    assert refused_by_a_phase_command(run_cli, signed_env)


@pytest.mark.parametrize("kind, old, new", [
    ("phase_result", '"verdict":"pass"', '"verdict":"fail"'),
    ("signoff", '"step":"env"', '"step":"eeee"'),
])
def test_rewriting_a_verified_decision_before_the_checkpoint_is_caught(signed_env, run_cli, tmp_path, kind, old, new):
    status(run_cli, signed_env)
    add_fills(signed_env, 5)
    assert status(run_cli, signed_env)["ledger"]["ok"] is True
    [target] = event_ids(signed_env, kind)
    assert target < checkpoint(signed_env)["body"]["upto_id"]
    rewrite_in_place(signed_env, target, old, new)

    shown = status(run_cli, signed_env)["ledger"]
    assert shown["ok"] is False and shown["first_bad_event"] == target, shown
    assert refused_by_a_phase_command(run_cli, signed_env)


def test_a_halt_turned_into_a_note_before_the_checkpoint_is_still_a_halt(signed_env, run_cli):
    assert run_cli("-w", signed_env, "halt", "--reason", "drill", "--by", "ada").exit_code == 0
    add_fills(signed_env, 3)
    assert status(run_cli, signed_env)["halt"]["halted"] is True
    [halt] = event_ids(signed_env, "trading_halted")
    rewrite_in_place(signed_env, halt, "trading_halted", "note")
    Workspace(signed_env).halt_file_path.unlink()

    shown = status(run_cli, signed_env)
    assert shown["ledger"]["ok"] is False and shown["halt"]["halted"] is True, shown["halt"]


def test_a_rollback_to_a_copy_before_the_checkpoint_is_caught(signed_env, run_cli, tmp_path):
    ws = Workspace(signed_env)
    older = tmp_path / "older.db"
    shutil.copy(ws.ledger_path, older)
    add_fills(signed_env, 5)
    assert status(run_cli, signed_env)["ledger"]["ok"] is True
    for suffix in ("-wal", "-shm"):
        Path(f"{ws.ledger_path}{suffix}").unlink(missing_ok=True)
    shutil.copy(older, ws.ledger_path)

    shown = status(run_cli, signed_env)["ledger"]
    assert shown["ok"] is False and any("rolled back" in p for p in shown["problems"]), shown
    assert refused_by_a_phase_command(run_cli, signed_env)


def test_a_ledger_swapped_for_another_workspaces_is_caught(signed_env, run_cli, tmp_path):
    status(run_cli, signed_env)
    other = tmp_path / "other"
    assert run_cli("init", other).exit_code == 0
    sign_off(other, load_private(), "env")
    assert status(run_cli, other)["ledger"]["ok"] is True
    for suffix in ("", "-wal", "-shm"):
        Path(f"{Workspace(signed_env).ledger_path}{suffix}").unlink(missing_ok=True)
    shutil.copy(Workspace(other).ledger_path, Workspace(signed_env).ledger_path)

    shown = status(run_cli, signed_env)["ledger"]
    assert shown["ok"] is False and any("not the ledger anchored" in p for p in shown["problems"]), shown
    assert refused_by_a_phase_command(run_cli, signed_env)


def _forge_checkpoint(root: Path, key) -> None:
    """A checkpoint claiming the whole (tampered) ledger, made exactly as livegate makes one but
    signed with `key`."""
    path = Workspace(root).ledger_path
    body = checkpoint(root)["body"]
    with closing(sqlite3.connect(path)) as conn:
        upto, record = conn.execute("SELECT id, CAST(record AS BLOB) FROM events ORDER BY id DESC LIMIT 1").fetchone()
        body.update(upto_id=upto, upto_hash=hashlib.sha256(record).hexdigest(),
                    decisions=follow.decisions_upto(conn, upto)[0])
    from livegate.core.canonical import canonical_json

    signature = key.sign(f"livegate-verified|{canonical_json(body)}".encode())
    checkpoint_file(path).write_text(json.dumps({"body": body, "signature": signature}))


@pytest.mark.parametrize("signer", ["another key", "no new signature"])
def test_a_checkpoint_not_signed_by_the_operator_is_not_trusted(signed_env, run_cli, tmp_path, signer):
    status(run_cli, signed_env)
    fills = add_fills(signed_env, 5)  # after the checkpoint: only a trusted checkpoint could hide them
    rewrite_in_place(signed_env, fills[1], '"price":50001', '"price":1')
    if signer == "another key":
        _forge_checkpoint(signed_env, init_key(tmp_path / "mallory"))
    else:
        forged = checkpoint(signed_env)
        forged["body"]["upto_id"] = fills[-1]
        checkpoint_file(Workspace(signed_env).ledger_path).write_text(json.dumps(forged))

    shown = status(run_cli, signed_env)["ledger"]
    assert shown["ok"] is False and shown["first_bad_event"] == fills[1], shown
    assert refused_by_a_phase_command(run_cli, signed_env)


def test_ledger_verify_stays_a_full_verify(signed_env, run_cli):
    fills = add_fills(signed_env, 5)
    assert status(run_cli, signed_env)["ledger"]["ok"] is True
    assert checkpoint(signed_env)["body"]["upto_id"] >= fills[-1]
    rewrite_in_place(signed_env, fills[0], '"price":50000', '"price":1')

    code, report, output = run_cli.json("-w", signed_env, "ledger", "verify", "--json")
    assert code == 1 and report["first_bad_event"] == fills[0], output


def test_a_fill_edited_before_the_checkpoint_is_shown_by_status_but_stops_every_command_that_acts(signed_env, run_cli):
    """`status` only shows; a command that records or trades checks the whole chain first."""
    fills = add_fills(signed_env, 3)
    assert status(run_cli, signed_env)["ledger"]["ok"] is True
    rewrite_in_place(signed_env, fills[1], '"price":50001', '"price":1')
    assert status(run_cli, signed_env)["ledger"]["ok"] is True  # routine events before the checkpoint: not re-read
    refused = run_cli("-w", signed_env, "validate", "--check")
    assert refused.exit_code == 3 and f"#{fills[1]}" in refused.output, refused.output
    refused = run_cli("-w", signed_env, "signoff", "env", "--by", "ada", "--yes")
    assert refused.exit_code != 0


def test_a_follower_starts_at_the_verified_prefix_and_sees_what_changed_in_it(signed_env, run_cli):
    assert run_cli("-w", signed_env, "halt", "--reason", "drill", "--by", "ada").exit_code == 0
    add_fills(signed_env, 4)
    path = Workspace(signed_env).ledger_path
    kinds = frozenset({"trading_halted", "trading_resumed", "mode_changed"})
    with closing(sqlite3.connect(path)) as conn:
        whole = follow.Follower().read(conn, kinds)  # no prefix known for this ledger yet: every record
        upto, record = conn.execute("SELECT id, CAST(record AS BLOB) FROM events ORDER BY id DESC LIMIT 1").fetchone()
        first = conn.execute("SELECT CAST(record AS BLOB) FROM events WHERE id = 1").fetchone()[0]
        prefix = follow.Prefix(hashlib.sha256(first).hexdigest(), upto, hashlib.sha256(record).hexdigest(),
                               follow.decisions_upto(conn, upto)[0])
    follow.remember(prefix)
    with closing(sqlite3.connect(path)) as conn:
        started = follow.Follower()
        assert started.read(conn, kinds) == whole and started.last_id == upto
    [halt] = [e["id"] for e in whole if e["kind"] == "trading_halted"]
    rewrite_in_place(signed_env, halt, "trading_halted", "note")
    with closing(sqlite3.connect(path)) as conn, pytest.raises(follow.ChainBroken):
        follow.Follower().read(conn, kinds)


def test_a_record_edited_without_its_hash_breaks_the_chain_for_a_full_verify_too(signed_env):
    """The reference: the same edit found by the full verify, with the hash computed here."""
    fills = add_fills(signed_env, 2)
    rewrite_in_place(signed_env, fills[0], '"price":50000', '"price":2')
    with closing(sqlite3.connect(Workspace(signed_env).ledger_path)) as conn:
        record, stored = conn.execute("SELECT record, hash FROM events WHERE id = ?", (fills[0],)).fetchone()
    assert event_hash(record) != stored and record.count(SEP) == 4
    assert verify_at(Workspace(signed_env).ledger_path, load_public()).first_bad == fills[0]
