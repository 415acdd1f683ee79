"""Following a ledger as it grows, with every record checked: for the reads that run before every
order (the halt and the mode), which cannot afford `verify` each time but must not be fooled by
what `verify` would reject.

A `Follower` reads each record once, in id order, computes its hash itself (never trusting the
stored `hash` column) and checks that it links to the one before it; before reading on, it checks
that the last record it read is still there, unchanged. So an event inserted out of the chain (a
replayed copy), a record rewritten in place, or a tail cut off and regrown to the same id is
`ChainBroken` — for the rest of the process: whoever follows treats it as a halt. What was read
stays read: rewriting an old halt after it was seen changes nothing here (a fresh process reads
the whole chain, and finds the break where the rewritten record no longer links)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from typing import Any

from livegate.core.errors import LedgerError
from livegate.ledger.chain import GENESIS, SEP


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
                try:
                    payload = json.loads(fields[4])
                except ValueError:
                    payload = {"_unreadable_payload": True}
                found.append({"id": event_id, "ts": fields[1], "kind": fields[2], "actor": fields[3], "payload": payload,
                              "hash": digest, "prev_hash": fields[0]})
            self.last_id, self.last_hash = event_id, digest
        return found
