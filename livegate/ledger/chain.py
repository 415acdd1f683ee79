"""What is hashed and what is signed. Shared by the writer and the verifier (stdlib only)."""

from __future__ import annotations

import hashlib
import re

GENESIS = "0" * 64
SEP = "\x1f"
TS_LENGTH = len("2026-01-01T00:00:00.000000Z")

# Each event is stored as one `record` — exactly the text that is hashed:
#   prev_hash (64 hex) SEP ts (27 chars, UTC) SEP kind SEP actor SEP payload (canonical JSON)
# and the columns a query needs (prev_hash, ts, kind, actor, payload) are generated from it
# by SQLite, so a column can never disagree with what the hash covers, and verification
# reads one column per event.
GENERATED_COLUMNS = (
    "prev_hash TEXT GENERATED ALWAYS AS (substr(record, 1, 64)) VIRTUAL",
    "ts TEXT GENERATED ALWAYS AS (substr(record, 66, 27)) VIRTUAL",
    "kind TEXT GENERATED ALWAYS AS (substr(record, 94, instr(substr(record, 94), char(31)) - 1)) VIRTUAL",
    "_tail TEXT GENERATED ALWAYS AS (substr(record, 95 + length(kind))) VIRTUAL",
    "actor TEXT GENERATED ALWAYS AS (substr(_tail, 1, instr(_tail, char(31)) - 1)) VIRTUAL",
    "payload TEXT GENERATED ALWAYS AS (substr(_tail, length(actor) + 2)) VIRTUAL",
)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None


def event_record(prev_hash: str, ts: str, kind: str, actor: str, payload: str) -> str:
    """The stored, hashed text of one event. `kind` and `actor` carry no control characters;
    canonical JSON escapes them, so SEP only ever separates fields."""
    if len(ts) != TS_LENGTH or has_control(kind) or has_control(actor) or not kind:
        raise ValueError("bad event header (timestamp format, or control characters in kind/actor)")
    return SEP.join((prev_hash, ts, kind, actor, payload))


def event_hash(record: str) -> str:
    return hashlib.sha256(record.encode("utf-8")).hexdigest()


def head_message(last_id: int, last_hash: str) -> bytes:
    return f"livegate-head|{last_id}|{last_hash}".encode()


def signoff_message(payload_without_signature: str, prev_hash: str, event_id: int, ledger_id: str) -> bytes:
    """A signed event signs its own payload, the chain hash before it (the whole history), its
    place (its id) and the ledger it belongs to (the hash of that ledger's first event): a copy
    of it anywhere else — later in the same ledger, or in another workspace's — does not verify."""
    return f"livegate-signoff|{ledger_id}|{event_id}|{prev_hash}|{payload_without_signature}".encode()
