"""`livegate ledger verify`: recompute the hash chain, check the head and every signature.

`status`, the gate and every phase command verify incrementally: a verify that passes leaves a
checkpoint — the last event verified (id and hash), a digest of every decision event up to it
(`follow.DECISION_KINDS`) and what was found (signed and unsigned events, clock warnings) —
signed with the operator key and kept next to the workspace's anchor, outside the workspace. The
next check trusts that prefix only when the checkpoint's signature verifies with the trusted key,
it names this ledger and key chain, its last event still hashes as verified and every decision
event in it is still there, re-hashed, unchanged; then it verifies only the events after it.
Anything else is a full verify. `ledger verify` always verifies in full."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from livegate.core.canonical import canonical_json
from livegate.ledger.anchor import ANCHOR_DIR, Anchor, _write_json, anchor_name, anchors_of, check, suppress_errors
from livegate.ledger.chain import GENESIS, head_message
from livegate.ledger.follow import Prefix, decisions_upto, remember, still_holds
from livegate.ledger.keys import PRIVATE_FILE, key_dir, try_load_private
from livegate.ledger.queries import reading
from livegate.ledger.trust import OPENING_KINDS, KeyChain, ledger_id_of, load_chain, signed_by, workspace_of, would_open


@dataclass
class VerifyReport:
    events: int = 0
    notes: list[str] = field(default_factory=list)
    first_bad: int | None = None
    signatures_checked: int = 0
    key_id: str | None = None
    # events whose own signature verified with the key that may sign them
    signed: set[int] = field(default_factory=set)
    # events that could open a gate but carry no operator signature: (id, kind)
    unsigned: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # from the signed checkpoint: events #1..#N were not re-read (0: verified in full)
    trusted_upto: int = 0
    last_hash: str = GENESIS
    _found: list[tuple[float, str]] = field(default_factory=list)
    _clock: list[tuple[int, str, str]] = field(default_factory=list)
    _head_signed: bool = False  # the head's signature is among `signatures_checked`

    @property
    def ok(self) -> bool:
        return not self._found

    @property
    def problems(self) -> list[str]:
        """Every problem, in event order (problems not tied to an event last)."""
        return [message for _, message in sorted(self._found, key=lambda item: item[0])]

    def fail(self, event_id: int | None, message: str) -> None:
        if event_id is not None and (self.first_bad is None or event_id < self.first_bad):
            self.first_bad = event_id
        self._found.append((float("inf") if event_id is None else event_id, message))

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "events": self.events,
            "first_bad_event": self.first_bad,
            "problems": self.problems,
            "notes": self.notes,
            "signatures_checked": self.signatures_checked,
            "key_id": self.key_id,
            "unsigned_events": [{"id": i, "kind": k} for i, k in self.unsigned],
            "warnings": self.warnings,
        }


def verify_at(path: Path, public_key=None, incremental: bool = False) -> VerifyReport:
    """Verify the ledger at `path` as a workspace's: its key chain from the pin file, and its
    anchors outside the workspace (read before the ledger's snapshot, see `anchor`). In full
    unless `incremental` (see the module's docstring)."""
    with verified(path, public_key, incremental) as (_conn, report):
        return report


@contextmanager
def verified(path: Path, public_key=None, incremental: bool = True) -> Iterator[tuple[sqlite3.Connection, VerifyReport]]:
    """(a read connection, its verification) inside one read transaction: what is read through
    the connection in the block is exactly the ledger that was verified (no event can be swapped
    between the check and the read). `incremental`: from the signed checkpoint, when it holds."""
    found = tuple(anchors_of(key_dir(), path))
    root = workspace_of(path)
    with reading(path) as conn:
        conn.execute("BEGIN")
        try:
            chain = load_chain(conn, root, public_key) if root is not None else None
            since = read_checkpoint(path, public_key, chain) if incremental and chain is not None else None
            report = verify_ledger(conn, public_key, chain, found, since)
            if not found and root is not None and chain is not None and chain.keys and (key_dir() / PRIVATE_FILE).is_file() \
                    and conn.execute("SELECT signature IS NOT NULL FROM ledger_head WHERE id = 1").fetchone()[0]:
                report.fail(None, f"this signed workspace has no anchor on this machine, which holds the operator key "
                                  f"({key_dir() / ANCHOR_DIR}): its ledger may be a copy or a replacement — if you moved "
                                  "the workspace or started it over, bind it with `livegate ledger anchor --reset`")
            if report.ok and chain is not None and chain.usable:
                keep_checkpoint(path, conn, report, public_key, chain, since)
            yield conn, report
        finally:
            conn.execute("COMMIT")


CHUNK = 100_000
# Events that carry the operator's signature over their payload and the chain before them.
SIGNED_KINDS = {"signoff": "sign-off", "attestation": "attestation", "capital_scaled": "capital step"}


def verify_ledger(conn: sqlite3.Connection, public_key=None, chain: KeyChain | None = None,
                  anchors: tuple = (), since: Checkpoint | None = None) -> VerifyReport:
    """Check the whole ledger. `public_key` is the operator's trusted key (None: signatures
    cannot be checked, which is itself a problem once the ledger holds any). `chain` is the
    workspace's key chain (`trust.load_chain`; None: `public_key` alone signs everything).
    `anchors` are this workspace's anchors (`anchor.anchors_of`), read before `conn`'s snapshot.
    `since`: a checkpoint (`read_checkpoint`) whose prefix is trusted when the ledger still
    holds it (`follow.still_holds`); otherwise everything is checked."""
    # One read transaction: every query sees the same snapshot, so an event appended meanwhile by
    # another writer (an alert recorded in the background) can't look like a cut-off tail.
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")
    try:
        return _verify(conn, public_key, chain, anchors, since)
    finally:
        if own:
            conn.execute("COMMIT")


def _verify(conn: sqlite3.Connection, public_key, chain: KeyChain | None, anchors: tuple, since: Checkpoint | None) -> VerifyReport:
    report = VerifyReport(key_id=public_key.key_id if public_key else None)
    if chain is None:
        chain = KeyChain(keys=[(1, public_key)] if public_key is not None else [], trusted=public_key is not None)
    for event_id, problem in chain.problems:
        report.fail(event_id, problem)
    report.notes += chain.notes
    prev = GENESIS
    if since is not None and still_holds(conn, since.prefix) is not None:
        first, prev = since.prefix.upto_id + 1, since.prefix.upto_hash
        count, last = conn.execute("SELECT count(*), coalesce(max(id), 0) FROM events WHERE id >= ?", (first,)).fetchone()
        count, last = count + since.prefix.upto_id, max(last, since.prefix.upto_id)
        report.trusted_upto = since.prefix.upto_id
        report.signed, report.unsigned = set(since.signed), list(since.unsigned)
        report.signatures_checked, report._clock = since.signatures_checked, list(since.clock)
    else:
        count, first, last = conn.execute("SELECT count(*), coalesce(min(id), 1), coalesce(max(id), 0) FROM events").fetchone()
    for low in range(first, last + 1, CHUNK):
        high = min(low + CHUNK - 1, last)
        if not _chunk_intact(conn, low, high, prev):
            _locate_problems(conn, report, low, high, prev)
        prev = conn.execute("SELECT hash FROM events WHERE id <= ? ORDER BY id DESC LIMIT 1", (high,)).fetchone()[0]
    if first != 1 and count and not report.trusted_upto:
        report.fail(first, f"event #{first}: expected event #1 here (events missing from the start)")
    report.events, report.last_hash = count, prev
    _check_head(conn, report, last, prev, public_key, chain)
    _check_signatures(conn, report, public_key, chain, after=report.trusted_upto)
    _check_clock(conn, report, after=report.trusted_upto)
    for anchor in anchors:
        problem = check(conn, anchor) if isinstance(anchor, Anchor) else str(anchor)
        if problem:
            report.fail(None, problem)
    return report


def _chunk_intact(conn: sqlite3.Connection, low: int, high: int, prev: str) -> bool:
    """Fast path: hash every record of ids low..high in one tight loop and compare all the
    digests, the prev links and the id sequence at once (string comparisons run in C)."""
    sha256 = hashlib.sha256
    computed = "".join([sha256(r).hexdigest() for (r,) in conn.execute(
        "SELECT CAST(record AS BLOB) FROM events WHERE id BETWEEN ? AND ? ORDER BY id", (low, high))])
    # A rowid range scan runs in id order; were it ever not, the slow path would sort it out.
    stored, n = conn.execute(
        "SELECT group_concat(hash, ''), count(*) FROM events WHERE id BETWEEN ? AND ?", (low, high)).fetchone()
    if n != high - low + 1 or computed != stored:
        return False
    first_prev = conn.execute("SELECT prev_hash FROM events WHERE id = ?", (low,)).fetchone()[0]
    unlinked = conn.execute(
        "SELECT 1 FROM events b JOIN events a ON a.id = b.id - 1"
        " WHERE b.id BETWEEN ? AND ? AND substr(b.record, 1, 64) != a.hash LIMIT 1", (low + 1, high)).fetchone()
    return first_prev == prev and unlinked is None


def _locate_problems(conn: sqlite3.Connection, report: VerifyReport, low: int, high: int, prev: str) -> None:
    """Slow path for a chunk that failed: name every bad event."""
    sha256 = hashlib.sha256
    expected_id = low
    for event_id, digest, prev_hash, record in conn.execute(
            "SELECT id, hash, prev_hash, CAST(record AS BLOB) FROM events WHERE id BETWEEN ? AND ? ORDER BY id", (low, high)):
        if event_id != expected_id:
            report.fail(event_id, f"event #{event_id}: expected event #{expected_id} here (events missing or reordered)")
            expected_id = event_id
        if record is None or sha256(record).hexdigest() != digest:
            report.fail(event_id, f"event #{event_id}: content does not match its hash (the event was edited)")
        if prev_hash != prev:
            report.fail(event_id, f"event #{event_id}: its prev_hash does not match the hash of the event before it (events reordered, removed or inserted)")
        prev = digest
        expected_id += 1


def _check_head(conn, report: VerifyReport, last_id: int, last_hash: str, public_key, chain: KeyChain) -> None:
    row = conn.execute("SELECT last_id, last_hash, signed_id, signed_hash, signature, key_id FROM ledger_head WHERE id = 1").fetchone()
    if row is None:
        report.fail(None, "the ledger head is missing")
        return
    head_id, head_hash, signed_id, signed_hash, signature, key_id = row
    if head_id != last_id or head_hash != last_hash:
        report.fail(min(head_id, last_id) + 1 if head_id != last_id else head_id,
                     f"the head records event #{head_id} but the ledger ends at event #{last_id} (events deleted from the tail or appended outside livegate)")
    if signature is None:
        # A sign-off is only ever appended with the key loaded, which signs the head; keyless
        # appends never clear that signature. So an unsigned head beside a sign-off was stripped.
        if conn.execute("SELECT 1 FROM events WHERE kind = 'signoff' LIMIT 1").fetchone():
            report.fail(None, "the ledger head carries no signature although sign-offs were made with the operator key (head signature removed)")
        elif last_id > 1:
            report.notes.append("the ledger head has never been signed (no operator key when events were appended)")
        return
    signed_row = conn.execute("SELECT hash FROM events WHERE id = ?", (signed_id,)).fetchone()
    if signed_row is None or signed_row[0] != signed_hash:
        report.fail(signed_id, f"the signed head covers event #{signed_id}, whose hash no longer matches (history rewritten)")
    if public_key is None:
        report.fail(None, "the ledger is signed but no operator public key is available to check it (LIVEGATE_KEY_DIR or --pubkey)")
        return
    signer = (chain.key_at(signed_id) if chain.usable else None) or public_key
    if key_id != signer.key_id:
        report.fail(None, f"the ledger head is signed by key {key_id}, not by the trusted operator key {signer.key_id}")
    elif not signer.verify(signature, head_message(signed_id, signed_hash)):
        report.fail(signed_id, "the signature on the ledger head does not verify (history rewritten without the operator key)")
    else:
        report.signatures_checked += 1
        report._head_signed = True
        if signed_id < last_id:
            report.notes.append(f"events #{signed_id + 1}–#{last_id} were appended without the operator key (not covered by a head signature)")


def _check_signatures(conn, report: VerifyReport, public_key, chain: KeyChain, after: int = 0) -> None:
    """Every signature in the ledger (after event #`after`) must verify with the key that may sign
    its event; sign-offs must carry one. Events that could open a gate without one are listed
    (`unsigned`)."""
    kinds = ", ".join(f"'{k}'" for k in OPENING_KINDS)
    for event_id, kind, prev_hash, payload in conn.execute(
            f"SELECT id, kind, prev_hash, payload FROM events WHERE kind IN ({kinds}) AND id > ? ORDER BY id", (after,)):
        what = SIGNED_KINDS.get(kind, kind.replace("_", " "))
        try:
            data = json.loads(payload)
        except ValueError:
            report.fail(event_id, f"event #{event_id}: {what} payload is not JSON")
            continue
        signature = data.get("signature")
        if not signature:
            if kind in SIGNED_KINDS:
                report.fail(event_id, f"event #{event_id}: {what} carries no signature")
            elif would_open(kind, data):
                report.unsigned.append((event_id, kind))
            continue
        if public_key is None:
            report.fail(event_id, f"event #{event_id}: {what} cannot be checked: no operator public key available")
            continue
        key = (chain.key_at(event_id) if chain.usable else None) or public_key
        if data.get("key_id") != key.key_id:
            report.fail(event_id, f"event #{event_id}: {what} made with key {data.get('key_id')}, not the trusted operator key {key.key_id}")
            continue
        if not signed_by(key, prev_hash, data, event_id, chain.ledger_id or ledger_id_of(conn)):
            report.fail(event_id, f"event #{event_id}: {what} signature does not verify")
        else:
            report.signatures_checked += 1
            if chain.usable:
                report.signed.add(event_id)
    warning = unsigned_warning([i for i, _ in report.unsigned])
    if warning:
        report.warnings.append(warning)


def unsigned_warning(ids: list[int]) -> str | None:
    """What to say of events that would open something but carry no operator signature, or None."""
    if not ids:
        return None
    shown = ", ".join(f"#{i}" for i in ids[:5]) + (" …" if len(ids) > 5 else "")
    return (f"{len(ids)} event(s) that would open something (a passed result, a resume, a mode change, an approval) "
            f"were written without the operator key ({shown}): they count for nothing — what opens needs the operator's signature")


def _check_clock(conn, report: VerifyReport, after: int = 0) -> None:
    """Warn where an event (after event #`after`; those before it are in `report._clock`) is
    timestamped before the one before it (the clock went backwards)."""
    report._clock += [tuple(row) for row in conn.execute(
        "SELECT b.id, a.ts, b.ts FROM events b JOIN events a ON a.id = b.id - 1 "
        "WHERE b.id > ? AND b.ts < a.ts ORDER BY b.id LIMIT 6", (after,))]
    del report._clock[6:]
    rows = report._clock
    for event_id, before, at in rows[:5]:
        report.warnings.append(f"event #{event_id} is timestamped {at[:19]}Z, before event #{event_id - 1} ({before[:19]}Z): "
                               "the clock went backwards; durations measured across it do not count")
    if len(rows) > 5:
        report.warnings.append("… and more events timestamped before the one before them")


# -- the signed checkpoint of the incremental check ---------------------------------------------

CHECKPOINT_VERSION = 1


@dataclass(frozen=True)
class Checkpoint:
    """What a verify that passed found up to `prefix.upto_id`, as signed by the operator key."""

    prefix: Prefix
    signed: tuple[int, ...]
    unsigned: tuple[tuple[int, str], ...]
    signatures_checked: int
    clock: tuple[tuple[int, str, str], ...]


VERIFIED_DIR = "verified"


def checkpoint_file(path: Path) -> Path:
    """In the operator's key directory, beside the anchors, named like the workspace's anchor."""
    return key_dir() / VERIFIED_DIR / anchor_name(path)


def _chain_names(chain: KeyChain) -> list[list]:
    return [[since, key.key_id] for since, key in chain.keys]


def _checkpoint_message(body: dict) -> bytes:
    return f"livegate-verified|{canonical_json(body)}".encode()


def read_checkpoint(path: Path, public_key, chain: KeyChain) -> Checkpoint | None:
    """The workspace's checkpoint, when it is signed by the trusted key and made for this ledger,
    this workspace and this key chain; else None (then everything is verified)."""
    if public_key is None or not chain.usable:
        return None
    target = checkpoint_file(path)
    try:
        data = json.loads(target.read_bytes())
        body, signature = data["body"], data["signature"]
        if not (isinstance(body, dict) and isinstance(signature, str) and public_key.verify(signature, _checkpoint_message(body))):
            return None
        if (body["version"], body["anchor"], body["ledger_id"], body["key_id"], body["chain"]) != \
                (CHECKPOINT_VERSION, target.name, chain.ledger_id, public_key.key_id, _chain_names(chain)):
            return None
        return Checkpoint(
            prefix=Prefix(chain.ledger_id, int(body["upto_id"]), str(body["upto_hash"]), str(body["decisions"])),
            signed=tuple(int(i) for i in body["signed"]),
            unsigned=tuple((int(i), str(k)) for i, k in body["unsigned"]),
            signatures_checked=int(body["signatures_checked"]),
            clock=tuple((int(i), str(a), str(b)) for i, a, b in body["clock"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def keep_checkpoint(path: Path, conn: sqlite3.Connection, report: VerifyReport, public_key, chain: KeyChain,
                    since: Checkpoint | None) -> None:
    """After a verify that passed: remember its prefix in this process (`follow.remember`) and,
    when it reaches further than `since` and the operator key is on this machine, sign it as the
    workspace's checkpoint. Never fails the verify: without a checkpoint the next one is in full."""
    upto = conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
    if upto == 0:
        return
    if since is not None and report.trusted_upto == upto:  # nothing new since the checkpoint
        remember(since.prefix)
        return
    digest = decisions_upto(conn, upto)[0]
    remember(Prefix(chain.ledger_id, upto, report.last_hash, digest))
    key = try_load_private()
    if key is None or key.key_id != public_key.key_id:
        return
    target = checkpoint_file(path)
    body = {"version": CHECKPOINT_VERSION, "anchor": target.name, "ledger_id": chain.ledger_id, "key_id": key.key_id,
            "chain": _chain_names(chain), "upto_id": upto, "upto_hash": report.last_hash, "decisions": digest,
            "signed": sorted(report.signed), "unsigned": [list(u) for u in report.unsigned],
            "signatures_checked": report.signatures_checked - report._head_signed, "clock": [list(c) for c in report._clock]}
    with suppress_errors():
        if target.parent.parent.is_dir():
            target.parent.mkdir(mode=0o700, exist_ok=True)
            _write_json(target, {"body": body, "signature": key.sign(_checkpoint_message(body))}, durable=False)
