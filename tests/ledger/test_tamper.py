"""Tamper evidence of the ledger, against the real SQLite file and through `livegate ledger verify`.

The attacker here has write access to `.livegate/ledger.db` (so can drop the triggers and edit
anything) and knows the hashing scheme, but does not hold the operator's private key."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import closing

import pytest

from livegate.core.canonical import canonical_json
from livegate.ledger.chain import GENESIS, head_message, signoff_message
from livegate.ledger.keys import PUBLIC_FILE, init_key, key_dir

# --- the attacker ---------------------------------------------------------------------------


SEP = "\x1f"
FIELDS = ("ts", "kind", "actor", "payload", "prev_hash", "hash")


class Attacker:
    """Raw sqlite3 access to the ledger file and knowledge of the hashing scheme, but no operator key.

    Works on either storage layout of `events`: plain columns (the hash covers
    prev_hash SEP id SEP ts SEP kind SEP actor SEP payload) or one stored `record`
    (prev_hash SEP ts SEP kind SEP actor SEP payload, the exact hashed text) from which the
    other columns are generated."""

    def __init__(self, path):
        self.path = path
        with closing(sqlite3.connect(path)) as conn:
            self.record_layout = "record" in {r[1] for r in conn.execute("PRAGMA table_xinfo(events)")}

    def sql(self, statement: str, params: tuple = ()) -> None:
        with closing(sqlite3.connect(self.path)) as conn:
            conn.execute(statement, params)
            conn.commit()

    def drop_triggers(self) -> None:
        with closing(sqlite3.connect(self.path)) as conn:
            conn.execute("DROP TRIGGER events_append_only_update")
            conn.execute("DROP TRIGGER events_append_only_delete")
            conn.commit()
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        assert not names & {"events_append_only_update", "events_append_only_delete"}

    def row(self, event_id: int) -> dict:
        with closing(sqlite3.connect(self.path)) as conn:
            values = conn.execute(f"SELECT {', '.join(FIELDS)} FROM events WHERE id = ?", (event_id,)).fetchone()
        return dict(zip(FIELDS, values))

    def head(self) -> tuple:
        with closing(sqlite3.connect(self.path)) as conn:
            return conn.execute("SELECT last_id, last_hash, signed_id, signed_hash, signature, key_id FROM ledger_head").fetchone()

    def digest(self, event_id: int, ev: dict) -> str:
        if self.record_layout:
            text = SEP.join((ev["prev_hash"], ev["ts"], ev["kind"], ev["actor"], ev["payload"]))
        else:
            text = SEP.join((ev["prev_hash"], str(event_id), ev["ts"], ev["kind"], ev["actor"], ev["payload"]))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def _write(self, conn, event_id: int, ev: dict) -> None:
        if self.record_layout:
            record = SEP.join((ev["prev_hash"], ev["ts"], ev["kind"], ev["actor"], ev["payload"]))
            conn.execute("UPDATE events SET record = ?, hash = ? WHERE id = ?", (record, ev["hash"], event_id))
        else:
            conn.execute(f"UPDATE events SET {', '.join(f + ' = ?' for f in FIELDS)} WHERE id = ?",
                         (*(ev[f] for f in FIELDS), event_id))

    def write(self, event_id: int, **changes) -> None:
        """Overwrite fields of one event (nothing else is recomputed)."""
        ev = {**self.row(event_id), **changes}
        with closing(sqlite3.connect(self.path)) as conn:
            self._write(conn, event_id, ev)
            conn.commit()

    def insert(self, event_id: int, ev: dict) -> None:
        with closing(sqlite3.connect(self.path)) as conn:
            if self.record_layout:
                conn.execute("INSERT INTO events (id, record, hash) VALUES (?, ?, ?)",
                             (event_id, SEP.join((ev["prev_hash"], ev["ts"], ev["kind"], ev["actor"], ev["payload"])), ev["hash"]))
            else:
                conn.execute("INSERT INTO events (id, ts, kind, actor, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (event_id, *(ev[f] for f in FIELDS)))
            conn.commit()

    def rechain(self, resign_signoffs_with=None) -> tuple[int, str]:
        """Recompute every prev_hash/hash (optionally re-sign sign-offs with the attacker's own key)
        and point the head's last_id/last_hash at the new tail. Returns (last_id, last_hash)."""
        with closing(sqlite3.connect(self.path)) as conn:
            ids = [r[0] for r in conn.execute("SELECT id FROM events ORDER BY id")]
        prev, last_id, ledger_id = GENESIS, 0, ""
        with closing(sqlite3.connect(self.path)) as conn:
            for event_id in ids:
                ev = dict(zip(FIELDS, conn.execute(f"SELECT {', '.join(FIELDS)} FROM events WHERE id = ?", (event_id,)).fetchone()))
                ev["prev_hash"] = prev
                if ev["kind"] == "signoff" and resign_signoffs_with is not None:
                    data = json.loads(ev["payload"])
                    data.pop("signature", None)
                    data["key_id"] = resign_signoffs_with.key_id
                    data["signature"] = resign_signoffs_with.sign(signoff_message(canonical_json(data), prev, event_id, ledger_id))
                    ev["payload"] = canonical_json(data)
                ev["hash"] = self.digest(event_id, ev)
                self._write(conn, event_id, ev)
                prev, last_id = ev["hash"], event_id
                if event_id == 1:
                    ledger_id = ev["hash"]
            conn.execute("UPDATE ledger_head SET last_id = ?, last_hash = ? WHERE id = 1", (last_id, prev))
            conn.commit()
        return last_id, prev


@pytest.fixture
def attacker(ledger_path) -> Attacker:
    return Attacker(ledger_path)


# --- ledgers to attack ------------------------------------------------------------------------


@pytest.fixture
def signed_ledger(append, operator_key, verify):
    """#1 ledger_created (init), #2..#6 appended with the operator key loaded (head signed at #6)."""
    append("note", {"text": "alpha"}, key=operator_key)
    append("note", {"amount": 100}, key=operator_key)
    append("phase_result", {"step": "env", "kind": "phase", "verdict": "pass"}, key=operator_key)
    append("note", {"text": "delta"}, key=operator_key)
    append("mode_changed", {"from": "paper", "to": "testnet", "reason": "ok"}, key=operator_key)
    code, report, _ = verify()
    assert (code, report["ok"], report["events"], report["signatures_checked"]) == (0, True, 6, 3)  # head, result, mode change


@pytest.fixture
def signoff_ledger(append, operator_key, verify):
    """#1 ledger_created, #2 note, #3 phase_result, #4 signoff (signed), #5 and #6 notes; head signed at #6."""
    append("note", {"text": "alpha"}, key=operator_key)
    append("phase_result", {"step": "env", "kind": "phase", "verdict": "pass"}, key=operator_key)
    append("signoff", {"step": "env", "by": "Ada", "result_event": 3}, key=operator_key, sign=True, actor="Ada")
    append("note", {"amount": 100}, key=operator_key)
    append("note", {"text": "epsilon"}, key=operator_key)
    code, report, _ = verify()
    assert (code, report["ok"], report["events"], report["signatures_checked"]) == (0, True, 6, 3)  # head, result, sign-off


def assert_caught(verify, first_bad, *fragments, extra=()):
    """`ledger verify` exits 1, --json says ok=false and names `first_bad`; each fragment is in a problem."""
    code, report, text = verify(*extra)
    assert code == 1, text
    assert report["ok"] is False
    assert "first_bad_event" in report
    assert report["first_bad_event"] == first_bad, report
    if first_bad is None:
        assert "Ledger does NOT verify (see below)" in text
    else:
        assert f"Ledger does NOT verify (first bad event: #{first_bad})" in text
    for fragment in fragments:
        assert any(fragment in p for p in report["problems"]), (fragment, report["problems"])
        assert fragment in text
    return report


def assert_chain_is_consistent(report):
    """The attacker's rewrite really was a correct hash chain: no linkage or content problem."""
    for problem in report["problems"]:
        assert "content does not match its hash" not in problem
        assert "prev_hash does not match" not in problem
        assert "expected event" not in problem


# --- 2. the triggers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET hash = '0' WHERE id = 1",
        "UPDATE events SET hash = hash",
        "UPDATE events SET id = id + 100",
        "DELETE FROM events WHERE id = 1",
        "DELETE FROM events",
    ],
)
def test_triggers_refuse_update_and_delete(ledger_path, read_events, verify, statement):
    before = read_events()
    with closing(sqlite3.connect(ledger_path)) as conn:
        with pytest.raises(sqlite3.DatabaseError, match="append-only") as excinfo:
            conn.execute(statement)
        conn.commit()
    assert isinstance(excinfo.value, sqlite3.IntegrityError)
    assert read_events() == before
    code, report, _ = verify()
    assert code == 0 and report["ok"] is True and report["events"] == 1


def test_trigger_refuses_a_content_edit(ledger_path, attacker, read_events):
    column = "record" if attacker.record_layout else "payload"
    before = read_events()
    with closing(sqlite3.connect(ledger_path)) as conn:
        with pytest.raises(sqlite3.IntegrityError, match="append-only: UPDATE refused"):
            conn.execute(f"UPDATE events SET {column} = replace({column}, '1', '2') WHERE id = 1")
    assert read_events() == before


def test_ledger_head_cannot_be_deleted(ledger_path, verify):
    with closing(sqlite3.connect(ledger_path)) as conn:
        with pytest.raises(sqlite3.IntegrityError, match="cannot be deleted"):
            conn.execute("DELETE FROM ledger_head")
        assert conn.execute("SELECT count(*) FROM ledger_head").fetchone()[0] == 1
    assert verify()[0] == 0


# --- 3. tampering ------------------------------------------------------------------------------


def test_a_one_byte_payload_edit_is_caught(signed_ledger, attacker, verify):
    attacker.drop_triggers()
    payload = attacker.row(3)["payload"]
    assert payload == '{"amount":100}'
    attacker.write(3, payload=payload.replace("100", "900"))  # one byte
    assert attacker.row(3)["payload"] == '{"amount":900}'
    report = assert_caught(verify, 3, "event #3: content does not match its hash")
    assert report["events"] == 6
    # only the edited event is reported as edited
    assert [p for p in report["problems"] if "content does not match" in p] == ["event #3: content does not match its hash (the event was edited)"]


def test_a_edit_of_the_first_event_is_caught(signed_ledger, attacker, verify):
    attacker.drop_triggers()
    attacker.write(1, payload='{"schema":2}')
    assert_caught(verify, 1, "event #1: content does not match its hash")


def test_b_deleting_the_last_event_is_caught(signed_ledger, attacker, verify, read_events):
    attacker.drop_triggers()
    attacker.sql("DELETE FROM events WHERE id = 6")
    assert [r[0] for r in read_events()] == [1, 2, 3, 4, 5]
    report = assert_caught(verify, 6, "the head records event #6 but the ledger ends at event #5")
    assert report["events"] == 5


def test_b_deleting_the_last_event_and_moving_the_head_back_is_caught(signed_ledger, attacker, verify):
    attacker.drop_triggers()
    last_hash = attacker.row(5)["hash"]
    attacker.sql("DELETE FROM events WHERE id = 6")
    attacker.sql("UPDATE ledger_head SET last_id = 5, last_hash = ?", (last_hash,))
    report = assert_caught(verify, 6, "the signed head covers event #6")
    assert not any("the head records" in p for p in report["problems"])


def test_b_deleting_a_middle_event_is_caught(signed_ledger, attacker, verify):
    attacker.drop_triggers()
    attacker.sql("DELETE FROM events WHERE id = 4")
    assert_caught(verify, 5, "event #5: expected event #4 here", "event #5: its prev_hash does not match")


def test_c_swapping_two_events_is_caught(signed_ledger, attacker, verify, read_events):
    attacker.drop_triggers()
    three, four = attacker.row(3), attacker.row(4)
    attacker.write(3, **four)
    attacker.write(4, **three)
    rows = read_events()
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5, 6]  # ids still in order
    assert (rows[2][2], rows[3][2]) == ("phase_result", "note")  # contents really swapped
    report = assert_caught(verify, 3, "event #3: its prev_hash does not match")
    assert all(p.startswith(("event #3:", "event #4:", "event #5:")) for p in report["problems"]), report["problems"]


def test_d_rewritten_chain_without_the_key_is_caught_by_the_head_signature(signed_ledger, attacker, verify):
    attacker.drop_triggers()
    old_head = attacker.head()
    attacker.write(2, payload='{"text":"forged"}')
    last_id, last_hash = attacker.rechain()
    assert attacker.head()[:2] == (6, last_hash) and last_hash != old_head[1]
    # the result at #4 carries its own signature over the chain before it: the first event proven bad
    report = assert_caught(verify, 4, "event #4: phase result signature does not verify",
                           "the signed head covers event #6, whose hash no longer matches (history rewritten)")
    assert_chain_is_consistent(report)


def test_d_rewritten_chain_and_moved_signed_head_is_caught_by_the_signature(signed_ledger, attacker, verify):
    attacker.drop_triggers()
    attacker.write(2, payload='{"text":"forged"}')
    last_id, last_hash = attacker.rechain()
    attacker.sql("UPDATE ledger_head SET signed_id = ?, signed_hash = ?", (last_id, last_hash))
    report = assert_caught(verify, 4, "event #4: phase result signature does not verify", "the signature on the ledger head does not verify")
    assert_chain_is_consistent(report)
    assert report["signatures_checked"] == 0


def test_d_rewritten_chain_before_a_signoff_is_caught_at_the_signoff(signoff_ledger, attacker, verify):
    attacker.drop_triggers()
    attacker.write(2, payload='{"text":"forged"}')
    attacker.rechain()
    # The result (#3, signed when written) is the first event the verifier can prove bad; the
    # sign-off (#4) and the head (#6) also fail.
    report = assert_caught(verify, 3, "event #3: phase result signature does not verify",
                           "event #4: sign-off signature does not verify", "the signed head covers event #6")
    assert_chain_is_consistent(report)


def test_d_rewritten_chain_and_stripped_head_signature_is_caught(signoff_ledger, attacker, verify):
    attacker.drop_triggers()
    attacker.write(5, payload='{"amount":1000000}')  # after the sign-off: not covered by its signature
    attacker.rechain()
    attacker.sql("UPDATE ledger_head SET signed_id = NULL, signed_hash = NULL, signature = NULL, key_id = NULL")
    report = assert_caught(verify, None, "head signature removed")
    assert_chain_is_consistent(report)
    assert not report["notes"]


def test_d_forgery_with_the_attackers_own_key_is_caught(signoff_ledger, attacker, verify, tmp_path):
    mallory = init_key(tmp_path / "mallory")
    attacker.drop_triggers()
    attacker.write(2, payload='{"text":"forged"}')
    last_id, last_hash = attacker.rechain(resign_signoffs_with=mallory)
    attacker.sql(
        "UPDATE ledger_head SET signed_id = ?, signed_hash = ?, signature = ?, key_id = ?",
        (last_id, last_hash, mallory.sign(head_message(last_id, last_hash)), mallory.key_id),
    )
    report = assert_caught(
        verify, 3,
        f"event #4: sign-off made with key {mallory.key_id}, not the trusted operator key",
        f"the ledger head is signed by key {mallory.key_id}, not by the trusted operator key",
    )
    assert_chain_is_consistent(report)
    assert report["signatures_checked"] == 0


def test_e_a_different_trusted_public_key_fails(signoff_ledger, run_cli, tmp_path, verify, operator_key):
    other_dir = tmp_path / "other-keys"
    assert run_cli("keys", "init", "--dir", other_dir).exit_code == 0
    other = other_dir / PUBLIC_FILE
    # control: the operator's own public key, given explicitly, verifies
    code, report, _ = verify("--pubkey", key_dir() / PUBLIC_FILE)
    assert code == 0 and report["key_id"] == operator_key.key_id
    report = assert_caught(
        verify, 3,
        f"event #4: sign-off made with key {operator_key.key_id}, not the trusted operator key",
        f"the ledger head is signed by key {operator_key.key_id}, not by the trusted operator key",
        extra=("--pubkey", other),
    )
    assert report["key_id"] != operator_key.key_id
    assert report["signatures_checked"] == 0


def test_e_a_different_public_key_fails_without_signoffs_too(signed_ledger, tmp_path, verify):
    other = init_key(tmp_path / "other-keys")
    report = assert_caught(verify, 4, "not by the trusted operator key", "is not one of this workspace's keys",
                           extra=("--pubkey", tmp_path / "other-keys" / PUBLIC_FILE))
    assert report["key_id"] == other.key_id


def test_e_missing_pubkey_file_is_an_error(signed_ledger, run_cli, workspace, tmp_path):
    result = run_cli("-w", workspace, "ledger", "verify", "--pubkey", tmp_path / "nope.pub")
    assert result.exit_code == 3
    assert "no public key at" in result.output


def test_f_signed_ledger_without_any_public_key_fails(signoff_ledger, monkeypatch, tmp_path, verify):
    monkeypatch.setenv("LIVEGATE_KEY_DIR", str(tmp_path / "auditor-has-no-key"))
    report = assert_caught(
        verify, 3,
        "no operator public key is available to check it",
        "event #4: sign-off cannot be checked: no operator public key available",
    )
    assert report["key_id"] is None and report["signatures_checked"] == 0


def test_f_removed_public_key_file_fails(signed_ledger, verify):
    (key_dir() / PUBLIC_FILE).unlink()
    report = assert_caught(verify, 4, "no operator public key is available to check it", "event #4: phase result cannot be checked")
    assert report["key_id"] is None


def test_event_appended_outside_livegate_is_named(signed_ledger, attacker, verify):
    """A raw INSERT (not refused by the triggers) without moving the head names the inserted event."""
    forged = {"ts": "2030-01-01T00:00:00.000000Z", "kind": "signoff", "actor": "Ada", "payload": "{}", "prev_hash": attacker.row(6)["hash"]}
    forged["hash"] = attacker.digest(7, forged)
    attacker.insert(7, forged)
    assert_caught(verify, 7, "the head records event #6 but the ledger ends at event #7", "event #7: sign-off carries no signature")


def test_verify_reads_one_snapshot_while_another_writer_appends(tmp_path):
    """An event appended by another writer mid-verification (an alert recorded in the background)
    must not look like a tail cut off: verification reads one consistent snapshot."""
    import threading

    from livegate.ledger.queries import connect_readonly
    from livegate.ledger.store import Ledger
    from livegate.ledger.verify import verify_ledger

    path = tmp_path / "ledger.db"
    Ledger.create(path).close()
    stop = threading.Event()

    def writer():
        with Ledger.open(path) as ledger:
            while not stop.is_set():
                ledger.append("alert_sent", {"n": 1})

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        problems = []
        for _ in range(100):
            conn = connect_readonly(path)
            try:
                problems += [p for p in verify_ledger(conn, None).problems if "head records" in p]
            finally:
                conn.close()
    finally:
        stop.set()
        thread.join()
    assert problems == []
