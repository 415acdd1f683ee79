"""Reading the ledger with the stdlib sqlite3 module only (fast start-up for `status`)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Iterator

from livegate.core.errors import LedgerError


def connect_readonly(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise LedgerError(f"no ledger at {path}; run `livegate init`")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        conn.execute("SELECT 1 FROM events LIMIT 1")
    except sqlite3.DatabaseError as exc:
        raise LedgerError(f"{path}: not a readable livegate ledger ({exc})") from None
    return conn


def iter_events(conn: sqlite3.Connection, kinds: tuple[str, ...] = (), limit: int | None = None, descending: bool = False) -> Iterator[dict[str, Any]]:
    sql = "SELECT id, ts, kind, actor, payload, hash FROM events"
    params: list[Any] = []
    if kinds:
        sql += f" WHERE kind IN ({','.join('?' * len(kinds))})"
        params += kinds
    sql += " ORDER BY id" + (" DESC" if descending else "")
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    for event_id, ts, kind, actor, payload, digest in conn.execute(sql, params):
        try:
            data = json.loads(payload)
        except ValueError:
            data = {"_unreadable_payload": True}
        yield {"id": event_id, "ts": ts, "kind": kind, "actor": actor, "payload": data, "hash": digest}


def count_events(path: Path, kind: str) -> int:
    """How many events of `kind` the ledger holds (run numbering)."""
    conn = connect_readonly(path)
    try:
        return conn.execute("SELECT count(*) FROM events WHERE kind = ?", (kind,)).fetchone()[0]
    finally:
        conn.close()
