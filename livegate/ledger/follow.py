"""Following a ledger as it grows, with every record checked: for the reads that run before every
order (the halt and the mode), which cannot afford `verify` each time but must not be fooled by
what `verify` would reject.

A `Follower` reads each record once, in id order, computes its hash itself (never trusting the
stored `hash` column) and checks that it links to the one before it; before reading on, it checks
that the last record it read is still there, unchanged. So an event inserted out of the chain (a
replayed copy), a record rewritten in place, or a tail cut off and regrown to the same id is
`ChainBroken` — for the rest of the process: whoever follows treats it as a halt. What was read
stays read: rewriting an old halt after it was seen changes nothing here (a fresh process reads
the whole chain, and finds the break where the rewritten record no longer links).

A process that has verified the ledger (`verify.verified`, from its signed checkpoint) remembers
that prefix (`remember`): a `Follower` it creates then starts at the prefix's end instead of
re-reading every record — after checking that the prefix's last record still hashes as verified
and that every event of `DECISION_KINDS` in it (halts, resumes, mode changes, results, sign-offs,
approvals, breaker trips) is still there, re-hashed, exactly as verified. Cost: the decisions,
not the ledger's length."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from livegate.core.errors import LedgerError
from livegate.ledger.chain import GENESIS, SEP
from livegate.ledger.trust import OPENING_KINDS

# What the gate, the halt rule and `status` decide on. Every event of these kinds is re-hashed on
# every incremental check; the bulk (fills, orders, checkpoints) is re-hashed by `ledger verify`.
DECISION_KINDS = OPENING_KINDS | {"trading_halted", "reduce_only", "breaker_trip", "breaker_rearmed"}
_DECISIONS_SQL = ("SELECT id, CAST(record AS BLOB) FROM events WHERE kind IN ("
                  + ", ".join(f"'{k}'" for k in sorted(DECISION_KINDS)) + ") AND id <= ? ORDER BY id")


@dataclass(frozen=True)
class Prefix:
    """Events #1..#`upto_id` of the ledger named `ledger_id`, verified in full: #`upto_id` hashes
    to `upto_hash`, and `decisions` digests the (id, hash) of every `DECISION_KINDS` event in it."""

    ledger_id: str
    upto_id: int
    upto_hash: str
    decisions: str


def decisions_upto(conn: sqlite3.Connection, upto_id: int) -> tuple[str, list[tuple[int, str, bytes]]]:
    """(digest, [(id, hash, record)]) of the `DECISION_KINDS` events #1..#`upto_id`, each record
    hashed here (never the stored `hash` column)."""
    sha256 = hashlib.sha256
    digest = sha256()
    found = []
    for event_id, record in conn.execute(_DECISIONS_SQL, (upto_id,)):
        own = sha256(record).hexdigest()
        digest.update(f"{event_id}:{own};".encode())
        found.append((event_id, own, record))
    return digest.hexdigest(), found


def still_holds(conn: sqlite3.Connection, prefix: Prefix) -> list[tuple[int, str, bytes]] | None:
    """The decision events of `prefix` as the ledger on `conn` holds them, or None when it no
    longer holds that prefix: its last record gone or changed (rolled back, replaced), or a
    decision event rewritten, removed, or made out of another event."""
    row = conn.execute("SELECT CAST(record AS BLOB) FROM events WHERE id = ?", (prefix.upto_id,)).fetchone()
    if row is None or hashlib.sha256(row[0]).hexdigest() != prefix.upto_hash:
        return None
    digest, found = decisions_upto(conn, prefix.upto_id)
    return found if digest == prefix.decisions else None


_verified: dict[str, Prefix] = {}


def remember(prefix: Prefix) -> None:
    """Note that this process verified `prefix` (the longest one per ledger is kept)."""
    known = _verified.get(prefix.ledger_id)
    if known is None or known.upto_id <= prefix.upto_id:
        _verified[prefix.ledger_id] = prefix


class ChainBroken(LedgerError):
    """The ledger no longer continues the chain this process read: no order may rely on it."""


class Follower:
    """The chain of one ledger as read so far (`last_id`, `last_hash`); `read(conn, kinds)` gives
    the new events of `kinds` ({id, ts, kind, actor, payload, hash, prev_hash}), each checked."""

    def __init__(self) -> None:
        self.last_id = 0
        self.last_hash = GENESIS
        self.ledger_id = ""
        self.broken: str | None = None

    def _break(self, why: str) -> ChainBroken:
        self.broken = why
        return ChainBroken(why)

    def read(self, conn: sqlite3.Connection, kinds: frozenset[str]) -> list[dict[str, Any]]:
        if self.broken is not None:
            raise ChainBroken(self.broken)
        sha256 = hashlib.sha256
        if self.last_id:
            row = conn.execute("SELECT CAST(record AS BLOB) FROM events WHERE id = ?", (self.last_id,)).fetchone()
            if row is None or sha256(row[0]).hexdigest() != self.last_hash:
                raise self._break(f"event #{self.last_id}, read earlier, is gone or changed: the ledger was rolled back or rewritten")
        found: list[dict[str, Any]] = []
        if not self.last_id and kinds <= DECISION_KINDS:
            self._start_at_verified(conn, kinds, found)
        for event_id, record in conn.execute("SELECT id, CAST(record AS BLOB) FROM events WHERE id > ? ORDER BY id", (self.last_id,)):
            if event_id != self.last_id + 1:
                raise self._break(f"event #{self.last_id + 1} is missing (the next one is #{event_id})")
            digest = sha256(record).hexdigest()
            fields = record.decode("utf-8", "replace").split(SEP, 4)
            if len(fields) != 5 or fields[0] != self.last_hash:
                raise self._break(f"event #{event_id} does not follow the event before it (inserted, copied or rewritten)")
            if event_id == 1:
                self.ledger_id = digest
            if fields[2] in kinds:
                found.append(_event(event_id, digest, fields))
            self.last_id, self.last_hash = event_id, digest
        return found

    def _start_at_verified(self, conn: sqlite3.Connection, kinds: frozenset[str], found: list[dict[str, Any]]) -> None:
        """Start at the end of the prefix this process verified (`remember`), when there is one:
        its decision events of `kinds` into `found`."""
        first = conn.execute("SELECT CAST(record AS BLOB) FROM events WHERE id = 1").fetchone()
        prefix = _verified.get(hashlib.sha256(first[0]).hexdigest()) if first else None
        if prefix is None:
            return
        held = still_holds(conn, prefix)
        if held is None:
            raise self._break(f"the events up to #{prefix.upto_id}, verified earlier, are gone or changed: "
                              "the ledger was rolled back or rewritten")
        for event_id, digest, record in held:
            fields = record.decode("utf-8", "replace").split(SEP, 4)
            if fields[2] in kinds:
                found.append(_event(event_id, digest, fields))
        self.ledger_id, self.last_id, self.last_hash = prefix.ledger_id, prefix.upto_id, prefix.upto_hash


def _event(event_id: int, digest: str, fields: list[str]) -> dict[str, Any]:
    try:
        payload = json.loads(fields[4])
    except ValueError:
        payload = {"_unreadable_payload": True}
    return {"id": event_id, "ts": fields[1], "kind": fields[2], "actor": fields[3], "payload": payload,
            "hash": digest, "prev_hash": fields[0]}
