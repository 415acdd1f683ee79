"""`livegate ledger verify`: recompute the hash chain, check the head and every signature."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field

from livegate.ledger.chain import BODY_SQL, GENESIS, head_message, signoff_message


@dataclass
class VerifyReport:
    events: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    first_bad: int | None = None
    signatures_checked: int = 0
    key_id: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, event_id: int | None, message: str) -> None:
        if self.first_bad is None and event_id is not None:
            self.first_bad = event_id
        self.problems.append(message)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "events": self.events,
            "first_bad_event": self.first_bad,
            "problems": self.problems,
            "notes": self.notes,
            "signatures_checked": self.signatures_checked,
            "key_id": self.key_id,
        }


def verify_ledger(conn: sqlite3.Connection, public_key=None, progress=None) -> VerifyReport:
    """Check the whole ledger. `public_key` is the operator's trusted key (None: signatures
    cannot be checked, which is itself a problem once the ledger holds any)."""
    report = VerifyReport(key_id=public_key.key_id if public_key else None)
    sha256 = hashlib.sha256
    hashes: dict[int, str] = {}
    expected_id, prev = 1, GENESIS
    cursor = conn.execute(f"SELECT id, prev_hash, hash, {BODY_SQL} FROM events ORDER BY id")
    for event_id, prev_hash, digest, body in cursor:
        if event_id != expected_id:
            report.fail(event_id, f"event #{event_id}: expected event #{expected_id} here (events missing or reordered)")
            expected_id = event_id
        if prev_hash != prev:
            report.fail(event_id, f"event #{event_id}: its prev_hash does not match the hash of the event before it (events reordered, removed or inserted)")
        if body is None or sha256(body.encode()).hexdigest() != digest:
            report.fail(event_id, f"event #{event_id}: content does not match its hash (the event was edited)")
        hashes[event_id] = digest
        prev = digest
        expected_id += 1
        if progress is not None and not event_id % 10000:
            progress(event_id)
    report.events = len(hashes)
    last_id = expected_id - 1 if hashes else 0
    _check_head(conn, report, hashes, last_id, prev, public_key)
    _check_signoffs(conn, report, public_key)
    return report


def _check_head(conn, report: VerifyReport, hashes: dict[int, str], last_id: int, last_hash: str, public_key) -> None:
    row = conn.execute("SELECT last_id, last_hash, signed_id, signed_hash, signature, key_id FROM ledger_head WHERE id = 1").fetchone()
    if row is None:
        report.fail(None, "the ledger head is missing")
        return
    head_id, head_hash, signed_id, signed_hash, signature, key_id = row
    if head_id != last_id or head_hash != last_hash:
        report.fail(last_id + 1 if head_id > last_id else head_id,
                     f"the head records event #{head_id} but the ledger ends at event #{last_id} (events deleted from the tail or appended outside livegate)")
    if signature is None:
        if last_id > 1:
            report.notes.append("the ledger head has never been signed (no operator key when events were appended)")
        return
    if hashes.get(signed_id) != signed_hash:
        report.fail(signed_id, f"the signed head covers event #{signed_id}, whose hash no longer matches (history rewritten)")
    if public_key is None:
        report.fail(None, "the ledger is signed but no operator public key is available to check it (LIVEGATE_KEY_DIR or --pubkey)")
        return
    if key_id != public_key.key_id:
        report.fail(None, f"the ledger head is signed by key {key_id}, not by the trusted operator key {public_key.key_id}")
    elif not public_key.verify(signature, head_message(signed_id, signed_hash)):
        report.fail(signed_id, "the signature on the ledger head does not verify (history rewritten without the operator key)")
    else:
        report.signatures_checked += 1
        if signed_id < last_id:
            report.notes.append(f"events #{signed_id + 1}–#{last_id} were appended without the operator key (not covered by a head signature)")


def _check_signoffs(conn, report: VerifyReport, public_key) -> None:
    for event_id, prev_hash, payload in conn.execute("SELECT id, prev_hash, payload FROM events WHERE kind = 'signoff' ORDER BY id"):
        try:
            data = json.loads(payload)
        except ValueError:
            report.fail(event_id, f"event #{event_id}: sign-off payload is not JSON")
            continue
        signature = data.pop("signature", None)
        if not signature:
            report.fail(event_id, f"event #{event_id}: sign-off carries no signature")
            continue
        if public_key is None:
            report.fail(event_id, f"event #{event_id}: sign-off cannot be checked: no operator public key available")
            continue
        if data.get("key_id") != public_key.key_id:
            report.fail(event_id, f"event #{event_id}: sign-off made with key {data.get('key_id')}, not the trusted operator key {public_key.key_id}")
            continue
        from livegate.core.canonical import canonical_json

        if not public_key.verify(signature, signoff_message(canonical_json(data), prev_hash)):
            report.fail(event_id, f"event #{event_id}: sign-off signature does not verify")
        else:
            report.signatures_checked += 1
