"""What is hashed and what is signed. Shared by the writer and the verifier (stdlib only)."""

from __future__ import annotations

import hashlib

GENESIS = "0" * 64
SEP = "\x1f"

# The exact bytes hashed for an event, built by SQLite so that verification reads them in C.
BODY_SQL = "prev_hash || char(31) || id || char(31) || ts || char(31) || kind || char(31) || actor || char(31) || payload"


def event_body(prev_hash: str, event_id: int, ts: str, kind: str, actor: str, payload: str) -> str:
    return SEP.join((prev_hash, str(event_id), ts, kind, actor, payload))


def event_hash(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def head_message(last_id: int, last_hash: str) -> bytes:
    return f"livegate-head|{last_id}|{last_hash}".encode()


def signoff_message(payload_without_signature: str, prev_hash: str) -> bytes:
    """A sign-off signs its own payload and the chain hash before it (the whole history)."""
    return f"livegate-signoff|{prev_hash}|{payload_without_signature}".encode()
