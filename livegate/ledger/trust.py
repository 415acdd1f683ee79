"""Whose signature counts in a workspace's ledger: the operator key pinned in a committed file
of the workspace (`operator-keys.txt`), followed through rotations the ledger records, each
signed by the key it replaces.

- The pin file lists the workspace's operator public keys, oldest first, one hex key per line
  (`#` comments). It is written with the first key that signs anything in this ledger, and
  `keys rotate` adds a line. It lives in the workspace so version control shows any change.
- A `key_rotated` event is signed by the old key and carries the new public key and the new
  key's own signature over the hand-over (`rotation_message`): from the event after it, only
  the new key signs.
- `KeyChain.key_at(id)` is the key that may sign event `id`; an event signed by any other key
  does not count. Events that can open a gate (`OPENING_KINDS`) count only with a valid
  signature of that key; without one they can still close a gate (a failed result, a halt).

This module only reads; `livegate.ledger.store` writes the pin file and rotation events."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from livegate.core.canonical import canonical_json
from livegate.core.errors import KeyMissing
from livegate.ledger.chain import GENESIS, SEP, signoff_message
from livegate.ledger.keys import PUBLIC_FILE, PublicKey, key_dir, load_public

PIN_FILE = "operator-keys.txt"
PIN_FILE_MAX_BYTES = 65536
ROTATED = "key_rotated"

# Events the operator's signature must cover before they may open a gate, lift a halt or raise
# the mode (they are signed when written whenever the operator key is loaded). Without it they
# count only where they close something: a failed result, a switch to EMERGENCY_STOP, a
# rejected or expired approval.
OPENING_KINDS = frozenset({
    "phase_result", "signoff", "attestation", "capital_scaled", "mode_changed", "trading_resumed",
    "approval_decided", ROTATED,
})


def would_open(kind: str, payload: dict[str, Any]) -> bool:
    """Whether an event of `kind` with `payload` opens something when it counts (a pass, a
    resume, an approval, a mode change other than the emergency stop, …): what closes counts
    without a signature, so only these need one."""
    if kind == "phase_result":
        return payload.get("verdict") == "pass"
    if kind == "approval_decided":
        return payload.get("decision") == "approved"
    if kind == "mode_changed":
        return payload.get("to") != "EMERGENCY_STOP"
    return kind in OPENING_KINDS


def rotation_message(old_key_id: str, new_public_hex: str) -> bytes:
    """What the new key signs when it takes over from the old one."""
    return f"livegate-rotate|{old_key_id}|{new_public_hex}".encode()


def workspace_of(ledger_path: Path) -> Path | None:
    """The workspace a ledger file belongs to (`<root>/.livegate/ledger.db`), else None."""
    return ledger_path.parent.parent if ledger_path.parent.name == ".livegate" else None


def pin_path(root: Path) -> Path:
    return root / PIN_FILE


class PinFileError(ValueError):
    """The pin file exists but cannot be read as a list of keys."""


def read_pins(root: Path) -> list[PublicKey] | None:
    """The keys the workspace pins, oldest first; None when there is no pin file."""
    path = pin_path(root)
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode):  # never open a fifo, a device or a link: a check must not block
            raise PinFileError(f"{path}: not a regular file")
        if st.st_size > PIN_FILE_MAX_BYTES:
            raise PinFileError(f"{path}: too large for a list of keys")
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            text = os.read(fd, PIN_FILE_MAX_BYTES + 1).decode("ascii")
        finally:
            os.close(fd)
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise PinFileError(f"{path}: cannot be read ({exc})") from None
    keys = []
    for number, line in enumerate(text.splitlines(), 1):
        word = line.split("#", 1)[0].strip()
        if not word:
            continue
        try:
            raw = bytes.fromhex(word)
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise PinFileError(f"{path}:{number}: not an operator public key (64 hex characters)")
        keys.append(PublicKey(raw))
    if not keys:
        raise PinFileError(f"{path}: lists no key")
    return keys


def ledger_id_of(conn: sqlite3.Connection) -> str:
    """The hash of the ledger's first event ("" in an empty ledger): what names the ledger."""
    row = conn.execute("SELECT hash FROM events WHERE id = 1").fetchone()
    return row[0] if row else ""


def pin_line(key: PublicKey, note: str) -> str:
    return f"{key.raw.hex()}  # key {key.key_id}, {note}\n"


@dataclass
class KeyChain:
    """The workspace's operator keys in order: (first event id it signs, key)."""

    keys: list[tuple[int, PublicKey]] = field(default_factory=list)
    problems: list[tuple[int | None, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    trusted: bool = False  # a key this machine trusts (not only the workspace's file) is in the chain
    ledger_id: str = ""  # the hash of the ledger's first event: part of every signed message

    def key_at(self, event_id: int) -> PublicKey | None:
        current = None
        for since, key in self.keys:
            if since <= event_id:
                current = key
        return current

    @property
    def current(self) -> PublicKey | None:
        return self.keys[-1][1] if self.keys else None

    @property
    def usable(self) -> bool:
        """Signatures can be checked: the chain is known, has no problem, and this machine's
        trusted key is part of it (the pin file alone is writable by whoever writes the workspace)."""
        return self.trusted and bool(self.keys) and not self.problems

    def signed(self, event_id: int, prev_hash: str, payload: dict[str, Any]) -> bool:
        """Whether `payload` (of event `event_id`) carries a valid signature of the key that may
        sign it."""
        return self.usable and signed_by(self.key_at(event_id), prev_hash, payload, event_id, self.ledger_id)


def signed_by(key: PublicKey | None, prev_hash: str, payload: dict[str, Any], event_id: int, ledger_id: str) -> bool:
    signature = payload.get("signature")
    if not isinstance(signature, str) or key is None or payload.get("key_id") != key.key_id:
        return False
    data = {k: v for k, v in payload.items() if k != "signature"}
    return key.verify(signature, signoff_message(canonical_json(data), prev_hash, event_id, ledger_id))


def load_chain(conn: sqlite3.Connection, root: Path, trusted: PublicKey | None) -> KeyChain:
    """The key chain of the ledger on `conn` in workspace `root`. `trusted` is the operator key
    this machine trusts (the key directory's, or `--pubkey`); it must be one of the chain's keys.
    Problems (a chain that cannot be trusted) are listed; then `usable` is False and no
    signature counts."""
    chain = KeyChain(ledger_id=ledger_id_of(conn))
    signed_any = conn.execute("SELECT signature IS NOT NULL FROM ledger_head WHERE id = 1").fetchone()
    has_signatures = bool(signed_any and signed_any[0]) or conn.execute(
        "SELECT 1 FROM events WHERE kind = 'signoff' LIMIT 1").fetchone() is not None
    try:
        pins = read_pins(root)
    except PinFileError as exc:
        chain.problems.append((None, str(exc)))
        return chain
    if pins is None:
        if has_signatures:
            chain.problems.append((None, f"the workspace's operator key file {PIN_FILE} is missing although the ledger is "
                                         "signed; restore it from version control"))
        elif trusted is not None:
            chain.keys.append((1, trusted))
            chain.trusted = True
        return chain
    chain.keys.append((1, pins[0]))
    chain.trusted = trusted is not None  # rotations are checked against the pins; `trusted` is confirmed below
    current = pins[0]
    for event_id, prev_hash, payload_text in conn.execute(
            "SELECT id, prev_hash, payload FROM events WHERE kind = ? ORDER BY id", (ROTATED,)):
        try:
            payload = json.loads(payload_text)
            new = PublicKey(bytes.fromhex(payload["new_public"]))
        except (ValueError, KeyError, TypeError):
            chain.problems.append((event_id, f"event #{event_id}: a key rotation that names no valid new key"))
            return chain
        if not signed_by(current, prev_hash, payload, event_id, chain.ledger_id):
            chain.problems.append((event_id, f"event #{event_id}: a key rotation not signed by the key it replaces ({current.key_id})"))
            return chain
        if not new.verify(str(payload.get("endorsement", "")), rotation_message(current.key_id, new.raw.hex())):
            chain.problems.append((event_id, f"event #{event_id}: a key rotation the new key {new.key_id} did not sign"))
            return chain
        chain.keys.append((event_id + 1, new))
        current = new
    chained = [key.key_id for _, key in chain.keys]
    pinned = [key.key_id for key in pins]
    if chained != pinned:
        extra = [k for k in pinned if k not in chained]
        if extra:
            chain.problems.append((None, f"{PIN_FILE} lists key {extra[0]}, which no rotation signed by the previous key "
                                         "introduces (a replaced operator key)"))
        else:
            missing = [k for k in chained if k not in pinned]
            chain.problems.append((None, f"the ledger rotates to key {missing[0] if missing else chained[-1]}, which {PIN_FILE} "
                                         "does not list in that order (an interrupted `livegate keys rotate`? run it again "
                                         "to finish)"))
    if trusted is not None and trusted.key_id not in chained:
        chain.problems.append((None, f"the operator key {trusted.key_id} on this machine is not one of this workspace's keys "
                                     f"({', '.join(chained)}, pinned in {PIN_FILE})"))
    elif trusted is None:
        chain.trusted = False
    elif trusted.key_id != chained[-1]:
        chain.notes.append(f"this machine's operator key {trusted.key_id} was rotated to {chained[-1]}")
    return chain


# -- on every order: whether an event counts, with the chain and each answer kept ---------------

_chains: dict[Path, tuple[tuple, KeyChain]] = {}
_verdicts: dict[tuple, bool] = {}
_MAX_VERDICTS = 4096


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def chain_for(conn: sqlite3.Connection, root: Path) -> KeyChain:
    """`load_chain` with this machine's trusted key, kept while the pin file, the key file and
    the ledger's rotations and head signature stay the same."""
    public_file = key_dir() / PUBLIC_FILE
    rotations, signed = conn.execute(
        "SELECT (SELECT max(id) FROM events WHERE kind = ?), (SELECT signature IS NOT NULL FROM ledger_head WHERE id = 1)",
        (ROTATED,)).fetchone()
    stamp = (_stamp(pin_path(root)), _stamp(public_file), str(public_file), rotations, signed)
    cached = _chains.get(root)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        trusted = load_public()
    except KeyMissing:
        trusted = None
    chain = load_chain(conn, root, trusted)
    _chains[root] = (stamp, chain)
    return chain


def carries_signature(conn: sqlite3.Connection, root: Path, event: dict[str, Any]) -> bool:
    """Whether `event` ({id, kind, payload}, as `queries.events` gives it) carries a valid
    signature of the key that may sign it, under this machine's trusted key — checked on the
    stored record itself: its kind and payload must be the ones given, its `prev_hash` must be the
    hash of the record before it (a signed event copied to another place does not count there),
    and the answer kept is keyed by both records' own hashes, never by the stored hash column."""
    chain = chain_for(conn, root)
    if not chain.usable or "signature" not in event["payload"]:
        return False
    event_id = event["id"]
    rows = dict(conn.execute("SELECT id, CAST(record AS BLOB) FROM events WHERE id IN (?, ?)", (event_id - 1, event_id)).fetchall())
    record, before = rows.get(event_id), rows.get(event_id - 1)
    if record is None or (before is None and event_id != 1):
        return False
    prev_hash = hashlib.sha256(before).hexdigest() if before is not None else GENESIS
    text = record.decode("utf-8", "replace")
    fields = text.split(SEP, 4)
    if len(fields) != 5 or fields[0] != prev_hash or fields[2] != event["kind"] or fields[4] != canonical_json(event["payload"]):
        return False
    key = (root, event_id, hashlib.sha256(record).hexdigest(), prev_hash, tuple((since, k.key_id) for since, k in chain.keys))
    verdict = _verdicts.get(key)
    if verdict is None:
        verdict = chain.signed(event_id, prev_hash, event["payload"])
        if len(_verdicts) >= _MAX_VERDICTS:
            _verdicts.clear()
        _verdicts[key] = verdict
    return verdict
